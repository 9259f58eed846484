"""Reminders of an undecided request: the reply in its thread that says what to do, and the line on
the request message saying who was reminded and when (`bot.slack.messages.requests` shows it, also
once the request is decided)."""

from __future__ import annotations

from bot.durations import spoken_elapsed
from bot.model import ReminderHistory
from bot.policy import EVERYONE
from bot.reminders import Reminder
from bot.slack.messages.primitives import SlackMessage, section_message
from bot.slack.text import Text, bold, compose, date, join, mention

__all__ = ["reminded_line", "render_reminder"]

# Mentions named one by one, at most: more read "and N more" (and keep every text within Slack's limits).
_MENTIONS = 30


def _mentions(entries: frozenset[str]) -> list[Text]:
    named = [mention(entry) for entry in sorted(entries)]
    if len(named) > _MENTIONS:
        return [*named[:_MENTIONS], compose(f"and {len(named) - _MENTIONS} more")]
    return named


def _approvers(approvers: frozenset[str] | None, *, sentence_start: bool) -> list[Text]:
    """Whom the approvers are, in words: only people and groups the policy names are mentioned (pinged)."""
    if approvers is None:
        return [compose("Workspace admins and owners" if sentence_start else "workspace admins and owners")]
    if EVERYONE in approvers:
        return [compose("Anyone here" if sentence_start else "anyone here")]
    return _mentions(approvers)


def render_reminder(reminder: Reminder) -> SlackMessage:
    """The reply in the request's thread: whom it concerns, and what to do."""
    request = reminder.request
    audience = _approvers(reminder.approvers, sentence_start=True) + _mentions(reminder.escalate_to - {EVERYONE})
    if not audience:
        audience = [compose("Nobody may approve this door (the policy names no approvers)")]
    waiting = compose(
        bold(request.door),
        ": ",
        mention(request.requester),
        f" has been waiting {spoken_elapsed(reminder.waited)} for approval. Approve or deny above.",
    )
    if reminder.escalating:
        return section_message(
            compose(
                ":rotating_light: ",
                join(", ", audience),
                ": ",
                waiting,
                " Escalated to ",
                join(", ", _mentions(reminder.escalate_to)),
                " as nobody has decided yet.",
            )
        )
    return section_message(compose(":bell: ", join(", ", audience), ": ", waiting))


def reminded_line(history: ReminderHistory) -> Text:
    """Who was reminded of a request and when (and escalated to whom), for its message."""
    line = compose(
        "Reminded ",
        join(", ", _approvers(history.approvers, sentence_start=False)),
        " ",
        date(history.reminded_at, at=True),
    )
    if history.escalated_at is not None and history.escalate_to:
        line = line + compose(
            "; escalated to ", join(", ", _mentions(history.escalate_to)), " ", date(history.escalated_at, at=True)
        )
    return line
