"""Listeners for a timed unlock's buttons, wherever they are shown (its thread, App Home):
acknowledge, hand the press to the service, answer the presser."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.commands import answer_press, answering_errors
from bot.slack.messages.relocks import EXTEND, LOCK_NOW, render_timed_unlock_reply
from bot.timed_unlocks import Extended, LockingNow, TimedUnlockChange, TimedUnlocks

__all__ = ["TimedUnlockButtons"]


class TimedUnlockButtons:
    """`relock_now` and `unlock_extend`, keyed by action id only. Only the value (an unlock id) is trusted."""

    def __init__(self, timed_unlocks: TimedUnlocks, *, changed: Callable[[], Awaitable[None]] | None = None) -> None:
        self._timed_unlocks = timed_unlocks
        # Told after a press moved or ended an unlock (App Home shows "unlocked until"); an extension is
        # neither an action nor a Seam event, so nothing else would tell it.
        self._changed = changed

    def register(self, app: AsyncApp) -> None:
        app.action(LOCK_NOW)(answering_errors(self.lock_now))
        app.action(EXTEND)(answering_errors(self.extend))

    async def lock_now(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await self._press(self._timed_unlocks.lock_now, ack, body, action, respond, client)

    async def extend(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await self._press(self._timed_unlocks.extend, ack, body, action, respond, client)

    async def _press(
        self,
        change_unlock: Callable[[str, str], Awaitable[TimedUnlockChange]],
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        presser = str(body["user"]["id"])
        change = await change_unlock(str(action.get("value") or ""), presser)
        if isinstance(change, LockingNow | Extended) and self._changed is not None:
            await self._changed()
        reply = render_timed_unlock_reply(change)
        if reply is not None:  # None: the thread says it all
            await answer_press(body, respond, client, presser, reply)
