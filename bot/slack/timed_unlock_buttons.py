"""Listeners for a timed unlock's buttons, wherever they are shown (its thread, App Home):
acknowledge, hand the press to the service, answer the presser."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.commands import answer_press, answering_errors
from bot.slack.messages.relocks import EXTEND, LOCK_NOW, render_timed_unlock_reply
from bot.timed_unlocks import Extended, LockingNow, TimedUnlockChange, TimedUnlocks

__all__ = ["TimedUnlockButtons"]

log = logging.getLogger(__name__)


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
        await ack()
        presser = str(body["user"]["id"])
        change = await self._timed_unlocks.lock_now(str(action.get("value") or ""), presser)
        if isinstance(change, LockingNow) and self._changed is not None:
            await self._changed()
        await _tell(body, respond, client, presser, change)

    async def extend(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        presser = str(body["user"]["id"])
        change = await self._timed_unlocks.extend(str(action.get("value") or ""), presser)
        if isinstance(change, Extended) and self._changed is not None:
            await self._changed()
        await _tell(body, respond, client, presser, change)


async def _tell(
    body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, presser: str, change: TimedUnlockChange
) -> None:
    """Ephemeral where the press came from; a press on App Home (no response_url) is answered by DM."""
    reply = render_timed_unlock_reply(change)
    if reply is None:
        return
    await answer_press(body, respond, client, presser, reply)
