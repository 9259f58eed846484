"""A fake Overbooked API on 127.0.0.1 that behaves like Overbooked where lockbot depends on it.

It serves `GET /slots` (one page: `limit`, `page`), `GET /slots/{id}`, `POST /slots/{id}/lock` and
`POST /slots/{id}/unlock` with the documented
envelopes (`{"data", "meta", "success": true}` / `{"error": {code, message, status}, "success": false}`),
checks the `Authorization: Bearer <key>` header, and keeps each slot's lock: its `locked_until` and the
`lock_key` it was locked with (never sent back). A lock whose `locked_until` has passed counts as no lock.
Tests can add slots, set locks made elsewhere, make a route fail or answer late, and wait on a condition
with a deadline (`wait_for`). Every call is recorded.

Choices where the reference is silent:
- An unknown route answers E002 before the key is checked; known routes check the key first, then faults.
- The slot is looked up (E025) before the body is checked (E013); unlock without a `lock_key` is E013.
- A `lock_until` without an offset is taken as UTC; one in the past is accepted (the lock has already run out).
- `available` is stored, not derived: the reference shows a locked slot with `"available": true`.
- A delayed answer (`fail(..., status=None, delay_ms=...)`) takes effect at once and is only sent late, as when
  the server did the work but the client gave up waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from aiohttp import web

from tests.fakes.server import ThreadedServer

T = TypeVar("T")

#: The documented error codes lockbot can meet, with their HTTP status and message.
ERRORS: dict[str, tuple[int, str]] = {
    "E001": (500, "Unknown internal server error"),
    "E002": (404, "Route not found"),
    "E008": (401, "Unauthorized, API Key invalid"),
    "E013": (400, "Bad request"),
    "E014": (401, "Not authenticated"),
    "E015": (401, "Unauthorized"),
    "E025": (404, "Slot not found"),
    "E044": (422, "Slot is not lockable"),
    "E045": (422, "Slot is already locked"),
    "E053": (403, "Environment is deactivated"),
    "E054": (403, "Organization is blocked"),
    "E055": (401, "Unauthorized, API Key invalid"),
    "E056": (401, "Unauthorized, no API Key provided"),
    "E057": (401, "Unauthorized, no access to given Resource"),
    "E059": (403, "Slot cannot be unlocked, lock_key invalid"),
    "E062": (429, "API rate-limit reached"),
}

ROUTES = ("list", "get", "lock", "unlock")

_SLOT_PATH = re.compile(r"^/slots/(?P<slot_id>[^/]+)(?:/(?P<action>lock|unlock))?$")

#: Fields of the slot state that are never part of a response.
_PRIVATE = ("lock_key",)


def iso(when: datetime) -> str:
    """UTC ISO 8601 with milliseconds and `Z`, as Overbooked writes dates: 2020-12-19T16:00:00.000Z."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(value: Any) -> datetime | None:
    """An ISO 8601 string as an aware UTC datetime (no offset: UTC), or None if it is not one."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _to_ms(when: datetime) -> datetime:
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


@dataclass
class Call:
    method: str
    path: str
    json: Any  # the parsed JSON body, or None (no body, or not JSON: see `body`)
    headers: dict[str, str]
    at: float  # time.time() when the request arrived
    body: str = ""
    route: str | None = None  # "get" / "lock" / "unlock", None for an unknown route
    slot_id: str | None = None
    status: int | None = None  # the HTTP status answered (set once decided)
    code: str | None = None  # the error code answered, None on success
    answered_at: float | None = None  # time.time() when the answer was sent (later than `at` when delayed)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Fault:
    route: str
    code: str = "E001"
    status: int | None = 500  # None: answer normally, after `delay_ms`
    times: int = 1
    delay_ms: int = 0


class FakeOverbooked(ThreadedServer):
    name = "fake Overbooked"
    shutdown_timeout = 2.0

    def __init__(self, secret_key: str = "sk_test_fakeoverbooked", *, public_key: str | None = None) -> None:
        super().__init__()
        self.secret_key = secret_key
        self.public_key = public_key  # also accepted, as the reference allows for these routes
        self.slots: dict[str, dict[str, Any]] = {}  # id -> slot state: the API fields plus "lock_key"
        self.calls: list[Call] = []
        self._faults: list[Fault] = []
        self._changed = threading.Condition()
        self._stopping: asyncio.Event | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def application(self) -> web.Application:
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    def interrupt(self) -> None:
        if self._stopping is not None:
            self._stopping.set()  # cut delayed answers short

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- test controls -----------------------------------------------------------------------

    def add_slot(
        self,
        slot_id: str | None = None,
        *,
        lockable: bool = True,
        status: str = "active",
        available: bool = True,
        capacity: int = 1,
        resource_id: str | None = None,
        start_date: datetime | str | None = None,
        end_date: datetime | str | None = None,
        metadata: dict[str, Any] | None = None,
        locked_until: datetime | None = None,
        lock_key: str | None = None,
    ) -> dict[str, Any]:
        """Add a slot (default: active, lockable, unlocked, starting in an hour) and return it as the API shows it."""
        now = datetime.now(UTC)
        slot_id = slot_id or str(uuid.uuid4())
        start = start_date if start_date is not None else now + timedelta(hours=1)
        end = end_date if end_date is not None else now + timedelta(hours=1, minutes=20)
        slot: dict[str, Any] = {
            "_object": "slot",
            "available": available,
            "resource_id": resource_id or str(uuid.uuid4()),
            "capacity": capacity,
            "created_at": iso(now),
            "end_date": iso(end) if isinstance(end, datetime) else end,
            "id": slot_id,
            "lockable": lockable,
            "locked_until": iso(_to_ms(locked_until)) if locked_until is not None else None,
            "metadata": dict(metadata or {}),
            "num_active_bookings": 0,
            "num_bookings": 0,
            "num_cancelled_bookings": 0,
            "start_date": iso(start) if isinstance(start, datetime) else start,
            "status": status,
            "updated_at": iso(now),
            "lock_key": lock_key,
        }
        with self._changed:
            if slot_id in self.slots:
                raise ValueError(f"slot {slot_id} already exists")
            self.slots[slot_id] = slot
            self._changed.notify_all()
            return self._public(slot)

    def update_slot(self, slot_id: str, **fields: Any) -> dict[str, Any]:
        """Change API fields of a slot (e.g. lockable=False, status="disabled"); returns it as the API shows it."""
        with self._changed:
            slot = self.slots[slot_id]
            slot.update(fields)
            self._changed.notify_all()
            return self._public(slot)

    def set_lock(self, slot_id: str, locked_until: datetime | None, lock_key: str | None) -> None:
        """Set a slot's lock as if made elsewhere (a past `locked_until`: a lock that has run out)."""
        with self._changed:
            slot = self.slots[slot_id]
            slot["locked_until"] = iso(_to_ms(locked_until)) if locked_until is not None else None
            slot["lock_key"] = lock_key
            slot["updated_at"] = iso(datetime.now(UTC))
            self._changed.notify_all()

    def lock_key_of(self, slot_id: str) -> str | None:
        """The lock key stored on the slot (kept after the lock runs out, until it is unlocked or relocked)."""
        with self._changed:
            key: str | None = self.slots[slot_id]["lock_key"]
            return key

    def is_locked(self, slot_id: str) -> bool:
        """Whether the slot holds a lock that has not run out."""
        with self._changed:
            return self._locked(self.slots[slot_id])

    def slot(self, slot_id: str) -> dict[str, Any]:
        """The slot as the API would show it now (no lock key)."""
        with self._changed:
            return self._public(self.slots[slot_id])

    def fail(
        self,
        route: str,
        *,
        code: str = "E001",
        status: int | None = 500,
        times: int = 1,
        delay_ms: int = 0,
    ) -> None:
        """The next `times` calls to `route` ("get", "lock", "unlock") answer error `code` with HTTP `status`,
        after `delay_ms`. With status=None they are answered normally, but only after `delay_ms`."""
        if route not in ROUTES:
            raise ValueError(f"route must be one of {ROUTES}, not {route!r}")
        with self._changed:
            self._faults.append(Fault(route, code, status, times, delay_ms))

    def reset(self) -> None:
        """Forget the calls and pending faults (the slots stay)."""
        with self._changed:
            self.calls.clear()
            self._faults.clear()
            self._changed.notify_all()

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

    def calls_to(self, path_suffix: str) -> list[Call]:
        """Calls whose path ends with `path_suffix` (e.g. "/lock", or f"/slots/{slot_id}")."""
        with self._changed:
            return [call for call in self.calls if call.path.endswith(path_suffix)]

    # -- the API -------------------------------------------------------------------------------

    @staticmethod
    def _public(slot: dict[str, Any]) -> dict[str, Any]:
        return {key: copy.deepcopy(value) for key, value in slot.items() if key not in _PRIVATE}

    @staticmethod
    def _locked(slot: dict[str, Any]) -> bool:
        until = parse_iso(slot.get("locked_until"))
        return until is not None and until > datetime.now(UTC)

    @staticmethod
    def _error(code: str, status: int | None = None) -> tuple[int, dict[str, Any]]:
        default_status, message = ERRORS.get(code, (500, "Unknown internal server error"))
        status = status or default_status
        return status, {"error": {"code": code, "message": message, "status": status}, "success": False}

    @staticmethod
    def _success(slot: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"data": FakeOverbooked._public(slot), "meta": {}, "success": True}

    def _authorised(self, header: str | None) -> str | None:
        """None if the key is accepted, else the error code."""
        scheme, _, key = (header or "").strip().partition(" ")
        key = key.strip()
        if not header or not header.strip() or (scheme.lower() == "bearer" and not key):
            return "E056"
        if scheme.lower() != "bearer" or key not in {self.secret_key, self.public_key} - {None}:
            return "E055"
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        text = raw.decode("utf-8", errors="replace")
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        match = _SLOT_PATH.match(request.path)
        route: str | None = None
        slot_id: str | None = None
        if request.path == "/slots" and request.method == "GET":
            route = "list"
        if match is not None:
            slot_id, action = match["slot_id"], match["action"]
            if action is None and request.method == "GET":
                route = "get"
            elif action is not None and request.method == "POST":
                route = action
        delay_ms = 0
        with self._changed:
            call = Call(
                method=request.method,
                path=request.path,
                json=body,
                headers=dict(request.headers),
                at=time.time(),
                body=text,
                route=route,
                slot_id=slot_id if route else None,
            )
            self.calls.append(call)
            try:
                if route is None or (slot_id is None and route != "list"):
                    status, answer = self._error("E002")
                elif (refused := self._authorised(request.headers.get("Authorization"))) is not None:
                    status, answer = self._error(refused)
                else:
                    fault = next((f for f in self._faults if f.route == route and f.times > 0), None)
                    if fault is not None:
                        fault.times -= 1
                        delay_ms = fault.delay_ms
                    if fault is not None and fault.status is not None:
                        status, answer = self._error(fault.code, fault.status)
                    elif route == "list":
                        status, answer = self._list(request.query.get("limit"), request.query.get("page"))
                    else:
                        assert slot_id is not None
                        status, answer = self._route(route, slot_id, body)
                call.status = status
                call.code = None if answer["success"] else answer["error"]["code"]
            finally:
                self._changed.notify_all()
        if delay_ms > 0 and self._stopping is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay_ms / 1000)
        with self._changed:
            call.answered_at = time.time()
            self._changed.notify_all()
        return web.json_response(answer, status=status)

    def _list(self, limit: str | None, page: str | None) -> tuple[int, dict[str, Any]]:
        if not (limit or "").isdigit() or not (page or "").isdigit() or int(limit or 0) < 1 or int(page or 0) < 1:
            return self._error("E013")
        size, number = int(limit or 0), int(page or 0)
        slots = list(self.slots.values())[(number - 1) * size : number * size]
        meta = {"limit": size, "page": number, "total": len(self.slots)}
        return 200, {"data": [self._public(slot) for slot in slots], "meta": meta, "success": True}

    def _route(self, route: str, slot_id: str, body: Any) -> tuple[int, dict[str, Any]]:
        slot = self.slots.get(slot_id)
        if slot is None:
            return self._error("E025")
        if route == "get":
            return self._success(slot)
        params = body if isinstance(body, dict) else {}
        lock_key = params.get("lock_key")
        if not isinstance(body, dict) or not isinstance(lock_key, str) or not lock_key:
            return self._error("E013")
        if route == "lock":
            return self._lock(slot, lock_key, params.get("lock_until"))
        return self._unlock(slot, lock_key)

    def _lock(self, slot: dict[str, Any], lock_key: str, lock_until: Any) -> tuple[int, dict[str, Any]]:
        until = parse_iso(lock_until)
        if until is None:
            return self._error("E013")
        if not slot["lockable"]:
            return self._error("E044")
        if self._locked(slot):
            return self._error("E045")
        slot["locked_until"] = iso(_to_ms(until))
        slot["lock_key"] = lock_key
        slot["updated_at"] = iso(datetime.now(UTC))
        return self._success(slot)

    def _unlock(self, slot: dict[str, Any], lock_key: str) -> tuple[int, dict[str, Any]]:
        if not self._locked(slot) or slot["lock_key"] != lock_key:
            return self._error("E059")
        slot["locked_until"] = None
        slot["lock_key"] = None
        slot["updated_at"] = iso(datetime.now(UTC))
        return self._success(slot)
