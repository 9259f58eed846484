"""The messages of a relock (a timed unlock's end) besides its own action's: locked first by
someone else, and the loud one when the door could not be locked again."""

from __future__ import annotations

from bot.model import ActionKind, ActionState, ActionView, Relock
from bot.slack.messages.outcomes import not_confirmed_reason, problem_words
from bot.slack.messages.primitives import SlackMessage, section_message
from bot.slack.text import NAME_LIMIT, Text, bold, compose, mention, value

__all__ = ["relock_failure", "render_relock_failed", "render_relock_settled"]


def render_relock_settled(relock: Relock) -> SlackMessage:
    """In the unlock's thread: the door was locked before its time, so lockbot will not lock it again."""
    door = bold(relock.door)
    who = compose("by ", mention(relock.settled_by)) if relock.settled_by else compose("at the door (Seam reported it)")
    return section_message(
        compose(":lock: ", door, " was locked ", who, " before its timed unlock ended; lockbot will not lock it again.")
    )


def relock_failure(relock: Relock, outcome: ActionView) -> Text:
    """ "Could not lock Front Door again: <reason>. It may still be unlocked." """
    words = problem_words(outcome.problem, ActionKind.LOCK) if outcome.problem is not None else ""
    if outcome.state is ActionState.NOT_CONFIRMED:
        waited = f" within {outcome.timeout_seconds:g} s" if outcome.timeout_seconds else ""
        words = not_confirmed_reason(words) or f"the lock did not confirm it{waited}"
    reason = value((words or "Seam reported an error").rstrip("."), NAME_LIMIT * 4)
    door = value(relock.door, NAME_LIMIT)
    return compose("Could not lock ", door, " again: ", reason, ". It may still be unlocked.")


def render_relock_failed(relock: Relock, outcome: ActionView, *, mentioning: str | None = None) -> SlackMessage:
    """The loud message: in the thread, by DM to whoever unlocked, in the notify channel."""
    lead = compose(":rotating_light: ", mention(mentioning), " ") if mentioning else compose(":rotating_light: ")
    return section_message(lead + compose(relock_failure(relock, outcome)))
