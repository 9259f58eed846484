"""What Slack did not take is still owed, and settled: a DM refused, a final edit failing, a crash
between the status message and the unlock."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.botprocess import BotProcess
from tests.conftest import ADMIN, MEMBER, Workspace, bot_env, buttons, wait_until
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack, Message

APPROVER = "U0APPROV02"
POLICY = '[defaults]\napprovers = ["U0APPROV02"]\n'
FINAL = ("Done:", "Failed:", "Not confirmed:")


@pytest.fixture(scope="module")
def bot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("owed")


@pytest.fixture(scope="module")
def bot(slack: FakeSlack, seam: SeamFake, bot_dir: Path) -> Iterator[BotProcess]:
    slack.add_user(APPROVER)
    (bot_dir / "lockbot.toml").write_text(POLICY)
    process = BotProcess(bot_env(slack, seam, bot_dir), cwd=bot_dir).start()
    yield process
    process.close()


def approved_request(workspace: Workspace, channel: str, door: str = "front door") -> Message:
    """A member asks to unlock, the approver approves; returns the request message."""
    workspace.ephemeral(workspace.command("/unlock", door, user=MEMBER, channel=channel))
    message = workspace.request_message(channel)
    sent = workspace.click(
        "unlock_approve", buttons(message)["unlock_approve"], user=APPROVER, channel=channel, message_ts=message.ts
    )
    assert sent.response.status_code == 200
    return message


def failed_edits(slack: FakeSlack, message: Message) -> list[str | None]:
    return [
        call.error
        for call in slack.calls_of("chat.update")
        if call.params.get("ts") == message.ts and call.params.get("channel") == message.channel and not call.ok
    ]


# -- item 9: a DM Slack refuses ---------------------------------------------------------------------


def test_a_refused_dm_tells_the_requester_in_the_requests_thread(workspace: Workspace, channel: str) -> None:
    slack = workspace.slack
    dms_before = len(workspace.direct_messages(MEMBER))
    # As Slack answers while the app's Messages tab is off.
    slack.fail("chat.postMessage", error="messages_tab_disabled", direct_only=True, times=5)

    message = approved_request(workspace, channel)

    def told_in_thread() -> Message | None:
        replies = slack.replies(channel, message.ts)
        return next((reply for reply in replies if reply.text.startswith(f"<@{MEMBER}> ")), None)

    told = slack.wait_for(told_in_thread, 15, "the requester told in the request's thread")
    assert f"Your request to unlock Front Door was approved by <@{APPROVER}>" in told.text
    assert "Front Door unlocked." in told.text
    assert told.blocks[0]["text"]["text"].startswith(f"<@{MEMBER}> Your request to unlock *Front Door*")
    refused = [c for c in slack.calls_of("chat.postMessage") if c.params.get("channel") == MEMBER]
    assert [c.error for c in refused][-1:] == ["messages_tab_disabled"]  # the DM was tried first
    assert len(workspace.direct_messages(MEMBER)) == dms_before
    logged = wait_until(
        lambda: [line for line in workspace.bot.logs if f"could not message {MEMBER} directly" in line],
        what="the refused DM logged",
    )
    assert len(logged) == 1
    assert "messages_tab_disabled" in logged[0]
    assert f"told them in {channel}/{message.ts}" in logged[0]


# -- item 10: a final edit Slack does not take ------------------------------------------------------


def test_a_parent_edit_failing_for_seconds_is_made_when_slack_answers_again(workspace: Workspace, channel: str) -> None:
    slack = workspace.slack
    # Every edit of a channel-level message fails with HTTP 500 for 8 s; the thread's replies still work.
    slack.fail("chat.update", status=500, where=slack.is_parent, for_seconds=8)
    faulted_until = time.time() + 8

    parent, _ = workspace.action(workspace.command("/lock", "back door", user=MEMBER, channel=channel))
    status = slack.wait_for(
        lambda: next((m for m in slack.replies(channel, parent.ts) if m.text.startswith(FINAL)), None),
        15,
        "the final status",
    )
    assert status.text == "Done: Back Door locked."
    # The parent's final edit, right after the status message's, is refused while Slack fails.
    slack.wait_for(lambda: failed_edits(slack, parent), 10, "the parent's final edit refused")
    assert parent.text.startswith("Locking Back Door")

    slack.wait_for(lambda: parent.text.startswith("Back Door locked"), 40, "the parent showing the outcome")
    assert parent.edited_at[-1] >= faulted_until
    assert not parent.history[-1].startswith("Locking")


def stored_phase(bot_dir: Path, parent: Message) -> str | None:
    with contextlib.closing(sqlite3.connect(bot_dir / "lockbot.db")) as database:
        row = database.execute("SELECT state FROM actions WHERE parent_ts = ?", (parent.ts,)).fetchone()
    return str(row[0]) if row else None


def owed_rows(bot_dir: Path, message: Message) -> int:
    with contextlib.closing(sqlite3.connect(bot_dir / "lockbot.db")) as database:
        query = "SELECT count(*) FROM owed_slack_messages WHERE channel = ? AND ts = ?"
        return int(database.execute(query, (message.channel, message.ts)).fetchone()[0])


def test_a_final_edit_owed_at_a_crash_is_made_after_the_restart(
    workspace: Workspace, channel: str, bot_dir: Path
) -> None:
    slack = workspace.slack
    slack.fail("chat.update", status=500, where=slack.is_parent, for_seconds=600)

    parent, _ = workspace.action(workspace.command("/lock", "garage door", user=MEMBER, channel=channel))
    slack.wait_for(
        lambda: any(m.text.startswith("Done:") for m in slack.replies(channel, parent.ts)), 15, "the final status"
    )
    slack.wait_for(lambda: failed_edits(slack, parent), 10, "the parent's final edit refused")
    # Killed once the outcome is stored: nothing about the action itself is left to resume.
    wait_until(lambda: stored_phase(bot_dir, parent) == "succeeded", what="the outcome stored")
    workspace.bot.kill()
    slack._faults.clear()  # Slack answers again while lockbot is down
    workspace.bot.start()

    slack.wait_for(lambda: parent.text.startswith("Garage Door locked"), 20, "the parent showing the outcome")


def test_a_status_message_replaced_while_slack_failed_is_deleted_when_it_answers_again(
    workspace: Workspace, channel: str
) -> None:
    slack = workspace.slack
    # Edits of the thread's replies fail for 6 s: each status change is posted anew instead.
    slack.fail("chat.update", status=500, where=lambda params: not slack.is_parent(params), for_seconds=6)

    parent, first = workspace.action(workspace.command("/lock", "front door", user=MEMBER, channel=channel))
    slack.wait_for(lambda: parent.text.startswith("Front Door locked"), 15, "the parent showing the outcome")
    in_thread = [call for call in slack.calls_of("chat.postMessage") if call.params.get("thread_ts") == parent.ts]
    assert len(in_thread) > 1  # the status message was replaced by a new one

    def only_the_newest() -> list[Message] | None:
        replies = slack.replies(channel, parent.ts)
        return replies if len(replies) == 1 else None

    # Once Slack answers again, the replaced ones (saying Working or Pending) go.
    replies = slack.wait_for(only_the_newest, 40, "only the newest status message left")
    assert replies[0].text == "Done: Front Door locked."
    assert (channel, first.ts) not in slack.messages


def test_a_debt_to_a_message_that_is_gone_is_dropped(workspace: Workspace, channel: str, bot_dir: Path) -> None:
    slack = workspace.slack
    slack.fail("chat.update", status=500, where=slack.is_parent, for_seconds=60)

    parent, _ = workspace.action(workspace.command("/lock", "back door", user=MEMBER, channel=channel))
    wait_until(lambda: owed_rows(bot_dir, parent) == 1, what="the parent's final edit owed")
    slack.delete_message(channel, parent.ts)  # someone deleted it meanwhile

    slack.wait_for(lambda: "message_not_found" in failed_edits(slack, parent), 20, "the owed edit tried again")

    def dropped() -> list[str]:
        return [line for line in workspace.bot.logs if f"owed to {channel}/{parent.ts}" in line and "giving up" in line]

    logged = wait_until(dropped, what="the debt given up")
    assert "message_not_found" in logged[0]
    # The row goes just after the line is logged: wait for it rather than race it.
    wait_until(lambda: owed_rows(bot_dir, parent) == 0, what="the debt's row dropped")


# -- item 10: killed between the status message and the unlock -------------------------------------


def test_killed_between_the_status_message_and_the_unlock_the_status_is_finished(
    workspace: Workspace, channel: str, bot_dir: Path
) -> None:
    assert workspace.seam is not None
    slack = workspace.slack
    sent_before = workspace.seam.calls().get("/locks/unlock_door", 0)
    database = sqlite3.connect(bot_dir / "lockbot.db")
    # The write that marks an action as being sent to Seam is refused: lockbot stops right after its
    # messages are posted and before the unlock, where a kill -9 can otherwise only land by chance.
    database.execute(
        "CREATE TRIGGER hold_the_send BEFORE UPDATE OF state ON actions WHEN NEW.state = 'requesting' "
        "BEGIN SELECT RAISE(ABORT, 'held by the test'); END"
    )
    database.commit()
    try:
        sent = workspace.command("/unlock", "garden gate", user=ADMIN, channel=channel)
        parent, status = workspace.action(sent)
        assert status.text.startswith("Working")
        workspace.ephemeral(sent)  # the send failed, and the person who typed it was told
        workspace.bot.kill()
    finally:
        database.execute("DROP TRIGGER IF EXISTS hold_the_send")
        database.commit()
        database.close()
    assert status.text.startswith("Working")  # nobody finished it before the kill

    workspace.bot.start()

    # After the dead instance's lease (10 s) runs out, the restarted one finishes the action.
    slack.wait_for(lambda: status.text.startswith(FINAL), 30, "the status message finished")
    assert status.text.startswith("Failed:")
    assert "Garden Gate" in status.text
    assert [m.ts for m in slack.replies(channel, parent.ts)] == [status.ts]  # edited in place, no second one
    slack.wait_for(lambda: not parent.text.startswith("Unlocking"), 10, "the parent finished")
    wait_until(lambda: stored_phase(bot_dir, parent) == "failed", what="the action stored as failed")
    with contextlib.closing(sqlite3.connect(bot_dir / "lockbot.db")) as database:
        audited = database.execute("SELECT outcome FROM audit_log WHERE door = 'Garden Gate'").fetchall()
    assert ("not_sent",) in audited
    assert workspace.seam.calls().get("/locks/unlock_door", 0) == sent_before  # no unlock was sent
