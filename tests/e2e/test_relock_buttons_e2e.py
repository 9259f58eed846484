"""A timed unlock's buttons end to end: Lock now and +15 min in its thread, who may press them, a
press after the relock ran, the audit log, /doors, and the parent's final words."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.botprocess import BotProcess
from tests.conftest import MEMBER, CommandSent, Workspace, bot_env, buttons, wait_until
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack, Message

UNLOCKER = "U0OPENER02"  # may unlock every door directly, approves none
APPROVER = "U0APPROV02"  # approves every door, may not unlock any directly
STRANGER = MEMBER  # neither

POLICY = f"""
[defaults]
direct_unlock = ["{UNLOCKER}"]
approvers = ["{APPROVER}"]
max_unlock = "2m"

[doors."Back Door"]
max_unlock = "1h"
"""

SPAN = "\u2013"  # the en dash between the two times of "unlocked 14:00 to 14:10"


@pytest.fixture(scope="module")
def seam() -> Iterator[SeamFake]:
    fake = SeamFake(locks=["Front Door", "Back Door", "Garage Door", "Garden Gate"], action_delay_ms=300).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def bot(slack: FakeSlack, seam: SeamFake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    for user in (UNLOCKER, APPROVER):
        slack.add_user(user)
    tmp: Path = tmp_path_factory.mktemp("relock_buttons")
    (tmp / "lockbot.toml").write_text(POLICY)
    process = BotProcess(bot_env(slack, seam, tmp), cwd=tmp).start()
    yield process
    process.close()


def lock_calls(workspace: Workspace) -> int:
    assert workspace.seam is not None
    return workspace.seam.calls().get("/locks/lock_door", 0)


def timed_unlock(workspace: Workspace, channel: str, text: str) -> tuple[Message, Message, str]:
    """Unlock as UNLOCKER: (parent, status, unlock id), once the status shows its buttons."""
    parent, status = workspace.finished_action(workspace.command("/unlock", text, user=UNLOCKER, channel=channel))
    shown = buttons(status)
    assert set(shown) == {"relock_now", "unlock_extend"}
    assert shown["relock_now"] == shown["unlock_extend"]
    return parent, status, shown["relock_now"]


def press(workspace: Workspace, action_id: str, unlock_id: str, user: str, status: Message) -> CommandSent:
    return workspace.click(action_id, unlock_id, user=user, channel=status.channel, message_ts=status.ts)


def until_of(message: Message) -> int:
    """The time the status message says the door is unlocked until (its Slack date token)."""
    found = re.search(r"until <!date\^(\d+)\^", str(message.blocks))
    assert found is not None, message.text
    return int(found.group(1))


def thread_says(workspace: Workspace, channel: str, parent: Message, words: str, timeout: float = 15) -> Message:
    def said() -> Message | None:
        return next((m for m in workspace.slack.replies(channel, parent.ts) if words in m.text), None)

    return workspace.slack.wait_for(said, timeout, f"the thread to say {words!r}")


def audit_log(workspace: Workspace, channel: str, door: str) -> str:
    return workspace.ephemeral(workspace.command("/doors", f"log {door}", user=APPROVER, channel=channel)).text


def parent_ended(workspace: Workspace, parent: Message, door: str) -> str:
    """The parent's text once it says the door was locked again."""
    pattern = rf"{door} unlocked \d\d:\d\d{SPAN}\d\d:\d\d, locked again \(UTC\)\."

    def ended() -> str | None:
        text = parent.text
        return text if re.match(pattern, text) else None

    return wait_until(ended, 15, f"the parent to say {door} was locked again")


def test_the_unlocker_presses_lock_now_once_and_the_thread_says_who(workspace: Workspace, channel: str) -> None:
    parent, status, unlock_id = timed_unlock(workspace, channel, "front door 1m")

    with ThreadPoolExecutor(2) as pool:  # two presses at once: one locks, the other is told
        presses = list(
            pool.map(lambda user: press(workspace, "relock_now", unlock_id, user, status), [UNLOCKER, APPROVER])
        )

    done = thread_says(workspace, channel, parent, "Done: Front Door locked by")
    assert done.text in (f"Done: Front Door locked by <@{who}> (Lock now)." for who in (UNLOCKER, APPROVER))
    told = [workspace.slack.responses_for(sent.response_id) for sent in presses]
    answered = [replies[0].text for replies in told if replies]
    assert len(answered) == 1
    assert "already pressed Lock now on Front Door" in answered[0]
    assert lock_calls(workspace) == 1
    final = parent_ended(workspace, parent, "Front Door")
    assert "locked by <@" in final
    wait_until(lambda: not buttons(status), 10, "the unlock's buttons to go")
    assert re.match(rf"Done: Front Door unlocked \d\d:\d\d{SPAN}\d\d:\d\d, locked again \(UTC\)\.", status.text)
    assert workspace.seam is not None
    assert workspace.seam.lock_state(workspace.seam.device_id("Front Door"))["locked"] is True
    log = audit_log(workspace, channel, "front door")
    assert "timed_unlock_end · Front Door · lock now · Lock now" in log


def test_extend_moves_the_time_15_minutes_and_shows_it(workspace: Workspace, channel: str) -> None:
    parent, status, unlock_id = timed_unlock(workspace, channel, "back door 30s")
    before = until_of(status)

    reply = workspace.ephemeral(press(workspace, "unlock_extend", unlock_id, APPROVER, status))

    assert reply.text.startswith("Back Door stays unlocked until ")

    def edited() -> Message | None:
        return status if until_of(status) != before else None

    moved = wait_until(edited, 10, "the status to show the new time")
    assert until_of(moved) - before == 15 * 60
    assert set(buttons(moved)) == {"relock_now", "unlock_extend"}  # still there, for the new time
    assert "unlocked until" in parent.text
    assert "timed_unlock_extend · Back Door · extended · until" in audit_log(workspace, channel, "back door")
    workspace.finished_action(workspace.command("/lock", "back door", user=STRANGER, channel=channel))
    parent_ended(workspace, parent, "Back Door")  # a /lock before the time ends it too
    assert "timed_unlock_end · Back Door · locked" in audit_log(workspace, channel, "back door")


def test_extend_stops_at_max_unlock_from_now_and_says_so(workspace: Workspace, channel: str) -> None:
    _, status, unlock_id = timed_unlock(workspace, channel, "garden gate 30s")

    first = workspace.ephemeral(press(workspace, "unlock_extend", unlock_id, UNLOCKER, status))
    pressed_at = time.time()
    second = workspace.ephemeral(press(workspace, "unlock_extend", unlock_id, UNLOCKER, status))

    assert "That is as long as it may be unlocked: at most 2 min from now (its max_unlock)." in first.text
    assert abs(until_of(status) - (pressed_at + 120)) < 5
    assert second.text.startswith("Garden Gate may be unlocked for at most 2 min from now (its max_unlock)")
    assert second.text.endswith("Nothing was done.")
    assert lock_calls(workspace) == 0
    workspace.finished_action(workspace.command("/lock", "garden gate", user=UNLOCKER, channel=channel))


def test_a_stranger_is_told_why_not_and_nothing_is_done(workspace: Workspace, channel: str) -> None:
    _, status, unlock_id = timed_unlock(workspace, channel, "front door 1m")
    before = until_of(status)

    for action_id in ("relock_now", "unlock_extend"):
        reply = workspace.ephemeral(press(workspace, action_id, unlock_id, STRANGER, status))
        assert reply.text == (
            f"Only <@{UNLOCKER}> (who unlocked it), an approver of Front Door, or someone who may unlock it "
            "directly can lock it now or keep it unlocked longer. Nothing was done."
        )

    assert lock_calls(workspace) == 0
    assert until_of(status) == before
    forged = workspace.ephemeral(press(workspace, "relock_now", "not-an-unlock", UNLOCKER, status))
    assert forged.text.endswith("Nothing was done.")
    workspace.finished_action(workspace.command("/lock", "front door", user=UNLOCKER, channel=channel))


def test_a_press_after_the_relock_ran_changes_nothing_and_says_what_happened(
    workspace: Workspace, channel: str
) -> None:
    parent, status, unlock_id = timed_unlock(workspace, channel, "garage door 10s")
    thread_says(workspace, channel, parent, "Done: Garage Door locked.", timeout=30)
    final = parent_ended(workspace, parent, "Garage Door")

    for action_id in ("relock_now", "unlock_extend"):
        reply = workspace.ephemeral(press(workspace, action_id, unlock_id, UNLOCKER, status))
        assert "This unlock of Garage Door already ended: lockbot locked it again at " in reply.text
        assert reply.text.endswith("Nothing was done.")

    assert lock_calls(workspace) == 1
    assert parent.text == final
    assert "relock · Garage Door · succeeded" in audit_log(workspace, channel, "garage door")
    assert not buttons(status)


def test_a_relock_that_fails_leaves_the_parent_saying_the_door_may_still_be_unlocked_and_lock_now_still_works(
    workspace: Workspace, channel: str
) -> None:
    assert workspace.seam is not None
    parent, status, unlock_id = timed_unlock(workspace, channel, "garage door 10s")
    workspace.seam.set_device(workspace.seam.device_id("Garage Door"), online=False)
    try:
        thread_says(workspace, channel, parent, "Could not lock Garage Door again", timeout=30)
        wait_until(lambda: "may still be unlocked" in parent.text, 10, "the parent to say so")
    finally:
        workspace.seam.set_device(workspace.seam.device_id("Garage Door"), online=True)

    assert parent.text.startswith("Could not lock Garage Door again: the lock is offline. It may still be unlocked.")
    assert "relock · Garage Door · failed" in audit_log(workspace, channel, "garage door")
    # lockbot tries again later; meanwhile Lock now, with the door back online, locks it at once.
    press(workspace, "relock_now", unlock_id, UNLOCKER, status)
    thread_says(workspace, channel, parent, f"Done: Garage Door locked by <@{UNLOCKER}> (Lock now).")


def test_doors_shows_until_when_a_door_is_unlocked(workspace: Workspace, channel: str) -> None:
    _, status, _ = timed_unlock(workspace, channel, "garden gate 1m")

    shown = workspace.ephemeral(workspace.command("/doors", "", user=STRANGER, channel=channel))

    line = next(line for line in shown.text.split("; ") if "Garden Gate" in line)
    assert re.search(r"Garden Gate — unlocked until \d\d:\d\d UTC, online", line), line
    assert f"<!date^{until_of(status)}^" in str(shown.body["blocks"])
    assert "Front Door — locked" in shown.text
    workspace.finished_action(workspace.command("/lock", "garden gate", user=UNLOCKER, channel=channel))


def test_a_relock_taken_up_after_a_crash_still_ends_the_unlocks_parent(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    parent, _, _ = timed_unlock(workspace, channel, "garden gate 10s")
    workspace.seam.configure(action_delay_ms=2500, confirmed_by_device=True)
    thread_says(workspace, channel, parent, "Pending: Locking Garden Gate", timeout=30)
    workspace.bot.kill()
    workspace.bot.start()

    def ended() -> str | None:
        text = parent.text
        again = re.match(rf"Garden Gate unlocked \d\d:\d\d{SPAN}\d\d:\d\d, locked again \(UTC\)\.", text)
        return text if again or text.startswith("Could not lock Garden Gate again") else None

    wait_until(ended, 30, "the parent to tell the timed unlock's end")
    assert lock_calls(workspace) == 1


def test_a_press_on_app_home_is_answered_by_direct_message(workspace: Workspace, channel: str) -> None:
    _, _, unlock_id = timed_unlock(workspace, channel, "front door 1m")
    dms_before = len(workspace.direct_messages(STRANGER))
    payload = {  # as Slack sends a press in the Home tab: a view container, no response_url
        "type": "block_actions",
        "user": {"id": STRANGER, "username": "member", "team_id": "T0000TEST"},
        "api_app_id": "A0000TEST",
        "token": "legacy-verification-token",
        "container": {"type": "view", "view_id": "V0HOME0001"},
        "trigger_id": f"{time.time():.0f}.trigger",
        "team": {"id": "T0000TEST", "domain": "lockbot-test"},
        "view": {"id": "V0HOME0001", "type": "home", "blocks": []},
        "actions": [{"action_id": "relock_now", "block_id": "home", "value": unlock_id, "type": "button"}],
    }

    response = workspace.bot.post_signed(urlencode({"payload": json.dumps(payload)}))

    assert response.status_code == 200
    dm = wait_until(lambda: workspace.direct_messages(STRANGER)[dms_before:], 10, "a DM to the presser")
    assert dm[-1].text.startswith(f"Only <@{UNLOCKER}> (who unlocked it)")
    assert lock_calls(workspace) == 0
    workspace.finished_action(workspace.command("/lock", "front door", user=UNLOCKER, channel=channel))
