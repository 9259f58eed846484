"""App Home: one person's page of doors, the requests they decide, their timed unlocks and slot locks;
the modal asking how long (and why) for an unlock started there, and the modal that answers a press
on Home (there is no channel there for an ephemeral answer)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ConfirmObject,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    PlainTextInputElement,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bot.door_service import AskHowLong
from bot.durations import spoken_duration
from bot.homes import HomeDoor, HomePage
from bot.model import Relock, SlotLock, UnlockRequest
from bot.slack.messages.notices import door_lock_button
from bot.slack.messages.primitives import (
    SECTION_LIMIT,
    Block,
    SlackMessage,
    actions,
    button,
    context,
    section,
    section_message,
)
from bot.slack.messages.replies import render_problem
from bot.slack.messages.requests import decision_buttons, fitted_confirm
from bot.slack.text import Text, bold, clock_time, code, compose, date, join, mention, value

__all__ = [
    "DOOR_REQUEST",
    "DOOR_UNLOCK",
    "HOME_BLOCK_LIMIT",
    "HOME_UNLOCK",
    "HOME_UNLOCK_DURATION",
    "HOME_UNLOCK_REASON",
    "RELOCK_NOW",
    "UNLOCK_EXTEND",
    "render_home",
    "render_home_answer",
    "render_home_asking",
    "render_home_unlock_modal",
]

# The buttons on Home (values: a device id, or for a timed unlock its unlock action's id).
DOOR_UNLOCK, DOOR_REQUEST = "door_unlock", "door_request"
RELOCK_NOW, UNLOCK_EXTEND = "relock_now", "unlock_extend"
# The unlock modal's callback id, and its inputs (each block and its element share the id).
HOME_UNLOCK = "door_unlock_modal"
HOME_UNLOCK_DURATION, HOME_UNLOCK_REASON = "duration", "reason"

# Slack's limit of blocks in a Home view (a message has 50).
HOME_BLOCK_LIMIT = 100
# At most this many of a person's timed unlocks and requests to decide, each two blocks; doors get the rest.
_SHOWN_UNLOCKS = 5
_SHOWN_REQUESTS = 10
_SHOWN_SLOT_LOCKS = 20
_MODAL_TITLE = 24  # Slack's limit for a modal's title
_BUTTON_VALUE_LIMIT = 2000


def _more(count: int, how: str) -> Block:
    return context(compose(f"…and {count} more. {how}"))


def _door_state(door: HomeDoor) -> Text:
    lock = door.lock
    if lock.locked is False and door.unlocked_until is not None:
        state = compose("unlocked until ", clock_time(door.unlocked_until))
    else:
        state = compose({True: "locked", False: "unlocked", None: "lock state unknown"}[lock.locked])
    parts = [state, compose({True: "online", False: "offline", None: "connection unknown"}[lock.online])]
    if lock.battery_level is not None:
        level = max(0, min(100, round(lock.battery_level * 100)))
        parts.append(compose(f"battery {level}%" + (" :warning:" if level < 20 else "")))
    return join(" · ", parts)


def _door_icon(door: HomeDoor) -> str:
    return {True: ":lock:", False: ":unlock:", None: ":grey_question:"}[door.lock.locked]


def _unlock_confirm(door: HomeDoor, viewer: str) -> ConfirmObject:
    """Home's unlock: the door, and who it is unlocked for (the person pressing)."""
    name = door.lock.name
    how_long = (
        f" It locks again after {spoken_duration(door.relock_after)}."
        if door.relock_after is not None
        else " You'll say for how long next."
    )
    return fitted_confirm(
        lambda room: compose("Unlock ", value(name, room), "?"),
        lambda room: compose("Unlock ", bold(name, room), " for you (", mention(viewer), ") now?", how_long),
        "Unlock",
        "Cancel",
    )


def _request_confirm(door: HomeDoor, viewer: str) -> ConfirmObject:
    """Home's Ask to unlock: the door, and who asks (the person pressing)."""
    name = door.lock.name
    return fitted_confirm(
        lambda room: compose("Ask to unlock ", value(name, room), "?"),
        lambda room: compose(
            "Ask to unlock ", bold(name, room), " for you (", mention(viewer), ")? Its approvers will be asked."
        ),
        "Ask",
        "Cancel",
    )


def _carried(button_value: str) -> bool:
    """Whether a button can carry this id (Slack takes 2000 characters); a longer one gets no buttons."""
    return len(button_value) <= _BUTTON_VALUE_LIMIT


def _door_blocks(door: HomeDoor, index: int, viewer: str) -> list[Block]:
    device_id = door.lock.device_id
    lock = door_lock_button(device_id, "Lock")
    if door.may_unlock:
        other = button(DOOR_UNLOCK, "Unlock", device_id, "primary", confirm=_unlock_confirm(door, viewer))
    else:
        other = button(DOOR_REQUEST, "Ask to unlock", device_id, confirm=_request_confirm(door, viewer))
    line = compose(f"{_door_icon(door)} ", bold(door.lock.name), " — ", _door_state(door))
    if not _carried(device_id):
        return [section(line)]
    return [section(line), actions(f"door_{index}", lock, other)]


def _timed_unlock_blocks(relock: Relock, index: int) -> list[Block]:
    line = compose(
        ":hourglass_flowing_sand: ", bold(relock.door), " — unlocked by you until ", clock_time(relock.due_at)
    )
    if not _carried(relock.unlock_id):
        return [section(line)]
    buttons = [button(RELOCK_NOW, "Lock now", relock.unlock_id), button(UNLOCK_EXTEND, "+15 min", relock.unlock_id)]
    return [section(line), actions(f"timed_unlock_{index}", *buttons)]


def _request_blocks(request: UnlockRequest, index: int) -> list[Block]:
    ask = compose(":key: ", mention(request.requester), " asks to unlock ", bold(request.door))
    if request.unlock_for is not None:
        ask = ask + compose(f" for {spoken_duration(request.unlock_for)}")
    if request.reason:
        ask = ask + compose("\nReason: ", value(request.reason, 500))
    ask = ask + compose("\nExpires ", date(request.expires_at))
    if not _carried(request.id):
        return [section(ask)]
    return [section(ask), actions(f"request_{index}", *decision_buttons(request))]


def _slot_line(lock: SlotLock) -> Text:
    return compose(":calendar: slot ", code(lock.slot_id), " locked until ", date(lock.locked_until))


def _listed(items: Sequence[Any], shown: int) -> tuple[Sequence[Any], int]:
    return items[:shown], max(0, len(items) - shown)


def render_home(page: HomePage) -> dict[str, Any]:
    """The person's Home view: within Slack's 100 blocks, the busiest doors first and the rest counted."""
    blocks: list[Block] = []
    if page.timed_unlocks:
        blocks.append(section(compose("*Your timed unlocks*")))
        shown, more = _listed(page.timed_unlocks, _SHOWN_UNLOCKS)
        for index, relock in enumerate(shown):
            blocks += _timed_unlock_blocks(relock, index)
        if more:
            blocks.append(_more(more, "Each is locked again on time, or with Lock now in its thread."))
    if page.to_decide:
        blocks.append(section(compose(f"*Requests waiting for a decision* ({len(page.to_decide)})")))
        shown, more = _listed(page.to_decide, _SHOWN_REQUESTS)
        for index, request in enumerate(shown):
            blocks += _request_blocks(request, index)
        if more:
            blocks.append(_more(more, "Each is in its approval channel, with the same buttons."))
    if page.slot_locks:
        shown, more = _listed(page.slot_locks, _SHOWN_SLOT_LOCKS)
        lines = [compose("*Your slot locks*"), *(_slot_line(lock) for lock in shown)]
        if more:
            lines.append(compose(f"…and {more} more. `/slot status &lt;slot_id&gt;` shows one."))
        blocks.append(section(_within_section(lines)))
    if blocks:
        blocks.append(DividerBlock().to_dict())
    blocks.append(HeaderBlock(text=PlainTextObject(text="Doors")).to_dict())
    if page.problem is not None:
        blocks += render_problem(page.problem).blocks
    elif not page.doors:
        blocks.append(section(compose("Seam lists no doors for lockbot.")))
    else:
        room = (HOME_BLOCK_LIMIT - len(blocks) - 1) // 2  # two blocks a door, one for "and N more"
        shown, more = _listed(page.doors, room)
        for index, door in enumerate(shown):
            blocks += _door_blocks(door, index, page.user_id)
        if more:
            blocks.append(_more(more, "Type `/doors &lt;prefix&gt;` to find one by the start of its name."))
    return View(type="home", blocks=blocks[:HOME_BLOCK_LIMIT]).to_dict()


def _within_section(lines: Sequence[Text]) -> Text:
    """The lines that fit in one section, the rest dropped (their count is said by the caller's list)."""
    kept: list[Text] = []
    for line in lines:
        if len(join("\n", [*kept, line])) > SECTION_LIMIT - 100:
            break
        kept.append(line)
    return join("\n", kept)


def render_home_unlock_modal(ask: AskHowLong) -> dict[str, Any]:
    """How long (and, for a request, why): an unlock started on Home. Only the device id travels in it."""
    door = bold(ask.lock.name)
    default = spoken_duration(ask.relock_after) if ask.relock_after is not None else None
    if ask.direct:
        intro = compose("Unlock ", door, ": it is locked again when the time you give runs out.")
        hint = "30s, 10m, 1h30m or until 17:30" + (f". Blank: {default}." if default else "")
    else:
        intro = compose(
            "You may not unlock ", door, " directly: its approvers are asked, and you get a message when they decide."
        )
        hint = f"30s, 10m, 1h30m or until 17:30. Blank: {default or 'until someone locks it'}."
    duration = InputBlock(
        block_id=HOME_UNLOCK_DURATION,
        label=PlainTextObject(text="For how long"),
        element=PlainTextInputElement(action_id=HOME_UNLOCK_DURATION, max_length=40),
        hint=PlainTextObject(text=hint),
        optional=not ask.direct or default is not None,
    )
    reason = InputBlock(
        block_id=HOME_UNLOCK_REASON,
        label=PlainTextObject(text="Reason"),
        element=PlainTextInputElement(action_id=HOME_UNLOCK_REASON, max_length=500),
        optional=not ask.reason_required,
    )
    title = "Unlock a door" if ask.direct else "Ask to unlock"
    return View(
        type="modal",
        callback_id=HOME_UNLOCK,
        private_metadata=ask.lock.device_id,
        title=PlainTextObject(text=title[:_MODAL_TITLE]),
        submit=PlainTextObject(text="Unlock" if ask.direct else "Ask"),
        close=PlainTextObject(text="Cancel"),
        blocks=[section(intro), duration, reason],
    ).to_dict()


def render_home_answer(answer: SlackMessage) -> dict[str, Any]:
    """What lockbot would have said ephemerally to a press on Home (a refusal, a request filed), in a
    small modal: Home has no channel for an ephemeral answer, and a modal answers where the person looks."""
    return View(
        type="modal",
        title=PlainTextObject(text="lockbot"),
        close=PlainTextObject(text="OK"),
        blocks=answer.blocks or [section(value(answer.text))],
    ).to_dict()


def render_home_asking(door: str) -> SlackMessage:
    """The answer to a request submitted on Home, while it is being filed (the filing answers by DM)."""
    return section_message(
        compose(
            "Asking the approvers of ",
            bold(door),
            " to unlock it. I'll message you once they have been asked, and again when it is decided.",
        )
    )
