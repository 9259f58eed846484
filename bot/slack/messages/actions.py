"""A door action's messages: the channel message saying what was asked and how it ended, and the
status message in its thread, edited as the action resolves."""

from __future__ import annotations

from bot.model import ActionView
from bot.slack.messages.outcomes import action_icon, action_outcome, action_status
from bot.slack.messages.primitives import SlackMessage, context, section
from bot.slack.messages.requests import render_request
from bot.slack.text import Text, code, compose, join, mention, value

__all__ = ["render_action_parent", "render_action_status"]


def _requested(view: ActionView) -> Text:
    line = compose("Requested by ", mention(view.requested_by))
    if view.reason:
        line = line + compose(" · reason: ", value(view.reason, 500))
    return line


def render_action_parent(view: ActionView) -> SlackMessage:
    """The channel message: what was asked, then the final outcome (an approved request's own message
    when the action came from one)."""
    if view.request is not None:
        return render_request(view.request, None, view)
    sentence, requested = action_outcome(view), _requested(view)
    return SlackMessage(
        text=compose(sentence, " (", requested, ")").plain(),
        blocks=[section(compose(f"{action_icon(view)} ", sentence)), context(requested)],
    )


def render_action_status(view: ActionView) -> SlackMessage:
    """The status message in the action's thread, edited as the action resolves."""
    label, sentence = action_status(view)
    details = [compose(f"Status: {label}")]
    if view.attempt_id:
        details.append(compose("Seam action attempt ", code(view.attempt_id)))
    return SlackMessage(
        text=compose(f"{label}: ", sentence).plain(),
        blocks=[section(compose(f"{action_icon(view)} *{label}:* ", sentence)), context(join(" · ", details))],
    )
