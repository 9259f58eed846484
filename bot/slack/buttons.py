"""Listeners for the buttons on unlock requests: acknowledge, decide, tell the clicker."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.slack.blocks import APPROVE, CANCEL, DENY, render_decision_reply
from bot.slack.commands import answering_errors
from bot.unlock_requests import Decision, UnlockRequests

__all__ = ["RequestButtons"]


class RequestButtons:
    """`unlock_approve`, `unlock_deny` and `unlock_cancel`. Only the button's value (a request id) is trusted."""

    def __init__(self, requests: UnlockRequests) -> None:
        self._requests = requests

    def register(self, app: AsyncApp) -> None:
        app.action(APPROVE)(answering_errors(self.approve))
        app.action(DENY)(answering_errors(self.deny))
        app.action(CANCEL)(answering_errors(self.cancel))

    async def approve(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await self._decide(ack, body, action, respond, Decision.APPROVE)

    async def deny(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await self._decide(ack, body, action, respond, Decision.DENY)

    async def cancel(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await self._decide(ack, body, action, respond, Decision.CANCEL)

    async def _decide(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        decision: Decision,
    ) -> None:
        await ack()
        clicker = str(body["user"]["id"])
        result = await self._requests.decide(str(action.get("value") or ""), clicker, decision)
        reply = render_decision_reply(result, clicker)
        await respond(response_type="ephemeral", replace_original=False, **reply.as_kwargs())
