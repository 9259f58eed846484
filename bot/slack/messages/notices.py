"""What a door's notify channel is told: events at the door (from Seam), and the outcome of every
action lockbot took on it."""

from __future__ import annotations

from bot.model import ActionView
from bot.seam_events import DoorNotice
from bot.slack.messages.outcomes import action_icon, action_outcome
from bot.slack.messages.primitives import SlackMessage, context
from bot.slack.text import NAME_LIMIT, bold, code, compose, date, mention, value

__all__ = ["render_door_notice", "render_outcome_notice"]

_NOTICE_WORDS = {
    "lock.unlocked": (":unlock:", "unlocked"),
    "lock.locked": (":lock:", "locked"),
    "lock.access_denied": (":no_entry:", "access denied"),
    "device.disconnected": (":electric_plug:", "went offline"),
    "device.connected": (":white_check_mark:", "is back online"),
    "device.low_battery": (":battery:", "battery is low"),
}


def render_door_notice(notice: DoorNotice) -> SlackMessage:
    """One readable line: door, what happened (and how), when."""
    icon, what = _NOTICE_WORDS.get(notice.event_type, (":information_source:", ""))
    happened = compose(what) if what else value(notice.event_type, NAME_LIMIT)
    door = (
        bold(notice.door) if notice.known else compose("*a lock lockbot does not know (", code(notice.device_id), ")*")
    )
    how = compose(" (", value(notice.method, NAME_LIMIT), ")") if notice.method else compose()
    battery = f" ({notice.battery_level:.0%})" if notice.battery_level is not None else ""
    if notice.event_type == "lock.access_denied":
        sentence = compose("Access denied at ", door)
    else:
        sentence = compose(door, " ", happened, how, battery)
    return SlackMessage(
        text=compose(sentence, " at ", date(notice.at)).plain(),
        blocks=[context(compose(f"{icon} ", sentence, " · ", date(notice.at)))],
    )


def render_outcome_notice(view: ActionView, approved_by: str | None) -> SlackMessage:
    """An action's outcome, announced in the door's notify channel."""
    sentence = action_outcome(view)
    who = compose("asked by ", mention(view.requested_by))
    if approved_by:
        who = who + compose(", approved by ", mention(approved_by))
    return SlackMessage(
        text=compose(sentence, " (", who, ", through lockbot)").plain(),
        blocks=[context(compose(f"{action_icon(view)} ", sentence, " · ", who, ", through lockbot"))],
    )
