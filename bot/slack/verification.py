"""Slack's HTTP requests at the door: the signature checked before anything reads the body.

A request that is not signed by Slack, or signed too long ago, costs one short log line and is
never parsed: parsing first would let anyone make lockbot fail (and log) on a crafted body. A
signed request is parsed after, and one that does not parse is a bad request, never a crash.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, parse_qsl

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import Clock, SignatureVerifier

__all__ = [
    "SIGNATURE_WINDOW_SECONDS",
    "Refused",
    "SlackRequestVerifier",
    "Unreadable",
    "VerifiedRequest",
    "bolt_request",
    "is_ssl_check",
]

# How far a request's timestamp may be from now, either way (Slack's own rule, and slack_sdk's).
SIGNATURE_WINDOW_SECONDS = 5 * 60
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
# An ssl_check is tiny: a larger body is never read as one.
_SSL_CHECK_MAX_BYTES = 512


class Refused(Exception):
    """Not a request from Slack, or no longer one: answered 401 and not looked at again.

    The message is short and carries nothing from the request, so it can be logged as it is."""


class Unreadable(Exception):
    """Signed by Slack but not a request lockbot can read: answered 400."""


@dataclass(frozen=True)
class VerifiedRequest:
    """A request whose signature and timestamp are good."""

    body: str
    timestamp: int
    digest: str  # of the body: the same body signed again (a replay, a retry) has the same digest

    def remembered_until(self, now: float) -> float:
        """Until when the request must be remembered: a copy of it passes the timestamp check until then.

        From its timestamp or from now, whichever is later: either may be ahead within the window."""
        return max(self.timestamp, now) + SIGNATURE_WINDOW_SECONDS


class _ClockOf(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


class SlackRequestVerifier:
    """Checks Slack's signature (`X-Slack-Signature`) and timestamp (`X-Slack-Request-Timestamp`)."""

    def __init__(self, signing_secret: str, *, clock: Callable[[], float] = time.time) -> None:
        # slack_sdk checks the timestamp again: on the same clock.
        self._verifier = SignatureVerifier(signing_secret, clock=_ClockOf(clock))
        self._clock = clock

    def verify(self, body: bytes, headers: Mapping[str, str]) -> VerifiedRequest:
        """The request, verified; raises Refused saying why not."""
        stamp, signature = headers.get("X-Slack-Request-Timestamp"), headers.get("X-Slack-Signature")
        if not stamp or not signature:
            raise Refused("no signature")
        # Seconds since 1970 in ASCII digits, as Slack sends them: anything else (a sign, spaces, a
        # 400-digit number that no float can hold) is refused before it is computed with.
        if not _TIMESTAMP.fullmatch(stamp):
            raise Refused("malformed timestamp")
        timestamp = int(stamp)
        if abs(self._clock() - timestamp) > SIGNATURE_WINDOW_SECONDS:
            raise Refused("stale timestamp")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused("body is not UTF-8") from None  # Slack signs UTF-8 form or JSON bodies only
        if not self._verifier.is_valid(text, stamp, signature):
            raise Refused("bad signature")
        return VerifiedRequest(body=text, timestamp=timestamp, digest=hashlib.sha256(body).hexdigest())


def is_ssl_check(body: bytes) -> bool:
    """Slack's `ssl_check=1` probe of a command URL: answered 200, and nothing is done."""
    if len(body) > _SSL_CHECK_MAX_BYTES:
        return False
    return parse_qs(body.decode("utf-8", "replace")).get("ssl_check") == ["1"]


def bolt_request(verified: VerifiedRequest, query: str, headers: Mapping[str, str]) -> AsyncBoltRequest:
    """The request as bolt takes it; raises Unreadable for a body that is not a Slack payload."""
    try:
        request = AsyncBoltRequest(body=verified.body, query=query, headers=_header_lists(headers))
    except Exception as exc:
        # bolt parses on construction (`payload=` JSON, a JSON body): any failure there is the body's.
        raise Unreadable(f"unreadable body ({type(exc).__name__})") from None
    if not isinstance(request.body, dict):
        raise Unreadable("the body is not an object")
    form = _form_without_payload(verified.body)
    if form is not None:
        request.body = form
        request.context = build_async_context(AsyncBoltContext({}), form)
    return request


def _form_without_payload(body: str) -> dict[str, str] | None:
    """A form body that merely contains the word "payload" (`/unlock front door payload delivery`).

    bolt reads every form body with that word in it as an interactive payload and, finding no
    `payload` field, as empty: the command would get a 404. None for every other body.
    """
    if "payload" not in body or body.lstrip().startswith("{"):
        return None
    form = dict(parse_qsl(body, keep_blank_values=True))
    return None if "payload" in form else form


def _header_lists(headers: Mapping[str, str]) -> dict[str, Any]:
    lists: dict[str, list[str]] = {}
    for name, value in headers.items():
        lists.setdefault(name.lower(), []).append(value)
    return lists
