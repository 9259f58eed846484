"""The fake Overbooked API behaves as the Overbooked reference documents it (slots: get, lock, unlock)."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.fakes.overbooked_api import FakeOverbooked

SECRET = "sk_test_" + "5e" * 30
ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SLOT_FIELDS = {
    "_object",
    "id",
    "resource_id",
    "available",
    "capacity",
    "created_at",
    "updated_at",
    "start_date",
    "end_date",
    "lockable",
    "locked_until",
    "metadata",
    "num_active_bookings",
    "num_bookings",
    "num_cancelled_bookings",
    "status",
}

# Every response body any test received, checked for lock keys after each test.
_seen: list[str] = []


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOverbooked]:
    server = FakeOverbooked(secret_key=SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def api(fake: FakeOverbooked) -> Iterator[httpx.Client]:
    fake.reset()
    _seen.clear()

    def keep(response: httpx.Response) -> None:
        response.read()
        _seen.append(response.text)

    with httpx.Client(
        base_url=fake.url,
        headers={"Authorization": f"Bearer {SECRET}"},
        timeout=5,
        event_hooks={"response": [keep]},
    ) as client:
        yield client
    keys = {key for slot in fake.slots.values() if (key := slot["lock_key"])}
    keys |= {
        call.json["lock_key"]
        for call in fake.calls
        if isinstance(call.json, dict) and isinstance(call.json.get("lock_key"), str) and call.json["lock_key"]
    }
    leaked = [(key, text) for key in keys for text in _seen if key in text]
    assert not leaked, f"a response contained a lock key: {leaked}"


def new_key() -> str:
    return "lk_" + uuid.uuid4().hex


def in_(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def lock(api: httpx.Client, slot_id: str, key: str, until: str | None = None) -> httpx.Response:
    return api.post(f"/slots/{slot_id}/lock", json={"lock_until": until or in_(15), "lock_key": key})


def unlock(api: httpx.Client, slot_id: str, key: str) -> httpx.Response:
    return api.post(f"/slots/{slot_id}/unlock", json={"lock_key": key})


def assert_error(response: httpx.Response, code: str, status: int, message: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body == {"error": {"code": code, "message": body["error"]["message"], "status": status}, "success": False}
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    if message is not None:
        assert body["error"]["message"] == message


def slot_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"data", "meta", "success"}
    assert body["success"] is True
    assert body["meta"] == {}
    data: dict[str, Any] = body["data"]
    return data


# -- envelope and slot ---------------------------------------------------------------------------


def test_get_answers_the_slot_in_the_success_envelope(fake: FakeOverbooked, api: httpx.Client) -> None:
    added = fake.add_slot("slot-get", metadata={"room": "A"})
    slot = slot_of(api.get("/slots/slot-get"))
    assert set(slot) == SLOT_FIELDS
    assert slot == added
    assert slot["_object"] == "slot"
    assert slot["id"] == "slot-get"
    assert slot["lockable"] is True
    assert slot["status"] == "active"
    assert slot["available"] is True
    assert slot["locked_until"] is None
    assert slot["metadata"] == {"room": "A"}
    assert (slot["num_active_bookings"], slot["num_bookings"], slot["num_cancelled_bookings"]) == (0, 0, 0)
    for field in ("created_at", "updated_at", "start_date", "end_date"):
        assert ISO_MS_Z.match(slot[field]), (field, slot[field])
    assert "lock_key" not in slot


def test_unknown_slot_is_E025_on_every_route(api: httpx.Client) -> None:
    assert_error(api.get("/slots/nope"), "E025", 404, "Slot not found")
    assert_error(lock(api, "nope", new_key()), "E025", 404)
    assert_error(unlock(api, "nope", new_key()), "E025", 404)
    # The slot is looked up before the body is checked.
    assert_error(api.post("/slots/nope/lock", json={}), "E025", 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/resources"),
        ("POST", "/slots"),
        ("GET", "/slots/x/lock"),
        ("POST", "/slots/x"),
        ("DELETE", "/slots/x"),
        ("POST", "/slots/x/book"),
        ("GET", "/"),
    ],
)
def test_other_routes_are_E002(fake: FakeOverbooked, api: httpx.Client, method: str, path: str) -> None:
    fake.add_slot(f"x{uuid.uuid4().hex}")  # the fake has slots; the route is still unknown
    assert_error(api.request(method, path), "E002", 404, "Route not found")


def test_the_slot_list_is_one_page_of_public_slots(fake: FakeOverbooked, api: httpx.Client) -> None:
    for _ in range(3):
        fake.add_slot(f"list-{uuid.uuid4().hex}")
    answer = api.get("/slots", params={"limit": 2, "page": 1})
    assert answer.status_code == 200
    body = answer.json()
    assert body["success"] is True
    assert len(body["data"]) == 2
    assert all(set(slot) == SLOT_FIELDS for slot in body["data"])
    assert body["meta"] == {"limit": 2, "page": 1, "total": len(fake.slots)}
    assert_error(api.get("/slots"), "E013", 400)  # limit and page are required
    with httpx.Client(base_url=fake.url, timeout=5, headers={"Authorization": "Bearer sk_wrong"}) as wrong:
        assert_error(wrong.get("/slots", params={"limit": 1, "page": 1}), "E055", 401)


# -- authentication -----------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["get", "lock", "unlock"])
def test_no_api_key_is_E056(fake: FakeOverbooked, route: str) -> None:
    fake.add_slot(slot_id := f"auth-{uuid.uuid4().hex}")
    with httpx.Client(base_url=fake.url, timeout=5) as bare:
        if route == "get":
            response = bare.get(f"/slots/{slot_id}")
        else:
            response = bare.post(f"/slots/{slot_id}/{route}", json={"lock_until": in_(5), "lock_key": new_key()})
        assert_error(response, "E056", 401, "Unauthorized, no API Key provided")
        assert_error(bare.get(f"/slots/{slot_id}", headers={"Authorization": "Bearer"}), "E056", 401)
    assert fake.lock_key_of(slot_id) is None


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer sk_test_wrong",
        "Bearer pk_" + "5e" * 30,
        f"Basic {SECRET}",
        SECRET,
        f"Bearer {SECRET}x",
    ],
)
def test_a_key_other_than_the_secret_key_is_E055(fake: FakeOverbooked, authorization: str) -> None:
    fake.add_slot(slot_id := f"auth-{uuid.uuid4().hex}")
    with httpx.Client(base_url=fake.url, timeout=5, headers={"Authorization": authorization}) as wrong:
        assert_error(wrong.get(f"/slots/{slot_id}"), "E055", 401, "Unauthorized, API Key invalid")
        response = wrong.post(f"/slots/{slot_id}/lock", json={"lock_until": in_(5), "lock_key": new_key()})
        assert_error(response, "E055", 401)
    assert fake.lock_key_of(slot_id) is None


def test_an_unknown_slot_still_needs_the_key(fake: FakeOverbooked) -> None:
    with httpx.Client(base_url=fake.url, timeout=5) as bare:
        assert_error(bare.get("/slots/nope"), "E056", 401)


# -- lock and unlock ----------------------------------------------------------------------------


def test_lock_then_unlock(fake: FakeOverbooked, api: httpx.Client) -> None:
    before = fake.add_slot("slot-lu")
    key = new_key()
    time.sleep(0.01)  # so updated_at moves
    response = lock(api, "slot-lu", key, "2099-12-19T18:00:00.123456+02:00")
    locked = slot_of(response)
    assert set(locked) == SLOT_FIELDS
    assert locked["locked_until"] == "2099-12-19T16:00:00.123Z"
    assert locked["updated_at"] > before["updated_at"]
    assert locked["created_at"] == before["created_at"]
    assert fake.lock_key_of("slot-lu") == key
    assert fake.slots["slot-lu"]["lock_key"] == key
    assert fake.is_locked("slot-lu")
    assert slot_of(api.get("/slots/slot-lu"))["locked_until"] == "2099-12-19T16:00:00.123Z"

    unlocked = slot_of(unlock(api, "slot-lu", key))
    assert unlocked["locked_until"] is None
    assert set(unlocked) == SLOT_FIELDS
    assert fake.lock_key_of("slot-lu") is None
    assert not fake.is_locked("slot-lu")
    assert slot_of(api.get("/slots/slot-lu"))["locked_until"] is None

    # Unlocked, the slot can be locked again, and unlocking twice is refused.
    assert_error(unlock(api, "slot-lu", key), "E059", 403, "Slot cannot be unlocked, lock_key invalid")
    assert slot_of(lock(api, "slot-lu", new_key()))["locked_until"] is not None


def test_lock_accepts_the_documented_date_form(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-date")
    assert slot_of(lock(api, "slot-date", new_key(), "2099-12-19T15:00:00.000Z"))["locked_until"] == (
        "2099-12-19T15:00:00.000Z"
    )


def test_unlock_with_another_key_is_E059_and_keeps_the_lock(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-mismatch")
    key = new_key()
    locked_until = slot_of(lock(api, "slot-mismatch", key))["locked_until"]
    assert_error(unlock(api, "slot-mismatch", new_key()), "E059", 403, "Slot cannot be unlocked, lock_key invalid")
    assert fake.lock_key_of("slot-mismatch") == key
    assert slot_of(api.get("/slots/slot-mismatch"))["locked_until"] == locked_until
    slot_of(unlock(api, "slot-mismatch", key))


def test_unlock_of_a_slot_that_is_not_locked_is_E059(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-free")
    assert_error(unlock(api, "slot-free", new_key()), "E059", 403)


def test_locking_a_locked_slot_is_E045(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-twice")
    key = new_key()
    first = slot_of(lock(api, "slot-twice", key))
    assert_error(lock(api, "slot-twice", key), "E045", 422, "Slot is already locked")  # even with the same key
    assert_error(lock(api, "slot-twice", new_key()), "E045", 422)
    assert fake.lock_key_of("slot-twice") == key
    assert slot_of(api.get("/slots/slot-twice"))["locked_until"] == first["locked_until"]


def test_a_lock_made_elsewhere_is_E045_and_not_ours_to_unlock(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-elsewhere")
    theirs = new_key()
    until = datetime.now(UTC) + timedelta(minutes=10)
    fake.set_lock("slot-elsewhere", until, theirs)
    assert slot_of(api.get("/slots/slot-elsewhere"))["locked_until"] == (
        until.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
    assert_error(lock(api, "slot-elsewhere", new_key()), "E045", 422)
    assert_error(unlock(api, "slot-elsewhere", new_key()), "E059", 403)
    fake.set_lock("slot-elsewhere", None, None)
    assert slot_of(api.get("/slots/slot-elsewhere"))["locked_until"] is None
    slot_of(lock(api, "slot-elsewhere", new_key()))


def test_a_slot_created_locked(fake: FakeOverbooked, api: httpx.Client) -> None:
    key = new_key()
    fake.add_slot("slot-born-locked", locked_until=datetime.now(UTC) + timedelta(minutes=5), lock_key=key)
    assert_error(lock(api, "slot-born-locked", new_key()), "E045", 422)
    slot_of(unlock(api, "slot-born-locked", key))


def test_a_run_out_lock_is_no_lock(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-runout")
    old = new_key()
    slot_of(lock(api, "slot-runout", old))
    fake.set_lock("slot-runout", datetime.now(UTC) - timedelta(seconds=1), old)  # the lock ran out
    assert not fake.is_locked("slot-runout")
    assert fake.lock_key_of("slot-runout") == old  # the stored key stays until relocked
    assert_error(unlock(api, "slot-runout", old), "E059", 403)  # not unlockable, even with its key

    new = new_key()
    relocked = slot_of(lock(api, "slot-runout", new))  # lockable again
    assert relocked["locked_until"] is not None
    assert fake.lock_key_of("slot-runout") == new
    assert_error(unlock(api, "slot-runout", old), "E059", 403)
    slot_of(unlock(api, "slot-runout", new))


def test_a_lock_runs_out_by_itself(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-short")
    key = new_key()
    slot_of(lock(api, "slot-short", key, in_(0.5 / 60)))  # half a second
    assert_error(lock(api, "slot-short", new_key()), "E045", 422)
    time.sleep(0.6)
    assert_error(unlock(api, "slot-short", key), "E059", 403)
    slot_of(lock(api, "slot-short", new_key()))


def test_a_lock_until_in_the_past_is_accepted_and_already_run_out(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-past")
    key = new_key()
    assert slot_of(lock(api, "slot-past", key, "2020-12-19T16:00:00Z"))["locked_until"] == "2020-12-19T16:00:00.000Z"
    assert not fake.is_locked("slot-past")
    assert_error(unlock(api, "slot-past", key), "E059", 403)


def test_a_slot_that_is_not_lockable_is_E044(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-fixed", lockable=False)
    assert_error(lock(api, "slot-fixed", new_key()), "E044", 422, "Slot is not lockable")
    assert fake.lock_key_of("slot-fixed") is None
    assert slot_of(api.get("/slots/slot-fixed"))["lockable"] is False
    fake.update_slot("slot-fixed", lockable=True)
    slot_of(lock(api, "slot-fixed", new_key()))


@pytest.mark.parametrize(
    "body",
    [
        {"lock_until": "2099-01-01T00:00:00.000Z"},
        {"lock_until": "2099-01-01T00:00:00.000Z", "lock_key": ""},
        {"lock_until": "2099-01-01T00:00:00.000Z", "lock_key": None},
        {"lock_until": "2099-01-01T00:00:00.000Z", "lock_key": 1234},
        {"lock_key": "lk_bad_request_1"},
        {"lock_key": "lk_bad_request_2", "lock_until": ""},
        {"lock_key": "lk_bad_request_3", "lock_until": "tomorrow"},
        {"lock_key": "lk_bad_request_4", "lock_until": "2099-13-45T00:00:00Z"},
        {"lock_key": "lk_bad_request_5", "lock_until": 4102444800000},
        {"lock_key": "lk_bad_request_6", "lock_until": None},
        [],
        "lock",
    ],
)
def test_a_bad_lock_body_is_E013(fake: FakeOverbooked, api: httpx.Client, body: Any) -> None:
    fake.add_slot(slot_id := f"bad-{uuid.uuid4().hex}")
    assert_error(api.post(f"/slots/{slot_id}/lock", json=body), "E013", 400, "Bad request")
    assert fake.lock_key_of(slot_id) is None
    assert not fake.is_locked(slot_id)


def test_a_lock_without_a_json_body_is_E013(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-nobody")
    assert_error(api.post("/slots/slot-nobody/lock"), "E013", 400)
    assert_error(api.post("/slots/slot-nobody/lock", content=b"{not json"), "E013", 400)
    assert fake.calls[-1].json is None
    assert fake.calls[-1].body == "{not json"


@pytest.mark.parametrize("body", [{}, {"lock_key": ""}, {"lock_key": 5}, None])
def test_an_unlock_without_a_lock_key_is_E013(fake: FakeOverbooked, api: httpx.Client, body: Any) -> None:
    fake.add_slot(slot_id := f"bad-{uuid.uuid4().hex}")
    key = new_key()
    slot_of(lock(api, slot_id, key))
    assert_error(api.post(f"/slots/{slot_id}/unlock", json=body), "E013", 400)
    assert fake.lock_key_of(slot_id) == key


def test_no_response_ever_contains_the_lock_key(fake: FakeOverbooked, api: httpx.Client) -> None:
    key = "lk_never_show_me_" + uuid.uuid4().hex
    fake.add_slot("slot-secret")
    texts = [
        lock(api, "slot-secret", key).text,
        api.get("/slots/slot-secret").text,
        lock(api, "slot-secret", key).text,  # E045
        unlock(api, "slot-secret", "lk_other").text,  # E059
        api.post("/slots/slot-secret/unlock", json={"lock_key": key, "extra": 1}).text,
        lock(api, "slot-secret", key, "not a date").text,  # E013
    ]
    fake.fail("get", status=None, delay_ms=10)
    texts.append(api.get("/slots/slot-secret").text)
    assert texts
    assert all(key not in text for text in texts)
    assert key not in str(fake.slot("slot-secret"))
    # The fixture also checks every response of every test against every key used.


# -- faults and delays -----------------------------------------------------------------------------


def test_a_fault_answers_the_error_then_the_route_works_again(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-fault")
    fake.fail("lock")
    assert_error(lock(api, "slot-fault", new_key()), "E001", 500, "Unknown internal server error")
    assert fake.lock_key_of("slot-fault") is None  # the failed call did nothing
    slot_of(api.get("/slots/slot-fault"))  # other routes are not affected
    key = new_key()
    slot_of(lock(api, "slot-fault", key))
    assert fake.lock_key_of("slot-fault") == key


def test_a_fault_for_several_calls_with_a_chosen_code(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-ratelimit")
    fake.fail("get", code="E062", status=429, times=2)
    assert_error(api.get("/slots/slot-ratelimit"), "E062", 429, "API rate-limit reached")
    assert_error(api.get("/slots/slot-ratelimit"), "E062", 429)
    slot_of(api.get("/slots/slot-ratelimit"))


def test_faults_apply_in_order_and_only_to_their_route(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-order")
    key = new_key()
    slot_of(lock(api, "slot-order", key))
    fake.fail("unlock", code="E001", status=503)
    fake.fail("unlock", code="E059", status=403)
    assert_error(unlock(api, "slot-order", key), "E001", 503)
    assert_error(unlock(api, "slot-order", key), "E059", 403)
    assert fake.lock_key_of("slot-order") == key
    slot_of(unlock(api, "slot-order", key))


def test_the_key_is_checked_before_a_fault(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-auth-fault")
    fake.fail("get")
    with httpx.Client(base_url=fake.url, timeout=5) as bare:
        assert_error(bare.get("/slots/slot-auth-fault"), "E056", 401)
    assert_error(api.get("/slots/slot-auth-fault"), "E001", 500)


def test_reset_clears_calls_and_faults_but_keeps_slots(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-reset")
    api.get("/slots/slot-reset")
    fake.fail("get", times=5)
    fake.reset()
    assert fake.calls == []
    slot_of(api.get("/slots/slot-reset"))
    assert len(fake.calls) == 1


def test_a_delay_answers_normally_but_late(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-slow")
    fake.fail("get", status=None, delay_ms=300)
    started = time.monotonic()
    slot_of(api.get("/slots/slot-slow"))
    assert time.monotonic() - started >= 0.3
    call = fake.calls_to("/slots/slot-slow")[-1]
    assert call.answered_at is not None
    assert call.answered_at - call.at >= 0.3
    started = time.monotonic()
    slot_of(api.get("/slots/slot-slow"))  # only the next call was slow
    assert time.monotonic() - started < 0.3


def test_a_delayed_error(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-slow-error")
    fake.fail("lock", code="E001", status=502, delay_ms=200)
    started = time.monotonic()
    assert_error(lock(api, "slot-slow-error", new_key()), "E001", 502)
    assert time.monotonic() - started >= 0.2


def test_a_client_that_times_out_has_still_locked_the_slot(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-timeout")
    key = new_key()
    fake.fail("lock", status=None, delay_ms=1000)
    with pytest.raises(httpx.ReadTimeout):
        api.post(
            "/slots/slot-timeout/lock",
            json={"lock_until": in_(10), "lock_key": key},
            timeout=httpx.Timeout(5, read=0.2),
        )
    assert fake.is_locked("slot-timeout")
    assert fake.lock_key_of("slot-timeout") == key
    assert_error(lock(api, "slot-timeout", key), "E045", 422)  # a retry finds it locked
    slot_of(unlock(api, "slot-timeout", key))


def test_fail_needs_a_known_route(fake: FakeOverbooked) -> None:
    with pytest.raises(ValueError, match="route"):
        fake.fail("book")


# -- recording and waiting -----------------------------------------------------------------------


def test_every_call_is_recorded(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-rec")
    key = new_key()
    before = time.time()
    lock(api, "slot-rec", key, "2099-01-01T00:00:00Z")
    api.get("/slots/slot-rec")
    unlock(api, "slot-rec", "lk_wrong")
    api.get("/nowhere")
    assert [(c.method, c.path, c.route, c.status, c.code) for c in fake.calls] == [
        ("POST", "/slots/slot-rec/lock", "lock", 200, None),
        ("GET", "/slots/slot-rec", "get", 200, None),
        ("POST", "/slots/slot-rec/unlock", "unlock", 403, "E059"),
        ("GET", "/nowhere", None, 404, "E002"),
    ]
    first = fake.calls[0]
    assert first.json == {"lock_until": "2099-01-01T00:00:00Z", "lock_key": key}
    assert first.headers["Authorization"] == f"Bearer {SECRET}"
    assert first.slot_id == "slot-rec"
    assert first.ok
    assert before <= first.at <= time.time()
    assert fake.calls[1].json is None
    assert [c.path for c in fake.calls_to("/lock")] == ["/slots/slot-rec/lock"]
    assert [c.method for c in fake.calls_to("/slots/slot-rec")] == ["GET"]
    assert not fake.calls_to("/unlock")[0].ok


def test_wait_for_wakes_on_a_call_and_times_out(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-wait")
    key = new_key()
    timer = threading.Timer(0.2, lambda: lock(api, "slot-wait", key))
    timer.start()
    try:
        call = fake.wait_for(lambda: next(iter(fake.calls_to("/slots/slot-wait/lock")), None), 5, "the lock call")
        assert call.json["lock_key"] == key
        assert fake.wait_for(lambda: fake.is_locked("slot-wait"), 5, "the lock")
    finally:
        timer.join()
    started = time.monotonic()
    with pytest.raises(AssertionError, match=re.escape("timed out after 0.2 s waiting for nothing")):
        fake.wait_for(lambda: None, 0.2, "nothing")
    assert time.monotonic() - started < 2


def test_add_slot_refuses_a_duplicate_and_makes_ids(fake: FakeOverbooked, api: httpx.Client) -> None:
    fake.add_slot("slot-dup")
    with pytest.raises(ValueError, match="already exists"):
        fake.add_slot("slot-dup")
    made = fake.add_slot(status="disabled", capacity=3, start_date="2099-01-01T10:00:00.000Z")
    uuid.UUID(made["id"])
    got = slot_of(api.get(f"/slots/{made['id']}"))
    assert (got["status"], got["capacity"], got["start_date"]) == ("disabled", 3, "2099-01-01T10:00:00.000Z")


def test_start_and_stop_even_with_a_late_answer_pending() -> None:
    server = FakeOverbooked(secret_key="sk_test_other").start()
    assert server.url.startswith("http://127.0.0.1:")
    server.add_slot("s")
    server.fail("get", status=None, delay_ms=30_000)
    outcome: list[object] = []

    def slow_get() -> None:
        try:
            outcome.append(
                httpx.get(f"{server.url}/slots/s", headers={"Authorization": "Bearer sk_test_other"}, timeout=10)
            )
        except httpx.HTTPError as error:
            outcome.append(error)

    thread = threading.Thread(target=slow_get)
    thread.start()
    server.wait_for(lambda: server.calls, 5, "the slow call")
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5
    thread.join(10)
    assert outcome
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{server.url}/slots/s", timeout=1)
