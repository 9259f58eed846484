"""Seam webhooks end to end: Svix signatures made here, notices, redeliveries, and outcomes at once."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from svix.webhooks import Webhook

from tests.botprocess import ROOT, BotProcess
from tests.conftest import ADMIN, Workspace, bot_env, wait_until
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack, Message
from tests.seam_webhooks import SECRET, deliver, event

NOTIFY = "C0NOTIFY01"
POLICY = f'[defaults]\nnotify_channel = "{NOTIFY}"\n'


@pytest.fixture(scope="module")
def bot(slack: FakeSlack, seam: SeamFake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    tmp = tmp_path_factory.mktemp("webhooks")
    (tmp / "lockbot.toml").write_text(POLICY)
    env = bot_env(slack, seam, tmp) | {"SEAM_WEBHOOK_SECRET": SECRET, "LOCKBOT_ACTION_TIMEOUT": "20"}
    process = BotProcess(env, cwd=tmp).start()
    yield process
    process.close()


def notices(workspace: Workspace) -> list[Message]:
    return workspace.slack.channel_messages(NOTIFY)


def next_notice(workspace: Workspace, seen: int) -> Message:
    return workspace.slack.wait_for(lambda: notices(workspace)[seen:], what="a notice")[0]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (event("lock.unlocked", method="keycode"), "Front Door unlocked (keypad) at "),
        (event("lock.locked", "lock_2", method="manual"), "Back Door locked (manual) at "),
        (event("lock.locked", "lock_3", method="automatic"), "Garage Door locked (automatic) at "),
        (event("lock.access_denied"), "Access denied at Front Door at "),
        (event("device.disconnected", "lock_2"), "Back Door went offline at "),
        (event("device.connected", "lock_2"), "Back Door is back online at "),
        (event("device.low_battery", "lock_4", battery_level=0.12), "Garden Gate battery is low (12%) at "),
        (event("lock.unlocked", "lock_99"), "a lock lockbot does not know (`lock_99`) unlocked at "),
    ],
)
def test_door_events_become_one_readable_line_in_the_notify_channel(
    workspace: Workspace, given: dict[str, Any], expected: str
) -> None:
    seen = len(notices(workspace))

    response = deliver(workspace, given)

    assert response.status_code == 200
    notice = next_notice(workspace, seen)
    assert notice.text.startswith(expected)
    assert "<!date^" in str(notice.blocks)


def test_a_redelivered_event_posts_nothing_new(workspace: Workspace) -> None:
    seen = len(notices(workspace))
    unlocked = event("lock.unlocked", method="keycode")
    assert deliver(workspace, unlocked).status_code == 200
    next_notice(workspace, seen)

    again = deliver(workspace, unlocked)
    marker = event("device.connected", "lock_2")
    deliver(workspace, marker)
    workspace.slack.wait_for(lambda: len(notices(workspace)) >= seen + 2, what="the marker notice")

    assert again.status_code == 200
    assert [m.text.split(" at ")[0] for m in notices(workspace)[seen:]] == [
        "Front Door unlocked (keypad)",
        "Back Door is back online",
    ]


@pytest.mark.parametrize(
    "how",
    ["wrong secret", "stale", "tampered", "unsigned"],
)
def test_bad_or_stale_signatures_are_refused_and_change_nothing(workspace: Workspace, how: str) -> None:
    seen = len(notices(workspace))
    unlocked = event("lock.unlocked", method="keycode")
    other_secret = "whsec_" + base64.b64encode(b"not-lockbots-secret-at-all-0002").decode()
    if how == "wrong secret":
        response = deliver(workspace, unlocked, secret=other_secret)
    elif how == "stale":
        response = deliver(workspace, unlocked, signed_at=datetime.now(UTC) - timedelta(minutes=10))
    else:
        body = json.dumps(unlocked)
        moment = datetime.now(UTC)
        headers = {
            "svix-id": "msg_1",
            "svix-timestamp": str(int(moment.timestamp())),
            "content-type": "application/json",
        }
        if how == "tampered":
            headers["svix-signature"] = Webhook(SECRET).sign("msg_1", moment, body)
            body = body.replace("lock_1", "lock_2")
        response = workspace.bot.http.post(f"{workspace.bot.url}/webhooks/seam", content=body, headers=headers)

    assert response.status_code == 401
    # The same event, correctly signed, is still new: the refused delivery left no trace.
    assert deliver(workspace, unlocked).status_code == 200
    assert next_notice(workspace, seen).text.startswith("Front Door unlocked (keypad)")


@pytest.mark.parametrize(
    "signature",
    ["signed", "v1", "v1,not-base64!", "v1,a,b"],
    ids=["non-utf8-body", "no-comma", "not-base64", "two-commas"],
)
def test_junk_deliveries_are_refused_with_401_and_no_traceback(workspace: Workspace, signature: str) -> None:
    moment = datetime.now(UTC)
    body = b'{"event_id": "\xff\xfe", "event_type": "lock.unlocked"}'
    if signature == "signed":  # as svix would sign it, had it been text
        signature = Webhook(SECRET).sign("msg_junk", moment, body.decode("latin-1"))
    else:
        body = json.dumps(event("lock.unlocked")).encode()
    headers = {
        "svix-id": "msg_junk",
        "svix-timestamp": str(int(moment.timestamp())),
        "svix-signature": signature,
        "content-type": "application/json",
    }
    before = len(workspace.bot.logs)

    response = workspace.bot.http.post(f"{workspace.bot.url}/webhooks/seam", content=body, headers=headers)

    assert response.status_code == 401
    assert response.json() == {"ok": False, "error": "bad or stale signature"}
    assert not any("Traceback" in line or "Error handling request" in line for line in workspace.bot.logs[before:])


def test_an_attempt_is_finished_by_its_webhook_long_before_polling_would(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    workspace.seam.configure(action_delay_ms=200)
    sent = workspace.command("/lock", "back door", user=ADMIN, channel=channel)
    parent, status = workspace.action(sent)
    seam = workspace.seam
    attempt = wait_until(
        lambda: next((a for a in seam.attempts() if a["completed_ms"]), None), 5, "Seam to finish the attempt"
    )

    deliver(
        workspace,
        event("action_attempt.lock_door.succeeded", "lock_2", action_attempt_id=attempt["action_attempt_id"]),
    )

    workspace.slack.wait_for(lambda: status.text == "Done: Back Door locked.", 5, "the outcome")
    calls = workspace.seam.calls()
    assert calls.get("/action_attempts/list", 0) == 0  # no poll was due yet: the webhook finished it
    assert calls.get("/action_attempts/get", 0) == 1
    workspace.slack.wait_for(lambda: parent.text.startswith("Back Door locked."), 5, "the parent's outcome")
    workspace.slack.wait_for(
        lambda: any(m.text.startswith("Back Door locked. (asked by") for m in notices(workspace)), 5, "the notice"
    )


def test_lockbots_own_action_is_announced_once_not_twice(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    seen = len(notices(workspace))
    workspace.finished_action(workspace.command("/unlock", "front door", user=ADMIN, channel=channel))
    attempt_id = workspace.seam.attempts()[-1]["action_attempt_id"]

    deliver(workspace, event("lock.unlocked", "lock_1", method="seamapi", action_attempt_id=attempt_id))
    deliver(workspace, event("device.connected", "lock_2"))  # a marker after it

    workspace.slack.wait_for(
        lambda: any(m.text.startswith("Back Door is back online") for m in notices(workspace)[seen:]), what="marker"
    )
    about_front_door = [m.text for m in notices(workspace)[seen:] if m.text.startswith("Front Door")]
    assert about_front_door == [f"Front Door unlocked. (asked by <@{ADMIN}>, through lockbot)"]


def test_late_and_out_of_order_events_change_nothing(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    parent, status = workspace.finished_action(workspace.command("/lock", "garage door", channel=channel))
    attempt_id = workspace.seam.attempts()[-1]["action_attempt_id"]
    history = list(status.history)
    calls_before = workspace.seam.calls()

    late = deliver(workspace, event("action_attempt.lock_door.failed", "lock_3", action_attempt_id=attempt_id))
    seen = len(notices(workspace))
    deliver(workspace, event("device.connected", "lock_2"))
    next_notice(workspace, seen)

    assert late.status_code == 200
    assert status.history == history
    assert parent.text.startswith("Garage Door locked.")
    assert workspace.seam.calls() == calls_before


def test_events_of_a_device_that_is_not_a_lock_cost_one_look_up_and_post_nothing(workspace: Workspace) -> None:
    assert workspace.seam is not None
    seam = workspace.seam
    workspace.ephemeral(workspace.command("/doors"))  # the door directory has just asked Seam
    listed = seam.calls().get("/locks/list", 0)
    seen = len(notices(workspace))
    kinds = ("device.disconnected", "device.connected", "device.low_battery")

    for number in range(6):
        deliver(workspace, event(kinds[number % 3], "thermostat_1", battery_level=0.1))
    wait_until(lambda: seam.calls().get("/locks/list", 0) > listed, 5, "a look-up of the thermostat")
    for number in range(6):  # after the look-up: remembered
        deliver(workspace, event(kinds[number % 3], "thermostat_1", battery_level=0.1))
    deliver(workspace, event("device.disconnected", "lock_2"))
    workspace.slack.wait_for(lambda: notices(workspace)[seen:], what="the lock's notice")

    assert [m.text.split(" at ")[0] for m in notices(workspace)[seen:]] == ["Back Door went offline"]
    assert seam.calls()["/locks/list"] == listed + 1


def test_a_burst_of_notices_survives_slack_rate_limits(workspace: Workspace) -> None:
    seen = len(notices(workspace))
    workspace.slack.fail("chat.postMessage", status=429, retry_after=1, times=3)

    for _ in range(6):
        deliver(workspace, event("lock.access_denied", "lock_4"))

    workspace.slack.wait_for(lambda: len(notices(workspace)) >= seen + 6, 20, "all six notices")
    limited = [c for c in workspace.slack.calls_of("chat.postMessage") if c.error == "ratelimited"]
    assert len(limited) == 3


def test_seam_webhook_create_registers_and_prints_the_secret(seam: SeamFake, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SEAM_"))}
    env |= {"PYTHONPATH": str(ROOT), "SEAM_API_KEY": seam.api_key, "SEAM_ENDPOINT": seam.url}

    created = subprocess.run(
        [sys.executable, "-m", "bot", "seam-webhook", "create", "--url", "https://lockbot.example.com/webhooks/seam"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    secret_lines = [line for line in created.stdout.splitlines() if line.startswith("SEAM_WEBHOOK_SECRET=")]
    assert len(secret_lines) == 1
    assert len(secret_lines[0].split("=", 1)[1]) > 10
    assert "lock.unlocked" in created.stdout
    assert "action_attempt.unlock_door.succeeded" in created.stdout


def test_a_webhook_secret_without_prefix_or_padding_is_taken_as_svix_takes_it(
    slack: FakeSlack, seam: SeamFake, tmp_path: Path
) -> None:
    bare = SECRET.removeprefix("whsec_").rstrip("=")  # the same key, as some of Seam's pages show it
    assert bare != SECRET.removeprefix("whsec_")  # the test's key really is padded
    (tmp_path / "lockbot.toml").write_text(POLICY)
    bot = BotProcess(bot_env(slack, seam, tmp_path) | {"SEAM_WEBHOOK_SECRET": bare}, cwd=tmp_path).start()
    try:
        workspace = Workspace(bot, slack, seam)
        seen = len(notices(workspace))

        signed_as_seam_signs = deliver(workspace, event("lock.unlocked", "lock_2", method="keycode"))
        forged = deliver(
            workspace, event("lock.unlocked", "lock_3"), secret="whsec_" + base64.b64encode(b"x" * 32).decode()
        )

        assert signed_as_seam_signs.status_code == 200
        assert next_notice(workspace, seen).text.startswith("Back Door unlocked (keypad) at ")
        assert forged.status_code == 401
    finally:
        bot.close()


def test_a_door_locked_at_the_door_settles_its_timed_unlock(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    seam = workspace.seam
    sent = workspace.command("/unlock", "garden gate 12s", user=ADMIN, channel=channel)
    parent, _ = workspace.finished_action(sent)
    due = datetime.now(UTC) + timedelta(seconds=12)

    assert deliver(workspace, event("lock.locked", "lock_4", method="manual")).status_code == 200

    settled = workspace.slack.wait_for(
        lambda: next((m for m in workspace.slack.replies(channel, parent.ts) if "was locked" in m.text), None),
        10,
        "the thread to say the door was locked",
    )
    assert settled.text == (
        ":lock: Garden Gate was locked at the door (Seam reported it) before its timed unlock ended; "
        "lockbot will not lock it again."
    )
    wait_until(lambda: datetime.now(UTC) > due + timedelta(seconds=3), 20, "the relock's time to pass")
    assert seam.calls().get("/locks/lock_door", 0) == 0


def test_the_event_of_lockbots_own_lock_leaves_the_timed_unlock_to_say_who_locked(
    workspace: Workspace, channel: str
) -> None:
    assert workspace.seam is not None
    seam = workspace.seam
    parent, _ = workspace.finished_action(workspace.command("/unlock", "garden gate 30s", user=ADMIN, channel=channel))
    seam.configure(action_delay_ms=3000, confirmed_by_device=True)  # the lock's outcome comes well after its event
    _, status = workspace.action(workspace.command("/lock", "garden gate", user=ADMIN, channel=channel))
    workspace.slack.wait_for(lambda: status.text.startswith("Pending:"), 10, "the lock's attempt to be stored")
    attempt = next(a for a in reversed(seam.attempts()) if a["action_type"] == "LOCK_DOOR")

    # Seam's lock.locked for lockbot's own attempt, before lockbot has its outcome
    own = event("lock.locked", "lock_4", method="seamapi", action_attempt_id=attempt["action_attempt_id"])
    assert deliver(workspace, own).status_code == 200

    settled = workspace.slack.wait_for(
        lambda: next((m for m in workspace.slack.replies(channel, parent.ts) if "was locked" in m.text), None),
        15,
        "the thread to say the door was locked",
    )
    assert settled.text == (
        f":lock: Garden Gate was locked by <@{ADMIN}> before its timed unlock ended; lockbot will not lock it again."
    )
    assert status.text == "Done: Garden Gate locked."
