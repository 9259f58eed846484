"""Listeners for the buttons on unlock requests: acknowledge, decide, tell the clicker."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.commands import answer_press, answering_errors, submitted_text
from bot.slack.messages.requests import (
    APPROVE,
    CANCEL,
    DENY,
    DENY_REASON,
    DENY_REASON_INPUT,
    refusal_plain,
    render_decision_reply,
    render_deny_reason_modal,
)
from bot.unlock_requests import Decided, Decision, UnlockRequests

__all__ = ["RequestButtons"]

log = logging.getLogger(__name__)


class RequestButtons:
    """`unlock_approve`, `unlock_deny` and `unlock_cancel`. Only the button's value (a request id) is trusted."""

    def __init__(self, requests: UnlockRequests, *, decided: Callable[[], Awaitable[None]] | None = None) -> None:
        self._requests = requests
        self._decided = decided  # told after each decision a click made (App Home shows pending requests)

    def register(self, app: AsyncApp) -> None:
        app.action(APPROVE)(answering_errors(self.approve))
        app.action(DENY)(answering_errors(self.deny))
        app.action(CANCEL)(answering_errors(self.cancel))
        app.action(DENY_REASON)(answering_errors(self.offer_reason))
        app.view(DENY_REASON)(self.give_reason)

    async def offer_reason(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> None:
        await ack()
        try:
            await client.views_open(
                trigger_id=body["trigger_id"], view=render_deny_reason_modal(str(action.get("value") or ""))
            )
        except SlackClientError as exc:
            log.warning("could not open the reason dialog: %s", exc)

    async def give_reason(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        denier = str(body["user"]["id"])
        request_id = str(view.get("private_metadata") or "")
        reason = submitted_text(view, DENY_REASON_INPUT)
        if not reason:
            await ack(response_action="errors", errors={DENY_REASON_INPUT: "Write a reason, or close the dialog."})
            return
        refused = await self._requests.may_explain_denial(request_id, denier)
        if refused is not None:
            await ack(response_action="errors", errors={DENY_REASON_INPUT: refusal_plain(refused)})
            return
        await ack()
        try:
            await self._requests.explain_denial(request_id, denier, reason)
        except Exception:
            log.exception("adding the reason to request %s failed", request_id)

    async def approve(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await self._decide(ack, body, action, respond, client, Decision.APPROVE)

    async def deny(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await self._decide(ack, body, action, respond, client, Decision.DENY)

    async def cancel(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await self._decide(ack, body, action, respond, client, Decision.CANCEL)

    async def _decide(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        decision: Decision,
    ) -> None:
        await ack()
        clicker = str(body["user"]["id"])
        container = body.get("container") or {}
        channel, message_ts = container.get("channel_id"), container.get("message_ts")
        clicked_in = (str(channel), str(message_ts)) if channel and message_ts else None
        result = await self._requests.decide(str(action.get("value") or ""), clicker, decision, clicked_in=clicked_in)
        if isinstance(result, Decided) and self._decided is not None:
            await self._decided()
        reply = render_decision_reply(result, clicker)
        await answer_press(body, respond, client, clicker, reply)
