"""The Seam client alone: typed errors for every failure, safe retries. httpx's MockTransport as Seam."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import pytest

from bot.seam import (
    LOCKS_LIMIT,
    SeamClient,
    SeamConnectionLost,
    SeamDeviceNotFound,
    SeamError,
    SeamInvalidInput,
    SeamProtocolError,
    SeamRateLimited,
    SeamServerError,
    SeamTimeout,
    SeamUnauthorized,
    SeamUnreachable,
)

T = TypeVar("T")

PENDING = {
    "action_attempt": {
        "action_attempt_id": "aa1",
        "action_type": "LOCK_DOOR",
        "status": "pending",
        "result": None,
        "error": None,
    }
}


class Recorder:
    def __init__(self, *answers: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers[min(len(self.requests), len(self.answers)) - 1](request)


def answer(
    status: int, body: object, headers: dict[str, str] | None = None
) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=body, headers=headers)


def error(status: int, error_type: str, message: str = "msg") -> Callable[[httpx.Request], httpx.Response]:
    return answer(status, {"error": {"type": error_type, "message": message, "stack": "Error: at secret/path.js:1"}})


def raising(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def fail(request: httpx.Request) -> httpx.Response:
        raise exc

    return fail


async def run(recorder: Recorder, call: Callable[[SeamClient], Awaitable[T]]) -> T:
    client = SeamClient(
        api_key="seam_key",
        endpoint="http://seam.test",
        transport=httpx.MockTransport(recorder),
        timeout=1,
    )
    try:
        return await call(client)
    finally:
        await client.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (error(400, "invalid_input"), SeamInvalidInput),
        (error(401, "unauthorized"), SeamUnauthorized),
        (error(404, "device_not_found"), SeamDeviceNotFound),
        (error(429, "rate_limited"), SeamRateLimited),
        (error(500, "internal_server_error"), SeamServerError),
        (answer(502, "<html>bad gateway</html>"), SeamServerError),
        (raising(httpx.ReadTimeout("slow")), SeamTimeout),
        (raising(httpx.ConnectError("refused")), SeamUnreachable),
        (raising(httpx.ReadError("reset")), SeamConnectionLost),
        (answer(200, ["not", "an", "object"]), SeamProtocolError),
        (answer(200, {"action_attempt": {"status": "weird"}}), SeamProtocolError),
    ],
)
async def test_each_failure_is_a_typed_error_with_plain_words(
    response: Callable[[httpx.Request], httpx.Response], expected: type[SeamError]
) -> None:
    with pytest.raises(expected) as raised:
        await run(Recorder(response), lambda client: client.lock_door("lock_1"))
    assert raised.value.user_message
    assert "stack" not in str(raised.value)
    assert "secret/path" not in str(raised.value)


@pytest.mark.anyio
async def test_seams_reason_for_a_refusal_is_kept_plain_on_one_short_line() -> None:
    reason = "Device is in <!channel> privacy mode &\n cannot be unlocked remotely. " + "x" * 300
    with pytest.raises(SeamInvalidInput) as raised:
        await run(Recorder(error(400, "invalid_input", reason)), lambda client: client.unlock_door("lock_1"))

    words = raised.value.user_message
    assert words.startswith("Seam did not accept the request: Device is in <!channel> privacy mode & cannot be")
    assert raised.value.seam_message == words.removeprefix("Seam did not accept the request: ")
    assert len(raised.value.seam_message) == 200
    assert raised.value.seam_message.endswith("…")
    assert "\n" not in words
    assert "secret/path" not in words


@pytest.mark.anyio
async def test_a_refusal_without_a_reason_says_only_that() -> None:
    refused = answer(400, {"error": {"type": "invalid_input", "message": "  "}})
    with pytest.raises(SeamInvalidInput) as raised:
        await run(Recorder(refused), lambda client: client.lock_door("lock_1"))

    assert raised.value.user_message == "Seam did not accept the request"
    assert SeamInvalidInput.user_message == "Seam did not accept the request"  # one refusal's words stay its own


@pytest.mark.anyio
async def test_lock_sends_the_device_and_the_key() -> None:
    recorder = Recorder(answer(200, PENDING))
    attempt = await run(recorder, lambda client: client.lock_door("lock_1"))
    assert attempt.status == "pending"
    request = recorder.requests[0]
    assert request.url.path == "/locks/lock_door"
    assert json.loads(request.content) == {"device_id": "lock_1"}
    assert request.headers["authorization"] == "Bearer seam_key"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "first",
    [
        error(500, "internal_server_error"),
        raising(httpx.ReadTimeout("slow")),
        raising(httpx.ReadError("connection reset")),
        raising(httpx.RemoteProtocolError("server disconnected")),
        raising(httpx.WriteError("broken pipe")),
        error(404, "device_not_found"),
    ],
)
async def test_a_write_seam_may_have_acted_on_is_never_retried(
    first: Callable[[httpx.Request], httpx.Response],
) -> None:
    recorder = Recorder(first, answer(200, PENDING))
    with pytest.raises(SeamError):
        await run(recorder, lambda client: client.unlock_door("lock_1"))
    assert len(recorder.requests) == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    "first", [error(429, "rate_limited"), raising(httpx.ConnectError("refused")), raising(httpx.ConnectTimeout("slow"))]
)
async def test_a_write_seam_did_not_act_on_is_retried_once(
    first: Callable[[httpx.Request], httpx.Response],
) -> None:
    recorder = Recorder(first, answer(200, PENDING))
    await run(recorder, lambda client: client.unlock_door("lock_1"))
    assert len(recorder.requests) == 2


@pytest.mark.anyio
async def test_retry_after_beyond_a_few_seconds_is_not_waited_out() -> None:
    recorder = Recorder(answer(429, {"error": {"type": "rate_limited"}}, {"Retry-After": "120"}), answer(200, PENDING))
    with pytest.raises(SeamRateLimited) as raised:
        await run(recorder, lambda client: client.lock_door("lock_1"))
    assert raised.value.retry_after == 120
    assert len(recorder.requests) == 1


@pytest.mark.anyio
async def test_reads_are_retried_on_transient_failures() -> None:
    front_door = {"device_id": "lock_1", "display_name": "Front Door", "properties": {"locked": True, "online": True}}
    locks = {"locks": [front_door], "devices": [front_door], "ok": True}
    recorder = Recorder(error(503, "unavailable"), raising(httpx.ReadTimeout("slow")), answer(200, locks))
    found = await run(recorder, lambda client: client.list_locks())
    assert [lock.name for lock in found] == ["Front Door"]
    assert len(recorder.requests) == 3


def listed(*device_ids: str) -> dict[str, object]:
    """/locks/list's answer as Seam documents it: the locks twice (`locks`, `devices`), no pagination."""
    locks = [{"device_id": device_id, "display_name": device_id.upper()} for device_id in device_ids]
    return {"locks": locks, "devices": locks, "ok": True}


@pytest.mark.anyio
async def test_list_locks_asks_once_for_more_than_seams_default_of_500() -> None:
    recorder = Recorder(answer(200, listed(*(f"lock_{i}" for i in range(700)))))

    found = await run(recorder, lambda client: client.list_locks())

    assert len(found) == 700
    assert len(recorder.requests) == 1
    assert json.loads(recorder.requests[0].content) == {"limit": LOCKS_LIMIT}


@pytest.mark.anyio
async def test_a_full_answer_from_list_locks_is_logged_as_such(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder(answer(200, listed(*(f"lock_{i}" for i in range(LOCKS_LIMIT)))))

    with caplog.at_level(logging.WARNING, logger="bot.seam"):
        found = await run(recorder, lambda client: client.list_locks())

    assert len(found) == LOCKS_LIMIT
    assert f"Seam listed {LOCKS_LIMIT} locks, as many as one /locks/list returns" in caplog.text


@pytest.mark.anyio
async def test_list_locks_refused_its_limit_asks_for_seams_default(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder(error(400, "invalid_input", "limit is too large"), answer(200, listed("a", "b")))

    with caplog.at_level(logging.WARNING, logger="bot.seam"):
        found = await run(recorder, lambda client: client.list_locks())

    assert [lock.device_id for lock in found] == ["a", "b"]
    assert [json.loads(request.content) for request in recorder.requests] == [{"limit": LOCKS_LIMIT}, {}]
    assert "as many as one /locks/list returns" not in caplog.text


@pytest.mark.anyio
async def test_confirmed_by_device() -> None:
    success = {
        "action_attempt": {
            "action_attempt_id": "a",
            "action_type": "UNLOCK_DOOR",
            "status": "success",
            "result": {"was_confirmed_by_device": False},
        }
    }
    attempt = await run(Recorder(answer(200, success)), lambda client: client.get_action_attempt("a"))
    assert attempt.confirmed_by_device is False
