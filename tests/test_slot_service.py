"""The slot service on its own: a real database, a scripted Overbooked, a reporter that remembers what it showed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.model import ActionState, ActionThread, SlotLock, SlotLockState, new_id
from bot.overbooked import (
    OverbookedBadAnswer,
    OverbookedError,
    OverbookedLockKeyInvalid,
    OverbookedServerError,
    OverbookedSlotAlreadyLocked,
    OverbookedTimeout,
    Slot,
)
from bot.policy import DoorRules, Person, Policy
from bot.replies import Problem, ProblemReason
from bot.slack.messages.outcomes import problem_words
from bot.slack.messages.replies import render_problem
from bot.slots import SlotLocked, SlotRanOut, SlotService, SlotStatus, SlotUnlocked, SlotView, may_unlock_slots
from bot.store import Store

T = TypeVar("T")

LOCKER, OTHER, DOOR_APPROVER, GROUP_MEMBER = "U0LOCKER01", "U0OTHER001", "U0DOORAPP1", "U0GROUPIE1"
SLOT = "slot-1"
START = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

POLICY = Policy(
    defaults=DoorRules(approvers=frozenset({"U0BOSS0001"})),
    doors={
        "server room": DoorRules(approvers=frozenset({DOOR_APPROVER})),
        "garage door": DoorRules(approvers=frozenset({"S0GARAGE01"})),
    },
)


class Reporter:
    def __init__(self) -> None:
        self.views: list[SlotView] = []

    async def open(self, channel: str, view: SlotView) -> ActionThread:
        self.views.append(view)
        return ActionThread(channel, "100.1", "100.2")

    async def show(self, thread: ActionThread, view: SlotView) -> ActionThread:
        self.views.append(view)
        return thread


class People:
    async def person(self, user_id: str) -> Person:
        return Person(user_id, groups=frozenset({"S0GARAGE01"}) if user_id == GROUP_MEMBER else frozenset())

    async def time_zone(self, user_id: str) -> str | None:
        return "UTC"


@dataclass
class Overbooked:
    """Scripted: each call takes the next queued error for its route (applying the lock first if told to)."""

    locked_until: datetime | None = None
    key: str | None = None
    errors: dict[str, list[tuple[Exception, bool]]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def then(self, route: str, error: Exception, *, acts: bool = False, times: int = 1) -> None:
        self.errors.setdefault(route, []).extend([(error, acts)] * times)

    def _fault(self, route: str) -> tuple[Exception, bool] | None:
        queued = self.errors.get(route)
        return queued.pop(0) if queued else None

    def _slot(self) -> Slot:
        return Slot(id=SLOT, locked_until=self.locked_until)

    async def get(self, slot_id: str) -> Slot:
        self.calls.append("get")
        if (fault := self._fault("get")) is not None:
            raise fault[0]
        return self._slot()

    async def lock(self, slot_id: str, until: datetime, lock_key: str) -> Slot:
        self.calls.append("lock")
        fault = self._fault("lock")
        if fault is None or fault[1]:
            self.locked_until, self.key = until.replace(microsecond=until.microsecond // 1000 * 1000), lock_key
        if fault is not None:
            raise fault[0]
        return self._slot()

    async def unlock(self, slot_id: str, lock_key: str) -> Slot:
        self.calls.append("unlock")
        fault = self._fault("unlock")
        if fault is not None and fault[1]:
            self.locked_until = self.key = None
        if fault is not None:
            raise fault[0]
        if lock_key != self.key:
            raise OverbookedLockKeyInvalid("E059", status=403, code="E059")
        self.locked_until = self.key = None
        return self._slot()


class Harness:
    def __init__(self, store: Store, *, settle_after: timedelta = timedelta(0)) -> None:
        self.store = store
        self.overbooked = Overbooked()
        self.reporter = Reporter()
        self.now = START
        self.service = SlotService(
            self.overbooked,  # type: ignore[arg-type]
            store,
            People(),
            POLICY,
            self.reporter,
            longest=timedelta(hours=8),
            settle_after=settle_after,
            clock=lambda: self.now,
        )

    @property
    def shown(self) -> SlotView:
        return self.reporter.views[-1]

    async def current(self) -> SlotLock | None:
        return await self.store.current_slot_lock(SLOT)


async def run(tmp_path: Path, test: Callable[[Harness], Awaitable[T]], *, settle_after: timedelta = timedelta(0)) -> T:
    store = await Store.open(f"sqlite:///{tmp_path / 'lockbot.db'}")
    try:
        return await test(Harness(store, settle_after=settle_after))
    finally:
        await store.close()


# -- who may unlock a slot someone else locked ---------------------------------------------------


@pytest.mark.parametrize(
    ("person", "may"),
    [
        (Person("U0BOSS0001"), True),  # a default approver
        (Person(DOOR_APPROVER), True),  # named only under one door
        (Person(GROUP_MEMBER, groups=frozenset({"S0GARAGE01"})), True),  # in a door's approver group
        (Person(OTHER), False),
        (Person(OTHER, is_admin=True), False),  # the file names the approvers: admins are not among them
    ],
)
def test_an_approver_of_any_door_may_unlock_slots(person: Person, may: bool) -> None:
    assert may_unlock_slots(POLICY, person) is may


def test_without_a_policy_workspace_admins_may_unlock_slots() -> None:
    assert may_unlock_slots(Policy(), Person(OTHER, is_admin=True))
    assert not may_unlock_slots(Policy(), Person(OTHER))


@pytest.mark.anyio
@pytest.mark.parametrize("unlocker", [DOOR_APPROVER, GROUP_MEMBER])
async def test_an_approver_named_only_under_a_door_unlocks_someone_elses_slot(tmp_path: Path, unlocker: str) -> None:
    async def test(h: Harness) -> tuple[object, object]:
        assert isinstance(await h.service.lock(LOCKER, "C1", SLOT, "2h"), SlotLocked)
        refused = await h.service.unlock(OTHER, SLOT)
        return refused, await h.service.unlock(unlocker, SLOT)

    refused, allowed = await run(tmp_path, test)

    assert isinstance(refused, Problem)
    assert "or an approver can unlock it early" in render_problem(refused).text
    assert allowed == SlotUnlocked(SLOT, LOCKER)


# -- a lock that ran out -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_lock_that_ran_out_is_said_so_every_time_without_an_api_call(tmp_path: Path) -> None:
    async def test(h: Harness) -> None:
        await h.service.lock(LOCKER, "C1", SLOT, "30m")
        until = h.overbooked.locked_until
        assert until is not None
        h.now = START + timedelta(minutes=31)

        replies = [await h.service.unlock(who, SLOT) for who in (LOCKER, LOCKER, OTHER)]

        # The first settles the lock as run out; every later one still says when (a value: the renderer
        # shows it in each reader's own time zone).
        assert replies == [SlotRanOut(SLOT, until)] * 3
        assert h.overbooked.calls == ["lock"]
        assert await h.current() is None

    await run(tmp_path, test)


@pytest.mark.anyio
async def test_a_slot_unlocked_earlier_says_who_unlocked_it(tmp_path: Path) -> None:
    async def test(h: Harness) -> object:
        await h.service.lock(LOCKER, "C1", SLOT, "30m")
        await h.service.unlock(DOOR_APPROVER, SLOT)
        return await h.service.unlock(LOCKER, SLOT)

    reply = await run(tmp_path, test)
    assert reply == Problem(ProblemReason.SLOT_NOT_HELD, slot_id=SLOT, user=DOOR_APPROVER)
    assert isinstance(reply, Problem)
    assert render_problem(reply).text == f"lockbot holds no lock on slot `{SLOT}`: <@{DOOR_APPROVER}> unlocked it."


def problem_words_of(view: SlotView) -> str | None:
    """The words the Slack edge shows for the view's problem."""
    return problem_words(view.problem) if view.problem is not None else None


# -- outcome unknown -----------------------------------------------------------------------------

UNKNOWN = [
    (OverbookedTimeout("no answer"), "Overbooked did not answer in time"),
    (OverbookedServerError("HTTP 500", status=500), "Overbooked answered with a server error (HTTP 500)"),
    (OverbookedServerError("HTTP 502", status=502), "Overbooked answered with a server error (HTTP 502)"),
    (OverbookedBadAnswer("not JSON", status=200), "Overbooked sent an answer lockbot does not understand"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("error", "why"), UNKNOWN)
async def test_a_lock_whose_outcome_stays_unknown_is_kept_not_confirmed_and_unlock_uses_its_key(
    tmp_path: Path, error: OverbookedError, why: str
) -> None:
    async def test(h: Harness) -> None:
        h.overbooked.then("lock", error, acts=True)
        h.overbooked.then("get", OverbookedTimeout("no answer"))

        await h.service.lock(LOCKER, "C1", SLOT, "2h")

        assert h.overbooked.calls == ["lock", "get"]  # the lock is never sent twice
        assert h.shown.state is ActionState.NOT_CONFIRMED
        assert problem_words_of(h.shown) == why
        current = await h.current()
        assert current is not None
        assert current.state is SlotLockState.NOT_CONFIRMED
        assert current.lock_key == h.overbooked.key

        assert await h.service.unlock(LOCKER, SLOT) == SlotUnlocked(SLOT, LOCKER)
        assert h.overbooked.locked_until is None
        assert await h.current() is None

    await run(tmp_path, test)


@pytest.mark.anyio
@pytest.mark.parametrize(("error", "why"), UNKNOWN)
async def test_a_lock_whose_outcome_is_unknown_is_read_from_the_slot(
    tmp_path: Path, error: OverbookedError, why: str
) -> None:
    async def test(h: Harness) -> None:
        h.overbooked.then("lock", error, acts=True)
        await h.service.lock(LOCKER, "C1", SLOT, "2h")
        assert h.shown.state is ActionState.SUCCEEDED
        current = await h.current()
        assert current is not None
        assert current.state is SlotLockState.LOCKED

    await run(tmp_path, test)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "error",
    [
        OverbookedServerError("HTTP 503", status=503),
        OverbookedSlotAlreadyLocked("E045", status=422, code="E045"),
        OverbookedError("HTTP 200", status=200),  # success: false
    ],
)
async def test_a_refused_lock_fails_without_reading_the_slot(tmp_path: Path, error: OverbookedError) -> None:
    async def test(h: Harness) -> None:
        h.overbooked.then("lock", error)
        await h.service.lock(LOCKER, "C1", SLOT, "2h")
        assert h.overbooked.calls == ["lock"]
        assert h.shown.state is ActionState.FAILED
        assert await h.current() is None

    await run(tmp_path, test)


@pytest.mark.anyio
async def test_unlocking_a_lock_that_was_not_confirmed_and_never_took(tmp_path: Path) -> None:
    async def test(h: Harness) -> None:
        h.overbooked.then("lock", OverbookedTimeout("no answer"))  # did not act
        h.overbooked.then("get", OverbookedTimeout("no answer"))
        await h.service.lock(LOCKER, "C1", SLOT, "2h")
        assert h.shown.state is ActionState.NOT_CONFIRMED

        reply = await h.service.unlock(LOCKER, SLOT)

        assert isinstance(reply, Problem)
        assert render_problem(reply).text.startswith(
            f"Slot `{SLOT}` is not locked with lockbot's key, so there is nothing"
        )
        assert h.shown.state is ActionState.FAILED
        assert await h.current() is None

    await run(tmp_path, test)


@pytest.mark.anyio
async def test_an_unlock_whose_outcome_is_unknown_says_so_and_keeps_the_lock(tmp_path: Path) -> None:
    async def test(h: Harness) -> None:
        await h.service.lock(LOCKER, "C1", SLOT, "2h")
        h.overbooked.then("unlock", OverbookedTimeout("no answer"))

        reply = await h.service.unlock(LOCKER, SLOT)

        assert isinstance(reply, Problem)
        assert render_problem(reply).text.startswith(
            f"Unlocking slot `{SLOT}` not confirmed: Overbooked did not answer in time"
        )
        assert await h.current() is not None
        assert await h.service.unlock(LOCKER, SLOT) == SlotUnlocked(SLOT, LOCKER)  # tries again, same key

    await run(tmp_path, test)


@pytest.mark.anyio
async def test_status_settles_a_lock_that_was_not_confirmed(tmp_path: Path) -> None:
    async def test(h: Harness) -> None:
        h.overbooked.then("lock", OverbookedTimeout("no answer"), acts=True)
        h.overbooked.then("get", OverbookedTimeout("no answer"))
        await h.service.lock(LOCKER, "C1", SLOT, "2h")
        assert h.shown.state is ActionState.NOT_CONFIRMED

        status = await h.service.status(SLOT)

        assert isinstance(status, SlotStatus)
        assert status.ours is not None
        assert status.ours.locked_by == LOCKER
        assert h.shown.state is ActionState.SUCCEEDED
        current = await h.current()
        assert current is not None
        assert current.state is SlotLockState.LOCKED

    await run(tmp_path, test)


def interrupted_lock(at: datetime) -> SlotLock:
    return SlotLock(
        id=new_id(),
        slot_id=SLOT,
        lock_key="k" * 43,
        locked_by=LOCKER,
        channel="C1",
        locked_until=at + timedelta(hours=1),
        state=SlotLockState.LOCKING,
        created_at=at,
        updated_at=at,
        parent_ts="100.1",
        status_ts="100.2",
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("slot_reads", "state", "shown_state"),
    [
        ("ours", SlotLockState.LOCKED, ActionState.SUCCEEDED),
        ("free", SlotLockState.FAILED, ActionState.FAILED),
        ("unreadable", SlotLockState.NOT_CONFIRMED, ActionState.NOT_CONFIRMED),
    ],
)
async def test_after_a_restart_an_interrupted_lock_is_settled_and_never_abandoned_unread(
    tmp_path: Path, slot_reads: str, state: SlotLockState, shown_state: ActionState
) -> None:
    async def test(h: Harness) -> None:
        lock = interrupted_lock(START)
        await h.store.add_slot_lock(lock)
        if slot_reads == "ours":
            h.overbooked.locked_until, h.overbooked.key = lock.locked_until, lock.lock_key
        elif slot_reads == "unreadable":
            h.overbooked.then("get", OverbookedServerError("HTTP 500", status=500))

        assert await h.service.settle_interrupted() == 1

        assert h.overbooked.calls == ["get"]
        assert h.shown.state is shown_state
        row = await h.store.latest_slot_lock(SLOT, list(SlotLockState))
        assert row is not None
        assert (row.id, row.state) == (lock.id, state)
        if slot_reads == "unreadable":
            assert problem_words_of(h.shown) == "lockbot restarted before Overbooked answered"
            assert await h.current() == row  # /slot unlock still finds it

    await run(tmp_path, test)


@pytest.mark.anyio
async def test_a_young_lock_is_left_to_the_live_instance_making_it(tmp_path: Path) -> None:
    async def test(h: Harness) -> None:
        lock = interrupted_lock(START)
        await h.store.add_slot_lock(lock)
        found = asyncio.Event()
        slot_locks_in = h.store.slot_locks_in

        async def noting_what_was_found(state: SlotLockState) -> list[SlotLock]:
            try:
                return await slot_locks_in(state)
            finally:
                found.set()

        h.store.slot_locks_in = noting_what_was_found  # type: ignore[method-assign]
        settling = asyncio.create_task(h.service.settle_interrupted())
        await asyncio.wait_for(found.wait(), 5)  # it found the lock, and waits for it to be old enough
        # Meanwhile the instance that is making it gets Overbooked's answer and stores it.
        locked = await h.store.move_slot_lock(lock, START, state=SlotLockState.LOCKED)
        assert locked is not None

        assert await asyncio.wait_for(settling, 5) == 0
        assert h.overbooked.calls == []  # nothing asked, nothing shown: its outcome stands
        assert h.reporter.views == []
        assert (await h.current()) == locked

    await run(tmp_path, test, settle_after=timedelta(seconds=0.3))


@pytest.mark.anyio
async def test_a_lock_settled_elsewhere_first_keeps_that_outcome(tmp_path: Path) -> None:
    async def test(h: Harness) -> None:
        lock = interrupted_lock(START)
        await h.store.add_slot_lock(lock)
        assert await h.store.move_slot_lock(lock, START, state=SlotLockState.FAILED) is not None
        assert await h.store.move_slot_lock(lock, START, state=SlotLockState.LOCKED) is None  # moved from locking once

        assert await h.service.settle_interrupted() == 0  # none left to settle
        row = await h.store.slot_lock(lock.id)
        assert row is not None
        assert row.state is SlotLockState.FAILED

    await run(tmp_path, test)


# -- unexpected errors ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_unexpected_error_after_asking_overbooked_leaves_the_thread_not_confirmed(tmp_path: Path) -> None:
    async def test(h: Harness) -> None:
        h.overbooked.then("lock", RuntimeError("a bug"), acts=True)

        with pytest.raises(RuntimeError):
            await h.service.lock(LOCKER, "C1", SLOT, "2h")

        assert h.shown.state is ActionState.NOT_CONFIRMED
        assert problem_words_of(h.shown) == "lockbot ran into an unexpected error while asking Overbooked"
        current = await h.current()
        assert current is not None
        assert current.state is SlotLockState.NOT_CONFIRMED
        assert await h.service.unlock(LOCKER, SLOT) == SlotUnlocked(SLOT, LOCKER)

    await run(tmp_path, test)


@pytest.mark.anyio
async def test_an_unexpected_error_before_asking_overbooked_fails_the_thread(tmp_path: Path) -> None:
    async def test(h: Harness) -> None:
        async def broken(lock: Any) -> None:
            raise RuntimeError("the database went away")

        h.store.add_slot_lock = broken  # type: ignore[method-assign]

        with pytest.raises(RuntimeError):
            await h.service.lock(LOCKER, "C1", SLOT, "2h")

        assert h.overbooked.calls == []
        assert h.shown.state is ActionState.FAILED
        assert problem_words_of(h.shown) == "lockbot ran into an unexpected error before asking Overbooked"

    await run(tmp_path, test)
