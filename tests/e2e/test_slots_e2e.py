"""/slot end to end: lockbot as a process, the fake Slack, and the fake Overbooked written to its docs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.botprocess import BotProcess
from tests.conftest import ADMIN, MEMBER, CommandSent, Workspace, bot_env, wait_until
from tests.fakes.overbooked_api import FakeOverbooked
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack, Message

NEW_YORKER = "U0NEWYORK1"
API_KEY = "sk_test_lockbot_overbooked_key"


@pytest.fixture(scope="module")
def overbooked() -> Iterator[FakeOverbooked]:
    fake = FakeOverbooked(API_KEY).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def slot_bot(
    slack: FakeSlack, seam: SeamFake, overbooked: FakeOverbooked, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    slack.add_user(NEW_YORKER, tz="America/New_York")
    tmp = tmp_path_factory.mktemp("slots")
    env = bot_env(slack, seam, tmp) | {
        "OVERBOOKED_API_KEY": API_KEY,
        "OVERBOOKED_ENDPOINT": overbooked.url,
        "LOCKBOT_OVERBOOKED_TIMEOUT": "1",
        "LOCKBOT_SLOT_MAX_LOCK": "8h",
    }
    process = BotProcess(env, cwd=tmp).start()
    yield process
    process.close()


@pytest.fixture
def workspace(slot_bot: BotProcess, slack: FakeSlack, overbooked: FakeOverbooked) -> Workspace:
    overbooked.reset()
    return Workspace(slot_bot, slack, None)


def new_slot(overbooked: FakeOverbooked, **options: Any) -> str:
    return str(overbooked.add_slot(**options)["id"])


def finished(workspace: Workspace, sent: CommandSent) -> tuple[Message, Message]:
    parent, status = workspace.action(sent)
    workspace.slack.wait_for(lambda: not status.text.startswith("Working"), 15, "the slot lock's outcome")
    workspace.slack.wait_for(lambda: len(parent.history) > 1, 15, "the parent's outcome")
    return parent, status


def lock_calls(overbooked: FakeOverbooked) -> int:
    return len(overbooked.calls_to("/lock"))


def test_lock_for_30_minutes_goes_locking_then_locked_until(
    workspace: Workspace, overbooked: FakeOverbooked, channel: str
) -> None:
    slot_id = new_slot(overbooked)
    before = datetime.now(UTC)

    sent = workspace.command("/slot", f"lock {slot_id} 30m", user=MEMBER, channel=channel)

    assert sent.response.status_code == 200
    parent, status = finished(workspace, sent)
    assert status.history[0].startswith(f"Working: asking Overbooked to lock slot {slot_id} until")
    assert status.text.startswith(f"Done: Slot {slot_id} locked until ")
    assert parent.text.startswith(f"Slot {slot_id} locked until ")
    assert "<!date^" in str(status.blocks)  # each reader's own time zone
    [call] = overbooked.calls_to("/lock")
    until = datetime.fromisoformat(call.json["lock_until"].replace("Z", "+00:00"))
    assert call.json["lock_until"].endswith("Z")
    assert before + timedelta(minutes=30) - timedelta(seconds=5) <= until <= datetime.now(UTC) + timedelta(minutes=30)
    key = overbooked.lock_key_of(slot_id)
    assert key is not None
    assert len(key) >= 32
    everything_shown = str([(m.history, m.blocks) for m in workspace.slack.messages.values()])
    everything_shown += str([r.body for r in workspace.slack.responses])
    assert key not in everything_shown
    assert key not in workspace.bot.log_text


@pytest.mark.parametrize(("when", "minutes"), [("2h", 120), ("1h30m", 90)])
def test_durations(workspace: Workspace, overbooked: FakeOverbooked, channel: str, when: str, minutes: int) -> None:
    slot_id = new_slot(overbooked)

    _, status = finished(workspace, workspace.command("/slot", f"lock {slot_id} {when}", channel=channel))

    assert status.text.startswith("Done:")
    until = datetime.fromisoformat(overbooked.calls_to("/lock")[0].json["lock_until"].replace("Z", "+00:00"))
    assert abs((until - datetime.now(UTC)) - timedelta(minutes=minutes)) < timedelta(seconds=30)


# Zones without summer time, never more than three hours apart, none of them UTC (lockbot's default).
_ZONES = [
    "Pacific/Pago_Pago", "Pacific/Honolulu", "America/Phoenix", "America/Bogota", "America/Sao_Paulo",
    "Atlantic/Cape_Verde", "Africa/Lagos", "Europe/Moscow", "Asia/Dubai", "Asia/Dhaka", "Asia/Tokyo",
    "Pacific/Guadalcanal", "Pacific/Kiritimati",
]  # fmt: skip


def user_in_the_afternoon(slack: FakeSlack) -> tuple[str, ZoneInfo]:
    """A person whose time zone is between 12:00 and 16:00 now: two hours either way is still today."""
    zone = next(ZoneInfo(name) for name in _ZONES if 12 <= datetime.now(ZoneInfo(name)).hour < 16)
    user = f"U0TZ{zone.key.split('/')[1].upper()[:6]}"
    slack.add_user(user, tz=zone.key)
    return user, zone


def test_until_a_time_of_day_is_in_the_users_time_zone(
    workspace: Workspace, overbooked: FakeOverbooked, channel: str
) -> None:
    slot_id = new_slot(overbooked)
    user, zone = user_in_the_afternoon(workspace.slack)
    target = (datetime.now(zone) + timedelta(hours=2)).replace(second=0, microsecond=0)

    sent = workspace.command("/slot", f"lock {slot_id} until {target:%H:%M}", user=user, channel=channel)

    _, status = finished(workspace, sent)
    assert status.text.startswith("Done:")
    until = datetime.fromisoformat(overbooked.calls_to("/lock")[0].json["lock_until"].replace("Z", "+00:00"))
    assert until == target.astimezone(UTC)


def test_until_a_time_of_day_already_past_today_is_refused(
    workspace: Workspace, overbooked: FakeOverbooked, channel: str
) -> None:
    slot_id = new_slot(overbooked)
    user, zone = user_in_the_afternoon(workspace.slack)
    past = datetime.now(zone) - timedelta(hours=2)

    reply = workspace.ephemeral(
        workspace.command("/slot", f"lock {slot_id} until {past:%H:%M}", user=user, channel=channel)
    )

    assert f"{past:%H:%M} has already passed today in your time zone ({zone.key})" in reply.text
    assert "Usage: `/slot lock &lt;slot_id&gt;" in reply.text
    assert overbooked.calls == []
    assert workspace.slack.channel_messages(channel) == []


def test_iso_8601_with_an_offset(workspace: Workspace, overbooked: FakeOverbooked, channel: str) -> None:
    slot_id = new_slot(overbooked)
    target = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0).astimezone(ZoneInfo("Asia/Tokyo"))

    finished(workspace, workspace.command("/slot", f"lock {slot_id} {target.isoformat()}", channel=channel))

    until = datetime.fromisoformat(overbooked.calls_to("/lock")[0].json["lock_until"].replace("Z", "+00:00"))
    assert until == target.astimezone(UTC)


@pytest.mark.parametrize(
    ("when", "why"),
    [
        ("soon", "is not 30m, 2h, 1h30m"),
        ("until 25:61", "is not a time of day"),
        ("2020-01-01T10:00:00+00:00", "is in the past"),
        ("2030-01-01T10:00:00", "has no UTC offset"),
        ("9h", "further away than the longest lock allowed (8 h)"),
        ("99999999h", "further away than the longest lock allowed (8 h)"),  # past year 9999
    ],
)
def test_a_malformed_past_or_too_distant_time_gets_usage_and_no_api_call(
    workspace: Workspace, overbooked: FakeOverbooked, channel: str, when: str, why: str
) -> None:
    slot_id = new_slot(overbooked)

    reply = workspace.ephemeral(workspace.command("/slot", f"lock {slot_id} {when}", channel=channel))

    assert why in reply.text
    assert "Usage: `/slot lock &lt;slot_id&gt;" in reply.text
    assert overbooked.calls == []
    assert workspace.slack.channel_messages(channel) == []


@pytest.mark.parametrize("text", ["", "help", "lock", "lock abc", "unlock", "status", "open abc"])
def test_no_or_incomplete_arguments_print_usage_in_the_ack(workspace: Workspace, channel: str, text: str) -> None:
    sent = workspace.command("/slot", text, channel=channel)

    assert "Usage: `/slot lock &lt;slot_id&gt;" in sent.response.json()["text"]


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ({"missing": True}, "slot not found"),
        ({"lockable": False}, "the slot is not lockable"),
        ({"locked": True}, "the slot is already locked"),
    ],
)
def test_overbooked_refusals_in_plain_words(
    workspace: Workspace, overbooked: FakeOverbooked, channel: str, setup: dict[str, bool], expected: str
) -> None:
    slot_id = "5f0f0f0f-0000-4000-8000-00000000dead"
    if not setup.get("missing"):
        slot_id = new_slot(overbooked, lockable=setup.get("lockable", True))
    if setup.get("locked"):
        overbooked.set_lock(slot_id, datetime.now(UTC) + timedelta(hours=1), "someone-elses-key")

    parent, status = finished(workspace, workspace.command("/slot", f"lock {slot_id} 30m", channel=channel))

    assert status.text.startswith(f"Failed: Could not lock slot {slot_id}: {expected}")
    assert parent.text.startswith(f"Could not lock slot {slot_id}: {expected}")
    assert lock_calls(overbooked) == 1


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("E008", 401, "the Overbooked API key is invalid"),
        ("E055", 401, "the Overbooked API key is invalid"),
        ("E056", 401, "the Overbooked API key is invalid"),
        ("E057", 401, "the Overbooked API key has no access to this slot"),
        ("E053", 403, "the Overbooked environment is deactivated"),
        ("E054", 403, "the Overbooked organisation is blocked"),
    ],
)
def test_api_key_refusals(
    workspace: Workspace, overbooked: FakeOverbooked, channel: str, code: str, status: int, expected: str
) -> None:
    slot_id = new_slot(overbooked)
    overbooked.fail("lock", code=code, status=status)

    _, message = finished(workspace, workspace.command("/slot", f"lock {slot_id} 30m", channel=channel))

    assert expected in message.text


def test_server_error_on_lock_is_reported_and_not_retried(
    workspace: Workspace, overbooked: FakeOverbooked, channel: str
) -> None:
    slot_id = new_slot(overbooked)
    overbooked.fail("lock", code="E001", status=500)

    _, status = finished(workspace, workspace.command("/slot", f"lock {slot_id} 30m", channel=channel))

    # A 500 may follow a lock Overbooked made: the slot is read, it is not locked, so the lock failed.
    assert status.text.startswith(f"Failed: Could not lock slot {slot_id}: Overbooked is having trouble right now")
    assert lock_calls(overbooked) == 1
    assert overbooked.calls_to(f"/slots/{slot_id}") != []


def test_a_503_on_lock_failed_without_reading_the_slot(
    workspace: Workspace, overbooked: FakeOverbooked, channel: str
) -> None:
    slot_id = new_slot(overbooked)
    overbooked.fail("lock", code="E001", status=503)

    _, status = finished(workspace, workspace.command("/slot", f"lock {slot_id} 30m", channel=channel))

    assert status.text.startswith(f"Failed: Could not lock slot {slot_id}: Overbooked is having trouble right now")
    assert lock_calls(overbooked) == 1
    assert overbooked.calls_to(f"/slots/{slot_id}") == []


def not_confirmed_lock(workspace: Workspace, overbooked: FakeOverbooked, channel: str) -> tuple[str, Message, Message]:
    """A slot lock Overbooked made but answered too late, with the slot unreadable afterwards."""
    slot_id = new_slot(overbooked)
    overbooked.fail("lock", status=None, delay_ms=2500)  # lockbot waits 1 s; Overbooked locks anyway
    overbooked.fail("get", code="E001", status=500, times=3)  # and reading the slot fails on every try

    parent, status = finished(workspace, workspace.command("/slot", f"lock {slot_id} 2h", channel=channel))

    assert status.text.startswith("Not confirmed: ")
    assert "Overbooked did not answer in time, so lockbot cannot tell whether slot" in status.text
    assert f"/slot status {slot_id} shows it" in status.text
    assert "failed" not in status.text.casefold()
    assert parent.text.startswith(f"Locking slot {slot_id} not confirmed: Overbooked did not answer in time")
    assert lock_calls(overbooked) == 1  # never sent twice
    assert overbooked.is_locked(slot_id)
    return slot_id, parent, status


def test_a_lock_whose_outcome_is_unknown_is_not_confirmed_and_unlock_still_releases_it(
    workspace: Workspace, overbooked: FakeOverbooked, channel: str
) -> None:
    slot_id, parent, _ = not_confirmed_lock(workspace, overbooked, channel)
    key = overbooked.calls_to("/lock")[0].json["lock_key"]

    reply = workspace.ephemeral(workspace.command("/slot", f"unlock {slot_id}", channel=channel))

    assert reply.text == f"Unlocked your lock on slot `{slot_id}`."
    assert overbooked.calls_to("/unlock")[0].json == {"lock_key": key}  # the stored key
    assert not overbooked.is_locked(slot_id)
    workspace.slack.wait_for(lambda: f"unlocked early by <@{MEMBER}>" in parent.text, what="the thread updated")
    assert key not in workspace.bot.log_text


def test_status_settles_a_lock_that_was_not_confirmed(
    workspace: Workspace, overbooked: FakeOverbooked, channel: str
) -> None:
    slot_id, parent, status = not_confirmed_lock(workspace, overbooked, channel)
    overbooked.reset()  # Overbooked answers again

    reply = workspace.ephemeral(workspace.command("/slot", f"status {slot_id}", channel=channel))

    assert reply.text.startswith(f"Slot {slot_id} is locked until ")
    assert f"by <@{MEMBER}> (through lockbot)" in reply.text
    workspace.slack.wait_for(lambda: status.text.startswith("Done: "), what="the thread says locked")
    assert parent.text.startswith(f"Slot {slot_id} locked until ")


def test_a_lock_overbooked_answers_too_late_is_checked_on_the_slot(
    workspace: Workspace, overbooked: FakeOverbooked, channel: str
) -> None:
    slot_id = new_slot(overbooked)
    overbooked.fail("lock", status=None, delay_ms=2500)  # lockbot waits 1 s; Overbooked locks anyway

    _, status = finished(workspace, workspace.command("/slot", f"lock {slot_id} 30m", channel=channel))

    assert status.text.startswith(f"Done: Slot {slot_id} locked until")
    assert lock_calls(overbooked) == 1  # never sent twice
    unlocked = workspace.ephemeral(workspace.command("/slot", f"unlock {slot_id}", channel=channel))
    assert unlocked.text == f"Unlocked your lock on slot `{slot_id}`."


def test_the_locker_unlocks_with_the_stored_key_and_the_thread_says_so(
    workspace: Workspace, overbooked: FakeOverbooked, channel: str
) -> None:
    slot_id = new_slot(overbooked)
    parent, _ = finished(workspace, workspace.command("/slot", f"lock {slot_id} 2h", user=MEMBER, channel=channel))
    key = overbooked.lock_key_of(slot_id)

    reply = workspace.ephemeral(workspace.command("/slot", f"unlock {slot_id}", user=MEMBER, channel=channel))

    assert reply.text == f"Unlocked your lock on slot `{slot_id}`."
    assert overbooked.calls_to("/unlock")[0].json == {"lock_key": key}
    assert overbooked.lock_key_of(slot_id) is None
    workspace.slack.wait_for(lambda: f"unlocked early by <@{MEMBER}>" in parent.text, what="the thread updated")


def test_someone_else_may_not_unlock_but_an_approver_may(
    workspace: Workspace, overbooked: FakeOverbooked, channel: str
) -> None:
    slot_id = new_slot(overbooked)
    finished(workspace, workspace.command("/slot", f"lock {slot_id} 2h", user=MEMBER, channel=channel))

    refused = workspace.ephemeral(workspace.command("/slot", f"unlock {slot_id}", user=NEW_YORKER, channel=channel))
    assert refused.text == f"Only <@{MEMBER}>, who locked slot `{slot_id}`, or an approver can unlock it early."
    assert overbooked.calls_to("/unlock") == []

    allowed = workspace.ephemeral(workspace.command("/slot", f"unlock {slot_id}", user=ADMIN, channel=channel))
    assert allowed.text == f"Unlocked <@{MEMBER}>'s lock on slot `{slot_id}`."


def test_a_rejected_key_is_said_plainly(workspace: Workspace, overbooked: FakeOverbooked, channel: str) -> None:
    slot_id = new_slot(overbooked)
    finished(workspace, workspace.command("/slot", f"lock {slot_id} 2h", channel=channel))
    overbooked.set_lock(slot_id, datetime.now(UTC) + timedelta(hours=2), "replaced-by-someone")

    reply = workspace.ephemeral(workspace.command("/slot", f"unlock {slot_id}", channel=channel))

    assert reply.text.startswith(f"Could not unlock slot `{slot_id}`: the lock key is invalid")


def test_a_lock_that_already_ran_out_is_said_so_without_an_api_call(
    workspace: Workspace, overbooked: FakeOverbooked, channel: str
) -> None:
    slot_id = new_slot(overbooked)
    finished(workspace, workspace.command("/slot", f"lock {slot_id} 2s", channel=channel))
    wait_until(lambda: not overbooked.is_locked(slot_id), 10, "the lock to run out")

    first = workspace.ephemeral(workspace.command("/slot", f"unlock {slot_id}", channel=channel))
    again = workspace.ephemeral(workspace.command("/slot", f"unlock {slot_id}", user=ADMIN, channel=channel))

    for reply in (first, again):  # the first unlock settles the lock as run out; later ones still say so
        assert reply.text.startswith(f"The lock on slot `{slot_id}` already ran out at ")
        assert reply.text.endswith(" UTC, so there is nothing to unlock.")  # the plain-text fallback
        assert "<!date^" in str(reply.body["blocks"])  # each reader's own time zone
    assert overbooked.calls_to("/unlock") == []


def test_status_shows_who_holds_the_slot_until_when(
    workspace: Workspace, overbooked: FakeOverbooked, channel: str
) -> None:
    ours, theirs, free = new_slot(overbooked), new_slot(overbooked), new_slot(overbooked)
    finished(workspace, workspace.command("/slot", f"lock {ours} 2h", user=MEMBER, channel=channel))
    overbooked.set_lock(theirs, datetime.now(UTC) + timedelta(hours=1), "elsewhere")

    texts = {
        slot: workspace.ephemeral(workspace.command("/slot", f"status {slot}", channel=channel)).text
        for slot in (ours, theirs, free)
    }

    assert texts[ours].startswith(f"Slot {ours} is locked until ")
    assert f"by <@{MEMBER}> (through lockbot)" in texts[ours]
    assert "(not by lockbot)" in texts[theirs]
    assert texts[free].startswith(f"Slot {free} is not locked.")
    unknown = workspace.ephemeral(workspace.command("/slot", "status 5f0f0f0f-dead", channel=channel))
    assert (
        unknown.text == "Could not look up slot `5f0f0f0f-dead`: slot not found: Overbooked has no slot with that id."
    )


def test_keys_survive_a_restart_between_lock_and_unlock(
    workspace: Workspace, overbooked: FakeOverbooked, channel: str
) -> None:
    slot_id = new_slot(overbooked)
    finished(workspace, workspace.command("/slot", f"lock {slot_id} 2h", user=MEMBER, channel=channel))

    workspace.bot.kill()
    workspace.bot.start()

    reply = workspace.ephemeral(workspace.command("/slot", f"unlock {slot_id}", user=MEMBER, channel=channel))
    assert reply.text == f"Unlocked your lock on slot `{slot_id}`."
    assert overbooked.lock_key_of(slot_id) is None


def test_every_slot_lock_and_unlock_is_audited(workspace: Workspace, overbooked: FakeOverbooked, channel: str) -> None:
    slot_id = new_slot(overbooked)
    finished(workspace, workspace.command("/slot", f"lock {slot_id} 2h", user=MEMBER, channel=channel))
    workspace.ephemeral(workspace.command("/slot", f"unlock {slot_id}", user=MEMBER, channel=channel))

    log_text = workspace.ephemeral(workspace.command("/doors", "log", user=ADMIN, channel=channel)).text

    assert f"<@{MEMBER}> · slot_lock · locked · slot {slot_id}" in log_text
    assert f"<@{MEMBER}> · slot_unlock · unlocked · slot {slot_id}" in log_text


def test_without_an_overbooked_key_slots_are_not_configured(slack: FakeSlack, tmp_path: Path, channel: str) -> None:
    bot = BotProcess(bot_env(slack, None, tmp_path), cwd=tmp_path).start()
    try:
        workspace = Workspace(bot, slack, None)
        reply = workspace.ephemeral(workspace.command("/slot", "status abc", channel=channel))
        health = bot.http.get(f"{bot.url}/healthz").json()
    finally:
        bot.close()

    assert reply.text.startswith("Slots are not configured")
    assert health["slots"] is False
