"""What every API client shares: the Retry-After parser, the error bases, the pooled httpx client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.api_calls import (
    ApiError,
    NotSent,
    OutcomeUnknown,
    RateLimited,
    ServerFailed,
    parse_retry_after,
    pooled_client,
)
from bot.overbooked import OverbookedError, OverbookedRateLimited, OverbookedTimeout, OverbookedUnreachable, SlotClient
from bot.seam import SeamClient, SeamConnectionLost, SeamError, SeamRateLimited, SeamServerError, SeamUnreachable

NOW = datetime(2026, 12, 1, 14, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 7 ", 7.0),  # whitespace around the value is no part of it
        ("1.5", 1.5),  # not RFC 9110's delay-seconds, but sent by services lockbot calls
        ("007", 7.0),
    ],
)
def test_retry_after_in_seconds(header: str, seconds: float) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


@pytest.mark.parametrize(
    "header",
    [
        "Tue, 01 Dec 2026 14:01:30 GMT",  # IMF-fixdate, the form RFC 9110 asks senders to use
        "Tuesday, 01-Dec-26 14:01:30 GMT",  # the obsolete RFC 850 form recipients must still read
        "Tue Dec  1 14:01:30 2026",  # ANSI C's asctime() form, which carries no zone: GMT
    ],
)
def test_retry_after_as_an_http_date_is_the_seconds_until_then(header: str) -> None:
    assert parse_retry_after(header, now=NOW) == 90.0


def test_retry_after_a_date_already_past_is_now() -> None:
    assert parse_retry_after("Tue, 01 Dec 2026 13:00:00 GMT", now=NOW) == 0.0


def test_retry_after_a_date_is_read_against_the_clock_when_no_now_is_given() -> None:
    in_a_minute = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    seconds = parse_retry_after(in_a_minute)
    assert seconds is not None
    assert 55 <= seconds <= 60


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "soon",
        "-5",  # a negative delay is no delay RFC 9110 knows
        "-0.5",
        "1e3",
        "inf",
        "nan",
        "1.",
        ".5",
        "12 seconds",
        "120, 120",
        "²",  # a digit to str.isdigit, not to float()
        "١٢",  # Arabic-Indic digits: not the ASCII digits of delay-seconds
        "Tue, 01 Dec 2026 25:61:00 GMT",
        "Tue, 01 Dec 99999 14:01:30 GMT",
    ],
)
def test_retry_after_that_cannot_be_read_is_no_advice(header: str | None) -> None:
    assert parse_retry_after(header, now=NOW) is None


@pytest.mark.parametrize(
    ("error", "marker", "may_have_acted"),
    [
        (SeamUnreachable("x"), NotSent, False),
        (OverbookedUnreachable("x"), NotSent, False),
        (SeamConnectionLost("x"), OutcomeUnknown, True),
        (OverbookedTimeout("x"), OutcomeUnknown, True),
        (SeamRateLimited("x", retry_after=3.0), RateLimited, False),
        (OverbookedRateLimited("x", retry_after=3.0), RateLimited, False),
        (SeamServerError("x", status=500), ServerFailed, True),
        (SeamServerError("x", status=503), ServerFailed, False),
    ],
)
def test_each_clients_errors_are_thin_subclasses_of_the_shared_bases(
    error: ApiError, marker: type[ApiError], may_have_acted: bool
) -> None:
    assert isinstance(error, marker)
    assert error.may_have_acted is may_have_acted
    # Each client's `except` catches its own service's errors, never the other's.
    assert isinstance(error, SeamError) != isinstance(error, OverbookedError)


def test_a_rate_limit_keeps_its_retry_after_status_and_the_services_own_fields() -> None:
    seam = SeamRateLimited("slow down", retry_after=2.0, status=429, error_type="rate_limited")
    overbooked = OverbookedRateLimited("slow down", retry_after=2.0, status=429, code="E062")

    assert (seam.retry_after, seam.status, seam.error_type, seam.detail) == (2.0, 429, "rate_limited", "slow down")
    assert (overbooked.retry_after, overbooked.status, overbooked.code) == (2.0, 429, "E062")


def test_an_error_without_detail_reads_as_its_user_message() -> None:
    assert str(SeamUnreachable()) == "lockbot could not reach Seam"
    assert str(OverbookedUnreachable()) == "lockbot could not reach Overbooked"


@pytest.mark.anyio
@pytest.mark.parametrize("service", ["seam", "overbooked"])
async def test_a_date_retry_after_reaches_both_clients_as_seconds(service: str) -> None:
    in_an_hour = (datetime.now(UTC) + timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"error": {"type": "rate_limited"}}, headers={"Retry-After": in_an_hour})

    transport = httpx.MockTransport(handle)
    if service == "seam":
        seam = SeamClient(api_key="seam_test", endpoint="https://seam.test", transport=transport)
        try:
            with pytest.raises(RateLimited) as raised:
                await seam.lock_door("lock_1")
        finally:
            await seam.aclose()
    else:
        slots = SlotClient(api_key="sk_test", endpoint="https://overbooked.test", transport=transport)
        try:
            with pytest.raises(RateLimited) as raised:
                await slots.get("3751095a-b4ef-41a3-98a3-b8a0eecfc332")
        finally:
            await slots.aclose()
    # An hour is beyond what one call waits out, so the caller hears "busy" at once.
    assert raised.value.retry_after is not None
    assert 3500 <= raised.value.retry_after <= 3600


@pytest.mark.anyio
async def test_the_pooled_client_carries_the_base_url_bearer_key_user_agent_and_timeouts() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    http = pooled_client(
        endpoint="https://api.test/v1/",
        api_key="key_1",
        timeout=12.0,
        limits=httpx.Limits(max_connections=3),
        transport=httpx.MockTransport(handle),
    )
    try:
        await http.post("/things")
        timeout = http.timeout
    finally:
        await http.aclose()

    [request] = seen
    assert str(request.url) == "https://api.test/v1/things"
    assert request.headers["Authorization"] == "Bearer key_1"
    assert request.headers["User-Agent"] == "lockbot"
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (5.0, 12.0, 12.0, 12.0)
