"""The messages of a relock (a timed unlock's end) besides its own action's: locked first by
someone else, the loud one when the door could not be locked again, the relock's status while it
tries again, locked on a retry, and the loud one when lockbot gives up."""

from __future__ import annotations

from datetime import timedelta

from bot.durations import spoken_duration
from bot.model import ActionKind, ActionState, ActionView, Relock
from bot.slack.messages.outcomes import not_confirmed_reason, problem_words
from bot.slack.messages.primitives import SlackMessage, section_message
from bot.slack.text import NAME_LIMIT, Text, bold, compose, mention, value

__all__ = [
    "relock_failure",
    "render_relock_failed",
    "render_relock_gave_up",
    "render_relock_locked_on_retry",
    "render_relock_retrying",
    "render_relock_settled",
]


def render_relock_settled(relock: Relock) -> SlackMessage:
    """In the unlock's thread: the door was locked before its time, so lockbot will not lock it again."""
    door = bold(relock.door)
    who = compose("by ", mention(relock.settled_by)) if relock.settled_by else compose("at the door (Seam reported it)")
    if relock.tries > 0:  # a retry was pending
        return section_message(compose(":lock: ", door, " was locked ", who, "; lockbot will not try again."))
    return section_message(
        compose(":lock: ", door, " was locked ", who, " before its timed unlock ended; lockbot will not lock it again.")
    )


def _failure_reason(outcome: ActionView) -> Text:
    words = problem_words(outcome.problem, ActionKind.LOCK) if outcome.problem is not None else ""
    if outcome.state is ActionState.NOT_CONFIRMED:
        waited = f" within {outcome.timeout_seconds:g} s" if outcome.timeout_seconds else ""
        words = not_confirmed_reason(words) or f"the lock did not confirm it{waited}"
    return value((words or "Seam reported an error").rstrip("."), NAME_LIMIT * 4)


def relock_failure(relock: Relock, outcome: ActionView) -> Text:
    """ "Could not lock Front Door again: <reason>. It may still be unlocked." """
    door = value(relock.door, NAME_LIMIT)
    return compose("Could not lock ", door, " again: ", _failure_reason(outcome), ". It may still be unlocked.")


def _alarm(mentioning: str | None) -> Text:
    return compose(":rotating_light: ", mention(mentioning), " ") if mentioning else compose(":rotating_light: ")


def render_relock_failed(
    relock: Relock, outcome: ActionView, *, mentioning: str | None = None, retry_in: timedelta | None = None
) -> SlackMessage:
    """The loud message: in the thread, by DM to whoever unlocked, in the notify channel; with
    when lockbot tries again, if it does."""
    again = compose(" lockbot will try again in ", spoken_duration(retry_in), ".") if retry_in is not None else ""
    return section_message(_alarm(mentioning) + compose(relock_failure(relock, outcome), again))


def render_relock_retrying(relock: Relock, outcome: ActionView, *, retry_in: timedelta, tries: int) -> SlackMessage:
    """The relock's status in the thread between tries: which try failed, why, and when the next is."""
    door = value(relock.door, NAME_LIMIT)
    return section_message(
        compose(
            f":repeat: Try {relock.tries} of {tries} to lock ",
            door,
            " again did not work: ",
            _failure_reason(outcome),
            f". lockbot will try again in {spoken_duration(retry_in)}.",
        )
    )


def render_relock_locked_on_retry(relock: Relock, outcome: ActionView, *, tries: int) -> SlackMessage:
    """In the thread: a retry worked, as Seam reported (and whether the lock itself confirmed it)."""
    door = bold(relock.door)
    if not outcome.confirmed_by_device:
        return section_message(
            compose(
                ":lock: Seam says ",
                door,
                f" is locked now (try {relock.tries} of {tries}), though the lock itself did not confirm it.",
            )
        )
    return section_message(compose(":lock: ", door, f" is locked now (try {relock.tries} of {tries})."))


def render_relock_gave_up(relock: Relock, *, mentioning: str | None = None) -> SlackMessage:
    """The loud message after the last try: in the thread, by DM to whoever unlocked, in the notify channel."""
    door = value(relock.door, NAME_LIMIT)
    return section_message(
        _alarm(mentioning)
        + compose(
            "Gave up locking ",
            door,
            f" again after {relock.tries} tries. It may still be unlocked — lock it by hand.",
        )
    )
