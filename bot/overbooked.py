"""A small async client for the Overbooked API: get, lock and unlock a slot.

The same shape as `bot.seam`: it knows nothing of Slack, returns typed values, and turns every
failure into an `OverbookedError` with a `user_message` a person can read. Reads are retried on
transient failures; lock and unlock only when the request certainly never reached Overbooked.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

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

__all__ = [
    "OverbookedBadAnswer",
    "OverbookedEnvironmentDeactivated",
    "OverbookedError",
    "OverbookedLockKeyInvalid",
    "OverbookedNoAccess",
    "OverbookedOrganisationBlocked",
    "OverbookedRateLimited",
    "OverbookedServerError",
    "OverbookedSlotAlreadyLocked",
    "OverbookedSlotNotFound",
    "OverbookedSlotNotLockable",
    "OverbookedTimeout",
    "OverbookedUnauthorized",
    "OverbookedUnreachable",
    "Slot",
    "SlotClient",
]

log = logging.getLogger(__name__)


class OverbookedError(ApiError):
    """A call to Overbooked failed. `user_message` says why in plain words; `code` is Overbooked's E###."""

    user_message = "Overbooked returned an error"

    def __init__(self, detail: str = "", *, code: str | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.code = code


class OverbookedSlotNotFound(OverbookedError):
    user_message = "slot not found: Overbooked has no slot with that id"


class OverbookedSlotNotLockable(OverbookedError):
    user_message = "the slot is not lockable"


class OverbookedSlotAlreadyLocked(OverbookedError):
    user_message = "the slot is already locked"


class OverbookedLockKeyInvalid(OverbookedError):
    user_message = (
        "the lock key is invalid: Overbooked did not accept lockbot's key (the lock may have run out or been replaced)"
    )


class OverbookedUnauthorized(OverbookedError):
    user_message = "the Overbooked API key is invalid (an admin needs to check OVERBOOKED_API_KEY)"


class OverbookedEnvironmentDeactivated(OverbookedError):
    """E053: the key is right, but its Overbooked environment is switched off."""

    user_message = "the Overbooked environment is deactivated (an admin needs to turn it back on in Overbooked)"


class OverbookedOrganisationBlocked(OverbookedError):
    """E054: the key is right, but Overbooked has blocked its organisation."""

    user_message = "the Overbooked organisation is blocked (an admin needs to take it up with Overbooked)"


class OverbookedNoAccess(OverbookedError):
    """E057: the key is right, but may not use the resource this slot belongs to."""

    user_message = "the Overbooked API key has no access to this slot (its resource is not open to lockbot's key)"


class OverbookedRateLimited(OverbookedError, RateLimited):
    user_message = "Overbooked is busy right now (rate limited); try again in a minute"


class OverbookedServerError(OverbookedError, ServerFailed):
    user_message = "Overbooked is having trouble right now; try again shortly"


class OverbookedTimeout(OverbookedError, OutcomeUnknown):
    """No answer, or the connection broke after the request may have arrived: the outcome is unknown."""

    user_message = "Overbooked did not answer in time"


class OverbookedBadAnswer(OverbookedError, OutcomeUnknown):
    """A 2xx answer lockbot cannot read: Overbooked probably did what it was asked."""

    user_message = "Overbooked sent an answer lockbot does not understand"


class OverbookedUnreachable(OverbookedError, NotSent):
    """The request never left lockbot."""

    user_message = "lockbot could not reach Overbooked"


_BY_CODE: dict[str, type[OverbookedError]] = {
    "E025": OverbookedSlotNotFound,
    "E044": OverbookedSlotNotLockable,
    "E045": OverbookedSlotAlreadyLocked,
    "E059": OverbookedLockKeyInvalid,
    "E008": OverbookedUnauthorized,
    "E014": OverbookedUnauthorized,
    "E015": OverbookedUnauthorized,
    "E055": OverbookedUnauthorized,
    "E056": OverbookedUnauthorized,
    "E053": OverbookedEnvironmentDeactivated,
    "E054": OverbookedOrganisationBlocked,
    "E057": OverbookedNoAccess,
    "E062": OverbookedRateLimited,
}


class Slot(BaseModel):
    """A slot as Overbooked returns it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    lockable: bool = True
    available: bool | None = None
    status: str | None = None
    locked_until: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None

    def locked_at(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


def _utc_iso(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds, as Overbooked writes dates."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _logged_error(response: httpx.Response) -> OverbookedError:
    error = _error_from(response)
    operation = response.request.url.path.rsplit("/", 1)[-1]
    log.warning("overbooked %s -> %s %s", operation, response.status_code, error.code or "")
    return error


_FAILURES = Failures(unreachable=OverbookedUnreachable, timeout=OverbookedTimeout, connection_lost=OverbookedTimeout)


_CODE = re.compile(r"^E\d{3}$")

# httpx's default pool, which this client has always had; written out now that the factory asks for one.
_POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


def _code_in(value: object) -> str | None:
    text = str(value).strip().upper() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    return text if _CODE.match(text) else None


def _code_and_message(body: object) -> tuple[str | None, str]:
    """The error code (E###) and message of an error body, wherever Overbooked put them."""
    if not isinstance(body, Mapping):
        return None, ""
    error = body.get("error")
    code = _code_in(body.get("code"))
    message = body.get("message")
    if isinstance(error, Mapping):
        code = _code_in(error.get("code")) or code
        message = error.get("message") or message
    elif isinstance(error, str):
        if (from_error := _code_in(error)) is not None:
            code = code or from_error
        else:
            message = message or error
    return code, str(message) if isinstance(message, str | int) and not isinstance(message, bool) else ""


def _error_from(response: httpx.Response) -> OverbookedError:
    try:
        body = response.json()
    except ValueError:
        body = None
    code, message = _code_and_message(body)
    status = response.status_code
    kind = _BY_CODE.get(code or "")
    if kind is None:
        if status == 429:
            kind = OverbookedRateLimited
        elif status >= 500:
            kind = OverbookedServerError
        elif status in (401, 403) and code != "E059":
            kind = OverbookedUnauthorized
        elif status == 404 and code is None:  # a documented code (E002 route, E007 environment…) says what is missing
            kind = OverbookedSlotNotFound
        else:
            kind = OverbookedError
    if kind is OverbookedRateLimited:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return OverbookedRateLimited(message, retry_after=retry_after, status=status, code=code)
    return kind(message or f"HTTP {status}", status=status, code=code)


class SlotClient:
    """Overbooked's slots over one pooled `httpx.AsyncClient`."""

    def __init__(
        self,
        *,
        api_key: str,
        endpoint: str,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        record: CallRecorder | None = None,
    ) -> None:
        """`record` is told how each HTTP call went (`/metrics`)."""
        self._http = pooled_client(
            endpoint=endpoint, api_key=api_key, timeout=timeout, limits=_POOL_LIMITS, transport=transport
        )
        self._timeout = timeout
        self._record = record

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(self, slot_id: str) -> Slot:
        return await self._call("GET", f"/slots/{_path(slot_id)}", None, idempotent=True)

    async def list_slots(self, *, limit: int, page: int = 1) -> list[Slot]:
        """One page of the environment's slots (a read: `python -m bot check` asks it to test the key)."""
        response = await request(
            self._http,
            "GET",
            f"/slots?limit={limit}&page={page}",
            None,
            idempotent=True,
            failures=_FAILURES,
            error_of=_logged_error,
            answer_within=self._timeout,
            record=self._record,
        )
        try:
            answer = response.json()
        except ValueError:
            raise OverbookedBadAnswer("not JSON", status=response.status_code) from None
        if isinstance(answer, Mapping) and answer.get("success") is False:
            raise _logged_error(response)
        try:
            return [Slot.model_validate(slot) for slot in answer["data"]]
        except (KeyError, TypeError, ValidationError):
            raise OverbookedBadAnswer("no slot list in the answer", status=response.status_code) from None

    async def lock(self, slot_id: str, until: datetime, lock_key: str) -> Slot:
        body = {"lock_until": _utc_iso(until), "lock_key": lock_key}
        return await self._call("POST", f"/slots/{_path(slot_id)}/lock", body, idempotent=False)

    async def unlock(self, slot_id: str, lock_key: str) -> Slot:
        return await self._call("POST", f"/slots/{_path(slot_id)}/unlock", {"lock_key": lock_key}, idempotent=False)

    async def _call(self, method: str, path: str, body: dict[str, str] | None, *, idempotent: bool) -> Slot:
        # The body carries the lock key: nothing here logs it.
        response = await request(
            self._http,
            method,
            path,
            body,
            idempotent=idempotent,
            failures=_FAILURES,
            error_of=_logged_error,
            answer_within=self._timeout,
            record=self._record,
        )
        if not response.is_success:  # a redirect or an informational answer: nothing was done
            raise _logged_error(response)
        try:
            answer = response.json()
        except ValueError:
            raise OverbookedBadAnswer("not JSON", status=response.status_code) from None
        if isinstance(answer, Mapping) and answer.get("success") is False:
            # An error, whatever the HTTP status said.
            raise _logged_error(response)
        try:
            return Slot.model_validate(answer["data"])
        except (KeyError, TypeError, ValidationError):
            raise OverbookedBadAnswer("no slot in the answer", status=response.status_code) from None


def _path(slot_id: str) -> str:
    # Slot ids are uuids; anything else is escaped rather than trusted into the URL path.
    return quote(slot_id, safe="")
