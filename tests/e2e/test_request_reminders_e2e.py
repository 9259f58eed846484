"""Reminders end to end: an undecided request is bumped in its thread, escalated once, and no more
once approved, denied, cancelled or expired; one due while lockbot was down is sent once at start;
a post Slack did not take is tried again; two instances on PostgreSQL send each reminder once."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.botprocess import BotProcess
from tests.conftest import MEMBER, Workspace, bot_env, buttons
from tests.databases import fresh_database
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack, Message

APPROVER = "U0APPROV01"
GUARD = "U0GUARD001"
APPROVERS = "<!subteam^S0GUARDS01>, <@U0APPROV01>"
SECURITY = "<!subteam^S0SECURITY>"

POLICY = """
[defaults]
approvers = ["U0APPROV01", "S0GUARDS01"]
request_ttl = "60s"
remind_after = "10s"
escalate_after = "20s"
escalate_to = ["S0SECURITY"]

[doors."Back Door"]
request_ttl = "15s"
"""

APPROVE, DENY, CANCEL = "unlock_approve", "unlock_deny", "unlock_cancel"
REMINDER_MARKS = (":bell:", ":rotating_light:")


def policy_env(
    slack: FakeSlack, seam: SeamFake, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, str], Path]:
    """The environment of a lockbot with the reminders' policy, and the directory it runs in."""
    slack.add_user(APPROVER)
    slack.add_user(GUARD)
    slack.usergroups["S0GUARDS01"] = [GUARD]
    slack.usergroups["S0SECURITY"] = []
    tmp = tmp_path_factory.mktemp("reminders")
    (tmp / "lockbot.toml").write_text(POLICY)
    return bot_env(slack, seam, tmp) | {"LOCKBOT_ACTION_TIMEOUT": "10"}, tmp


@pytest.fixture(scope="module")
def bot(slack: FakeSlack, seam: SeamFake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    env, tmp = policy_env(slack, seam, tmp_path_factory)
    process = BotProcess(env, cwd=tmp).start()
    yield process
    process.close()


def file_request(workspace: Workspace, channel: str, door: str = "front door") -> tuple[Message, str, float]:
    """A member asks; returns the request message, its request id, and when it was filed (monotonic)."""
    filed_at = time.monotonic()
    reply = workspace.ephemeral(workspace.command("/unlock", f"{door} parcel", user=MEMBER, channel=channel))
    assert "so I've asked" in reply.text
    message = workspace.request_message(channel)
    return message, buttons(message)[APPROVE], filed_at


def reminders(workspace: Workspace, message: Message) -> list[Message]:
    return [r for r in workspace.slack.replies(message.channel, message.ts) if r.text.startswith(REMINDER_MARKS)]


def wait_reminders(workspace: Workspace, message: Message, count: int, timeout: float = 20) -> list[Message]:
    def enough() -> list[Message] | None:
        found = reminders(workspace, message)
        return found if len(found) >= count else None

    return workspace.slack.wait_for(enough, timeout, f"reminder {count} in the request's thread")


def no_more_reminders(workspace: Workspace, messages: dict[str, Message], seen: int, until: float) -> None:
    """No request of `messages` gets more than `seen` reminders until the monotonic time `until`."""

    def more() -> str | None:
        return next((name for name, m in messages.items() if len(reminders(workspace, m)) > seen), None)

    try:
        extra = workspace.slack.wait_for(more, max(0.0, until - time.monotonic()), "a reminder that must not come")
    except AssertionError:
        return
    raise AssertionError(f"the {extra} request was reminded again after it should have stopped")


def click(workspace: Workspace, action: str, request_id: str, user: str, message: Message) -> str:
    sent = workspace.click(action, request_id, user=user, channel=message.channel, message_ts=message.ts)
    assert sent.response.status_code == 200
    return workspace.ephemeral(sent).text


def test_reminders_mention_the_approvers_escalate_once_and_stop_at_approval(workspace: Workspace, channel: str) -> None:
    message, request_id, filed_at = file_request(workspace, channel)

    first = wait_reminders(workspace, message, 1)[0]
    assert time.monotonic() - filed_at >= 9.5  # not before remind_after
    assert re.fullmatch(
        rf":bell: {re.escape(APPROVERS)}: Front Door: <@{MEMBER}> has been waiting 1\d s for approval\. "
        r"Approve or deny above\.",
        first.text,
    )
    workspace.slack.wait_for(lambda: f"Reminded {APPROVERS} at " in message.text, 5, "the request showing it")
    assert set(buttons(message)) == {APPROVE, DENY, CANCEL}  # still decidable

    escalation = wait_reminders(workspace, message, 2)[1]
    assert escalation.text.startswith(f":rotating_light: {APPROVERS}, {SECURITY}: Front Door: <@{MEMBER}> has been")
    assert f"Escalated to {SECURITY} as nobody has decided yet." in escalation.text
    workspace.slack.wait_for(lambda: f"escalated to {SECURITY} at " in message.text, 5, "the escalation shown")

    third = wait_reminders(workspace, message, 3)[2]
    assert third.text.startswith(f":bell: {APPROVERS}, {SECURITY}: Front Door")  # escalate_to stays mentioned
    assert [r.text.startswith(":rotating_light:") for r in reminders(workspace, message)] == [False, True, False]

    edits_before = len(workspace.slack.calls_of("chat.update"))
    assert click(workspace, APPROVE, request_id, APPROVER, message).startswith("You approved")
    workspace.slack.wait_for(lambda: f"Approved by <@{APPROVER}>" in message.text, 10, "the approval shown")
    workspace.slack.wait_for(lambda: "Front Door unlocked." in message.text, 15, "the unlock's outcome shown")
    no_more_reminders(workspace, {"approved": message}, 3, filed_at + 42)  # past the 40 s reminder
    assert buttons(message) == {}
    # Its history stays on the message: decided, as its unlock ran, and once it ended.
    history = re.compile(rf"Reminded {re.escape(APPROVERS)} at .+; escalated to {re.escape(SECURITY)} at ")
    assert history.search(message.text)
    edits = [c for c in workspace.slack.calls_of("chat.update")[edits_before:] if c.params.get("ts") == message.ts]
    assert len(edits) >= 2  # the approval (with the unlock running) and the outcome
    assert all(history.search(str(edit.params.get("text"))) for edit in edits)


def test_reminders_stop_at_denial_cancellation_and_expiry(workspace: Workspace, channel: str) -> None:
    denied, denied_id, filed_at = file_request(workspace, channel)
    cancelled, cancelled_id, _ = file_request(workspace, channel + "X")
    expired, _, _ = file_request(workspace, channel + "Y", "back door")  # 15 s to live: one reminder, then expiry
    requests = {"denied": denied, "cancelled": cancelled, "expired": expired}
    for message in requests.values():
        wait_reminders(workspace, message, 1)

    assert click(workspace, DENY, denied_id, APPROVER, denied).startswith("You denied")
    assert click(workspace, CANCEL, cancelled_id, MEMBER, cancelled).startswith("You cancelled")
    workspace.slack.wait_for(lambda: "Expired at" in expired.text, 10, "the expiry")

    no_more_reminders(workspace, requests, 1, filed_at + 23)  # past the 20 s escalation
    assert "Denied by" in denied.text
    assert "Cancelled by" in cancelled.text
    for name, message in requests.items():  # each keeps who was reminded, and when
        assert f"Reminded {APPROVERS} at " in message.text, name


def test_a_reminder_slack_did_not_take_is_tried_again_and_said_loudly(workspace: Workspace, channel: str) -> None:
    message, request_id, _ = file_request(workspace, channel)
    workspace.slack.fail(
        "chat.postMessage", error="internal_error", times=2, where=lambda p: p.get("thread_ts") == message.ts
    )

    first = wait_reminders(workspace, message, 1)[0]

    assert first.text.startswith(f":bell: {APPROVERS}: Front Door")
    assert len(reminders(workspace, message)) == 1
    tries = [c for c in workspace.slack.calls_of("chat.postMessage") if c.params.get("thread_ts") == message.ts]
    assert [c.error for c in tries] == ["internal_error", "internal_error", None]
    assert re.search(rf"could not post the reminder of request {request_id} .*trying again", workspace.bot.log_text)
    click(workspace, CANCEL, request_id, MEMBER, message)


def test_a_reminder_due_while_lockbot_was_down_is_sent_once_at_start(workspace: Workspace, channel: str) -> None:
    message, request_id, filed_at = file_request(workspace, channel)
    wait_reminders(workspace, message, 1)
    workspace.bot.kill()  # SIGKILL: down through the 20 s escalation and the 30 s reminder
    while time.monotonic() < filed_at + 32:  # the clock is the condition: both must come due while down
        time.sleep(0.1)

    workspace.bot.start()

    late = wait_reminders(workspace, message, 2, timeout=10)[1]
    assert late.text.startswith(f":rotating_light: {APPROVERS}, {SECURITY}: Front Door")
    no_more_reminders(workspace, {"restarted": message}, 2, filed_at + 39)  # one at start, not one per interval
    assert wait_reminders(workspace, message, 3, timeout=10)[2].text.startswith(":bell:")  # the 40 s one, on time
    click(workspace, CANCEL, request_id, MEMBER, message)


@pytest.mark.postgres
def test_two_instances_on_postgresql_send_each_reminder_once(
    slack: FakeSlack, seam: SeamFake, tmp_path_factory: pytest.TempPathFactory, channel: str
) -> None:
    env, tmp = policy_env(slack, seam, tmp_path_factory)
    with fresh_database("postgresql", tmp) as url:
        first = BotProcess(env | {"DATABASE_URL": url}, cwd=tmp).start()
        second = BotProcess(env | {"DATABASE_URL": url}, cwd=tmp).start()
        try:
            workspace = Workspace(first, slack, seam)
            message, request_id, filed_at = file_request(workspace, channel)

            sent = wait_reminders(workspace, message, 2, timeout=30)
            no_more_reminders(workspace, {"shared": message}, 2, filed_at + 28)

            assert [r.text.split(" ")[0] for r in sent] == [":bell:", ":rotating_light:"]
            logs = first.log_text + second.log_text
            assert len(re.findall(f"reminded the approvers of request {request_id}", logs)) == 2
            click(Workspace(second, slack, seam), CANCEL, request_id, MEMBER, message)
        finally:
            first.close()
            second.close()
