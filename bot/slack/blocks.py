"""Block Kit for every lockbot message: pure functions of domain values.

Each message has a plain `text` that says the same as its blocks (notifications, screen readers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.actions import ActionKind, ActionPhase, ActionView
from bot.door_service import DoorOverview
from bot.doors import DoorAmbiguous, DoorUnknown
from bot.seam import Lock

__all__ = [
    "SlackMessage",
    "escape",
    "outcome_sentence",
    "render_action_parent",
    "render_action_status",
    "render_ambiguous_door",
    "render_door_overview",
    "render_notice",
    "render_unknown_door",
    "render_usage",
]

Block = dict[str, Any]


@dataclass(frozen=True)
class SlackMessage:
    text: str
    blocks: list[Block] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def escape(text: str) -> str:
    """Make text from people or APIs safe inside mrkdwn (no mentions, links or markup injected)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(markdown: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": markdown}}


def _context(*markdown: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": item} for item in markdown]}


def _plain(markdown: str) -> str:
    return markdown.replace("*", "")


_ICONS = {
    ActionPhase.WORKING: ":hourglass_flowing_sand:",
    ActionPhase.PENDING: ":hourglass_flowing_sand:",
    ActionPhase.FAILED: ":warning:",
    ActionPhase.NOT_CONFIRMED: ":grey_question:",
}


def _icon(view: ActionView) -> str:
    if view.phase is ActionPhase.SUCCEEDED:
        return ":lock:" if view.kind is ActionKind.LOCK else ":unlock:"
    return _ICONS[view.phase]


def outcome_sentence(view: ActionView) -> str:
    """The action's state in one plain sentence, door name in bold (mrkdwn)."""
    door = f"*{escape(view.door)}*"
    verb = view.kind.value
    if view.phase is ActionPhase.WORKING:
        return f"{view.kind.gerund.capitalize()} {door}…"
    if view.phase is ActionPhase.PENDING:
        return f"{view.kind.gerund.capitalize()} {door}: waiting for the lock to confirm…"
    if view.phase is ActionPhase.SUCCEEDED:
        if not view.confirmed_by_device:
            return f"{door} {view.kind.past}, but the lock did not confirm it (not confirmed by the device)."
        return f"{door} {view.kind.past}."
    if view.phase is ActionPhase.FAILED:
        return f"Could not {verb} {door}: {escape(view.problem or 'Seam reported an error')}."
    waited = f" within {view.timeout_seconds:g} s" if view.timeout_seconds else ""
    why = f" ({escape(view.problem)})" if view.problem else ""
    return (
        f"{view.kind.gerund.capitalize()} {door} not confirmed: no outcome from the lock{waited}{why}. "
        "Check the door before relying on it."
    )


def _requested(view: ActionView) -> str:
    line = f"Requested by <@{view.requested_by}>"
    if view.reason:
        line += f" · reason: {escape(view.reason)}"
    return line


def render_action_parent(view: ActionView) -> SlackMessage:
    """The channel message: what was asked, then the final outcome."""
    sentence = outcome_sentence(view)
    context = _requested(view)
    return SlackMessage(
        text=f"{_plain(sentence)} ({_plain(context)})",
        blocks=[_section(f"{_icon(view)} {sentence}"), _context(context)],
    )


_STATUS_LABEL = {
    ActionPhase.WORKING: "Working",
    ActionPhase.PENDING: "Pending",
    ActionPhase.SUCCEEDED: "Done",
    ActionPhase.FAILED: "Failed",
    ActionPhase.NOT_CONFIRMED: "Not confirmed",
}


def render_action_status(view: ActionView) -> SlackMessage:
    """The status message in the action's thread, edited as the action resolves."""
    label = _STATUS_LABEL[view.phase]
    if view.phase is ActionPhase.WORKING:
        sentence = f"asking Seam to {view.kind.value} *{escape(view.door)}*…"
    else:
        sentence = outcome_sentence(view)
    details = [f"Status: {label}"]
    if view.attempt_id:
        details.append(f"Seam action attempt `{escape(view.attempt_id)}`")
    return SlackMessage(
        text=f"{label}: {_plain(sentence)}",
        blocks=[_section(f"{_icon(view)} *{label}:* {sentence}"), _context(" · ".join(details))],
    )


_USAGE = {
    "/lock": ("/lock <door>", "Locks a door. Name it as in `/doors`, by a unique prefix, or by device id."),
    "/unlock": (
        "/unlock <door> [reason]",
        "Unlocks a door if you may unlock it directly. Put a door name with spaces in quotes if the "
        'reason could be read as part of it: `/unlock "Back Door" parcel`.',
    ),
    "/doors": ("/doors", "Lists the doors: locked or unlocked, online or offline, and what you may do."),
}


def render_usage(command: str) -> SlackMessage:
    syntax, explanation = _USAGE.get(command, ("/lock <door>", "Locks a door."))
    lines = [f"Usage: `{syntax}`", explanation, "Try `/doors` to see every door."]
    return SlackMessage(text=" ".join(_plain(line) for line in lines), blocks=[_section("\n".join(lines))])


def _door_names(locks: Sequence[Lock]) -> str:
    return ", ".join(
        f"*{escape(lock.name)}*" for lock in sorted(locks, key=lambda lock: lock.name.casefold())
    )


def render_unknown_door(unknown: DoorUnknown) -> SlackMessage:
    query = escape(unknown.query.strip())
    if unknown.doors:
        markdown = f"I don't know a door called “{query}”. The doors are: {_door_names(unknown.doors)}."
    else:
        markdown = f"I don't know a door called “{query}”, and Seam lists no doors at all."
    return SlackMessage(text=_plain(markdown), blocks=[_section(markdown)])


def render_ambiguous_door(ambiguous: DoorAmbiguous) -> SlackMessage:
    markdown = (
        f"“{escape(ambiguous.query.strip())}” could be several doors: {_door_names(ambiguous.matches)}. "
        "Type more of the name."
    )
    return SlackMessage(text=_plain(markdown), blocks=[_section(markdown)])


def render_notice(markdown: str) -> SlackMessage:
    """A short ephemeral answer to the person who typed the command."""
    return SlackMessage(text=_plain(markdown), blocks=[_section(markdown)])


def _door_line(lock: Lock, may_lock: bool, may_unlock: bool) -> str:
    locked = {True: "locked", False: "unlocked", None: "lock state unknown"}[lock.locked]
    online = {True: "online", False: "offline", None: "connection unknown"}[lock.online]
    icon = ":lock:" if lock.locked else ":unlock:" if lock.locked is False else ":grey_question:"
    rights = [right for right, allowed in (("lock", may_lock), ("unlock", may_unlock)) if allowed]
    if not may_unlock:
        rights.append("request an unlock from an approver")
    you = "you can " + " and ".join(rights) if rights else "you can only look"
    return f"{icon} *{escape(lock.name)}* — {locked}, {online} — {you}"


def render_door_overview(overview: DoorOverview) -> SlackMessage:
    if not overview.doors:
        markdown = "Seam lists no doors for lockbot."
        return SlackMessage(text=markdown, blocks=[_section(markdown)])
    lines = [_door_line(door.lock, door.may_lock, door.may_unlock) for door in overview.doors]
    return SlackMessage(
        text="Doors: " + "; ".join(_plain(line.split(" ", 1)[1]) for line in lines),
        blocks=[_section(f"*Doors* ({len(lines)})"), *(_section(chunk) for chunk in _chunks(lines))],
    )


def _chunks(lines: Sequence[str], limit: int = 2900) -> list[str]:
    """Lines joined into as few sections as Slack's 3000-character limit allows."""
    chunks: list[str] = []
    for line in lines:
        if chunks and len(chunks[-1]) + 1 + len(line) <= limit:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line[:limit])
    return chunks
