"""How an action reads in each of its states: a door's lock or unlock, and a slot's lock.

The one module of these messages that knows the states of an action: the icon, the status label
and the sentence for each. Every other message family asks here.
"""

from __future__ import annotations

from bot.actions import not_confirmed_reason
from bot.model import ActionKind, ActionState, ActionView
from bot.slack.text import NAME_LIMIT, Text, bold, code, compose, date, mention, value
from bot.slots import SlotView

__all__ = [
    "action_icon",
    "action_outcome",
    "action_status",
    "slot_icon",
    "slot_outcome",
    "slot_status",
]

_ICONS = {
    ActionState.QUEUED: ":hourglass_flowing_sand:",
    ActionState.REQUESTING: ":hourglass_flowing_sand:",
    ActionState.PENDING: ":hourglass_flowing_sand:",
    ActionState.FAILED: ":warning:",
    ActionState.NOT_CONFIRMED: ":grey_question:",
}

_STATUS_LABEL = {
    ActionState.QUEUED: "Working",
    ActionState.REQUESTING: "Working",
    ActionState.PENDING: "Pending",
    ActionState.SUCCEEDED: "Done",
    ActionState.FAILED: "Failed",
    ActionState.NOT_CONFIRMED: "Not confirmed",
}


def action_icon(view: ActionView) -> str:
    """The emoji for a door action's state; a success shows the door as it now is."""
    if view.state is ActionState.SUCCEEDED:
        return ":lock:" if view.kind is ActionKind.LOCK else ":unlock:"
    return _ICONS[view.state]


def action_outcome(view: ActionView) -> Text:
    """A door action's state in one sentence, the outcome's words kept whole ("Front Door unlocked.")."""
    door = value(view.door, NAME_LIMIT)
    gerund = view.kind.gerund.capitalize()
    if view.state.working:
        return compose(f"{gerund} ", door, "…")
    if view.state is ActionState.PENDING:
        return compose(f"{gerund} ", door, ": waiting for the lock to confirm…")
    if view.state is ActionState.SUCCEEDED:
        if not view.confirmed_by_device:
            return compose(
                door, f" {view.kind.past}, but the lock itself did not confirm it (unconfirmed by the device)."
            )
        return compose(door, f" {view.kind.past}.")
    if view.state is ActionState.FAILED:
        problem = value((view.problem or "Seam reported an error").rstrip("."), NAME_LIMIT * 4)
        return compose(f"Could not {view.kind.value} ", door, ": ", problem, ".")
    # It may have happened: say so, say what to do once, and never invite a retry.
    waited = f" within {view.timeout_seconds:g} s" if view.timeout_seconds else ""
    reason = not_confirmed_reason(view.problem) if view.problem else ""
    why = value(reason, NAME_LIMIT * 4) if reason else compose(f"no outcome from the lock{waited}")
    return compose(f"{gerund} ", door, " not confirmed: ", why, ". Check the door before relying on it.")


def action_status(view: ActionView) -> tuple[str, Text]:
    """(label, sentence) for the status message in a door action's thread."""
    if view.state.working:
        return _STATUS_LABEL[view.state], compose(f"asking Seam to {view.kind.value} ", bold(view.door), "…")
    return _STATUS_LABEL[view.state], action_outcome(view)


def slot_icon(view: SlotView) -> str:
    """The emoji for a slot lock's state; a slot unlocked early shows as unlocked."""
    if view.unlocked_by is not None:
        return ":unlock:"
    return ":lock:" if view.state is ActionState.SUCCEEDED else _ICONS[view.state]


def slot_outcome(view: SlotView) -> Text:
    """A slot lock's state in one sentence, with how to find out and undo it if it may have taken."""
    slot = code(view.slot_id, plain_ticks=False)
    until = date(view.until)
    if view.unlocked_by is not None and view.unlocked_at is not None:
        return compose(
            "Slot ",
            slot,
            " was locked until ",
            until,
            "; unlocked early by ",
            mention(view.unlocked_by),
            " ",
            date(view.unlocked_at),
            ".",
        )
    if view.state.working or view.state is ActionState.PENDING:
        return compose("Locking slot ", slot, " until ", until, "…")
    if view.state is ActionState.SUCCEEDED:
        return compose("Slot ", slot, " locked until ", until, ".")
    problem = value((view.problem or "Overbooked reported an error").rstrip("."), 300)
    if view.state is ActionState.FAILED:
        return compose("Could not lock slot ", slot, ": ", problem, ".")
    # Overbooked may hold the lock: say so plainly, and how to find out or undo it.
    return compose(
        "Locking slot ",
        slot,
        " not confirmed: ",
        value(not_confirmed_reason(view.problem or "Overbooked did not answer"), 300),
        ", so lockbot cannot tell whether slot ",
        slot,
        " is locked until ",
        until,
        ". ",
        code(f"/slot status {view.slot_id}", plain_ticks=False),
        " shows it; ",
        code(f"/slot unlock {view.slot_id}", plain_ticks=False),
        " releases it if it is.",
    )


def slot_status(view: SlotView) -> tuple[str, Text]:
    """(label, sentence) for the status message in a slot lock's thread."""
    label = "Unlocked" if view.unlocked_by else _STATUS_LABEL[view.state]
    if view.state.working:
        slot = code(view.slot_id, plain_ticks=False)
        return label, compose("asking Overbooked to lock slot ", slot, " until ", date(view.until), "…")
    return label, slot_outcome(view)
