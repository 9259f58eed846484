"""`/slot`: its usage, a slot lock's channel message and thread status, and the answers to
`/slot status` and `/slot unlock`."""

from __future__ import annotations

import re
from datetime import datetime

from bot.slack.messages.outcomes import slot_icon, slot_outcome, slot_status
from bot.slack.messages.primitives import SlackMessage, context, echo, section, section_message
from bot.slack.text import NAME_LIMIT, Text, code, compose, date, join, mention, value
from bot.slots import BadSlotCommand, SlotCommandFault, SlotStatus, SlotUnlocked, SlotView

__all__ = [
    "SLOT_USAGE",
    "render_bad_slot_command",
    "render_slot_parent",
    "render_slot_ran_out",
    "render_slot_status",
    "render_slot_status_reply",
    "render_slot_unlocked",
    "render_slot_usage",
]

SLOT_USAGE = (
    "Usage: `/slot lock &lt;slot_id&gt; &lt;30m | 2h | 1h30m | until 17:30 | ISO 8601&gt;`, "
    "`/slot unlock &lt;slot_id&gt;`, `/slot status &lt;slot_id&gt;`. Times like `until 17:30` are in your "
    "Slack time zone; ISO 8601 times need an offset, like `2026-11-22T17:30+01:00`."
)


def render_slot_usage(why: Text | str | None = None) -> SlackMessage:
    """The usage, after why the command could not be used (a `str` is lockbot's own words)."""
    return section_message(compose(why, "\n", SLOT_USAGE) if why is not None else compose(SLOT_USAGE))


def render_bad_slot_command(bad: BadSlotCommand) -> SlackMessage:
    """What in a `/slot lock` could not be read, then the usage."""
    if bad.fault is SlotCommandFault.NOT_A_SLOT_ID:
        why = compose("“", echo(bad.value), "” is not a slot id")
    else:
        why = compose("Cannot lock until then: ", value(bad.value, 300))
    return render_slot_usage(why)


def render_slot_parent(view: SlotView) -> SlackMessage:
    """The channel message of a slot lock: what was asked, then how it ended."""
    sentence, requested = slot_outcome(view), compose("Requested by ", mention(view.requested_by))
    return SlackMessage(
        text=compose(sentence, " (", requested, ")").plain(),
        blocks=[section(compose(f"{slot_icon(view)} ", sentence)), context(requested)],
    )


def render_slot_status(view: SlotView) -> SlackMessage:
    """The status message in a slot lock's thread, edited as the lock resolves."""
    label, sentence = slot_status(view)
    return SlackMessage(
        text=compose(f"{label}: ", sentence).plain(),
        blocks=[section(compose(f"{slot_icon(view)} *{label}:* ", sentence))],
    )


def _without_emoji(text: str) -> str:
    return re.sub(r"^:[a-z_]+: ", "", text)


def render_slot_status_reply(status: SlotStatus) -> SlackMessage:
    """`/slot status`: whether the slot is locked, until when and by whom, and what Overbooked says of it."""
    slot = status.slot
    name = code(slot.id, plain_ticks=False)
    if slot.locked_at(status.now) and slot.locked_until is not None:
        holder = (
            compose(" by ", mention(status.ours.locked_by), " (through lockbot)")
            if status.ours
            else compose(" (not by lockbot)")
        )
        first = compose(":lock: Slot ", name, " is locked until ", date(slot.locked_until), holder, ".")
    else:
        first = compose(":unlock: Slot ", name, " is not locked.")
    facts: list[Text] = []
    if slot.start_date and slot.end_date:
        facts.append(compose(date(slot.start_date), " to ", date(slot.end_date)))
    if slot.status:
        facts.append(compose("status ", value(slot.status, NAME_LIMIT)))
    if slot.available is not None:
        facts.append(compose("available for booking" if slot.available else "not available for booking"))
    if not slot.lockable:
        facts.append(compose("not lockable"))
    lines = [first] + ([join(" · ", facts)] if facts else [])
    return SlackMessage(
        text=" ".join(_without_emoji(line.plain()) for line in lines),
        blocks=[section(lines[0]), *(context(line) for line in lines[1:])],
    )


def render_slot_unlocked(unlocked: SlotUnlocked, by: str) -> SlackMessage:
    """`/slot unlock` worked: whose lock it undid."""
    whose = compose("your") if unlocked.locked_by == by else compose(mention(unlocked.locked_by), "'s")
    return section_message(compose("Unlocked ", whose, " lock on slot ", code(unlocked.slot_id), "."))


def render_slot_ran_out(slot_id: str, at: datetime) -> SlackMessage:
    """lockbot's lock on a slot already ran out: when, in each reader's own time zone."""
    return section_message(
        compose(
            "The lock on slot ", code(slot_id), " already ran out at ", date(at), ", so there is nothing to unlock."
        )
    )
