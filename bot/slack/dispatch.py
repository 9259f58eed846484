"""bolt's app, measured where every Slack request passes: counted, timed to its acknowledgement, and
logged with the unlock request a button is about.

bolt's global middleware cannot time an acknowledgement: its `next()` only marks the chain to go
on, and the listener runs after the whole chain has returned. `async_dispatch` returns once the
listener has acknowledged (the work after `ack()` goes on in a task), in HTTP and Socket Mode alike.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Collection
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.logs import about_request
from bot.metrics import Metrics, SlackRequestKind

__all__ = ["RECEIVED_AT", "MeasuredBolt", "request_kind"]

RECEIVED_AT = "lockbot_received_at"
"""The context key under which the HTTP route puts when a request arrived (`time.monotonic()`), so
the time to acknowledge includes checking its signature and that it is no replay."""

# The buttons whose value is an unlock request's id.
_REQUEST_BUTTONS = frozenset({"unlock_approve", "unlock_deny", "unlock_cancel"})
_EVENT_TYPES = frozenset({"event_callback", "url_verification", "app_rate_limited"})


def request_kind(body: dict[str, Any]) -> str:
    if "command" in body:
        return SlackRequestKind.COMMAND
    if body.get("type") in _EVENT_TYPES:
        return SlackRequestKind.EVENT
    return SlackRequestKind.INTERACTION


def _request_id_of(body: dict[str, Any]) -> str | None:
    actions = body.get("actions")
    if body.get("type") != "block_actions" or not isinstance(actions, list) or not actions:
        return None
    button = actions[0]
    if not isinstance(button, dict) or button.get("action_id") not in _REQUEST_BUTTONS:
        return None
    value = button.get("value")
    return value if isinstance(value, str) else None


class MeasuredBolt(AsyncApp):
    """An `AsyncApp` whose every dispatched request is counted and timed in `metrics`."""

    def __init__(self, *, metrics: Metrics, commands: Collection[str], **options: Any) -> None:
        super().__init__(**options)
        self._metrics = metrics
        self._commands = frozenset(commands)
        metrics.known_commands(self._commands)

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        arrived = req.context.get(RECEIVED_AT)
        started = arrived if isinstance(arrived, float) else time.monotonic()
        body = req.body if isinstance(req.body, dict) else {}
        kind = request_kind(body)
        if kind == SlackRequestKind.COMMAND:
            command = str(body.get("command"))
            # Only lockbot's own commands are label values: Slack sends only those, but nothing grows unbounded.
            self._metrics.command(command if command in self._commands else "other")
        request_id = _request_id_of(body)
        # Set around the dispatch: the listener's task, started within, inherits it.
        with about_request(request_id) if request_id else contextlib.nullcontext():
            response = await super().async_dispatch(req)
        self._metrics.acknowledged(kind, time.monotonic() - started)
        return response
