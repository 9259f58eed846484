"""Listener for the `door_lock` button (on door notices, alerts and App Home): acknowledge, lock, answer.

Only the button's value (a Seam device id) is trusted; the presser is checked again by the service.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.door_service import DoorService
from bot.slack.commands import answer_press, answering_errors, render_command_result
from bot.slack.messages.notices import DOOR_LOCK

__all__ = ["DoorButtons", "pressed_in"]

log = logging.getLogger(__name__)


def pressed_in(body: dict[str, Any]) -> str | None:
    """The channel of the message the button was on; None for a button in a view (App Home)."""
    if body.get("view") is not None and body.get("channel") is None:
        return None
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    return str(channel) if channel else None


class DoorButtons:
    """`door_lock`: lock the door whose device id the button carries, as `/lock` does."""

    def __init__(self, service: DoorService) -> None:
        self._service = service

    def register(self, app: AsyncApp) -> None:
        app.action(DOOR_LOCK)(answering_errors(self.lock))

    async def lock(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> None:
        await ack()
        presser = str(body["user"]["id"])
        channel = pressed_in(body)
        # A message to the presser's user id goes to their DM with lockbot (Slack answers with its D… id).
        result = await self._service.lock_pressed(presser, str(action.get("value") or ""), channel, presser)
        reply = render_command_result(result)
        if reply is None:
            return  # the action's own messages say everything
        await answer_press(body, respond, client, presser, reply)
