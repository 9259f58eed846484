"""A fake Slack Web API on 127.0.0.1 that behaves like Slack where lockbot depends on it.

It issues real-looking `ts` values, keeps threads, answers `message_not_found` for edits of
messages it does not have, checks the bot token, and can be told to fail a method (an error
code, or a 429 with Retry-After). It also serves `response_url`s and records what they receive.
Like Slack, it refuses a message over Slack's limits (`msg_too_long`, `invalid_blocks`), on the Web
API and at a response_url alike, so a test fails when lockbot would send one.
Every call is recorded; tests wait on a condition with a deadline (`wait_for`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from bot.slack.scopes import BOT_SCOPES
from tests.fakes.server import ThreadedServer

T = TypeVar("T")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    ok: bool = True
    error: str | None = None


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None
    user: str
    posted_at: float = 0.0
    history: list[str] = field(default_factory=list)  # the text as posted, then after each chat.update
    edited_at: list[float] = field(default_factory=list)


@dataclass
class Fault:
    method: str
    error: str | None = None
    status: int = 200
    retry_after: int | None = None
    times: int = 1
    after: int = 0  # calls of `method` that still succeed first
    applied: bool = False  # with a 5xx `status`: the call is carried out, and only its answer is lost
    direct_only: bool = False  # only calls to a user id or a DM channel (U…, W…, D…)
    where: Callable[[dict[str, Any]], bool] | None = None  # only calls whose parameters pass
    until: float | None = None  # a monotonic time: every call fails until then, however many

    def applies_to(self, method: str, params: dict[str, Any]) -> bool:
        if self.method != method:
            return False
        if self.until is not None:
            if time.monotonic() >= self.until:
                return False
        elif self.times <= 0:
            return False
        if self.direct_only and not str(params.get("channel") or "").startswith(("U", "W", "D")):
            return False
        return self.where is None or self.where(params)


# Slack's limits: a message's `text`, blocks in one message, the text of a section (or any text object).
TEXT_LIMIT = 4000
BLOCK_LIMIT = 50
SECTION_TEXT_LIMIT = 3000


def over_limit(message: dict[str, Any]) -> str | None:
    """Slack's error for a message over its limits (`msg_too_long`, `invalid_blocks`), or None."""
    if len(str(message.get("text") or "")) > TEXT_LIMIT:
        return "msg_too_long"
    blocks = message.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if len(blocks) > BLOCK_LIMIT:
        return "invalid_blocks"

    def texts(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["text"]] if node.get("type") in ("mrkdwn", "plain_text") and "text" in node else []
            return own + [t for key, item in node.items() if key != "text" or not own for t in texts(item)]
        if isinstance(node, list):
            return [t for item in node for t in texts(item)]
        return []

    if any(len(str(text)) > SECTION_TEXT_LIMIT for text in texts(blocks)):
        return "invalid_blocks"
    return None


VIEW_BLOCK_LIMIT = 100


def over_view_limit(view: dict[str, Any]) -> str | None:
    """Slack's error for a view (Home or modal) over its limits (100 blocks, 3000 a text), or None."""
    blocks = view.get("blocks") or []
    if len(blocks) > VIEW_BLOCK_LIMIT:
        return "invalid_arguments"
    return over_limit({"blocks": blocks[:BLOCK_LIMIT]}) or over_limit({"blocks": blocks[BLOCK_LIMIT:]})


@dataclass
class Response:
    """What a response_url received."""

    response_id: str
    body: dict[str, Any]
    at: float

    @property
    def text(self) -> str:
        return str(self.body.get("text", ""))


class FakeSlack(ThreadedServer):
    BOT_USER_ID = "UBOT0000001"
    TEAM_ID = "T0000TEST"
    name = "fake Slack"

    def __init__(self, bot_token: str, app_token: str = "xapp-1-A0000TEST-socket-token") -> None:
        super().__init__()
        self.bot_token = bot_token
        self.app_token = app_token
        # The scopes the bot token was granted: Slack names them in every answer's x-oauth-scopes header.
        self.scopes: set[str] = set(BOT_SCOPES)
        self.socket_clients: list[web.WebSocketResponse] = []
        self.socket_acks: list[dict[str, Any]] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.channels_without_bot: set[str] = set()
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, str], Message] = {}
        self.responses: list[Response] = []
        self.rejected: list[Response] = []  # response_url posts Slack refused (over its limits)
        self.views: list[dict[str, Any]] = []
        self.homes: dict[str, list[dict[str, Any]]] = {}  # user id -> each Home view published, oldest first
        self._faults: list[Fault] = []
        self._last_ts = 0.0
        self._changed = threading.Condition()

    # -- lifecycle ---------------------------------------------------------------------------

    async def application(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/response/{response_id}", self._response_url)
        app.router.add_get("/socket", self._socket)
        return app

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, response_id: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{response_id}"

    # -- test controls -----------------------------------------------------------------------

    def add_user(
        self, user_id: str, *, is_admin: bool = False, is_owner: bool = False, tz: str = "Europe/London"
    ) -> None:
        self.users[user_id] = {
            "id": user_id,
            "team_id": self.TEAM_ID,
            "name": user_id.lower(),
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": False,
            "is_bot": False,
            "tz": tz,
            "tz_offset": 0,
        }

    def fail(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
        after: int = 0,
        applied: bool = False,
        direct_only: bool = False,
        where: Callable[[dict[str, Any]], bool] | None = None,
        for_seconds: float | None = None,
    ) -> None:
        """After `after` more calls of `method`, the next `times` fail (or every one for `for_seconds`):
        with `error`, or with HTTP `status` (429: Retry-After; a 5xx with `applied`: after the call did what
        it does, as when Slack took it). Only the calls addressed to a user or a DM channel with
        `direct_only` (Slack refuses DMs with `messages_tab_disabled` while the app's Messages tab is off);
        only those whose parameters pass `where`, with it. `response_url`: the next posts to a
        response_url are refused (`status`, `error`)."""
        until = time.monotonic() + for_seconds if for_seconds is not None else None
        with self._changed:
            self._faults.append(
                Fault(method, error, status, retry_after, times, after, applied, direct_only, where, until)
            )

    def is_parent(self, params: dict[str, Any]) -> bool:
        """Whether a call's `channel` and `ts` name a channel-level message (not a reply): for `where`."""
        message = self.messages.get((str(params.get("channel") or ""), str(params.get("ts") or "")))
        return message is not None and message.thread_ts is None

    def delete_message(self, channel: str, ts: str) -> None:
        with self._changed:
            del self.messages[(channel, ts)]

    def reset(self) -> None:
        with self._changed:
            self.calls.clear()
            self.messages.clear()
            self.responses.clear()
            self.rejected.clear()
            self._faults.clear()
            self.channels_without_bot.clear()
            self.homes.clear()
            self.scopes = set(BOT_SCOPES)

    # -- reading state -----------------------------------------------------------------------

    def wait_for(self, condition: Callable[[], T | None], timeout: float = 10.0, what: str = "condition") -> T:
        """The first truthy value of `condition()`, re-checked whenever the fake's state changes."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                value = condition()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
                self._changed.wait(remaining)

    def calls_of(self, method: str) -> list[Call]:
        with self._changed:
            return [call for call in self.calls if call.method == method]

    def channel_messages(self, channel: str) -> list[Message]:
        """Top-level messages of a channel, oldest first."""
        with self._changed:
            return sorted(
                (m for m in self.messages.values() if m.channel == channel and m.thread_ts is None),
                key=lambda m: m.ts,
            )

    def replies(self, channel: str, parent_ts: str) -> list[Message]:
        with self._changed:
            return sorted(
                (m for m in self.messages.values() if m.channel == channel and m.thread_ts == parent_ts),
                key=lambda m: m.ts,
            )

    def responses_for(self, response_id: str) -> list[Response]:
        with self._changed:
            return [r for r in self.responses if r.response_id == response_id]

    # -- Socket Mode ---------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        with self._changed:
            self.socket_clients.append(socket)
            self._changed.notify_all()
        await socket.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0000TEST"}})
        async for frame in socket:
            if frame.type == WSMsgType.TEXT:
                with self._changed:
                    self.socket_acks.append(json.loads(frame.data))
                    self._changed.notify_all()
        with self._changed:
            self.socket_clients.remove(socket)
        return socket

    def push_envelope(self, envelope: dict[str, Any]) -> None:
        """Send an envelope to the connected Socket Mode client, as Slack does."""
        socket = self.wait_for(lambda: self.socket_clients[-1] if self.socket_clients else None, what="a socket client")
        self.run_in_loop(socket.send_json(envelope))

    # -- the API -------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        body = await request.read()
        if body:
            if request.content_type == "application/json":
                params.update(json.loads(body))
            else:
                params.update(parse_qsl(body.decode()))
        for key in ("blocks", "attachments"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        return params

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ") or params.get("token")
        status: int
        body: dict[str, Any]
        headers: dict[str, str]
        with self._changed:
            call = Call(method, params, time.time())
            self.calls.append(call)
            fault = next((f for f in self._faults if f.applies_to(method, params)), None)
            if fault is not None and fault.after > 0:
                fault.after -= 1
                fault = None
            elif fault is not None and fault.until is None:
                fault.times -= 1
            try:
                if method == "apps.connections.open":
                    valid = token == self.app_token
                    body = (
                        {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}
                        if valid
                        else {"ok": False, "error": "invalid_auth"}
                    )
                    status, headers = 200, {}
                elif token != self.bot_token:
                    status, body, headers = 200, {"ok": False, "error": "invalid_auth"}, {}
                elif fault is not None and fault.status == 429:
                    status, body = 429, {"ok": False, "error": "ratelimited"}
                    headers = {"Retry-After": str(fault.retry_after or 1)}
                elif fault is not None and fault.status >= 500:
                    if fault.applied:
                        self._carry_out(method, params)
                    status, body, headers = fault.status, {"ok": False, "error": "fatal_error"}, {}
                elif fault is not None:
                    status, body, headers = 200, {"ok": False, "error": fault.error or "fatal_error"}, {}
                else:
                    status, body, headers = 200, self._carry_out(method, params), {}
                if token == self.bot_token:
                    headers = {**headers, "x-oauth-scopes": ",".join(sorted(self.scopes))}
                call.ok, call.error = bool(body.get("ok")), body.get("error")
            finally:
                self._changed.notify_all()
        return web.json_response(body, status=status, headers=headers)

    def _carry_out(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        return handler(params) if handler else {"ok": False, "error": "unknown_method"}

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._changed:
            fault = next((f for f in self._faults if f.method == "response_url" and f.times > 0), None)
            if fault is not None:
                fault.times -= 1
        refused = over_limit(body) or (fault.error or "expired_url" if fault is not None else None)
        if refused:
            # As Slack does: refused, and nothing shown to the user.
            with self._changed:
                self.rejected.append(Response(request.match_info["response_id"], body, time.time()))
                self._changed.notify_all()
            status = fault.status if fault is not None and fault.status >= 400 else 400
            return web.Response(status=status, text=refused)
        with self._changed:
            self.responses.append(Response(request.match_info["response_id"], body, time.time()))
            self._changed.notify_all()
        return web.Response(text="ok")

    def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://lockbot-test.slack.com/",
            "team": "lockbot test",
            "user": "lockbot",
            "team_id": self.TEAM_ID,
            "user_id": self.BOT_USER_ID,
            "bot_id": "B0000TEST",
        }

    def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if over := over_limit(params):
            return {"ok": False, "error": over}
        if channel in self.channels_without_bot:
            return {"ok": False, "error": "not_in_channel"}
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        if channel.startswith("U"):  # posting to a user id opens the DM with them
            channel = "D" + channel[1:]
        thread_ts = params.get("thread_ts") or None
        if thread_ts is not None:
            parent = self.messages.get((channel, str(thread_ts)))
            if parent is None:
                return {"ok": False, "error": "thread_not_found"}
            # A reply to a reply belongs to the same thread, as in Slack.
            thread_ts = parent.thread_ts or parent.ts
        ts = self._next_ts()
        message = Message(
            channel=channel,
            ts=ts,
            text=str(params.get("text") or ""),
            blocks=list(params.get("blocks") or []),
            thread_ts=thread_ts,
            user=self.BOT_USER_ID,
            posted_at=time.time(),
            history=[str(params.get("text") or "")],
        )
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": self._as_json(message)}

    def _m_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(params.get("channel") or ""), str(params.get("ts") or "")
        message = self.messages.get((channel, ts))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if message.user != self.BOT_USER_ID:
            return {"ok": False, "error": "cant_update_message"}
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        if over := over_limit(params):
            return {"ok": False, "error": over}
        message.text = str(params.get("text") or "")
        message.history.append(message.text)
        message.edited_at.append(time.time())
        if "blocks" in params:
            message.blocks = list(params.get("blocks") or [])
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": message.text,
            "message": self._as_json(message),
        }

    def _m_chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(params.get("channel") or ""), str(params.get("ts") or "")
        message = self.messages.get((channel, ts))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if message.user != self.BOT_USER_ID:
            return {"ok": False, "error": "cant_delete_message"}
        del self.messages[(channel, ts)]
        return {"ok": True, "channel": channel, "ts": ts}

    def _m_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user") or ""))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}

    def _m_usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self.usergroups.get(str(params.get("usergroup") or ""))
        if group is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": group}

    def _m_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        view = params.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not isinstance(view, dict) or view.get("type") != "modal":
            return {"ok": False, "error": "invalid_arguments"}
        if over := over_view_limit(view):
            return {"ok": False, "error": over}
        self.views.append(view)
        return {"ok": True, "view": {"id": f"V{len(self.views):08d}", **view}}

    def _m_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = str(params.get("user_id") or "")
        view = params.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        if user_id not in self.users:
            return {"ok": False, "error": "user_not_found"}
        if over := over_view_limit(view):
            return {"ok": False, "error": over}
        self.homes.setdefault(user_id, []).append(view)
        return {"ok": True, "view": {"id": f"VH{len(self.homes[user_id]):07d}", **view}}

    def home_of(self, user_id: str) -> dict[str, Any] | None:
        """The Home view last published for this person."""
        with self._changed:
            published = self.homes.get(user_id) or []
            return published[-1] if published else None

    def _m_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        users = str(params.get("users") or "")
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        return {"ok": True, "channel": {"id": "D" + users.split(",", maxsplit=1)[0][1:]}}

    @staticmethod
    def _as_json(message: Message) -> dict[str, Any]:
        reply = {"thread_ts": message.thread_ts} if message.thread_ts else {}
        return {
            "type": "message",
            "user": message.user,
            "text": message.text,
            "ts": message.ts,
            "blocks": message.blocks,
            **reply,
        }
