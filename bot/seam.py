"""A small async client for the Seam API: locks and their action attempts.

It knows nothing of Slack. Every failure becomes a `SeamError` whose `user_message` a person
can read. Reads are retried on transient failures; writes (lock, unlock) are retried only when
Seam certainly did not act on them, so a door is never moved twice by accident.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.api_calls import (
    ApiError,
    CallRecorder,
    Failures,
    NotSent,
    OutcomeUnknown,
    RateLimited,
    ServerFailed,
    parse_retry_after,
    pooled_client,
    request,
)
from bot.model import Lock

__all__ = [
    "LOCKS_LIMIT",
    "ActionAttempt",
    "ActionType",
    "AttemptError",
    "Lock",
    "SeamClient",
    "SeamConnectionLost",
    "SeamDeviceNotFound",
    "SeamError",
    "SeamInvalidInput",
    "SeamProtocolError",
    "SeamRateLimited",
    "SeamServerError",
    "SeamTimeout",
    "SeamUnauthorized",
    "SeamUnreachable",
    "seam_reason",
]

log = logging.getLogger(__name__)


class SeamError(ApiError):
    """A call to Seam failed. `user_message` says why in plain words; `error_type` is Seam's own."""

    user_message = "Seam returned an error"

    def __init__(self, detail: str = "", *, error_type: str | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.error_type = error_type


class SeamInvalidInput(SeamError):
    """Seam refused the request (a 400); its own reason, when it gave one, is part of the words."""

    user_message = "Seam did not accept the request"

    def __init__(self, detail: str = "", **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        # Plain text from Seam: the Slack edge escapes it, like every text that comes from an API.
        self.seam_message = seam_reason(detail)
        if self.seam_message:
            self.user_message = f"{type(self).user_message}: {self.seam_message}"


_REASON_LIMIT = 200


def seam_reason(message: str) -> str:
    """Seam's own words, fit for one line of a message: whitespace folded, at most 200 characters."""
    reason = " ".join(message.split()).rstrip(".").strip()
    return reason if len(reason) <= _REASON_LIMIT else reason[: _REASON_LIMIT - 1].rstrip() + "…"


class SeamUnauthorized(SeamError):
    user_message = "the Seam API key is invalid (an admin needs to check SEAM_API_KEY)"


class SeamDeviceNotFound(SeamError):
    user_message = "the device was not found (it may have been removed from Seam)"


class SeamRateLimited(SeamError, RateLimited):
    user_message = "Seam is busy right now (rate limited); try again in a minute"


class SeamServerError(SeamError, ServerFailed):
    user_message = "Seam is having trouble right now; try again shortly"


class SeamTimeout(SeamError, OutcomeUnknown):
    user_message = "Seam did not answer in time"


class SeamUnreachable(SeamError, NotSent):
    """The request never left lockbot: Seam did nothing."""

    user_message = "lockbot could not reach Seam"


class SeamConnectionLost(SeamTimeout):
    """The connection failed after the request may have reached Seam: the outcome is unknown."""

    user_message = "the connection to Seam broke before it answered"


class SeamProtocolError(SeamError):
    """An answer lockbot cannot read; to a write it was a success status, so Seam may well have acted."""

    user_message = "Seam sent an answer lockbot does not understand"

    @property
    def may_have_acted(self) -> bool:
        return True


class ActionType(StrEnum):
    LOCK_DOOR = "LOCK_DOOR"
    UNLOCK_DOOR = "UNLOCK_DOOR"


class _SeamModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AttemptError(_SeamModel):
    type: str = "unknown"
    message: str = ""


class ActionAttempt(_SeamModel):
    """Seam's record of one lock or unlock in the physical world."""

    action_attempt_id: str
    action_type: str
    status: Literal["pending", "success", "error"]
    result: dict[str, Any] | None = None
    error: AttemptError | None = None

    @property
    def finished(self) -> bool:
        return self.status != "pending"

    @property
    def confirmed_by_device(self) -> bool:
        """False only when Seam says outright that the device did not confirm."""
        return (self.result or {}).get("was_confirmed_by_device") is not False


class _LockProperties(_SeamModel):
    name: str | None = None
    locked: bool | None = None
    online: bool | None = None
    battery_level: float | None = None  # 0 to 1; Seam leaves it out for a lock that does not report it


class _SeamLock(_SeamModel):
    """A smart lock as Seam lists it; the rest of lockbot sees the model's `Lock`."""

    device_id: str
    display_name: str | None = None
    properties: _LockProperties = _LockProperties()
    can_remotely_lock: bool | None = None
    can_remotely_unlock: bool | None = None

    def lock(self) -> Lock:
        return Lock(
            device_id=self.device_id,
            display_name=self.display_name,
            device_name=self.properties.name,
            locked=self.properties.locked,
            online=self.properties.online,
            can_remotely_lock=self.can_remotely_lock,
            can_remotely_unlock=self.can_remotely_unlock,
            battery_level=self.properties.battery_level,
        )


@dataclass(frozen=True)
class _CallPolicy:
    """How one call may be retried."""

    idempotent: bool


_Model = TypeVar("_Model", bound=BaseModel)

_FAILURES = Failures(unreachable=SeamUnreachable, timeout=SeamTimeout, connection_lost=SeamConnectionLost)

_READ = _CallPolicy(idempotent=True)

# /locks/list answers {locks, devices, ok} with no page cursor, at most `limit` devices (500 when
# not given): lockbot asks for more than a workspace it serves would have, and says when it is full.
LOCKS_LIMIT = 10_000
_SEAM_LOCKS_DEFAULT_LIMIT = 500
_WRITE = _CallPolicy(idempotent=False)

# The pool this client has had since it was written: door actions and their attempt polls share it.
_POOL_LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=32)


def _logged_error(response: httpx.Response) -> SeamError:
    error = _error_from_response(response)
    log.warning("seam %s -> %s %s", response.request.url.path, response.status_code, error.error_type or "")
    return error


def _error_from_response(response: httpx.Response) -> SeamError:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, Mapping) else None
    error_type = str(error.get("type")) if isinstance(error, Mapping) and error.get("type") else None
    # Seam's message only; its bodies may also carry a server stack trace, which is never kept.
    message = str(error.get("message", "")) if isinstance(error, Mapping) else ""
    status = response.status_code
    kwargs: dict[str, Any] = {"status": status, "error_type": error_type}
    if status == 429:
        return SeamRateLimited(message, retry_after=parse_retry_after(response.headers.get("retry-after")), **kwargs)
    if status >= 500:
        return SeamServerError(message or f"HTTP {status}", **kwargs)
    if status in (401, 403):
        return SeamUnauthorized(message, **kwargs)
    if status == 404 or (error_type or "").endswith("_not_found"):
        if error_type in (None, "device_not_found", "not_found"):
            return SeamDeviceNotFound(message, **kwargs)
        return SeamError(message or (error_type or ""), **kwargs)
    if status == 400 or error_type == "invalid_input":
        return SeamInvalidInput(message, **kwargs)
    return SeamError(message or f"HTTP {status}", **kwargs)


class SeamClient:
    """Seam's locks and action attempts over one pooled `httpx.AsyncClient`."""

    def __init__(
        self,
        *,
        api_key: str,
        endpoint: str,
        timeout: float = 10.0,
        read_attempts: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        record: CallRecorder | None = None,
    ) -> None:
        """`record` is told how each HTTP call went (`/metrics`)."""
        self._http = pooled_client(
            endpoint=endpoint, api_key=api_key, timeout=timeout, limits=_POOL_LIMITS, transport=transport
        )
        self._timeout = timeout
        self._read_attempts = read_attempts
        self._record = record

    async def aclose(self) -> None:
        await self._http.aclose()

    async def list_locks(self) -> list[Lock]:
        """Every lock of the workspace, in one call: Seam's /locks/list has no pages, only a limit."""
        try:
            page = await self._call("/locks/list", {"limit": LOCKS_LIMIT}, _READ)
            asked = LOCKS_LIMIT
        except SeamInvalidInput:
            # A Seam that will not give this many in one answer: its own default is still an answer.
            log.warning("Seam refused a /locks/list limit of %d; asking for its default", LOCKS_LIMIT)
            page = await self._call("/locks/list", {}, _READ)
            asked = _SEAM_LOCKS_DEFAULT_LIMIT
        locks = [seen.lock() for seen in self._parse_many(_SeamLock, page.get("locks", page.get("devices")), "locks")]
        if len(locks) >= asked:
            log.warning(
                "Seam listed %d locks, as many as one /locks/list returns: any further lock is not seen", len(locks)
            )
        return locks

    async def get_lock(self, device_id: str) -> Lock:
        """The lock as Seam sees it now (`/locks/get`); SeamDeviceNotFound when Seam has no such lock."""
        page = await self._call("/locks/get", {"device_id": device_id}, _READ)
        return self._parse_one(_SeamLock, page.get("lock", page.get("device")), "lock").lock()

    async def lock_door(self, device_id: str) -> ActionAttempt:
        """Ask Seam to lock; returns the (often still pending) action attempt."""
        page = await self._call("/locks/lock_door", {"device_id": device_id}, _WRITE)
        return self._parse_one(ActionAttempt, page.get("action_attempt"), "action_attempt")

    async def unlock_door(self, device_id: str) -> ActionAttempt:
        """Ask Seam to unlock; returns the (often still pending) action attempt."""
        page = await self._call("/locks/unlock_door", {"device_id": device_id}, _WRITE)
        return self._parse_one(ActionAttempt, page.get("action_attempt"), "action_attempt")

    async def get_action_attempt(self, action_attempt_id: str) -> ActionAttempt:
        page = await self._call("/action_attempts/get", {"action_attempt_id": action_attempt_id}, _READ)
        return self._parse_one(ActionAttempt, page.get("action_attempt"), "action_attempt")

    async def list_action_attempts(self, action_attempt_ids: Sequence[str]) -> list[ActionAttempt]:
        """Several attempts in one call; ids Seam does not know are simply absent."""
        page = await self._call("/action_attempts/list", {"action_attempt_ids": list(action_attempt_ids)}, _READ)
        return self._parse_many(ActionAttempt, page.get("action_attempts"), "action_attempts")

    async def create_webhook(self, url: str, event_types: Sequence[str]) -> dict[str, Any]:
        """Register a webhook; Seam's answer carries its Svix secret."""
        page = await self._call("/webhooks/create", {"url": url, "event_types": list(event_types)}, _WRITE)
        webhook = page.get("webhook")
        if not isinstance(webhook, dict) or not webhook.get("secret"):
            raise SeamProtocolError("Seam's answer has no webhook secret")
        return webhook

    async def _call(self, path: str, body: Mapping[str, Any], policy: _CallPolicy) -> dict[str, Any]:
        response = await request(
            self._http,
            "POST",
            path,
            body,
            idempotent=policy.idempotent,
            failures=_FAILURES,
            error_of=_logged_error,
            answer_within=self._timeout,
            attempts=self._read_attempts,
            record=self._record,
        )
        try:
            page = response.json()
        except ValueError:
            raise SeamProtocolError(f"{path}: body is not JSON") from None
        if not isinstance(page, dict):
            raise SeamProtocolError(f"{path}: body is not an object")
        return page

    @staticmethod
    def _parse_one(model: type[_Model], raw: Any, what: str) -> _Model:
        try:
            return model.model_validate(raw)
        except ValidationError:
            raise SeamProtocolError(f"unexpected {what} in Seam's answer") from None

    @staticmethod
    def _parse_many(model: type[_Model], raw: Any, what: str) -> list[_Model]:
        if not isinstance(raw, list):
            raise SeamProtocolError(f"Seam's answer has no {what} list")
        return [SeamClient._parse_one(model, item, what) for item in raw]
