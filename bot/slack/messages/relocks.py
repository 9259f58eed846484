"""The messages of a timed unlock besides its actions' own: its buttons (Lock now, +15 min) and the
answers to a press, locked first by someone else, the loud one when the door could not be locked
again, the relock's status while it tries again, locked on a retry, and the loud one when lockbot
gives up."""

from __future__ import annotations

from datetime import timedelta

from slack_sdk.models.blocks import ButtonElement

from bot.durations import spoken_duration
from bot.model import ActionKind, ActionState, ActionView, Relock, RelockState
from bot.slack.messages.outcomes import could_not_relock, not_confirmed_reason, problem_words
from bot.slack.messages.primitives import Block, SlackMessage, actions, button, section_message
from bot.slack.text import NAME_LIMIT, Text, bold, clock_time, compose, date, mention, value
from bot.timed_unlocks import (
    EXTEND_BY,
    AlreadyEnded,
    AtTheLimit,
    ChangeRefusal,
    ChangeRefused,
    Extended,
    LockingNow,
    TimedUnlockChange,
    UnlockUnknown,
)

__all__ = [
    "EXTEND",
    "LOCK_NOW",
    "extend_button",
    "lock_now_button",
    "relock_failure",
    "render_relock_failed",
    "render_relock_gave_up",
    "render_relock_locked_on_retry",
    "render_relock_retrying",
    "render_relock_settled",
    "render_timed_unlock_reply",
    "timed_unlock_buttons",
]

# The action ids of a timed unlock's buttons (bot/slack/timed_unlock_buttons.py listens for them).
LOCK_NOW, EXTEND = "relock_now", "unlock_extend"


def lock_now_button(unlock_id: str) -> ButtonElement:
    """ "Lock now" on a timed unlock; its value is the unlock's id, nothing else."""
    return button(LOCK_NOW, "Lock now", unlock_id, "danger")


def extend_button(unlock_id: str) -> ButtonElement:
    """ "+15 min" on a timed unlock; its value is the unlock's id, nothing else."""
    return button(EXTEND, f"+{spoken_duration(EXTEND_BY)}", unlock_id)


def timed_unlock_buttons(unlock_id: str) -> Block:
    """Both buttons, as an actions block (`block_id` names the unlock: two on one Home stay apart)."""
    return actions(f"timed_unlock_{unlock_id}"[:255], lock_now_button(unlock_id), extend_button(unlock_id))


def render_relock_settled(relock: Relock) -> SlackMessage:
    """In the unlock's thread: the door was locked before its time, so lockbot will not lock it again."""
    door = bold(relock.door)
    who = compose("by ", mention(relock.settled_by)) if relock.settled_by else compose("at the door (Seam reported it)")
    if relock.tries > 0:  # a retry was pending
        return section_message(compose(":lock: ", door, " was locked ", who, "; lockbot will not try again."))
    return section_message(
        compose(":lock: ", door, " was locked ", who, " before its timed unlock ended; lockbot will not lock it again.")
    )


def relock_failure(relock: Relock, outcome: ActionView) -> Text:
    """ "Could not lock Front Door again: <reason>. It may still be unlocked." """
    return could_not_relock(relock.door, outcome)


def _failure_reason(outcome: ActionView) -> Text:
    words = problem_words(outcome.problem, ActionKind.LOCK) if outcome.problem is not None else ""
    if outcome.state is ActionState.NOT_CONFIRMED:
        waited = f" within {outcome.timeout_seconds:g} s" if outcome.timeout_seconds else ""
        words = not_confirmed_reason(words) or f"the lock did not confirm it{waited}"
    return value((words or "Seam reported an error").rstrip("."), NAME_LIMIT * 4)


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


_NOTHING_DONE = " Nothing was done."


def _lock_went(lock: ActionState | None) -> Text:
    """How the lock that ended it went, as far as lockbot knows."""
    if lock is ActionState.SUCCEEDED:
        return compose()
    if lock is not None and lock.final:
        return compose(" That lock did not work, so it may still be unlocked: use `/lock`.")
    return compose(" Its thread shows how the lock goes.")


def _already_ended(relock: Relock, lock: ActionState | None) -> Text:
    door = bold(relock.door)
    if relock.state is RelockState.SUPERSEDED:
        return compose("A later unlock of ", door, " replaced this one: its own message has the buttons.")
    if relock.state is RelockState.STARTED and relock.settled_by:
        return compose(mention(relock.settled_by), " already pressed Lock now on ", door, ".", _lock_went(lock))
    if relock.state is RelockState.STARTED:
        again = "locked it again" if lock is ActionState.SUCCEEDED else "went to lock it again"
        when = date(relock.due_at, at=True)
        return compose("This unlock of ", door, f" already ended: lockbot {again} ", when, ".", _lock_went(lock))
    if relock.settled_by:
        return compose("This unlock already ended: ", mention(relock.settled_by), " locked ", door, ".")
    return compose("This unlock already ended: ", door, " was locked at the door (Seam reported it).")


def render_timed_unlock_reply(change: TimedUnlockChange) -> SlackMessage | None:
    """The presser's ephemeral answer to Lock now or +15 min; None when the thread says it all."""
    if isinstance(change, LockingNow):
        return None  # the lock's own status, in the thread, says who locked it and how it ended
    if isinstance(change, Extended):
        relock = change.relock
        text = compose(bold(relock.door), " stays unlocked until ", clock_time(relock.due_at), ".")
        if change.capped_by is not None:
            limit = spoken_duration(change.capped_by)
            text = text + f" That is as long as it may be unlocked: at most {limit} from now (its max_unlock)."
        return section_message(text)
    if isinstance(change, AtTheLimit):
        relock, limit = change.relock, spoken_duration(change.max_unlock)
        return section_message(
            compose(
                bold(relock.door),
                f" may be unlocked for at most {limit} from now (its max_unlock), and it already is: it locks again ",
                date(relock.due_at, at=True),
                ".",
                _NOTHING_DONE,
            )
        )
    if isinstance(change, AlreadyEnded):
        return section_message(_already_ended(change.relock, change.lock) + _NOTHING_DONE)
    if isinstance(change, ChangeRefused):
        relock = change.relock
        if change.reason is ChangeRefusal.PROFILE_UNAVAILABLE:
            return section_message(
                compose("I couldn't read your Slack profile to check that you may, so nothing was done. Try again.")
            )
        return section_message(
            compose(
                "Only ",
                mention(relock.unlocked_by),
                " (who unlocked it), an approver of ",
                bold(relock.door),
                ", or someone who may unlock it directly can lock it now or keep it unlocked longer.",
                _NOTHING_DONE,
            )
        )
    assert isinstance(change, UnlockUnknown)
    return section_message(compose("I don't know this unlock (it may be from before a reset).", _NOTHING_DONE))
