"""The notify channel's messages that act: the unlock notice's and the alert's `door_lock` button,
and how the alert reads once the door is locked."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.model import ActionKind, ActionState, ActionView, UnlockedAlert, UnlockedAlertState
from bot.seam_events import DoorNotice
from bot.slack.messages.notices import (
    render_door_notice,
    render_outcome_notice,
    render_unlocked_alert,
    render_unlocked_alert_locked,
)

AT = datetime(2026, 11, 22, 17, 30, tzinfo=UTC)
ALERT = UnlockedAlert("a1", "lock_1", "Front Door", "C0NOTIFY", AT, AT + timedelta(minutes=30))


def door_lock_buttons(blocks: list[dict[str, object]]) -> list[dict[str, object]]:
    return [
        element
        for block in blocks
        if block.get("type") == "actions"
        for element in block["elements"]  # type: ignore[attr-defined]
        if element["action_id"] == "door_lock"
    ]


def test_an_unlock_notice_of_a_known_lock_carries_lock_it_with_only_the_device_id() -> None:
    notice = DoorNotice("lock.unlocked", "Front Door", "lock_1", AT, method="keypad")

    (lock_it,) = door_lock_buttons(render_door_notice(notice).blocks)

    assert lock_it["value"] == "lock_1"
    assert lock_it["text"] == {"type": "plain_text", "text": "Lock it"}


@pytest.mark.parametrize(
    "notice",
    [
        DoorNotice("lock.locked", "Front Door", "lock_1", AT),
        DoorNotice("lock.unlocked", "lock_99", "lock_99", AT, known=False),
        DoorNotice("lock.unlocked", "Front Door", "x" * 129, AT),
    ],
    ids=["a lock", "an unknown lock", "no device id"],
)
def test_other_notices_carry_no_button(notice: DoorNotice) -> None:
    assert door_lock_buttons(render_door_notice(notice).blocks) == []


def test_the_outcome_notice_of_an_unlock_that_may_have_worked_carries_lock_it() -> None:
    unlocked = ActionView(ActionKind.UNLOCK, "Front Door", "U0ADMIN001", ActionState.SUCCEEDED)

    (lock_it,) = door_lock_buttons(render_outcome_notice(unlocked, None, "lock_1").blocks)

    assert lock_it["value"] == "lock_1"
    assert door_lock_buttons(render_outcome_notice(unlocked, None).blocks) == []


def test_the_alert_says_how_long_and_since_when_with_lock_it() -> None:
    message = render_unlocked_alert(ALERT, timedelta(minutes=30))

    assert message.text == ":warning: Front Door has been unlocked for 30 min (since 2026-11-22 17:30 UTC)."
    assert [button["value"] for button in door_lock_buttons(message.blocks)] == ["lock_1"]


@pytest.mark.parametrize(
    ("unlocked_for", "words"),
    [
        (timedelta(minutes=30, seconds=1), "30 min"),  # measured a tick and a Seam GET late
        (timedelta(hours=2, minutes=13, seconds=47), "2 h 13 min"),
        (timedelta(seconds=5, microseconds=600_000), "5 s"),  # a seconds-scale alert_unlocked_after
    ],
)
def test_the_alert_says_the_whole_minutes_the_door_has_been_unlocked(unlocked_for: timedelta, words: str) -> None:
    message = render_unlocked_alert(ALERT, unlocked_for)

    assert message.text.startswith(f":warning: Front Door has been unlocked for {words} (since ")


@pytest.mark.parametrize(
    ("by", "how", "words"),
    [
        ("U0LOCKER01", None, "Front Door was locked by <@U0LOCKER01> at 2026-11-22 18:00 UTC."),
        (None, "keypad", "Front Door was locked at the door (keypad) at 2026-11-22 18:00 UTC."),
        (None, "relock", "Front Door was locked again by lockbot (its timed unlock ended) at 2026-11-22 18:00 UTC."),
        (None, "remote", "Front Door was locked (Seam reported it) at 2026-11-22 18:00 UTC."),
        (None, None, "Front Door was locked (Seam reported it) at 2026-11-22 18:00 UTC."),
    ],
)
def test_the_locked_alert_says_by_whom_or_how_and_when_and_loses_its_button(
    by: str | None, how: str | None, words: str
) -> None:
    locked = replace(
        ALERT, state=UnlockedAlertState.LOCKED, locked_at=AT + timedelta(minutes=30), locked_by=by, locked_how=how
    )

    message = render_unlocked_alert_locked(locked)

    assert message.text == f":lock: {words} Unlocked since 2026-11-22 17:30 UTC."
    assert door_lock_buttons(message.blocks) == []
    assert "<!date^" in str(message.blocks)
