"""What a door's notify channel is told: events at the door (from Seam), the outcome of every
action lockbot took on it, and the alert for a door left unlocked (edited once it is locked).

An unlock notice and an alert carry a `door_lock` button whose value is the door's device id,
nothing else: the press is checked again when it arrives (`bot.slack.door_buttons`)."""

from __future__ import annotations

from datetime import timedelta

from slack_sdk.models.blocks import ButtonElement

from bot.durations import spoken_elapsed
from bot.model import ActionView, UnlockedAlert
from bot.seam_events import DoorNotice
from bot.slack.messages.outcomes import action_icon, action_outcome
from bot.slack.messages.primitives import SlackMessage, actions, button, context, section
from bot.slack.text import NAME_LIMIT, Text, bold, code, compose, date, mention, value

__all__ = [
    "DOOR_LOCK",
    "door_lock_button",
    "render_door_notice",
    "render_outcome_notice",
    "render_unlocked_alert",
    "render_unlocked_alert_locked",
]

DOOR_LOCK = "door_lock"
_LOCK_IT = "Lock it"
_DEVICE_ID_LIMIT = 128  # a longer id is no Seam device id: no button can carry it
_LOCK_HOW = {"keypad": "keypad", "manual": "manual", "automatic": "automatic"}

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
    blocks = [context(compose(f"{icon} ", sentence, " · ", date(notice.at)))]
    if notice.event_type == "lock.unlocked" and notice.known and 0 < len(notice.device_id) <= _DEVICE_ID_LIMIT:
        blocks.append(actions("door_notice", door_lock_button(notice.device_id)))
    return SlackMessage(text=compose(sentence, " at ", date(notice.at)).plain(), blocks=blocks)


def door_lock_button(device_id: str, label: str = _LOCK_IT) -> ButtonElement:
    """The `door_lock` button: it carries the door's device id and nothing else."""
    return button(DOOR_LOCK, label, device_id)


def render_unlocked_alert(alert: UnlockedAlert, unlocked_for: timedelta) -> SlackMessage:
    """ "Front Door has been unlocked for 30 min", with a button to lock it."""
    sentence = compose(
        bold(alert.door),
        f" has been unlocked for {spoken_elapsed(unlocked_for)} (since ",
        date(alert.unlocked_at),
        ")",
    )
    return SlackMessage(
        text=compose(":warning: ", sentence, ".").plain(),
        blocks=[
            section(compose(":warning: ", sentence, ".")),
            actions("door_unlocked_alert", door_lock_button(alert.device_id)),
        ],
    )


def _locked_how(alert: UnlockedAlert) -> Text:
    if alert.locked_by:
        return compose(" by ", mention(alert.locked_by))
    if alert.locked_how == "relock":
        return compose(" again by lockbot (its timed unlock ended)")
    how = _LOCK_HOW.get(alert.locked_how or "")
    if how is not None:
        return compose(f" at the door ({how})")
    return compose(" (Seam reported it)")


def render_unlocked_alert_locked(alert: UnlockedAlert) -> SlackMessage:
    """The alert once the door is locked: by whom (or how) and when; the button is gone."""
    locked_at = alert.locked_at or alert.unlocked_at
    sentence = compose(bold(alert.door), " was locked", _locked_how(alert), " at ", date(locked_at))
    since = compose("Unlocked since ", date(alert.unlocked_at), ".")
    return SlackMessage(
        text=compose(":lock: ", sentence, ". ", since).plain(),
        blocks=[section(compose(":lock: ", sentence, ".")), context(since)],
    )


def render_outcome_notice(view: ActionView, approved_by: str | None, lock_device_id: str | None = None) -> SlackMessage:
    """An action's outcome, announced in the door's notify channel; with `lock_device_id` (an unlock
    that may have worked), the door's Lock it button too, as the notice of any unlock has."""
    sentence = action_outcome(view)
    who = compose("asked by ", mention(view.requested_by))
    if approved_by:
        who = who + compose(", approved by ", mention(approved_by))
    blocks = [context(compose(f"{action_icon(view)} ", sentence, " · ", who, ", through lockbot"))]
    if lock_device_id is not None and 0 < len(lock_device_id) <= _DEVICE_ID_LIMIT:
        blocks.append(actions("door_notice", door_lock_button(lock_device_id)))
    return SlackMessage(text=compose(sentence, " (", who, ", through lockbot)").plain(), blocks=blocks)
