"""Slot messages: times in each reader's own time zone, plain-text fallbacks, outcomes in plain words."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.model import ActionProblem, ActionState, ProblemReason
from bot.slack.messages.slots import render_slot_parent, render_slot_ran_out, render_slot_status
from bot.slots import SlotView

AT = datetime(2026, 11, 22, 17, 30, tzinfo=UTC)
TIMED_OUT = ActionProblem(ProblemReason.OVERBOOKED_OUTCOME_UNKNOWN, detail="Overbooked did not answer in time")


def markdown(blocks: list[dict[str, object]]) -> str:
    return str(blocks)


def test_a_lock_that_ran_out_shows_when_in_each_readers_time_zone() -> None:
    message = render_slot_ran_out("ROOM-1", AT)

    assert message.text == (
        "The lock on slot `ROOM-1` already ran out at 2026-11-22 17:30 UTC, so there is nothing to unlock."
    )
    assert f"<!date^{int(AT.timestamp())}^" in markdown(message.blocks)
    assert "|2026-11-22 17:30 UTC>" in markdown(message.blocks)  # Slack's own fallback


def test_a_lock_not_confirmed_says_so_plainly_and_what_to_do() -> None:
    view = SlotView("ROOM-1", "U1", ActionState.NOT_CONFIRMED, AT, problem=TIMED_OUT)

    status, parent = render_slot_status(view), render_slot_parent(view)

    assert status.text == (
        "Not confirmed: Locking slot ROOM-1 not confirmed: Overbooked did not answer in time, so lockbot cannot "
        "tell whether slot ROOM-1 is locked until 2026-11-22 17:30 UTC. /slot status ROOM-1 shows it; "
        "/slot unlock ROOM-1 releases it if it is."
    )
    assert parent.text.startswith("Locking slot ROOM-1 not confirmed: Overbooked did not answer in time, so")
    for message in (status, parent):
        assert "fail" not in message.text.casefold()
        assert "<!date^" in markdown(message.blocks)
        assert "`/slot unlock ROOM-1`" in markdown(message.blocks)


def test_a_slot_id_keeps_its_case() -> None:
    locked = render_slot_status(SlotView("ROOM-1", "U1", ActionState.SUCCEEDED, AT))

    assert locked.text == "Done: Slot ROOM-1 locked until 2026-11-22 17:30 UTC."
