"""Break-glass: the loud notice in the approval and notify channels, and the direct message to each
approver."""

from __future__ import annotations

from bot.break_glass import EmergencyUnlock
from bot.durations import spoken_duration
from bot.policy import EVERYONE
from bot.slack.messages.primitives import SlackMessage, section_message
from bot.slack.text import Text, bold, compose, escape, join, mention, value

__all__ = ["render_emergency_direct_message", "render_emergency_notice"]

_REASON_LIMIT = 500


def _approvers(approvers: frozenset[str] | None) -> Text:
    """Every approver mentioned; admins or everyone named in words, so a whole workspace is never pinged."""
    if approvers is None:
        return compose("workspace admins")
    if EVERYONE in approvers:
        return compose("everyone")
    if not approvers:
        return compose("nobody (the policy names no approvers for this door)")
    return join(", ", [mention(entry) for entry in sorted(approvers)])


def _what_happened(unlock: EmergencyUnlock) -> Text:
    # Said as it is sent: whether the door opened is told in the unlock's own thread.
    channel = unlock.thread.channel
    where = compose(f" Its outcome is in <#{escape(channel)}>.") if channel.startswith(("C", "G")) else compose()
    return compose(
        ":rotating_light: *Emergency unlock*: ",
        mention(unlock.by),
        " used `--emergency` to unlock ",
        bold(unlock.door),
        " at once, without approval. Reason: ",
        value(unlock.reason, _REASON_LIMIT),
        f". It locks again {spoken_duration(unlock.unlock_for)} after it opens.",
        where,
    )


def render_emergency_notice(unlock: EmergencyUnlock) -> SlackMessage:
    """The notice in the door's approval channel and notify channel, mentioning every approver."""
    return section_message(compose(_what_happened(unlock), " Approvers: ", _approvers(unlock.approvers), "."))


def render_emergency_direct_message(unlock: EmergencyUnlock) -> SlackMessage:
    """What each approver of the door is told directly."""
    return section_message(compose(_what_happened(unlock), " You are told as an approver of ", bold(unlock.door), "."))
