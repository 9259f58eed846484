"""Relock retries end to end: a relock that finds the lock offline is tried again on a schedule
(seconds here, `LOCKBOT_RELOCK_RETRIES`), each retry stored, until it works or lockbot gives up."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from tests.botprocess import BotProcess
from tests.conftest import ADMIN, MEMBER, Workspace, bot_env, wait_until
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack, Message

NOTIFY = "C0RETRIES1"  # its own: the fake Slack is shared by every module, and others notify too
POLICY = f'[defaults]\nnotify_channel = "{NOTIFY}"\n'
FIRST_RETRY_S = 8  # the first retry this long after the first failure: room for a restart, or a /lock
LAST_RETRY_S = 20  # the last this long after the second: room to bring the lock back online, under load too
TRIES = 3  # the first try and two retries


@pytest.fixture(scope="module")
def seam() -> Iterator[SeamFake]:
    fake = SeamFake(locks=["Front Door", "Back Door", "Garage Door", "Garden Gate"], action_delay_ms=300).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def bot(slack: FakeSlack, seam: SeamFake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    tmp = tmp_path_factory.mktemp("retries")
    (tmp / "lockbot.toml").write_text(POLICY)
    env = bot_env(slack, seam, tmp) | {"LOCKBOT_RELOCK_RETRIES": f"{FIRST_RETRY_S}s,{LAST_RETRY_S}s"}
    process = BotProcess(env, cwd=tmp).start()
    yield process
    process.close()


def lock_calls(workspace: Workspace) -> int:
    assert workspace.seam is not None
    return workspace.seam.calls().get("/locks/lock_door", 0)


def thread_says(workspace: Workspace, channel: str, parent: Message, words: str, timeout: float) -> Message:
    """The first message of the thread that says these words (now, after any edits), once there is one."""

    def said() -> Message | None:
        return next((m for m in workspace.slack.replies(channel, parent.ts) if words in m.text), None)

    return workspace.slack.wait_for(said, timeout, f"the thread to say {words!r}")


def notices_about(workspace: Workspace, door: str) -> list[Message]:
    return [m for m in workspace.slack.channel_messages(NOTIFY) if door in m.text]


def unlock_then_go_offline(workspace: Workspace, channel: str, door: str, device_id: str) -> Message:
    """A 10 s timed unlock of the door, then the lock goes offline; returns the unlock's parent."""
    assert workspace.seam is not None
    parent, _ = workspace.finished_action(workspace.command("/unlock", f"{door} 10s", user=ADMIN, channel=channel))
    workspace.seam.set_device(device_id, online=False)
    return parent


def first_failure(workspace: Workspace, channel: str, parent: Message, door: str) -> Message:
    loud = thread_says(workspace, channel, parent, f"Could not lock {door} again", timeout=30)
    assert f"Could not lock {door} again: the lock is offline. It may still be unlocked." in loud.text
    assert f"lockbot will try again in {FIRST_RETRY_S} s." in loud.text
    assert f"<@{ADMIN}>" in loud.text
    return loud


def test_a_relock_tried_again_while_the_lock_is_offline_locks_it_once_back_online(
    workspace: Workspace, channel: str
) -> None:
    assert workspace.seam is not None
    dms_before = len(workspace.direct_messages(ADMIN))
    parent = unlock_then_go_offline(workspace, channel, "Front Door", "lock_1")

    first_failure(workspace, channel, parent, "Front Door")
    dm = wait_until(lambda: workspace.direct_messages(ADMIN)[dms_before:], 10, "a DM to whoever unlocked")
    assert "Could not lock Front Door again: the lock is offline." in dm[0].text
    wait_until(lambda: notices_about(workspace, "Front Door"), 10, "the failure in the notify channel")
    # The second try fails too: the relock's status message says so, edited; nobody else is told.
    status = thread_says(workspace, channel, parent, "Try 2 of 3 to lock Front Door again did not work", timeout=30)
    assert status.text == (
        f":repeat: Try 2 of 3 to lock Front Door again did not work: the lock is offline. "
        f"lockbot will try again in {LAST_RETRY_S} s."
    )
    assert any(text.startswith(":repeat: Try 1 of 3") for text in status.history)
    replies_while_retrying = len(workspace.slack.replies(channel, parent.ts))
    assert lock_calls(workspace) == 2

    workspace.seam.set_device("lock_1", online=True)
    locked = thread_says(workspace, channel, parent, "is locked now", timeout=45)

    assert locked.text == ":lock: Front Door is locked now (try 3 of 3)."
    assert thread_says(workspace, channel, parent, "Done: Front Door locked.", timeout=5).ts == status.ts
    assert len(workspace.slack.replies(channel, parent.ts)) == replies_while_retrying + 1  # the one "locked now"
    assert workspace.seam.lock_state("lock_1")["locked"] is True
    assert lock_calls(workspace) == 3
    assert len(workspace.direct_messages(ADMIN)) == dms_before + 1  # only the first failure was a DM
    # The notify channel: the unlock, the loud failure (not also the first try's plain outcome, which
    # says the same), then the locking that worked; the second try's failure is not announced there.
    notices = [m.text for m in notices_about(workspace, "Front Door")]
    assert notices[0].startswith("Front Door unlocked until")
    assert notices[1] == (
        f":rotating_light: Could not lock Front Door again: the lock is offline. It may still be unlocked. "
        f"lockbot will try again in {FIRST_RETRY_S} s."
    )
    assert len(notices) == 3
    assert re.match(r"Front Door unlocked \d\d:\d\d.\d\d:\d\d.*, locked again", notices[2]), notices[2]
    assert notices[2].endswith(f"(asked by <@{ADMIN}>, through lockbot)")


def test_after_the_last_try_lockbot_gives_up_saying_so_plainly(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    dms_before = len(workspace.direct_messages(ADMIN))
    notices_before = len(notices_about(workspace, "Garden Gate"))
    parent = unlock_then_go_offline(workspace, channel, "Garden Gate", "lock_4")
    try:
        first_failure(workspace, channel, parent, "Garden Gate")
        gave_up = thread_says(workspace, channel, parent, "Gave up locking", timeout=70)
    finally:
        workspace.seam.set_device("lock_4", online=True)

    plainly = "Gave up locking Garden Gate again after 3 tries. It may still be unlocked — lock it by hand."
    assert gave_up.text == f":rotating_light: <@{ADMIN}> {plainly}"
    dms = wait_until(lambda: workspace.direct_messages(ADMIN)[dms_before + 1 :], 10, "the give-up DM")
    assert [m.text for m in dms] == [f":rotating_light: {plainly}"]
    notices = wait_until(
        lambda: [m.text for m in notices_about(workspace, "Garden Gate")[notices_before:] if "Gave up" in m.text],
        10,
        "the give-up notice",
    )
    assert notices == [f":rotating_light: {plainly}"]
    # The failures of the second and third tries are not announced one by one.
    failures = [m for m in notices_about(workspace, "Garden Gate")[notices_before:] if "Could not lock" in m.text]
    assert len(failures) == 1  # the loud failure only: the first try's plain outcome would say it again
    assert lock_calls(workspace) == TRIES
    # No fourth try, however long one waits past when it would have been due.
    deadline = time.monotonic() + FIRST_RETRY_S + 2
    wait_until(lambda: time.monotonic() > deadline, FIRST_RETRY_S + 5, "the time a fourth try would have had")
    assert lock_calls(workspace) == TRIES
    assert not any("is locked now" in m.text for m in workspace.slack.replies(channel, parent.ts))


def test_a_retry_pending_across_a_restart_runs_once_at_the_next_start(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    parent = unlock_then_go_offline(workspace, channel, "Back Door", "lock_2")
    first_failure(workspace, channel, parent, "Back Door")
    failed_at = time.monotonic()
    workspace.bot.kill()  # SIGKILL: nothing is tidied away before the retry falls due
    try:
        workspace.seam.set_device("lock_2", online=True)
        wait_until(lambda: time.monotonic() > failed_at + FIRST_RETRY_S + 1, 20, "the retry to fall due while stopped")
        assert lock_calls(workspace) == 1
    finally:
        workspace.bot.start()

    locked = thread_says(workspace, channel, parent, "is locked now", timeout=15)
    assert locked.text == ":lock: Back Door is locked now (try 2 of 3)."
    assert lock_calls(workspace) == 2
    assert workspace.seam.lock_state("lock_2")["locked"] is True


def test_a_lock_while_a_retry_is_pending_settles_it(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    parent = unlock_then_go_offline(workspace, channel, "Garage Door", "lock_3")
    first_failure(workspace, channel, parent, "Garage Door")
    workspace.seam.set_device("lock_3", online=True)
    retry_due = time.monotonic() + FIRST_RETRY_S

    workspace.finished_action(workspace.command("/lock", "garage door", user=MEMBER, channel=channel))
    settled = thread_says(workspace, channel, parent, "lockbot will not try again", timeout=10)

    assert settled.text == f":lock: Garage Door was locked by <@{MEMBER}>; lockbot will not try again."
    wait_until(lambda: time.monotonic() > retry_due + 2, FIRST_RETRY_S + 5, "the retry's time to pass")
    assert lock_calls(workspace) == 2  # the relock's first try and the /lock; no retry
    assert not any("is locked now" in m.text for m in workspace.slack.replies(channel, parent.ts))
