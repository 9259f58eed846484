"""Listeners for a timed unlock's buttons, wherever they are shown (its thread, App Home):
acknowledge, hand the press to the service, answer the presser."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.slack.commands import answer, answering_errors
from bot.slack.messages.relocks import EXTEND, LOCK_NOW, render_timed_unlock_reply
from bot.timed_unlocks import TimedUnlockChange, TimedUnlocks

__all__ = ["TimedUnlockButtons"]


class TimedUnlockButtons:
    """`relock_now` and `unlock_extend`, keyed by action id only. Only the value (an unlock id) is trusted."""

    def __init__(self, timed_unlocks: TimedUnlocks) -> None:
        self._timed_unlocks = timed_unlocks

    def register(self, app: AsyncApp) -> None:
        app.action(LOCK_NOW)(answering_errors(self.lock_now))
        app.action(EXTEND)(answering_errors(self.extend))

    async def lock_now(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        change = await self._timed_unlocks.lock_now(str(action.get("value") or ""), str(body["user"]["id"]))
        await _tell(respond, change)

    async def extend(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        change = await self._timed_unlocks.extend(str(action.get("value") or ""), str(body["user"]["id"]))
        await _tell(respond, change)


async def _tell(respond: AsyncRespond, change: TimedUnlockChange) -> None:
    reply = render_timed_unlock_reply(change)
    if reply is not None:
        await answer(respond, reply, replace_original=False)
