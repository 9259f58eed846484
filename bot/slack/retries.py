"""Which failed Slack Web API calls are tried again: lockbot's write rule (`bot.api_calls`), for Slack.

A call whose repeat changes nothing (a read; an edit or deletion of a given message) is retried on a
5xx or a broken connection. Any other write (a post, opening a dialog) is retried only when Slack
certainly did not take it: the connection never opened. After a 5xx or a connection broken after
sending, Slack may have posted the message, and a retry would post it twice. A 429 is Slack
refusing without acting; `AsyncRateLimitErrorRetryHandler` waits out its Retry-After for every method.
"""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

__all__ = ["REPEATABLE_METHODS", "SlackRetry", "certainly_not_taken", "method_of"]

# Methods lockbot calls whose repeat leaves Slack as one call would. Anything not named is a write.
REPEATABLE_METHODS = frozenset(
    {
        "apps.connections.open",
        "auth.test",
        "conversations.open",  # the same DM channel each time
        "usergroups.users.list",
        "users.info",
        "chat.update",  # the same content again
        "chat.delete",  # gone either way
        "views.publish",  # the same Home again
    }
)
_SERVER_ERRORS = frozenset({500, 502, 503, 504})


def method_of(request: HttpRequest) -> str:
    """The Web API method a request calls (`…/api/chat.postMessage` → `chat.postMessage`)."""
    return request.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def _never_sent(error: Exception) -> bool:
    # Refused, unreachable, or the TLS handshake failed: no request reached Slack.
    return isinstance(error, aiohttp.ClientConnectorError)


def certainly_not_taken(error: Exception) -> bool:
    """Whether a failed write certainly did nothing in Slack, so another try cannot do it twice: Slack
    answered with a refusal or a 429 (any answer under 500), or the connection never opened. After a
    5xx, a timeout or a connection lost on the way, it may have been done."""
    if isinstance(error, SlackApiError):
        return bool(error.response.status_code < 500)
    return _never_sent(error)


def _broken_on_the_way(error: Exception) -> bool:
    return isinstance(error, aiohttp.ServerConnectionError | aiohttp.ClientOSError)


class SlackRetry(AsyncRetryHandler):
    """Retries a Slack call on a 5xx or a lost connection only when a repeat cannot do a write twice."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if error is not None and _never_sent(error):
            return True
        if method_of(request) not in REPEATABLE_METHODS:
            return False
        if error is not None:
            return _broken_on_the_way(error)
        return response is not None and response.status_code in _SERVER_ERRORS
