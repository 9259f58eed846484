"""The /slot listener: acknowledge, parse, hand to the slot service, render."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.replies import Problem
from bot.slack.commands import answer, answering_errors
from bot.slack.messages.replies import render_notice, render_problem
from bot.slack.messages.slots import (
    render_bad_slot_command,
    render_slot_ran_out,
    render_slot_status_reply,
    render_slot_unlocked,
    render_slot_usage,
)
from bot.slack.text import ECHO_LIMIT, compose, value
from bot.slots import BadSlotCommand, SlotLocked, SlotRanOut, SlotService, SlotStatus, SlotUnlocked

__all__ = ["SlotCommands"]

_SLOTS_NOT_CONFIGURED = render_notice(
    "Slots are not configured: lockbot has no Overbooked API key (OVERBOOKED_API_KEY). Ask the person who runs lockbot."
)
_HELP = ("", "help", "-h", "--help", "?")


class SlotCommands:
    COMMANDS = ("/slot",)

    def __init__(self, service: SlotService | None) -> None:
        self._service = service

    def register(self, app: AsyncApp) -> None:
        app.command("/slot")(answering_errors(self.slot))

    async def slot(self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        words = str(command.get("text") or "").split(maxsplit=2)
        verb = words[0].casefold() if words else ""
        arity_ok = (verb == "lock" and len(words) == 3) or (verb in ("unlock", "status") and len(words) == 2)
        if verb in _HELP or not arity_ok:
            why = None
            if verb not in ("lock", "unlock", "status", *_HELP):
                why = compose("“", value(verb, ECHO_LIMIT), "” is not a /slot command.")
            elif verb not in _HELP:
                why = compose("Say which slot and until when." if verb == "lock" else f"Say which one slot to {verb}.")
            await ack(**render_slot_usage(why).as_kwargs())
            return
        await ack()
        if self._service is None:
            await answer(respond, _SLOTS_NOT_CONFIGURED)
            return
        user, slot_id = command["user_id"], words[1]
        if verb == "lock":
            result: Any = await self._service.lock(user, command["channel_id"], slot_id, words[2])
        elif verb == "unlock":
            result = await self._service.unlock(user, slot_id)
        else:
            result = await self._service.status(slot_id)
        if isinstance(result, SlotLocked):
            return  # the action's own messages say everything
        if isinstance(result, BadSlotCommand):
            message = render_bad_slot_command(result)
        elif isinstance(result, SlotUnlocked):
            message = render_slot_unlocked(result, user)
        elif isinstance(result, SlotRanOut):
            message = render_slot_ran_out(result.slot_id, result.at)
        elif isinstance(result, SlotStatus):
            message = render_slot_status_reply(result)
        else:
            assert isinstance(result, Problem)
            message = render_problem(result)
        await answer(respond, message)
