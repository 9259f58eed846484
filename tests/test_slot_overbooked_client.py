"""The Overbooked client reads every shape of error answer, and knows which failures may follow a done lock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.overbooked import (
    OverbookedBadAnswer,
    OverbookedEnvironmentDeactivated,
    OverbookedError,
    OverbookedLockKeyInvalid,
    OverbookedNoAccess,
    OverbookedOrganisationBlocked,
    OverbookedRateLimited,
    OverbookedServerError,
    OverbookedSlotAlreadyLocked,
    OverbookedSlotNotFound,
    OverbookedSlotNotLockable,
    OverbookedTimeout,
    OverbookedUnauthorized,
    SlotClient,
)
from tests.fakes.overbooked_api import FakeOverbooked

SLOT = "3751095a-b4ef-41a3-98a3-b8a0eecfc332"
SLOT_DATA = {"_object": "slot", "id": SLOT, "lockable": True, "locked_until": None}


def client_for(handle: Callable[[httpx.Request], httpx.Response]) -> SlotClient:
    return SlotClient(api_key="sk_test", endpoint="https://overbooked.test", transport=httpx.MockTransport(handle))


async def answer(status: int, body: Any = None, *, content: bytes | None = None) -> list[httpx.Request]:
    """Call lock once against a server that always answers this; the requests it received."""
    received: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        received.append(request)
        if content is not None:
            return httpx.Response(status, content=content)
        return httpx.Response(status, json=body)

    client = client_for(handle)
    try:
        await client.lock(SLOT, datetime.now(UTC) + timedelta(hours=1), "secret-lock-key")
    finally:
        await client.aclose()
    return received


async def error_of(status: int, body: Any = None, *, content: bytes | None = None) -> OverbookedError:
    with pytest.raises(OverbookedError) as caught:
        await answer(status, body, content=content)
    return caught.value


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        # The documented shape: {"error": {"code", "message", "status"}, "success": false}.
        (404, {"error": {"code": "E025", "message": "Slot not found", "status": 404}, "success": False},
         OverbookedSlotNotFound, "E025"),
        # A top-level code.
        (422, {"code": "E044", "message": "Slot is not lockable", "success": False}, OverbookedSlotNotLockable, "E044"),
        # An error that is just the code.
        (422, {"error": "E045", "success": False}, OverbookedSlotAlreadyLocked, "E045"),
        (403, {"error": " e059 ", "success": False}, OverbookedLockKeyInvalid, "E059"),
        # error.code wins over a top-level code.
        (401, {"code": "E001", "error": {"code": "E055"}, "success": False}, OverbookedUnauthorized, "E055"),
        # 404 without a code: the slot is not there.
        (404, {"success": False}, OverbookedSlotNotFound, None),
        (404, None, OverbookedSlotNotFound, None),
        (404, {"error": "Not Found"}, OverbookedSlotNotFound, None),
        # ...but a documented code says what is missing (E002: the route).
        (404, {"error": {"code": "E002", "message": "Route not found"}, "success": False}, OverbookedError, "E002"),
        # success: false is an error whatever the HTTP status says.
        (200, {"error": {"code": "E045", "message": "Slot is already locked"}, "success": False},
         OverbookedSlotAlreadyLocked, "E045"),
        (200, {"code": "E044", "success": False}, OverbookedSlotNotLockable, "E044"),
        (201, {"success": False}, OverbookedError, None),
        (500, {"error": "E001", "success": False}, OverbookedServerError, "E001"),
    ],
)  # fmt: skip
async def test_error_answers_of_every_shape(
    status: int, body: Any, kind: type[OverbookedError], code: str | None
) -> None:
    error = await error_of(status, body)

    assert type(error) is kind
    assert (error.status, error.code) == (status, code)
    assert error.may_have_acted is (status == 500)  # only a server error may follow a lock Overbooked made


@pytest.mark.anyio
async def test_a_429_with_a_string_code_is_rate_limited() -> None:
    error = await error_of(429, {"error": "E062", "success": False})
    assert isinstance(error, OverbookedRateLimited)


@pytest.mark.anyio
async def test_the_words_of_each_refusal_are_the_specs() -> None:
    assert (await error_of(404, {"error": "E025"})).user_message.startswith("slot not found: ")
    assert (await error_of(403, {"error": "E059"})).user_message.startswith("the lock key is invalid: ")
    assert (await error_of(401, {"error": "E008"})).user_message.startswith("the Overbooked API key is invalid")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("code", "status", "kind", "words"),
    [
        ("E053", 403, OverbookedEnvironmentDeactivated, "the Overbooked environment is deactivated"),
        ("E054", 403, OverbookedOrganisationBlocked, "the Overbooked organisation is blocked"),
        ("E057", 401, OverbookedNoAccess, "the Overbooked API key has no access to this slot"),
    ],
)
async def test_a_right_key_that_cannot_be_used_says_why_not_that_it_is_invalid(
    code: str, status: int, kind: type[OverbookedError], words: str
) -> None:
    message = {"E053": "Environment is deactivated", "E054": "Organization is blocked"}.get(code, "no access")
    error = await error_of(status, {"error": {"code": code, "message": message, "status": status}, "success": False})

    assert type(error) is kind
    assert error.code == code
    assert error.user_message.startswith(words)
    assert "invalid" not in error.user_message


@pytest.mark.anyio
async def test_overbookeds_fake_refusing_with_these_codes_gets_the_same_words() -> None:
    fake = FakeOverbooked(secret_key="sk_test_codes").start()
    slot = fake.add_slot()["id"]

    try:
        client = SlotClient(api_key="sk_test_codes", endpoint=fake.url)
        caught: list[OverbookedError] = []
        try:
            for code, status in (("E053", 403), ("E054", 403), ("E057", 401)):
                fake.fail("lock", code=code, status=status)
                with pytest.raises(OverbookedError) as raised:
                    await client.lock(slot, datetime.now(UTC) + timedelta(minutes=30), "secret-lock-key")
                caught.append(raised.value)
        finally:
            await client.aclose()
        deactivated, blocked, no_access = caught
    finally:
        fake.stop()

    assert deactivated.user_message.startswith("the Overbooked environment is deactivated")
    assert blocked.user_message.startswith("the Overbooked organisation is blocked")
    assert no_access.user_message.startswith("the Overbooked API key has no access to this slot")


@pytest.mark.anyio
@pytest.mark.parametrize("status", [500, 502, 504])
async def test_a_server_error_on_a_lock_may_have_locked_and_is_not_sent_again(status: int) -> None:
    with pytest.raises(OverbookedServerError) as caught:
        await answer(status, {"error": {"code": "E001"}, "success": False})
    assert caught.value.may_have_acted


@pytest.mark.anyio
async def test_a_503_did_not_lock() -> None:
    error = await error_of(503, {"error": "E001", "success": False})
    assert isinstance(error, OverbookedServerError)
    assert not error.may_have_acted


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "content"),
    [(None, b"<html>ok</html>"), ({"success": True}, None), ({"data": {"no": "id"}, "success": True}, None)],
)
async def test_a_2xx_lockbot_cannot_read_may_have_locked(body: Any, content: bytes | None) -> None:
    error = await error_of(200, body, content=content)
    assert isinstance(error, OverbookedBadAnswer)
    assert error.may_have_acted
    assert error.user_message == "Overbooked sent an answer lockbot does not understand"


@pytest.mark.anyio
async def test_a_lock_is_sent_once_whatever_the_answer() -> None:
    received: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(500, json={"error": {"code": "E001"}, "success": False})

    client = client_for(handle)
    try:
        with pytest.raises(OverbookedServerError):
            await client.lock(SLOT, datetime.now(UTC) + timedelta(hours=1), "secret-lock-key")
    finally:
        await client.aclose()
    assert len(received) == 1


def test_a_timeout_may_have_locked() -> None:
    assert OverbookedTimeout("no answer").may_have_acted


@pytest.mark.anyio
async def test_a_good_answer_is_a_slot() -> None:
    [request] = await answer(200, {"data": SLOT_DATA, "meta": {}, "success": True})
    assert request.url.path == f"/slots/{SLOT}/lock"
