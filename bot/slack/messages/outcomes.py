"""How an action reads in each of its states: a door's lock or unlock, and a slot's lock.

The one module of these messages that knows the states of an action: the icon, the status label
and the sentence for each, and the words for each of its problems (`problem_words`). Every other
message family asks here.
"""

from __future__ import annotations

import re

from bot.model import ActionKind, ActionProblem, ActionState, ActionView, ProblemReason, TimedUnlockEnd, UnlockEnding
from bot.slack.text import IN_UTC, NAME_LIMIT, Text, bold, clock_time, code, compose, date, mention, time_span, value
from bot.slots import SlotView

__all__ = [
    "action_icon",
    "action_outcome",
    "action_status",
    "could_not_relock",
    "not_confirmed_reason",
    "problem_words",
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


# Why Seam says an attempt failed, by Seam's error type.
_ATTEMPT_ERRORS = {
    "device_offline": "the lock is offline",
    "device_disconnected": "the lock is offline",
    "hub_disconnected": "the lock's hub is offline",
    "device_removed": "the lock was removed from its account",
    "account_disconnected": "the lock's account is disconnected from Seam",
    "bridge_disconnected": "the lock's bridge is offline",
    "timeout": "the lock did not answer",
}

# The problems whose words are lockbot's own, whole.
_PROBLEM_WORDS = {
    ProblemReason.NOT_SENT_INTERRUPTED: "lockbot was interrupted before sending it; nothing was done",
    ProblemReason.REQUEST_MESSAGE_MISSING: "the request's message is missing",
    ProblemReason.RESTARTED_TOO_LONG_AGO: (
        "lockbot was restarted before sending it, and too long ago to send it now; ask again"
    ),
    ProblemReason.RESTARTED_WHILE_ASKING: (
        "lockbot was restarted while asking Seam, so it cannot tell whether Seam acted"
    ),
    ProblemReason.ATTEMPT_NOT_ASKED: "lockbot could not ask Seam",
    ProblemReason.RESTARTED_BEFORE_ANSWER: "lockbot restarted before Overbooked answered",
    ProblemReason.RESTARTED_NOT_LOCKED: ("lockbot restarted before Overbooked answered, and the slot is not locked"),
    ProblemReason.NEVER_CONFIRMED: (
        "Overbooked never confirmed it, and the slot later turned out not to be locked by lockbot"
    ),
    ProblemReason.UNEXPECTED_WHILE_ASKING: "lockbot ran into an unexpected error while asking Overbooked",
    ProblemReason.UNEXPECTED_BEFORE_ASKING: "lockbot ran into an unexpected error before asking Overbooked",
}

# Advice a message gives after the reason: never "try again" for an outcome that may have happened,
# and "check the door" only once (the sentence around the reason says it).
_ADVICE = re.compile(r"\s*[;,.:]?\s*(?:please\s+)?(?:try again|check (?:the door|/doors))\b[^;.]*", re.IGNORECASE)


def not_confirmed_reason(words: str) -> str:
    """Why an outcome is not confirmed, without advice to retry or check (an unlock that may have
    happened must never invite a retry; what to do is said once, by the message around it)."""
    return _ADVICE.sub("", words).strip(" ;,.")


def _attempt_error(problem: ActionProblem) -> str:
    if problem.error_type is None:
        return "the lock reported an error"
    known = _ATTEMPT_ERRORS.get(problem.error_type)
    if known is not None:
        return known
    return (problem.detail or "").rstrip(".") or f"the lock reported an error ({problem.error_type})"


def _server_error(service: str, problem: ActionProblem) -> str | None:
    return f"{service} answered with a server error (HTTP {problem.status})" if problem.status is not None else None


def problem_words(problem: ActionProblem, kind: ActionKind | None = None) -> str:
    """Plain words for why an action (of `kind`) or a slot lock failed or could not be confirmed.

    The words hold values from outside lockbot (an API's own words): show them with `value`."""
    reason = problem.reason
    words = _PROBLEM_WORDS.get(reason)
    if words is not None:
        return words
    if reason is ProblemReason.ATTEMPT_FAILED:
        return _attempt_error(problem)
    if reason is ProblemReason.SEAM_OUTCOME_UNKNOWN:
        what = not_confirmed_reason(_server_error("Seam", problem) or problem.detail or "Seam did not answer")
        acted = f"it {kind.past} the door" if kind is not None else "Seam acted"
        return f"{what}, so lockbot cannot tell whether {acted}"
    if reason is ProblemReason.OVERBOOKED_OUTCOME_UNKNOWN:
        return _server_error("Overbooked", problem) or problem.detail or "Overbooked did not answer"
    if reason is ProblemReason.STATUS_NOT_POSTED:
        return f"lockbot could not post its status: {problem.detail or 'Slack refused it'}"
    # An API's or the edge's own words (SEAM_REFUSED, OVERBOOKED_REFUSED, ATTEMPT_UNREADABLE,
    # NOT_ANNOUNCED), or words stored before problems were typed (WORDS).
    return problem.detail or ""


def action_icon(view: ActionView) -> str:
    """The emoji for a door action's state; a success shows the door as it now is."""
    if view.state is ActionState.SUCCEEDED:
        return ":lock:" if view.kind is ActionKind.LOCK else ":unlock:"
    return _ICONS[view.state]


def could_not_relock(door: str, outcome: ActionView) -> Text:
    """ "Could not lock Front Door again: <reason>. It may still be unlocked." """
    words = problem_words(outcome.problem, ActionKind.LOCK) if outcome.problem is not None else ""
    if outcome.state is ActionState.NOT_CONFIRMED:
        waited = f" within {outcome.timeout_seconds:g} s" if outcome.timeout_seconds else ""
        words = not_confirmed_reason(words) or f"the lock did not confirm it{waited}"
    reason = value((words or "Seam reported an error").rstrip("."), NAME_LIMIT * 4)
    return compose("Could not lock ", value(door, NAME_LIMIT), " again: ", reason, ". It may still be unlocked.")


# A success Seam marks `was_confirmed_by_device: false`: said, never shown as a plain success.
_UNCONFIRMED = ", but the lock itself did not confirm it (unconfirmed by the device)."


def _lock_confirmed(view: ActionView, end: TimedUnlockEnd) -> bool:
    """Whether the lock that ended a timed unlock was confirmed by the device (`view` is that lock,
    or the unlock itself, whose own confirmation is not the lock's)."""
    return end.lock_confirmed and (view.confirmed_by_device or view.kind is not ActionKind.LOCK)


def _timed_unlock_outcome(view: ActionView, end: TimedUnlockEnd) -> Text:
    # `view`: the lock that ended it, or the unlock itself once it ended (never shown before a lock worked).
    """A timed unlock and the lock that ends it, in one sentence: "Front Door unlocked 14:00 to 14:10
    (an en dash between), locked again."""
    door = value(view.door, NAME_LIMIT)
    if view.state is ActionState.SUCCEEDED:
        locked = compose(door, " unlocked ", time_span(end.unlocked_at, end.locked_at), ", locked again", IN_UTC)
        return compose(locked, _UNCONFIRMED if not _lock_confirmed(view, end) else ".")
    if view.state.final:
        return could_not_relock(view.door, view)
    return compose(door, " unlocked since ", date(end.unlocked_at), "; locking it again…")


def action_outcome(view: ActionView) -> Text:
    """A door action's state in one sentence, the outcome's words kept whole ("Front Door unlocked.").
    A lock that ends a timed unlock tells the unlock's story, as the unlock's parent message shows it."""
    if view.ends is not None:
        return _timed_unlock_outcome(view, view.ends)
    return _own_outcome(view)


def _own_outcome(view: ActionView) -> Text:
    door = value(view.door, NAME_LIMIT)
    gerund = view.kind.gerund.capitalize()
    if view.state.working:
        return compose(f"{gerund} ", door, "…")
    if view.state is ActionState.PENDING:
        return compose(f"{gerund} ", door, ": waiting for the lock to confirm…")
    if view.state is ActionState.SUCCEEDED:
        until = compose(" until ", clock_time(view.until)) if view.until is not None else compose()
        if not view.confirmed_by_device:
            return compose(door, f" {view.kind.past}", until, _UNCONFIRMED)
        return compose(door, f" {view.kind.past}", until, ".")
    if view.state is ActionState.FAILED:
        problem = value((_words(view.problem, view.kind) or "Seam reported an error").rstrip("."), NAME_LIMIT * 4)
        return compose(f"Could not {view.kind.value} ", door, ": ", problem, ".")
    # It may have happened: say so, say what to do once, and never invite a retry.
    waited = f" within {view.timeout_seconds:g} s" if view.timeout_seconds else ""
    reason = not_confirmed_reason(_words(view.problem, view.kind))
    why = value(reason, NAME_LIMIT * 4) if reason else compose(f"no outcome from the lock{waited}")
    relock = compose()
    if view.until is not None:  # a timed unlock: the door may be unlocked, so it is locked again all the same
        relock = compose(" lockbot locks it again ", date(view.until, at=True), ".")
    return compose(f"{gerund} ", door, " not confirmed: ", why, ". Check the door before relying on it.", relock)


def _words(problem: ActionProblem | None, kind: ActionKind | None = None) -> str:
    return problem_words(problem, kind) if problem is not None else ""


def action_status(view: ActionView) -> tuple[str, Text]:
    """(label, sentence) for the status message in a door action's thread."""
    if view.state.working:
        return _STATUS_LABEL[view.state], compose(f"asking Seam to {view.kind.value} ", bold(view.door), "…")
    end = view.ends
    if end is not None and view.kind is ActionKind.UNLOCK:  # the unlock's own status, once it ended
        return _STATUS_LABEL[view.state], _timed_unlock_outcome(view, end)
    if end is not None and end.ending is UnlockEnding.LOCK_NOW and view.state is ActionState.SUCCEEDED:
        door = value(view.door, NAME_LIMIT)
        ending = "." if _lock_confirmed(view, end) else _UNCONFIRMED
        locked = compose(door, " locked by ", mention(view.requested_by), " (Lock now)", ending)
        return _STATUS_LABEL[view.state], locked
    return _STATUS_LABEL[view.state], _own_outcome(view)


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
    problem = value((_words(view.problem) or "Overbooked reported an error").rstrip("."), 300)
    if view.state is ActionState.FAILED:
        return compose("Could not lock slot ", slot, ": ", problem, ".")
    # Overbooked may hold the lock: say so plainly, and how to find out or undo it.
    return compose(
        "Locking slot ",
        slot,
        " not confirmed: ",
        value(not_confirmed_reason(_words(view.problem) or "Overbooked did not answer"), 300),
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
