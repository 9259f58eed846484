"""Which failed Slack calls are tried again: a write only when Slack certainly did not take it."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.slack_response import SlackResponse

from bot.slack.retries import SlackRetry, certainly_not_taken, method_of

API = "https://slack.test/api/"
WRITES = ["chat.postMessage", "chat.postEphemeral", "views.open", "some.newMethod"]
REPEATABLE = ["users.info", "usergroups.users.list", "auth.test", "chat.update", "chat.delete"]


def refused() -> Exception:
    key = ConnectionKey("slack.test", 443, is_ssl=True, ssl=True, proxy=None, proxy_auth=None, proxy_headers_hash=None)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused"))


async def decide(method: str, *, status: int | None = None, error: Exception | None = None, attempt: int = 0) -> bool:
    handler = SlackRetry(max_retry_count=2)
    request = HttpRequest(method="POST", url=API + method, headers={})
    response = HttpResponse(status_code=status, headers={}) if status is not None else None
    return await handler.can_retry_async(
        state=RetryState(current_attempt=attempt), request=request, response=response, error=error
    )


def test_the_method_is_read_from_the_url() -> None:
    assert method_of(HttpRequest(method="POST", url=API + "chat.postMessage", headers={})) == "chat.postMessage"
    assert method_of(HttpRequest(method="GET", url=API + "users.info?user=U1", headers={})) == "users.info"


@pytest.mark.anyio
@pytest.mark.parametrize("method", WRITES + REPEATABLE)
async def test_a_connection_that_never_opened_is_retried_for_every_method(method: str) -> None:
    assert await decide(method, error=refused())


@pytest.mark.anyio
@pytest.mark.parametrize("method", WRITES)
@pytest.mark.parametrize(
    "failure",
    [
        {"status": 500},
        {"status": 503},
        {"error": aiohttp.ServerDisconnectedError()},
        {"error": aiohttp.ClientOSError(104, "Connection reset by peer")},
    ],
    ids=["500", "503", "disconnected", "reset"],
)
async def test_a_write_slack_may_have_taken_is_not_retried(method: str, failure: dict[str, Any]) -> None:
    assert not await decide(method, **failure)


@pytest.mark.anyio
@pytest.mark.parametrize("method", REPEATABLE)
@pytest.mark.parametrize(
    "failure",
    [
        {"status": 500},
        {"status": 503},
        {"error": aiohttp.ServerDisconnectedError()},
        {"error": aiohttp.ClientOSError(104, "Connection reset by peer")},
    ],
    ids=["500", "503", "disconnected", "reset"],
)
async def test_a_call_whose_repeat_changes_nothing_is_retried_on_a_5xx_or_a_broken_connection(
    method: str, failure: dict[str, Any]
) -> None:
    assert await decide(method, **failure)


@pytest.mark.anyio
@pytest.mark.parametrize("method", WRITES + REPEATABLE)
async def test_answers_and_errors_that_say_nothing_of_the_network_are_not_retried(method: str) -> None:
    assert not await decide(method, status=200)
    assert not await decide(method, status=400)
    assert not await decide(method, status=429)  # waited out by the rate limit handler instead
    assert not await decide(method, error=TimeoutError())
    assert not await decide(method, error=ValueError("not a network error"))


@pytest.mark.anyio
async def test_retries_stop_at_the_maximum() -> None:
    assert await decide("users.info", status=500, attempt=1)
    assert not await decide("users.info", status=500, attempt=2)
    assert not await decide("chat.postMessage", error=refused(), attempt=2)


def api_error(status: int, error: str) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url=API + "chat.postMessage",
        req_args={},
        data={"ok": False, "error": error},
        headers={},
        status_code=status,
    )
    return SlackApiError(error, response)


@pytest.mark.parametrize(
    ("failure", "certain"),
    [
        (api_error(200, "not_in_channel"), True),  # a refusal: Slack answered and did nothing
        (api_error(429, "ratelimited"), True),
        (refused(), True),  # the connection never opened
        (api_error(500, "internal_error"), False),
        (api_error(503, "service_unavailable"), False),
        (aiohttp.ServerDisconnectedError(), False),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), False),
        (TimeoutError(), False),
    ],
    ids=["refusal", "429", "never-opened", "500", "503", "disconnected", "reset", "timeout"],
)
def test_a_post_certainly_not_taken_is_told_from_one_that_may_have_been(failure: Exception, certain: bool) -> None:
    assert certainly_not_taken(failure) is certain
