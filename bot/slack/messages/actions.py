"""A door action's messages: the channel message saying what was asked and how it ended, and the
status message in its thread, edited as the action resolves."""

from __future__ import annotations

from bot.model import ActionKind, ActionState, ActionView
from bot.slack.messages.outcomes import action_icon, action_outcome, action_status
from bot.slack.messages.primitives import Block, SlackMessage, context, section
from bot.slack.messages.relocks import timed_unlock_buttons
from bot.slack.messages.requests import render_request
from bot.slack.text import Text, code, compose, join, mention, value

__all__ = ["render_action_parent", "render_action_status"]


def _requested(view: ActionView) -> Text:
    end = view.ends
    requested_by, reason = (end.unlocked_by, end.reason) if end is not None else (view.requested_by, view.reason)
    line = compose("Requested by ", mention(requested_by))
    if reason:
        line = line + compose(" · reason: ", value(reason, 500))
    if end is not None and end.locked_by is not None:
        line = line + compose(" · locked by ", mention(end.locked_by))
    return line


def render_action_parent(view: ActionView) -> SlackMessage:
    """The channel message: what was asked, then the final outcome (an approved request's own message
    when the action came from one). A lock that ends a timed unlock shows on the unlock's parent."""
    request = view.request or (view.ends.request if view.ends is not None else None)
    if request is not None:
        return render_request(request, None, view)
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
    blocks: list[Block] = [
        section(compose(f"{action_icon(view)} *{label}:* ", sentence)),
        context(join(" · ", details)),
    ]
    timed = view.kind is ActionKind.UNLOCK and view.state is ActionState.SUCCEEDED and view.until is not None
    if timed and view.action_id is not None and view.ends is None:
        # Until its relock: pressing checks the relock's state, so a press after it ran changes nothing.
        blocks.append(timed_unlock_buttons(view.action_id))
    return SlackMessage(text=compose(f"{label}: ", sentence).plain(), blocks=blocks)
