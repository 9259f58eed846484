"""Hostile text and Slack's limits, end to end: 150 doors, two of them named to ping and to fake a link.

Every message lockbot posts, edits or answers with is read as Slack reads it: no name, reason or
typed text may ping, mention or link, and the fake Slack refuses any message over Slack's limits
(as Slack does), so a reply that would be too long never arrives and its test fails.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.botprocess import BotProcess
from tests.conftest import ADMIN, MEMBER, Workspace, bot_env, buttons, wait_until
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack, Message, over_limit

GARAGE = "Garage <!channel> <https://evil.example|Approve here>"
SHED = "Gardener Shed <!subteam^S0EVIL001> <@U0EVIL001> <#C0EVIL001> <!here> & co"
LONG = "Long " + "corridor " * 50  # 455 characters, as Seam allows
ORDINARY = [f"Door {number:03d}" for number in range(1, 148)]
LOCKS = [GARAGE, SHED, LONG.strip(), *ORDINARY]  # 150 doors

APPROVER = "U0APPROV02"
NOTIFY = "C0NOTIFY02"
POLICY = f"""
[defaults]
approvers = ["{APPROVER}"]
notify_channel = "{NOTIFY}"
"""

# What a hostile value would look like if it reached Slack raw.
FORBIDDEN = ("<!channel", "<!here", "<http", "<@U0EVIL", "<#C0EVIL", "<!subteam^S0EVIL")
APPROVE, DENY = "unlock_approve", "unlock_deny"


@pytest.fixture(scope="module")
def seam() -> Iterator[SeamFake]:
    fake = SeamFake(locks=LOCKS, action_delay_ms=200).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def started() -> float:
    return time.time()


@pytest.fixture(scope="module")
def bot(
    slack: FakeSlack, seam: SeamFake, tmp_path_factory: pytest.TempPathFactory, started: float
) -> Iterator[BotProcess]:
    slack.add_user(APPROVER)
    tmp = tmp_path_factory.mktemp("hostile")
    (tmp / "lockbot.toml").write_text(POLICY)
    process = BotProcess(bot_env(slack, seam, tmp), cwd=tmp).start()
    yield process
    process.close()


def texts(node: Any) -> list[str]:
    """Every text Slack shows from a block tree."""
    if isinstance(node, dict):
        own = [str(node["text"])] if node.get("type") in ("mrkdwn", "plain_text") and "text" in node else []
        return own + [t for key, item in node.items() if not (own and key == "text") for t in texts(item)]
    if isinstance(node, list):
        return [t for item in node for t in texts(item)]
    return []


def assert_inert(text: str, blocks: Any = ()) -> None:
    for shown in [text, *texts(blocks)]:
        for raw in FORBIDDEN:
            assert raw not in shown, f"{raw!r} reaches Slack raw in {shown[:300]!r}"


def assert_message_inert(message: Message) -> None:
    for text in message.history:
        assert_inert(text)
    assert_inert(message.text, message.blocks)


def reply_to(workspace: Workspace, command: str, text: str, *, user: str = MEMBER, channel: str) -> dict[str, Any]:
    sent = workspace.command(command, text, user=user, channel=channel)
    assert sent.response.status_code == 200
    body: dict[str, Any] = workspace.ephemeral(sent).body
    assert over_limit(body) is None
    assert_inert(str(body.get("text", "")), body.get("blocks", []))
    return body


# -- Slack's limits ------------------------------------------------------------------------------


def test_doors_at_150_fits_and_says_how_to_narrow(workspace: Workspace, channel: str) -> None:
    body = reply_to(workspace, "/doors", "", channel=channel)

    assert len(body["text"]) <= 4000
    assert "more. `/doors &lt;prefix&gt;` lists only the doors whose names start with a prefix." in body["text"]
    assert "Door 001 — locked, online" in body["text"]
    assert any("*Garage &lt;!channel&gt;" in text for text in texts(body["blocks"]))  # the hostile name, escaped


def test_doors_with_a_prefix_lists_only_those_doors(workspace: Workspace, channel: str) -> None:
    body = reply_to(workspace, "/doors", "door 14", channel=channel)

    shown = [f"Door {n}" for n in range(140, 148)]
    assert all(f"{name} — locked" in body["text"] for name in shown)
    assert "Door 139" not in body["text"]
    assert "Garage" not in body["text"]
    assert "(8 of 150)" in body["text"]


def test_doors_with_a_prefix_matching_nothing_says_so(workspace: Workspace, channel: str) -> None:
    body = reply_to(workspace, "/doors", "<!channel> cellar", channel=channel)

    assert body["text"] == "No door's name starts with “&lt;!channel&gt; cellar”. `/doors` lists every door."


def test_an_unknown_door_among_150_lists_some_and_counts_the_rest(workspace: Workspace, channel: str) -> None:
    body = reply_to(workspace, "/lock", "cellar", channel=channel)

    assert body["text"].startswith("I don't know a door called “cellar”. The doors are: ")
    assert "and 130 more (`/doors &lt;prefix&gt;` lists the doors starting with a prefix)." in body["text"]
    assert len(body["blocks"][0]["text"]["text"]) <= 3000


def test_a_10000_character_door_name_is_echoed_cut(workspace: Workspace, channel: str) -> None:
    typed = "x" * 10_000
    body = reply_to(workspace, "/lock", typed, channel=channel)

    assert f"“{'x' * 79}…”" in body["text"]
    assert "x" * 81 not in body["text"]
    assert all(len(text) <= 3000 for text in texts(body["blocks"]))
    assert workspace.slack.channel_messages(channel) == []


def test_the_fake_slack_refuses_what_slack_refuses() -> None:
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    assert over_limit({"text": "x" * 4001}) == "msg_too_long"
    assert over_limit({"text": "ok", "blocks": [section]}) == "invalid_blocks"
    assert over_limit({"text": "ok", "blocks": [{"type": "divider"}] * 51}) == "invalid_blocks"
    assert over_limit({"text": "x" * 4000, "blocks": [{"type": "divider"}] * 50}) is None


# -- hostile names, reasons and answers ------------------------------------------------------------


def test_an_ambiguous_answer_shows_hostile_names_escaped(workspace: Workspace, channel: str) -> None:
    body = reply_to(workspace, "/lock", "gar", channel=channel)

    assert "“gar” could be several doors:" in body["text"]
    assert "Garage &lt;!channel&gt; &lt;https://evil.example|Approve here&gt;" in body["text"]
    assert "&lt;!subteam^S0EVIL001&gt; &lt;@U0EVIL001&gt; &lt;#C0EVIL001&gt; &lt;!here&gt; &amp; co" in body["text"]


def test_a_hostile_door_locked_directly_pings_nobody(workspace: Workspace, channel: str) -> None:
    parent, status = workspace.finished_action(workspace.command("/lock", "garage", user=ADMIN, channel=channel))

    assert status.text == "Done: Garage &lt;!channel&gt; &lt;https://evil.example|Approve here&gt; locked."
    for message in (parent, status):
        assert_message_inert(message)
    # The outcome announced in the notify channel.
    notice = workspace.slack.wait_for(
        lambda: [
            m
            for m in workspace.slack.channel_messages(NOTIFY)
            if "Garage" in m.text and m.posted_at >= parent.posted_at
        ],
        what="the outcome notice",
    )[-1]
    assert_message_inert(notice)
    assert "Garage &lt;!channel&gt;" in notice.text


def request_for(workspace: Workspace, channel: str, door: str, reason: str) -> tuple[Message, str]:
    reply_to(workspace, "/unlock", f'"{door}" {reason}', channel=channel)
    message = workspace.request_message(channel)
    return message, buttons(message)[APPROVE]


def test_a_request_for_a_hostile_door_and_both_its_edits_ping_nobody(workspace: Workspace, channel: str) -> None:
    message, request_id = request_for(workspace, channel, GARAGE, "<!everyone> parcel <https://evil.example|here>")

    assert_message_inert(message)
    assert "asks to unlock Garage &lt;!channel&gt; &lt;https://evil.example|Approve here&gt;" in message.text
    assert "Reason: &lt;!everyone&gt; parcel &lt;https://evil.example|here&gt;" in message.text

    sent = workspace.click(APPROVE, request_id, user=APPROVER, channel=message.channel, message_ts=message.ts)
    answer = workspace.ephemeral(sent).body
    assert_inert(answer["text"], answer.get("blocks", []))
    workspace.slack.wait_for(lambda: "unlocked." in message.text, 15, "the request showing the outcome")

    assert len(message.history) >= 3  # posted, approved, and the outcome
    assert_message_inert(message)
    for status in workspace.slack.replies(message.channel, message.ts):
        assert_message_inert(status)
    dm = workspace.slack.wait_for(
        lambda: [
            m for m in workspace.direct_messages(MEMBER) if "Garage" in m.text and m.posted_at >= message.posted_at
        ],
        what="the requester's DM",
    )[-1]
    assert_message_inert(dm)


def test_a_denial_with_a_hostile_reason_pings_nobody(workspace: Workspace, channel: str) -> None:
    message, request_id = request_for(workspace, channel, SHED, "please")

    sent = workspace.click(DENY, request_id, user=APPROVER, channel=message.channel, message_ts=message.ts)
    workspace.ephemeral(sent)
    workspace.slack.wait_for(lambda: "Denied by" in message.text, what="the denial")
    response = workspace.submit_view(
        {"type": "modal", "callback_id": "unlock_deny_reason", "private_metadata": request_id},
        user=APPROVER,
        values={
            "reason": {"reason": {"type": "plain_text_input", "value": "<!channel> see <https://evil.example|this>"}}
        },
    )
    assert response.status_code == 200
    workspace.slack.wait_for(lambda: "see" in message.text, what="the reason on the request")

    assert_message_inert(message)
    assert "&lt;!channel&gt; see &lt;https://evil.example|this&gt;" in message.text
    for dm in workspace.direct_messages(MEMBER):
        assert_message_inert(dm)


def test_the_audit_log_shows_hostile_names_and_reasons_escaped(workspace: Workspace, channel: str) -> None:
    workspace.finished_action(workspace.command("/lock", "gardener", user=ADMIN, channel=channel))

    body = reply_to(workspace, "/doors", "log", user=APPROVER, channel=channel)

    assert "Gardener Shed &lt;!subteam^S0EVIL001&gt;" in body["text"]
    one_door = reply_to(workspace, "/doors", "log gardener", user=APPROVER, channel=channel)
    assert one_door["text"].startswith("Audit log: Gardener Shed &lt;!subteam^S0EVIL001&gt;")


def test_a_polling_failure_never_invites_a_retry(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    for path in ("/action_attempts/list", "/action_attempts/get"):
        workspace.seam.fail(path, status=500, count=1000)
    try:
        parent, status = workspace.finished_action(
            workspace.command("/unlock", "door 001", user=ADMIN, channel=channel), timeout=30
        )
    finally:
        workspace.seam.reset()

    assert status.text == (
        "Not confirmed: Unlocking Door 001 not confirmed: Seam is having trouble right now. "
        "Check the door before relying on it."
    )
    for text in (status.text, parent.text):
        assert "try again" not in text.casefold()
        assert text.casefold().count("check the door") == 1


def test_an_answer_slack_refuses_is_logged_not_dropped(workspace: Workspace, bot: BotProcess, channel: str) -> None:
    workspace.slack.fail("response_url", status=404, error="expired_url")

    sent = workspace.command("/doors", "door 00", channel=channel)

    assert sent.response.status_code == 200
    line = wait_until(
        lambda: [line for line in bot.log_text.splitlines() if "Slack refused an answer at the response_url" in line],
        what="Slack's refusal in the log",
    )[-1]
    assert "HTTP 404" in line
    assert "expired_url" in line


def test_nothing_lockbot_sent_in_this_module_reaches_slack_raw(slack: FakeSlack, started: float) -> None:
    for call in slack.calls:
        if call.at >= started and call.method in ("chat.postMessage", "chat.update"):
            assert call.ok, f"Slack refused {call.method}: {call.error}"
            assert_inert(str(call.params.get("text") or ""), call.params.get("blocks") or [])
    for response in slack.responses:
        if response.at >= started:
            assert_inert(response.text, response.body.get("blocks", []))
    refused = [r for r in slack.rejected if r.at >= started]
    assert [r.body.get("text", "")[:40] for r in refused] == [
        "Doors starting with “door 00” (9 of 150)"
    ]  # the one refused on purpose
