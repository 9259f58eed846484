"""Notices that act, end to end: the `door_lock` button on a `lock.unlocked` notice and on App Home,
and the alert for a door left unlocked past `alert_unlocked_after` (edited once it is locked)."""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from tests.botprocess import BotProcess, new_response_id
from tests.conftest import ADMIN, MEMBER, CommandSent, Workspace, bot_env, buttons, wait_until
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack, Message
from tests.seam_webhooks import SECRET, deliver, event

NOTIFY = "C0NOTIFY02"
ALERT_AFTER = 10  # seconds: the shortest the policy takes
POLICY = f'[defaults]\nnotify_channel = "{NOTIFY}"\nalert_unlocked_after = "{ALERT_AFTER}s"\n'


@pytest.fixture(scope="module")
def bot(slack: FakeSlack, seam: SeamFake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    tmp = tmp_path_factory.mktemp("notices")
    (tmp / "lockbot.toml").write_text(POLICY)
    env = bot_env(slack, seam, tmp) | {"SEAM_WEBHOOK_SECRET": SECRET, "LOCKBOT_ACTION_TIMEOUT": "20"}
    process = BotProcess(env, cwd=tmp).start()
    yield process
    process.close()


def notices_about(workspace: Workspace, door: str, channel: str = NOTIFY) -> list[Message]:
    return [m for m in workspace.slack.channel_messages(channel) if m.history[0].startswith(door)]


def alerts_about(workspace: Workspace, door: str, channel: str = NOTIFY) -> list[Message]:
    return [m for m in workspace.slack.channel_messages(channel) if m.history[0].startswith(f":warning: {door} has")]


def logged(workspace: Workspace, words: str, since: int) -> bool:
    return any(words in line for line in workspace.bot.logs[since:])


def lock_calls(workspace: Workspace) -> int:
    assert workspace.seam is not None
    return workspace.seam.calls().get("/locks/lock_door", 0)


def press_on_home(workspace: Workspace, device_id: str, *, user: str) -> CommandSent:
    """Press a `door_lock` button on App Home, as Slack sends it: a view, no channel, no response_url."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0000TEST"},
        "api_app_id": "A0000TEST",
        "token": "legacy-verification-token",
        "container": {"type": "view", "view_id": "V0HOME0001"},
        "trigger_id": f"{time.time():.0f}.trigger",
        "team": {"id": "T0000TEST", "domain": "lockbot-test"},
        "view": {"id": "V0HOME0001", "type": "home", "blocks": [], "private_metadata": "", "callback_id": ""},
        "actions": [
            {
                "action_id": "door_lock",
                "block_id": "home_doors",
                "value": device_id,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    sent_at = time.time()
    response = workspace.bot.post_signed(urlencode({"payload": json.dumps(payload)}))
    return CommandSent(response, new_response_id(), "", sent_at)


def action_in(workspace: Workspace, channel: str, door: str, since: float) -> tuple[Message, Message]:
    """The parent and final status of the lock of `door` shown in `channel` after `since`."""

    def finished() -> tuple[Message, Message] | None:
        for parent in workspace.slack.channel_messages(channel):
            replies = workspace.slack.replies(channel, parent.ts)
            done = bool(replies) and replies[-1].text.startswith("Done:") and len(parent.history) > 1
            if parent.posted_at >= since and done and door in parent.history[0]:
                return parent, replies[-1]
        return None

    return workspace.slack.wait_for(finished, 15, f"the lock of {door} in {channel}")


def test_lock_it_on_an_unlock_notice_locks_the_door_once_however_often_pressed(workspace: Workspace) -> None:
    assert workspace.seam is not None
    workspace.seam.configure(action_delay_ms=1500)  # the first press's lock is still on its way
    workspace.seam.set_device("lock_1", locked=False)
    seen = len(notices_about(workspace, "Front Door"))
    deliver(workspace, event("lock.unlocked", "lock_1", method="keycode"))
    notice = workspace.slack.wait_for(lambda: notices_about(workspace, "Front Door")[seen:], what="the notice")[0]
    assert notice.text.startswith("Front Door unlocked (keypad) at ")
    assert buttons(notice) == {"door_lock": "lock_1"}
    pressed_at = time.time()

    def press(_: int) -> CommandSent:
        return workspace.click("door_lock", "lock_1", user=MEMBER, channel=NOTIFY, message_ts=notice.ts)

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        presses = list(pool.map(press, range(2)))

    parent, status = action_in(workspace, NOTIFY, "Front Door", pressed_at)
    assert status.text == "Done: Front Door locked."
    assert parent.text.startswith("Front Door locked.")
    assert all(p.response.status_code == 200 for p in presses)
    told = workspace.ephemeral(presses[0]).text if workspace.slack.responses_for(presses[0].response_id) else ""
    told = told or workspace.ephemeral(presses[1]).text
    assert told == f"Front Door is being locked already (asked by <@{MEMBER}>); no second lock was sent."
    assert lock_calls(workspace) == 1
    assert workspace.seam.lock_state("lock_1")["locked"] is True
    # Audited as a /lock is: who, what, which door, the outcome.
    log = workspace.ephemeral(workspace.command("/doors", "log front door", user=ADMIN)).text
    assert f"<@{MEMBER}> · lock · Front Door · succeeded" in log


def test_a_door_left_unlocked_gets_one_alert_and_a_keypad_lock_edits_it(workspace: Workspace) -> None:
    assert workspace.seam is not None
    workspace.seam.set_device("lock_2", locked=False)
    deliver(workspace, event("lock.unlocked", "lock_2", method="manual"))
    unlocked_at = time.monotonic()

    alert = workspace.slack.wait_for(lambda: alerts_about(workspace, "Back Door"), 25, "the alert")[0]

    assert time.monotonic() - unlocked_at >= ALERT_AFTER - 1
    assert alert.text.startswith(f":warning: Back Door has been unlocked for {ALERT_AFTER} s (since ")
    assert buttons(alert) == {"door_lock": "lock_2"}
    # Ticks go by (every 0.5 s): still the one alert.
    wait_until(lambda: time.monotonic() > unlocked_at + ALERT_AFTER + 3, 20, "a few more ticks")
    assert len(alerts_about(workspace, "Back Door")) == 1

    workspace.seam.set_device("lock_2", locked=True)
    deliver(workspace, event("lock.locked", "lock_2", method="keycode"))

    workspace.slack.wait_for(lambda: len(alert.history) > 1, 10, "the alert to be edited")
    assert alert.text.startswith(":lock: Back Door was locked at the door (keypad) at ")
    assert "<!date^" in str(alert.blocks)
    assert buttons(alert) == {}
    assert lock_calls(workspace) == 0


def test_lockbots_own_unlock_is_alerted_and_lock_it_there_edits_the_alert(workspace: Workspace, channel: str) -> None:
    workspace.finished_action(workspace.command("/unlock", "garage door", user=ADMIN, channel=channel))
    outcome = workspace.slack.wait_for(
        lambda: next((m for m in notices_about(workspace, "Garage Door unlocked.")), None), what="the outcome notice"
    )
    assert buttons(outcome) == {"door_lock": "lock_3"}
    alert = workspace.slack.wait_for(lambda: alerts_about(workspace, "Garage Door"), 25, "the alert")[0]
    pressed_at = time.time()

    workspace.click("door_lock", buttons(alert)["door_lock"], user=MEMBER, channel=NOTIFY, message_ts=alert.ts)

    action_in(workspace, NOTIFY, "Garage Door", pressed_at)
    workspace.slack.wait_for(lambda: len(alert.history) > 1, 10, "the alert to be edited")
    assert alert.text.startswith(f":lock: Garage Door was locked by <@{MEMBER}> at ")
    assert buttons(alert) == {}
    assert lock_calls(workspace) == 1


@pytest.mark.parametrize("forged", ["lock_404", "Front Door", "lock_1 ", "x" * 5000])
def test_a_forged_or_unknown_device_id_locks_nothing_and_says_so(
    workspace: Workspace, channel: str, forged: str
) -> None:
    pressed = workspace.click("door_lock", forged, user=MEMBER, channel=channel, message_ts="1700000000.000001")

    reply = workspace.ephemeral(pressed).text
    assert reply.startswith("Nothing was locked: lockbot knows no door `")
    assert reply.endswith("It may have been removed; `/doors` lists the doors.")
    assert workspace.slack.channel_messages(channel) == []
    assert lock_calls(workspace) == 0


def test_a_press_on_app_home_locks_in_the_notify_channel_and_a_forged_one_is_told_by_dm(
    workspace: Workspace,
) -> None:
    dms = len(workspace.direct_messages(MEMBER))
    pressed_at = time.time()

    forged = press_on_home(workspace, "lock_404", user=MEMBER)
    real = press_on_home(workspace, "lock_4", user=MEMBER)

    assert forged.response.status_code == real.response.status_code == 200
    told = workspace.slack.wait_for(lambda: workspace.direct_messages(MEMBER)[dms:], what="a DM")
    assert told[0].text.startswith("Nothing was locked: lockbot knows no door `lock_404`")
    parent, _ = action_in(workspace, NOTIFY, "Garden Gate", pressed_at)
    assert parent.text.startswith("Garden Gate locked.")
    assert lock_calls(workspace) == 1


def test_an_alert_due_while_lockbot_was_killed_is_posted_once_at_the_next_start(workspace: Workspace) -> None:
    assert workspace.seam is not None
    workspace.seam.set_device("lock_3", locked=False)
    before = len(workspace.bot.logs)
    deliver(workspace, event("lock.unlocked", "lock_3", method="keycode"))
    unlocked_at = time.monotonic()
    wait_until(lambda: logged(workspace, "lock_3 unlocked: an alert is due", before), 10, "the alert to be opened")
    seen = len(alerts_about(workspace, "Garage Door"))
    workspace.bot.kill()  # SIGKILL: nothing is tidied away before it falls due
    try:
        wait_until(lambda: time.monotonic() > unlocked_at + ALERT_AFTER + 1, 20, "the alert to fall due while stopped")
        assert len(alerts_about(workspace, "Garage Door")) == seen
    finally:
        workspace.bot.start()

    workspace.slack.wait_for(lambda: alerts_about(workspace, "Garage Door")[seen:], 10, "the overdue alert")
    restarted_at = time.monotonic()
    wait_until(lambda: time.monotonic() > restarted_at + 3, 10, "a few more ticks")
    assert len(alerts_about(workspace, "Garage Door")) == seen + 1
    assert workspace.seam.calls().get("/locks/get", 0) >= 1  # asked whether it is still unlocked


def test_a_door_locked_unheard_before_the_alert_is_due_gets_no_alert(workspace: Workspace) -> None:
    assert workspace.seam is not None
    workspace.seam.set_device("lock_4", locked=False)
    seen = len(alerts_about(workspace, "Garden Gate"))
    before = len(workspace.bot.logs)
    deliver(workspace, event("lock.unlocked", "lock_4", method="keycode"))
    wait_until(lambda: logged(workspace, "lock_4 unlocked: an alert is due", before), 10, "the alert to be opened")
    workspace.seam.set_device("lock_4", locked=True)  # locked, and no lock.locked heard

    wait_until(lambda: logged(workspace, "Seam says it is locked", before), 25, "the check at the due time")
    assert len(alerts_about(workspace, "Garden Gate")) == seen


def test_an_alert_slack_refuses_once_is_posted_after_a_wait_and_only_once(workspace: Workspace) -> None:
    assert workspace.seam is not None

    def is_alert(params: dict[str, object]) -> bool:
        return params.get("channel") == NOTIFY and str(params.get("text", "")).startswith(":warning: Garden Gate has")

    workspace.slack.fail("chat.postMessage", error="internal_error", where=is_alert)
    workspace.seam.set_device("lock_4", locked=False)
    seen = len(alerts_about(workspace, "Garden Gate"))
    deliver(workspace, event("lock.unlocked", "lock_4", method="keycode"))

    alert = workspace.slack.wait_for(lambda: alerts_about(workspace, "Garden Gate")[seen:], 40, "the alert")[0]

    tries = [call for call in workspace.slack.calls_of("chat.postMessage") if is_alert(call.params)]
    assert [call.error for call in tries[-2:]] == ["internal_error", None]  # refused, then tried again
    assert tries[-1].at - tries[-2].at >= 4  # after a wait, not at once
    posted_at = time.monotonic()
    wait_until(lambda: time.monotonic() > posted_at + 3, 10, "a few more ticks")
    assert len(alerts_about(workspace, "Garden Gate")) == seen + 1

    workspace.seam.set_device("lock_4", locked=True)
    deliver(workspace, event("lock.locked", "lock_4", method="keycode"))
    workspace.slack.wait_for(lambda: len(alert.history) > 1, 10, "the alert to be edited")  # its ts was kept
    assert alert.text.startswith(":lock: Garden Gate was locked at the door (keypad) at ")
