"""Slack for the console: a Web API and response URLs on 127.0.0.1 that print what lockbot posts.

lockbot's own Slack client (`bot.app`) talks to it as it talks to Slack, so the console runs the
whole Slack edge. Messages are kept so an edit can be shown as one and so their buttons can be
numbered and pressed.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from bot.console.render import Button, button_of, message_lines, readable

__all__ = ["CONSOLE_CHANNEL", "Pressable", "SlackStandIn"]

log = logging.getLogger(__name__)

CONSOLE_CHANNEL = "C0CONSOLE"

_PARENT_SHOWN = 40


@dataclass
class _Message:
    channel: str
    ts: str
    thread_ts: str | None
    lines: list[str]
    blocks: list[Any]
    text: str
    ephemeral: bool = False


@dataclass(frozen=True)
class Pressable:
    """A numbered button on a shown message: what a click on it sends."""

    channel: str
    message_ts: str
    ephemeral: bool
    block_id: str
    action_id: str
    value: str
    label: str


@dataclass
class SlackStandIn:
    """The Web API methods lockbot calls, answered as Slack answers them, and response URLs."""

    admins: frozenset[str]
    zone: tzinfo
    zone_name: str
    out: Callable[[str], None]
    port: int = 0
    last_call: float = 0.0
    _messages: dict[tuple[str, str], _Message] = field(default_factory=dict)
    _numbers: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    _pressable: dict[int, Pressable] = field(default_factory=dict)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    dialog: dict[str, Any] | None = None  # the open modal, which the next typed line answers
    _dm_users: dict[str, str] = field(default_factory=dict)
    _last_ts: float = 0.0
    _last_parent: str | None = None
    _runner: web.AppRunner | None = None

    async def start(self) -> SlackStandIn:
        application = web.Application()
        application.router.add_post("/api/{method}", self._api)
        application.router.add_get("/api/{method}", self._api)
        application.router.add_post("/respond/{response_id}", self._respond)
        self._runner = web.AppRunner(application, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1])
        return self

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, response_id: str) -> str:
        return f"http://127.0.0.1:{self.port}/respond/{response_id}"

    def pressable(self, number: int) -> Pressable | None:
        return self._pressable.get(number)

    def show_ephemeral(self, payload: Mapping[str, Any]) -> None:
        """An answer only the typist sees (an ack's message, a response_url reply)."""
        self._show_new(CONSOLE_CHANNEL, self._ts(), None, payload, ephemeral=True)

    # -- the Web API -------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        self.last_call = time.monotonic()
        method = request.match_info["method"]
        params = await _params(request)
        handler: Callable[[dict[str, Any]], dict[str, Any]] | None = {
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "users.info": self._users_info,
            "usergroups.users.list": lambda params: {"users": []},
            "conversations.open": lambda params: {"channel": {"id": self._dm_channel(str(params.get("users") or ""))}},
            "views.open": self._view,
            "views.publish": self._view,
            "auth.test": lambda params: {"user_id": "U0LOCKBOT", "team_id": "T0CONSOLE", "bot_id": "B0LOCKBOT"},
        }.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        answer = handler(params)
        if "error" in answer:
            return web.json_response({"ok": False, **answer})
        return web.json_response({"ok": True, **answer})

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        if not channel:
            return {"error": "channel_not_found"}
        if channel.startswith(("U", "W")):
            channel = self._dm_channel(channel)
        thread_ts = str(params["thread_ts"]) if params.get("thread_ts") else None
        ts = self._ts()
        message = self._show_new(channel, ts, thread_ts, params)
        return {"channel": channel, "ts": ts, "message": {"text": message.text, "ts": ts}}

    def _post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or CONSOLE_CHANNEL)
        self._show_new(channel, self._ts(), None, params, ephemeral=True)
        return {"message_ts": self._ts()}

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(params.get("channel") or ""), str(params.get("ts") or "")
        message = self._messages.get((channel, ts))
        if message is None:
            return {"error": "message_not_found"}
        self._replace(message, params)
        return {"channel": channel, "ts": ts, "text": message.text}

    def _delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(params.get("channel") or ""), str(params.get("ts") or "")
        message = self._messages.pop((channel, ts), None)
        if message is None:
            return {"error": "message_not_found"}
        self._forget_buttons(channel, ts)
        self.out(f"{self._where(message)}(message deleted)")
        return {"channel": channel, "ts": ts}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user") or "")
        if not user:
            return {"error": "user_not_found"}
        is_admin = user in self.admins
        return {
            "user": {"id": user, "name": user.lower(), "is_admin": is_admin, "is_owner": False, "tz": self.zone_name}
        }

    def _view(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not isinstance(view, dict):
            return {"error": "invalid_arguments"}
        title = _plain_text(view.get("title"))
        inputs = [
            block for block in view.get("blocks") or [] if isinstance(block, dict) and block.get("type") == "input"
        ]
        if not inputs:
            self.out(f"[dialog] {title}")
            return {"view": {"id": "V0CONSOLE"}}
        self.dialog = view
        question = _plain_text(inputs[0].get("label"))
        self.out(f"[dialog] {title}: {question} Type the answer on one line (an empty line closes the dialog).")
        return {"view": {"id": "V0CONSOLE"}}

    # -- response URLs -----------------------------------------------------------------------------

    async def _respond(self, request: web.Request) -> web.Response:
        self.last_call = time.monotonic()
        try:
            payload = await request.json()
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(payload, dict):
            return web.Response(status=400, text="invalid_payload")
        self.show_ephemeral(payload)
        return web.Response(text="ok")

    # -- showing -----------------------------------------------------------------------------------

    def _ts(self) -> str:
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    def _show_new(
        self, channel: str, ts: str, thread_ts: str | None, params: Mapping[str, Any], *, ephemeral: bool = False
    ) -> _Message:
        message = _Message(channel, ts, thread_ts, [], [], "", ephemeral)
        self._fill(message, params)
        self._messages[(channel, ts)] = message
        if thread_ts is None and not ephemeral:
            self._last_parent = ts
        self._print(message, edited=False)
        return message

    def _replace(self, message: _Message, params: Mapping[str, Any]) -> None:
        self._forget_buttons(message.channel, message.ts)
        self._fill(message, params)
        self._print(message, edited=True)

    def _fill(self, message: _Message, params: Mapping[str, Any]) -> None:
        blocks = params.get("blocks") or []
        message.blocks = blocks if isinstance(blocks, list) else []
        message.text = str(params.get("text") or "")

        def number(button: Button) -> int | None:
            return self._number(message, button)

        message.lines = message_lines(
            message.text,
            message.blocks,
            zone=self.zone,
            number=number,
            channel_names={CONSOLE_CHANNEL: "console"},
        )

    def _number(self, message: _Message, button: Button) -> int:
        action_id, value = str(button.get("action_id") or ""), str(button.get("value") or "")
        key = (message.channel, message.ts, action_id, value)
        number = self._numbers.get(key)
        if number is None:
            number = self._numbers[key] = next(self._counter)
        block_id = next(
            (
                str(block.get("block_id") or "")
                for block in message.blocks
                if isinstance(block, Mapping) and any(button_of(e) is button for e in block.get("elements") or [])
            ),
            "",
        )
        label = str((button.get("text") or {}).get("text") or "")
        self._pressable[number] = Pressable(
            message.channel, message.ts, message.ephemeral, block_id, action_id, value, label
        )
        return number

    def _forget_buttons(self, channel: str, ts: str) -> None:
        for key, number in list(self._numbers.items()):
            if key[:2] == (channel, ts):
                self._pressable.pop(number, None)

    def _where(self, message: _Message) -> str:
        if message.thread_ts is not None:
            if message.thread_ts == self._last_parent:
                return "  ↳ thread: "
            parent = self._messages.get((message.channel, message.thread_ts))
            first = parent.lines[0] if parent is not None and parent.lines else ""
            if len(first) > _PARENT_SHOWN:
                first = first[: _PARENT_SHOWN - 1] + "…"
            return f"  ↳ thread of “{first}”: "
        if message.ephemeral:
            return f"[{self._channel_label(message.channel)}, only you] lockbot: "
        return f"[{self._channel_label(message.channel)}] lockbot: "

    def _dm_channel(self, user: str) -> str:
        """The direct message channel with a user (`D…`), as conversations.open gives it."""
        channel = "D" + user[1:] if user else "D0CONSOLE"
        self._dm_users[channel] = user
        return channel

    def _channel_label(self, channel: str) -> str:
        if channel == CONSOLE_CHANNEL:
            return "#console"
        if channel in self._dm_users:
            return f"DM to @{self._dm_users[channel]}"
        return f"#{channel}"

    def _print(self, message: _Message, *, edited: bool) -> None:
        where = self._where(message)
        lines = message.lines or [""]
        indent = " " * (4 if message.thread_ts is None else 6)
        suffix = " (edited)" if edited else ""
        self.out(f"{where}{lines[0]}{suffix}")
        for line in lines[1:]:
            self.out(f"{indent}{line}")


def _plain_text(obj: Any) -> str:
    return readable(str(obj.get("text") or ""), zone=UTC) if isinstance(obj, Mapping) else ""


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    body = await request.read()
    if body:
        if request.content_type == "application/json":
            loaded = json.loads(body)
            if isinstance(loaded, dict):
                params.update(loaded)
        else:
            params.update(parse_qsl(body.decode()))
    for key in ("blocks", "attachments"):
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params
