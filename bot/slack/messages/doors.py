"""The doors: `/doors` and its audit log, the usage of the door commands, and the answers to a door
name that is no door or could be several."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.break_glass import EMERGENCY_EVENT
from bot.door_service import AuditView, DoorOverview
from bot.doors import DoorAmbiguous, DoorUnknown
from bot.model import ActionKind, AuditEntry, Lock
from bot.slack.messages.outcomes import problem_words
from bot.slack.messages.primitives import (
    BLOCK_LIMIT,
    TEXT_BUDGET,
    SlackMessage,
    chunks,
    context,
    echo,
    section,
    section_message,
)
from bot.slack.text import NAME_LIMIT, Text, bold, clock_time, code, compose, date, fitting, join, mention, value

__all__ = [
    "render_ambiguous_door",
    "render_audit",
    "render_door_overview",
    "render_unknown_door",
    "render_usage",
]

_LISTED_NAMES = 20  # door names listed in one answer before "and N more"


def _list_names(names: Sequence[str], *, limit: int = _LISTED_NAMES) -> Text:
    shown = [bold(name) for name in names[:limit]]
    listed = join(", ", shown)
    more = len(names) - len(shown)
    if more > 0:
        listed = listed + f" and {more} more (`/doors &lt;prefix&gt;` lists the doors starting with a prefix)"
    return listed


_USAGE = {
    "/lock": ("/lock <door>", "Locks a door. Name it as in `/doors`, by a unique prefix, or by device id."),
    "/unlock": (
        "/unlock <door> [for 30s|10m|1h30m|until 17:30] [reason]",
        "Unlocks a door if you may unlock it directly, and locks it again after the time given (or the "
        "door's own time); otherwise asks its approvers. Some doors need a reason. Put a door name in "
        'quotes if the reason could be read as part of it: `/unlock "Back Door" parcel`.\n'
        "`/unlock &lt;door&gt; --emergency &lt;reason&gt;`: break-glass, for the door's emergency list only: "
        "unlocks at once without approval, locks again after the door's time (or 15 min), and alerts "
        "every approver.",
    ),
    "/doors": (
        "/doors [prefix] | /doors log [door]",
        "Lists the doors: locked or unlocked, online or offline, and what you may do; with a prefix, only "
        "the doors whose names start with it. `/doors log` shows approvers the recent audit log, of one "
        "door if you name it.",
    ),
}


def render_usage(command: str) -> SlackMessage:
    """How to use a door command, and what it does."""
    syntax, explanation = _USAGE.get(command, ("/lock <door>", "Locks a door."))
    text = compose("Usage: ", code(syntax), "\n", explanation, "\nTry `/doors` to see every door.")
    return SlackMessage(text=" ".join(text.plain().split("\n")), blocks=[section(text)])


def _sorted_names(locks: Sequence[Lock]) -> list[str]:
    return [lock.name for lock in sorted(locks, key=lambda lock: lock.name.casefold())]


def render_unknown_door(unknown: DoorUnknown) -> SlackMessage:
    """No door has this name: the doors there are, the first of them by name."""
    query = echo(unknown.query)
    if unknown.doors:
        text = compose("I don't know a door called “", query, "”. The doors are: ")
        text = text + _list_names(_sorted_names(unknown.doors)) + "."
    else:
        text = compose("I don't know a door called “", query, "”, and Seam lists no doors at all.")
    return section_message(text)


def render_ambiguous_door(ambiguous: DoorAmbiguous) -> SlackMessage:
    """Several doors could be meant: which, so the person can type more of the name."""
    text = compose("“", echo(ambiguous.query), "” could be several doors: ")
    text = text + _list_names(_sorted_names(ambiguous.matches)) + ". Type more of the name."
    return section_message(text)


def _door_line(lock: Lock, may_lock: bool, may_unlock: bool, until: datetime | None = None) -> tuple[str, Text]:
    """(icon, line) for one door; `until`: lockbot locks it again then."""
    locked = compose({True: "locked", False: "unlocked", None: "lock state unknown"}[lock.locked])
    if until is not None:
        locked = compose("unlocked until ", clock_time(until))
    online = {True: "online", False: "offline", None: "connection unknown"}[lock.online]
    icon = ":lock:" if lock.locked else ":unlock:" if lock.locked is False else ":grey_question:"
    rights = [right for right, allowed in (("lock", may_lock), ("unlock", may_unlock)) if allowed]
    if not may_unlock:
        rights.append("request an unlock from an approver")
    you = "you can " + " and ".join(rights) if rights else "you can only look"
    return icon, compose(bold(lock.name), " — ", locked, f", {online} — {you}")


_NARROW = "`/doors &lt;prefix&gt;` lists only the doors whose names start with a prefix."


def render_door_overview(overview: DoorOverview) -> SlackMessage:
    """`/doors`: each door's state and what this person may do with it."""
    if not overview.doors:
        if overview.prefix:
            text = compose("No door's name starts with “", echo(overview.prefix), "”. ")
            return section_message(text + "`/doors` lists every door.")
        return section_message(compose("Seam lists no doors for lockbot."))
    lines = [_door_line(door.lock, door.may_lock, door.may_unlock, door.unlocked_until) for door in overview.doors]
    title = compose(f"*Doors* ({len(lines)})")
    if overview.prefix:
        title = compose("*Doors starting with “", echo(overview.prefix), f"”* ({len(lines)} of {overview.total})")
    # Blocks: every door that fits in Slack's blocks, the rest counted; text: as many as fit in its budget.
    sections = chunks([compose(icon, " ", line) for icon, line in lines], max_sections=BLOCK_LIMIT - 2)
    shown_in_blocks = sum(chunk.count("\n") + 1 for chunk in sections)
    blocks = [section(title), *(section(chunk) for chunk in sections)]
    if shown_in_blocks < len(lines):
        blocks.append(context(compose(f"…and {len(lines) - shown_in_blocks} more. ", _NARROW)))
    plain_lines = [line for _, line in lines]
    shown = fitting(plain_lines, TEXT_BUDGET - len(title), "; ")
    text = compose(title, ": ", join("; ", plain_lines[:shown]))
    if shown < len(lines):
        text = text + compose(f" …and {len(lines) - shown} more. ", _NARROW)
    return SlackMessage(text=text.plain(), blocks=blocks)


def _audit_line(entry: AuditEntry) -> Text:
    event = value(entry.event)
    if entry.event == EMERGENCY_EVENT:
        event = compose(":rotating_light: *EMERGENCY* ", event)
    parts = [date(entry.at), mention(entry.actor), event]
    if entry.door:
        parts.append(bold(entry.door))
    parts.append(value(entry.outcome.replace("_", " ")))
    if entry.attempt_id:
        parts.append(compose("attempt ", code(entry.attempt_id)))
    detail = _audit_detail(entry)
    if detail:
        parts.append(value(detail, 600))
    return join(" · ", parts)


def _audit_detail(entry: AuditEntry) -> str:
    """The entry's detail, then its problem in words (an older entry has its problem's words in its detail)."""
    if entry.problem is None:
        return entry.detail or ""
    kind = ActionKind(entry.event) if entry.event in tuple(ActionKind) else None
    return "; ".join(part for part in (entry.detail, problem_words(entry.problem, kind)) if part)


def render_audit(view: AuditView) -> SlackMessage:
    """`/doors log`: the recent audit entries, newest first, of one door or all."""
    title = compose("*Audit log: ", value(view.door, NAME_LIMIT), "*") if view.door else compose("*Audit log*")
    if not view.entries:
        return section_message(compose(title, "\nNothing recorded yet."))
    lines = [_audit_line(entry) for entry in view.entries]
    heading = compose(title, " (newest first)")
    shown = fitting(lines, TEXT_BUDGET - len(heading), "\n")
    text = join("\n", [heading, *lines[:shown]])
    if shown < len(lines):
        text = text + f"\n…and {len(lines) - shown} more (name a door to see only its entries)."
    return SlackMessage(text=text.plain(), blocks=[section(heading), *(section(chunk) for chunk in chunks(lines))])
