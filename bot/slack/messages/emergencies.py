"""Break-glass: the loud notice in the approval and notify channels, and the direct message to each
approver."""

from __future__ import annotations

from bot.break_glass import EmergencyUnlock
from bot.durations import spoken_duration
from bot.policy import EVERYONE
from bot.slack.messages.primitives import SlackMessage, section_message
from bot.slack.text import Text, bold, compose, date, escape, join, mention, value

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
    return compose(
        ":rotating_light: *Emergency unlock*: ",
        mention(unlock.by),
        " unlocked ",
        bold(unlock.door),
        " with `--emergency`, without approval. Reason: ",
        value(unlock.reason, _REASON_LIMIT),
        f". It locks again in {spoken_duration(unlock.unlock_for)} (",
        date(unlock.at + unlock.unlock_for, at=True),
        f"). See <#{escape(unlock.thread.channel)}>.",
    )


def render_emergency_notice(unlock: EmergencyUnlock) -> SlackMessage:
    """The notice in the door's approval channel and notify channel, mentioning every approver."""
    return section_message(compose(_what_happened(unlock), " Approvers: ", _approvers(unlock.approvers), "."))


def render_emergency_direct_message(unlock: EmergencyUnlock) -> SlackMessage:
    """What each approver of the door is told directly."""
    return section_message(compose(_what_happened(unlock), " You are told as an approver of ", bold(unlock.door), "."))
