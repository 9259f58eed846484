"""Unlock requests end to end, on SQLite and on PostgreSQL: buttons, decisions, expiry, restarts, audit."""

from __future__ import annotations

import concurrent.futures
import csv
import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.botprocess import ROOT, BotProcess
from tests.conftest import ADMIN, MEMBER, Workspace, bot_env, buttons
from tests.databases import DATABASE_KINDS, fresh_database
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack, Message

APPROVER = "U0APPROV01"
GUARD = "U0GUARD001"
OUTSIDER = "U0OUTSID01"
SECURE_CHANNEL = "C0SECURE01"

POLICY = """
[defaults]
approvers = ["U0APPROV01", "S0GUARDS01"]
request_ttl = "15m"

[doors."Back Door"]
request_ttl = "2s"

[doors."Garage Door"]
approval_channel = "C0SECURE01"
"""

APPROVE, DENY, CANCEL = "unlock_approve", "unlock_deny", "unlock_cancel"


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory.mktemp(request.param)) as url:
        yield url


@pytest.fixture(scope="module")
def bot(
    slack: FakeSlack, seam: SeamFake, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    slack.add_user(APPROVER)
    slack.add_user(GUARD)
    slack.add_user(OUTSIDER)
    slack.usergroups["S0GUARDS01"] = [GUARD]
    tmp = tmp_path_factory.mktemp("requests")
    (tmp / "lockbot.toml").write_text(POLICY)
    env = bot_env(slack, seam, tmp) | {"DATABASE_URL": database_url, "LOCKBOT_ACTION_TIMEOUT": "10"}
    process = BotProcess(env, cwd=tmp).start()
    yield process
    process.close()


def unlock_calls(workspace: Workspace) -> int:
    assert workspace.seam is not None
    return workspace.seam.calls().get("/locks/unlock_door", 0)


def file_request(
    workspace: Workspace, channel: str, text: str = "front door parcel at reception"
) -> tuple[Message, str]:
    """A member asks; returns the request message and the request id its buttons carry."""
    reply = workspace.ephemeral(workspace.command("/unlock", text, user=MEMBER, channel=channel))
    assert "so I've asked" in reply.text
    message = workspace.request_message(channel)
    return message, buttons(message)[APPROVE]


def click(workspace: Workspace, action: str, request_id: str, user: str, message: Message) -> str:
    sent = workspace.click(action, request_id, user=user, channel=message.channel, message_ts=message.ts)
    assert sent.response.status_code == 200
    return workspace.ephemeral(sent).text


def wait_status(workspace: Workspace, message: Message, prefix: str, timeout: float = 15) -> Message:
    def found() -> Message | None:
        replies = workspace.slack.replies(message.channel, message.ts)
        return replies[-1] if replies and replies[-1].text.startswith(prefix) else None

    return workspace.slack.wait_for(found, timeout, f"a status starting {prefix!r}")


def test_the_whole_lifecycle_request_approve_unlock_and_tell(workspace: Workspace, channel: str) -> None:
    dms_before = len(workspace.direct_messages(MEMBER))
    message, request_id = file_request(workspace, channel)

    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert set(buttons(message)) == {APPROVE, DENY, CANCEL}
    assert set(buttons(message).values()) == {request_id}
    assert f"<@{MEMBER}> asks to unlock Front Door" in message.text
    assert "Reason: parcel at reception" in message.text
    assert f"<@{APPROVER}>" in message.text
    assert "<!subteam^S0GUARDS01>" in message.text
    assert "Expires at" in message.text

    reply = click(workspace, APPROVE, request_id, APPROVER, message)

    assert reply.startswith(f"You approved <@{MEMBER}>'s request")
    status = wait_status(workspace, message, "Done:")
    assert status.text == "Done: Front Door unlocked."
    workspace.slack.wait_for(lambda: "Front Door unlocked." in message.text, what="the request showing the outcome")
    assert f"Approved by <@{APPROVER}>" in message.text
    assert buttons(message) == {}
    dms = workspace.slack.wait_for(lambda: workspace.direct_messages(MEMBER)[dms_before:], what="the requester's DM")
    assert len(dms) == 1
    dm = dms[0]
    assert f"approved by <@{APPROVER}>" in dm.text
    assert "Front Door unlocked." in dm.text
    assert unlock_calls(workspace) == 1


def test_a_group_member_approves(workspace: Workspace, channel: str) -> None:
    message, request_id = file_request(workspace, channel, "back door")

    assert click(workspace, APPROVE, request_id, GUARD, message).startswith("You approved")
    assert wait_status(workspace, message, "Done:").text == "Done: Back Door unlocked."


def test_a_request_carries_its_duration_and_the_approved_unlock_locks_again(workspace: Workspace, channel: str) -> None:
    message, request_id = file_request(workspace, channel, "garden gate for 10s parcel at reception")

    assert f"<@{MEMBER}> asks to unlock Garden Gate for 10 s" in message.text
    assert "Reason: parcel at reception" in message.text
    assert click(workspace, APPROVE, request_id, APPROVER, message).startswith("You approved")
    unlocked = wait_status(workspace, message, "Done:")
    assert unlocked.text.startswith("Done: Garden Gate unlocked until ")

    def relocked() -> Message | None:
        replies = workspace.slack.replies(message.channel, message.ts)
        return next((m for m in replies if m.text == "Done: Garden Gate locked."), None)

    workspace.slack.wait_for(relocked, 30, "the relock in the request's thread")
    assert workspace.seam is not None
    assert workspace.seam.calls().get("/locks/lock_door", 0) == 1


def test_nobody_approves_their_own_request(workspace: Workspace, channel: str) -> None:
    reply = workspace.ephemeral(workspace.command("/unlock", "front door", user=APPROVER, channel=channel))
    assert "so I've asked" in reply.text
    message = workspace.request_message(channel)
    request_id = buttons(message)[APPROVE]

    assert click(workspace, APPROVE, request_id, APPROVER, message) == "You can't approve your own request."
    assert buttons(message)  # still pending
    assert unlock_calls(workspace) == 0


def test_a_non_approver_cannot_approve_or_deny(workspace: Workspace, channel: str) -> None:
    message, request_id = file_request(workspace, channel)

    for action in (APPROVE, DENY):
        reply = click(workspace, action, request_id, OUTSIDER, message)
        assert reply == "Only the approvers of Front Door can approve or deny this request."
    assert buttons(message)
    assert unlock_calls(workspace) == 0


def test_a_double_click_unlocks_once_and_says_what_happened(workspace: Workspace, channel: str) -> None:
    message, request_id = file_request(workspace, channel)

    first = click(workspace, APPROVE, request_id, APPROVER, message)
    second = click(workspace, APPROVE, request_id, APPROVER, message)
    wait_status(workspace, message, "Done:")

    assert first.startswith("You approved")
    assert second.startswith("Nothing changed")
    assert "You already approved it" in second
    assert unlock_calls(workspace) == 1


def test_concurrent_clicks_by_two_approvers_give_exactly_one_unlock(workspace: Workspace, channel: str) -> None:
    message, request_id = file_request(workspace, channel)
    clickers = [APPROVER, GUARD] * 6

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(clickers)) as pool:
        replies = list(pool.map(lambda user: click(workspace, APPROVE, request_id, user, message), clickers))

    assert sum(reply.startswith("You approved") for reply in replies) == 1
    assert sum(reply.startswith("Nothing changed") for reply in replies) == len(clickers) - 1
    wait_status(workspace, message, "Done:")
    assert unlock_calls(workspace) == 1


def test_deny_updates_the_message_and_tells_the_requester(workspace: Workspace, channel: str) -> None:
    dms_before = len(workspace.direct_messages(MEMBER))
    message, request_id = file_request(workspace, channel)

    reply = click(workspace, DENY, request_id, APPROVER, message)

    assert reply.startswith(f"You denied <@{MEMBER}>'s request to unlock Front Door")
    workspace.slack.wait_for(lambda: f"Denied by <@{APPROVER}>" in message.text, what="the denial shown")
    assert buttons(message) == {}
    dm = workspace.slack.wait_for(lambda: workspace.direct_messages(MEMBER)[dms_before:], what="the requester's DM")[-1]
    assert f"was denied by <@{APPROVER}>" in dm.text
    late = click(workspace, APPROVE, request_id, GUARD, message)
    assert late.startswith("Nothing changed")
    assert f"Denied by <@{APPROVER}>" in late
    assert unlock_calls(workspace) == 0


def test_the_denier_can_add_a_reason_that_the_requester_then_reads(workspace: Workspace, channel: str) -> None:
    message, request_id = file_request(workspace, channel)
    denied = workspace.click(DENY, request_id, user=APPROVER, channel=channel, message_ts=message.ts)
    reply = workspace.ephemeral(denied)
    assert {
        element["action_id"]: element["value"]
        for block in reply.body["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    } == {"unlock_deny_reason": request_id}
    views_before = len(workspace.slack.views)

    workspace.click("unlock_deny_reason", request_id, user=APPROVER, channel=channel, message_ts=message.ts)
    modal = workspace.slack.wait_for(lambda: workspace.slack.views[views_before:], what="the reason dialog")[0]
    assert modal["private_metadata"] == request_id
    empty = workspace.submit_view(
        modal, user=APPROVER, values={"reason": {"reason": {"type": "plain_text_input", "value": " "}}}
    )
    stranger = workspace.submit_view(
        modal, user=GUARD, values={"reason": {"reason": {"type": "plain_text_input", "value": "no"}}}
    )
    given = workspace.submit_view(
        modal,
        user=APPROVER,
        values={"reason": {"reason": {"type": "plain_text_input", "value": "<!channel> not today"}}},
    )

    assert empty.json()["response_action"] == "errors"
    assert stranger.json()["errors"]["reason"] == "Only the person who denied a request can give the reason for it."
    assert given.status_code == 200
    assert given.text == ""  # the dialog closes
    workspace.slack.wait_for(lambda: "not today" in message.text, what="the reason on the request")
    assert "<!channel>" not in str(message.blocks)
    assert f"Denied by <@{APPROVER}>" in message.text
    dm = workspace.slack.wait_for(
        lambda: [m for m in workspace.direct_messages(MEMBER) if "not today" in m.text], what="the reason DM"
    )[-1]
    assert f"was denied by <@{APPROVER}>: not today" in dm.text.replace("&lt;!channel&gt; ", "")


def test_only_the_requester_cancels_and_a_cancelled_request_cannot_be_approved(
    workspace: Workspace, channel: str
) -> None:
    message, request_id = file_request(workspace, channel)

    assert click(workspace, CANCEL, request_id, APPROVER, message) == f"Only <@{MEMBER}> can cancel their request."
    assert click(workspace, CANCEL, request_id, MEMBER, message).startswith("You cancelled your request")
    workspace.slack.wait_for(lambda: f"Cancelled by <@{MEMBER}>" in message.text, what="the cancellation shown")
    late = click(workspace, APPROVE, request_id, APPROVER, message)
    assert late.startswith("Nothing changed")
    assert "Cancelled" in late
    assert unlock_calls(workspace) == 0


def test_an_undecided_request_expires_and_the_requester_is_told(workspace: Workspace, channel: str) -> None:
    dms_before = len(workspace.direct_messages(MEMBER))
    message, request_id = file_request(workspace, channel, "back door")  # 2 s to live

    workspace.slack.wait_for(lambda: "Expired at" in message.text, 15, "the request to expire")

    assert buttons(message) == {}
    dm = workspace.slack.wait_for(lambda: workspace.direct_messages(MEMBER)[dms_before:], what="the DM")[-1]
    assert "expired" in dm.text
    late = click(workspace, APPROVE, request_id, APPROVER, message)
    assert late.startswith("Nothing changed")
    assert "Expired" in late
    assert unlock_calls(workspace) == 0


def test_the_policy_sends_requests_to_the_doors_approval_channel(workspace: Workspace, channel: str) -> None:
    reply = workspace.ephemeral(workspace.command("/unlock", "garage", user=MEMBER, channel=channel))

    assert f"<#{SECURE_CHANNEL}>" in reply.text
    message = workspace.request_message(SECURE_CHANNEL)
    assert "asks to unlock Garage Door" in message.text
    assert all("asks to unlock" not in m.text for m in workspace.slack.channel_messages(channel))


def test_admins_still_unlock_directly_under_the_policy(workspace: Workspace, channel: str) -> None:
    parent, status = workspace.finished_action(workspace.command("/unlock", "front door", user=ADMIN, channel=channel))
    assert status.text == "Done: Front Door unlocked."
    assert parent.text.startswith("Front Door unlocked.")


def test_a_request_waiting_across_a_crash_can_still_be_decided(workspace: Workspace, channel: str) -> None:
    message, request_id = file_request(workspace, channel)

    workspace.bot.kill()  # SIGKILL: nothing is flushed or said goodbye
    workspace.bot.start()

    assert click(workspace, APPROVE, request_id, APPROVER, message).startswith("You approved")
    assert wait_status(workspace, message, "Done:").text == "Done: Front Door unlocked."
    assert unlock_calls(workspace) == 1


def test_an_approved_unlock_pending_across_a_crash_is_followed_to_its_end(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    workspace.seam.configure(action_delay_ms=4000)
    message, request_id = file_request(workspace, channel)
    dms_before = len(workspace.direct_messages(MEMBER))
    click(workspace, APPROVE, request_id, APPROVER, message)
    pending = wait_status(workspace, message, "Pending:")

    workspace.bot.kill()
    workspace.bot.start()

    done = wait_status(workspace, message, "Done:", timeout=40)  # after the dead instance's lease runs out
    assert done.ts == pending.ts  # the same status message, edited in place
    assert done.text == "Done: Front Door unlocked."
    assert unlock_calls(workspace) == 1
    workspace.slack.wait_for(lambda: workspace.direct_messages(MEMBER)[dms_before:], what="the DM")
    assert len(workspace.direct_messages(MEMBER)[dms_before:]) == 1


def test_a_request_that_expired_while_lockbot_was_down_is_expired_at_start(workspace: Workspace, channel: str) -> None:
    message, _ = file_request(workspace, channel, "back door")  # 2 s to live
    workspace.bot.kill()
    expires = time.time() + 2.5
    while time.time() < expires:  # the clock is the condition: the request must come due while down
        time.sleep(0.1)

    workspace.bot.start()

    workspace.slack.wait_for(lambda: "Expired at" in message.text, 10, "the expiry at start")
    assert buttons(message) == {}


def test_approvers_read_the_audit_log_and_others_may_not(workspace: Workspace, channel: str) -> None:
    message, request_id = file_request(workspace, channel)
    click(workspace, APPROVE, request_id, APPROVER, message)
    wait_status(workspace, message, "Done:")

    log_text = workspace.ephemeral(workspace.command("/doors", "log front door", user=APPROVER, channel=channel)).text
    refused = workspace.ephemeral(workspace.command("/doors", "log", user=MEMBER, channel=channel)).text

    assert "Audit log: Front Door" in log_text
    for event in ("request", "approve", "unlock"):
        assert f" {event} " in log_text
    assert refused == "Only approvers can read the audit log."


def test_operators_export_the_audit_log_as_csv(workspace: Workspace, channel: str, database_url: str) -> None:
    message, request_id = file_request(workspace, channel)
    click(workspace, DENY, request_id, APPROVER, message)
    workspace.slack.wait_for(lambda: "Denied by" in message.text, what="the denial")
    today = datetime.now(UTC).date().isoformat()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SEAM_"))}
    env |= {"DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}

    exported = subprocess.run(
        [sys.executable, "-m", "bot", "audit", "--since", today],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert list(rows[0]) == [
        "at",
        "actor",
        "event",
        "door",
        "device_id",
        "outcome",
        "attempt_id",
        "request_id",
        "detail",
    ]
    mine = [row for row in rows if row["request_id"] == request_id]
    assert [(row["event"], row["actor"], row["outcome"]) for row in mine] == [
        ("request", MEMBER, "pending"),
        ("deny", APPROVER, "denied"),
    ]
    unlocks = [row for row in rows if row["event"] == "unlock" and row["outcome"] == "succeeded"]
    assert unlocks
    assert all(row["attempt_id"] for row in unlocks)


def test_a_bad_policy_file_stops_the_bot_with_file_line_and_reason(slack: FakeSlack, tmp_path: Path) -> None:
    (tmp_path / "lockbot.toml").write_text('[defaults]\napprovers = ["bob"]\n\n[doors."Lab"]\ncolour = "red"\n')
    env = bot_env(slack, None, tmp_path)
    process = BotProcess(env, cwd=tmp_path)

    with pytest.raises(RuntimeError):
        process.start(timeout=15)

    output = process.log_text
    assert "lockbot.toml line 2: defaults.approvers.0: 'bob' is not a Slack user id" in output
    assert "lockbot.toml line 5: doors.Lab.colour: unknown key 'colour'" in output
    assert "Traceback" not in output
