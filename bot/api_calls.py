"""One HTTP call to an outside API, with the errors and retry policy every lockbot client shares.

Reads are retried on transient failures. A write (lock, unlock) is retried only when the service
certainly did not act on it: the connection never opened, or it answered 429 with a short
Retry-After. A timeout or a connection broken after sending may follow a write the service
carried out, so it is never retried.

Each client's errors are thin subclasses of `ApiError` naming their service, marked with the
bases here (`NotSent`, `OutcomeUnknown`, `RateLimited`, `ServerFailed`) that carry both the retry
rule and whether the service may have acted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import stamina

__all__ = [
    "ApiError",
    "CallRecorder",
    "Failures",
    "NotSent",
    "OutcomeUnknown",
    "RateLimited",
    "ServerFailed",
    "parse_retry_after",
    "pooled_client",
    "request",
]

CallRecorder = Callable[[str], None]
"""Told how each HTTP call to a service went (`/metrics`): its status ("200", "429", …), or the failure
on the way ("unreachable", "timeout", "connection_lost")."""

# Longest Retry-After waited out inside one call; beyond it the caller hears "busy".
_MAX_RETRY_AFTER_SECONDS = 5.0


class ApiError(Exception):
    """A call to an outside service failed. `user_message` says why in plain words.

    Each client subclasses it once per service (`SeamError`, `OverbookedError`) and names the
    service in every `user_message`; `detail` is the short technical reason, never shown as is.
    """

    user_message = "the service returned an error"

    def __init__(self, detail: str = "", *, status: int | None = None) -> None:
        super().__init__(detail or self.user_message)
        self.detail = detail
        self.status = status

    @property
    def may_have_acted(self) -> bool:
        """Whether the service may have carried out the failed write (so it must not be called a failure)."""
        return False


class NotSent(ApiError):
    """The request never left lockbot: the service did nothing."""


class OutcomeUnknown(ApiError):
    """No answer, or the connection broke after sending: the service may have acted."""

    @property
    def may_have_acted(self) -> bool:
        return True


class RateLimited(ApiError):
    """429: the service refused the request without acting on it."""

    def __init__(self, detail: str = "", *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.retry_after = retry_after


class ServerFailed(ApiError):
    """5xx: worth another try for a read."""

    @property
    def may_have_acted(self) -> bool:
        # 503 is "unavailable": refused before any work. Any other 5xx may come after the work was done.
        return self.status != 503


_DELAY_SECONDS = re.compile(r"[0-9]+(\.[0-9]+)?")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (RFC 9110 §10.2.3), or None when there is none to read.

    The header is either a delay in seconds or an HTTP date; a date already past means "now" (0).
    A fraction of a second is taken too, as the services lockbot calls have sent one. Anything
    else (a negative number, words) is no advice at all, as urllib3 reads it.
    """
    if value is None:
        return None
    text = value.strip()
    if _DELAY_SECONDS.fullmatch(text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # the asctime form carries no zone: HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def pooled_client(
    *,
    endpoint: str,
    api_key: str,
    timeout: float,
    limits: httpx.Limits,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The one pooled `httpx.AsyncClient` a client keeps for its service: bearer auth, lockbot's User-Agent.

    `timeout` bounds every read and write; connecting gets at most 5 s of it, as a service that
    does not accept a connection within that is down rather than slow.
    """
    return httpx.AsyncClient(
        base_url=endpoint.rstrip("/"),
        headers={"Authorization": f"Bearer {api_key}", "User-Agent": "lockbot"},
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        limits=limits,
        transport=transport,
    )


@dataclass(frozen=True)
class Failures:
    """A client's own exceptions for failures on the way (each built from a short detail)."""

    unreachable: Callable[[str], NotSent]
    timeout: Callable[[str], OutcomeUnknown]
    connection_lost: Callable[[str], OutcomeUnknown]


def _should_retry(exc: Exception, *, idempotent: bool) -> bool | float | timedelta:
    """stamina's hook: whether (or after how many seconds) to try again."""
    if isinstance(exc, RateLimited):
        wait = exc.retry_after if exc.retry_after is not None else 1.0
        return wait if wait <= _MAX_RETRY_AFTER_SECONDS else False
    if isinstance(exc, NotSent):
        return True
    return idempotent and isinstance(exc, ServerFailed | OutcomeUnknown)


async def request(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    body: Mapping[str, Any] | None,
    *,
    idempotent: bool,
    failures: Failures,
    error_of: Callable[[httpx.Response], ApiError],
    answer_within: float,
    attempts: int = 3,
    record: CallRecorder | None = None,
) -> httpx.Response:
    """The successful response, or the client's exception for the last failure. Each HTTP call made
    (every try) is told to `record`."""
    async for attempt in stamina.retry_context(
        on=lambda exc: _should_retry(exc, idempotent=idempotent),
        attempts=attempts if idempotent else 2,
        timeout=answer_within * 3,
        wait_initial=0.1,
        wait_max=2.0,
        wait_jitter=0.1,
    ):
        with attempt:
            return await _send(
                http,
                method,
                path,
                body,
                failures=failures,
                error_of=error_of,
                answer_within=answer_within,
                record=record or _not_recorded,
            )
    raise AssertionError("unreachable: stamina re-raises the last failure")  # pragma: no cover


def _not_recorded(status: str) -> None:
    pass


async def _send(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    body: Mapping[str, Any] | None,
    *,
    failures: Failures,
    error_of: Callable[[httpx.Response], ApiError],
    answer_within: float,
    record: CallRecorder,
) -> httpx.Response:
    try:
        response = await http.request(method, path, json=dict(body) if body is not None else None)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        record("unreachable")
        raise failures.unreachable(f"{path}: {type(exc).__name__}") from None
    except httpx.TimeoutException:
        record("timeout")
        raise failures.timeout(f"{path}: no answer within {answer_within:g} s") from None
    except httpx.TransportError as exc:
        # A read or write error, or a dropped keep-alive connection: the service may have acted.
        record("connection_lost")
        raise failures.connection_lost(f"{path}: {type(exc).__name__}") from None
    record(str(response.status_code))
    if response.is_error:
        raise error_of(response)
    return response
