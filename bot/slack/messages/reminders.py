"""Reminders of an undecided request: the reply in its thread that says what to do, and the line on
the request message saying who was reminded and when."""

from __future__ import annotations

from bot.durations import spoken_elapsed
from bot.model import UnlockRequest
from bot.policy import EVERYONE
from bot.reminders import Reminder, ReminderHistory
from bot.slack.messages.primitives import SlackMessage, context, section_message
from bot.slack.messages.requests import render_request
from bot.slack.text import Text, bold, compose, date, join, mention

__all__ = ["render_reminded_request", "render_reminder"]

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


def _history(history: ReminderHistory) -> Text:
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


def render_reminded_request(
    request: UnlockRequest, approvers: frozenset[str] | None, history: ReminderHistory
) -> SlackMessage:
    """The pending request message with a line saying who was reminded and when, above its buttons."""
    message = render_request(request, approvers)
    line = _history(history)
    blocks = list(message.blocks)
    buttons_at = next((index for index, block in enumerate(blocks) if block.get("type") == "actions"), len(blocks))
    blocks.insert(buttons_at, context(compose(":bell: ", line)))
    return SlackMessage(text=f"{message.text} {line.plain()}.", blocks=blocks)
