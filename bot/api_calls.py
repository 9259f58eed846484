"""One HTTP call to an outside API, with the retry policy every lockbot client shares.

Reads are retried on transient failures. A write (lock, unlock) is retried only when the service
certainly did not act on it: the connection never opened, or it answered 429 with a short
Retry-After. A timeout or a connection broken after sending may follow a write the service
carried out, so it is never retried. Each client marks its own error classes with these bases.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import stamina

__all__ = ["Failures", "NotSent", "OutcomeUnknown", "RateLimited", "ServerFailed", "request"]

# Longest Retry-After waited out inside one call; beyond it the caller hears "busy".
MAX_RETRY_AFTER_SECONDS = 5.0


class NotSent(Exception):
    """The request never left lockbot: the service did nothing."""


class OutcomeUnknown(Exception):
    """No answer, or the connection broke after sending: the service may have acted."""


class RateLimited(Exception):
    """429: the service refused the request without acting on it."""

    retry_after: float | None = None


class ServerFailed(Exception):
    """5xx: worth another try for a read."""


@dataclass(frozen=True)
class Failures:
    """A client's own exceptions for failures on the way (each built from a short detail)."""

    unreachable: Callable[[str], Exception]  # a NotSent
    timeout: Callable[[str], Exception]  # an OutcomeUnknown
    connection_lost: Callable[[str], Exception]  # an OutcomeUnknown


def should_retry(exc: Exception, *, idempotent: bool) -> bool | float | timedelta:
    """stamina's hook: whether (or after how many seconds) to try again."""
    if isinstance(exc, RateLimited):
        wait = exc.retry_after if exc.retry_after is not None else 1.0
        return wait if wait <= MAX_RETRY_AFTER_SECONDS else False
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
    error_of: Callable[[httpx.Response], Exception],
    answer_within: float,
    attempts: int = 3,
) -> httpx.Response:
    """The successful response, or the client's exception for the last failure."""
    async for attempt in stamina.retry_context(
        on=lambda exc: should_retry(exc, idempotent=idempotent),
        attempts=attempts if idempotent else 2,
        timeout=answer_within * 3,
        wait_initial=0.1,
        wait_max=2.0,
        wait_jitter=0.1,
    ):
        with attempt:
            return await _send(
                http, method, path, body, failures=failures, error_of=error_of, answer_within=answer_within
            )
    raise AssertionError("unreachable: stamina re-raises the last failure")  # pragma: no cover


async def _send(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    body: Mapping[str, Any] | None,
    *,
    failures: Failures,
    error_of: Callable[[httpx.Response], Exception],
    answer_within: float,
) -> httpx.Response:
    try:
        response = await http.request(method, path, json=dict(body) if body is not None else None)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise failures.unreachable(f"{path}: {type(exc).__name__}") from None
    except httpx.TimeoutException:
        raise failures.timeout(f"{path}: no answer within {answer_within:g} s") from None
    except httpx.TransportError as exc:
        # A read or write error, or a dropped keep-alive connection: the service may have acted.
        raise failures.connection_lost(f"{path}: {type(exc).__name__}") from None
    if response.is_error:
        raise error_of(response)
    return response
