"""The attempt tracker and door actions alone, with an in-memory Seam and reporter."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.actions import DoorActions
from bot.model import ActionKind, ActionRecord, ActionState, ActionThread, ActionView, Lock, new_id
from bot.seam import ActionAttempt, SeamInvalidInput, SeamServerError
from bot.store import Store
from bot.tracking import AttemptOutcome, AttemptTracker


def attempt(attempt_id: str, status: str = "pending", **extra: Any) -> ActionAttempt:
    return ActionAttempt(action_attempt_id=attempt_id, action_type="LOCK_DOOR", status=status, **extra)


class MemorySeam:
    """Attempts that finish after a number of questions; optionally without /action_attempts/list."""

    def __init__(
        self, finish_after: dict[str, int], *, batch: bool = True, failures: int = 0, refusals: int = 0
    ) -> None:
        self.finish_after = finish_after
        self.refusals = refusals  # list calls answered 400 before the rest are answered
        self.questions: list[str] = []  # "list" or "get", in order
        self.asked: dict[str, int] = dict.fromkeys(finish_after, 0)
        self.list_calls = 0
        self.get_calls = 0
        self.batch = batch
        self.failures = failures
        self.lock_result = attempt("new")

    def _answer(self, attempt_id: str) -> ActionAttempt:
        self.asked[attempt_id] += 1
        done = self.asked[attempt_id] >= self.finish_after[attempt_id]
        return attempt(attempt_id, "success" if done else "pending", result={} if done else None)

    async def list_action_attempts(self, ids: Sequence[str]) -> list[ActionAttempt]:
        self.list_calls += 1
        self.questions.append("list")
        if self.refusals:
            self.refusals -= 1
            raise SeamInvalidInput("action_attempt_ids: one is not valid", status=400)
        if not self.batch:
            raise SeamInvalidInput("no such route", status=404)
        if self.failures:
            self.failures -= 1
            raise SeamServerError("down", status=503)
        return [self._answer(i) for i in ids if i in self.finish_after and self.finish_after[i] >= 0]

    async def get_action_attempt(self, attempt_id: str) -> ActionAttempt:
        self.get_calls += 1
        self.questions.append("get")
        return self._answer(attempt_id)

    async def lock_door(self, device_id: str) -> ActionAttempt:
        return self.lock_result


async def follow_all(
    seam: MemorySeam, ids: list[str], deadline: float = 5.0, **tracker_settings: float
) -> dict[str, AttemptOutcome]:
    tracker = AttemptTracker(seam, deadline_seconds=deadline, **tracker_settings)  # type: ignore[arg-type]
    outcomes: dict[str, AttemptOutcome] = {}
    done = asyncio.Event()

    def recorder(attempt_id: str) -> Any:
        async def record(outcome: AttemptOutcome) -> None:
            outcomes[attempt_id] = outcome
            if len(outcomes) == len(ids):
                done.set()

        return record

    for attempt_id in ids:
        tracker.follow(attempt(attempt_id), "lock_1", recorder(attempt_id))
    await asyncio.wait_for(done.wait(), deadline + 5)
    await tracker.aclose()
    return outcomes


@pytest.mark.anyio
async def test_many_attempts_are_followed_with_one_call_per_round() -> None:
    seam = MemorySeam({f"a{i}": 2 for i in range(50)})

    outcomes = await follow_all(seam, list(seam.finish_after))

    assert {o.state for o in outcomes.values()} == {ActionState.SUCCEEDED}
    assert seam.list_calls == 2  # 50 attempts, two questions each, two calls in all


@pytest.mark.anyio
async def test_without_batch_listing_attempts_are_asked_one_by_one() -> None:
    seam = MemorySeam({"a": 1, "b": 1}, batch=False)

    outcomes = await follow_all(seam, ["a", "b"])

    assert outcomes["a"].state is ActionState.SUCCEEDED
    assert seam.get_calls == 2


@pytest.mark.anyio
async def test_one_refused_batch_is_asked_one_by_one_and_later_polls_batch_again() -> None:
    seam = MemorySeam({"a": 4, "b": 4}, refusals=1)

    outcomes = await follow_all(seam, ["a", "b"], batch_retry_seconds=0.2)

    assert {o.state for o in outcomes.values()} == {ActionState.SUCCEEDED}
    assert seam.questions[:3] == ["list", "get", "get"]  # the refused batch, one by one
    assert seam.questions[-1] == "list"  # and later polls ask together again
    assert seam.list_calls >= 2


@pytest.mark.anyio
async def test_seam_failures_while_polling_are_ridden_out() -> None:
    seam = MemorySeam({"a": 1}, failures=2)

    outcomes = await follow_all(seam, ["a"])

    assert outcomes["a"].state is ActionState.SUCCEEDED
    assert seam.list_calls == 3


@pytest.mark.anyio
async def test_an_attempt_still_pending_at_the_deadline_is_not_confirmed() -> None:
    seam = MemorySeam({"slow": 10_000})

    outcomes = await follow_all(seam, ["slow"], deadline=1.2)

    assert outcomes["slow"].state is ActionState.NOT_CONFIRMED


class MemoryReporter:
    def __init__(self) -> None:
        self.shown: list[ActionView] = []

    async def open(self, channel: str, view: ActionView) -> ActionThread:
        self.shown.append(view)
        return ActionThread(channel, "1.0", "1.1")

    async def open_in_thread(self, channel: str, parent_ts: str, view: ActionView) -> ActionThread:
        self.shown.append(view)
        return ActionThread(channel, parent_ts, "1.1")

    async def show(self, thread: ActionThread, view: ActionView) -> ActionThread:
        self.shown.append(view)
        return thread


@pytest.mark.anyio
async def test_an_attempt_already_finished_in_seams_answer_is_final_at_once(tmp_path: Path) -> None:
    seam = MemorySeam({})
    seam.lock_result = attempt("done", "success", result={"was_confirmed_by_device": False})
    reporter = MemoryReporter()

    store = await Store.open(f"sqlite:///{tmp_path / 'lockbot.db'}")
    tracker = AttemptTracker(seam, deadline_seconds=5)  # type: ignore[arg-type]
    actions = DoorActions(seam, tracker, reporter, store, timeout_seconds=5)  # type: ignore[arg-type]
    await actions.run(ActionKind.LOCK, Lock(device_id="lock_1", display_name="Front Door"), "U1", "C1")
    assert tracker.following == 0
    [entry] = await store.audit_entries()
    assert (entry.event, entry.outcome, entry.attempt_id) == ("lock", "succeeded", "done")
    assert await store.unfinished_actions() == []
    await store.close()

    assert [v.state for v in reporter.shown] == [ActionState.QUEUED, ActionState.SUCCEEDED]
    assert reporter.shown[-1].confirmed_by_device is False
    assert seam.list_calls == 0


class StoreThatFailsOneOutcome(Store):
    """Refuses the first write of a final outcome, as a database that is briefly locked would."""

    failed = False

    async def finish(self, record: Any, at: Any, state: ActionState, **kwargs: Any) -> Any:
        if not self.failed and state is ActionState.SUCCEEDED:
            self.failed = True
            raise RuntimeError("database is locked")
        return await super().finish(record, at, state, **kwargs)


@pytest.mark.anyio
async def test_an_action_whose_outcome_could_not_be_stored_is_let_go_then_taken_over_and_finished(
    tmp_path: Path,
) -> None:
    seam = MemorySeam({"slow": 2})
    seam.lock_result = attempt("slow")
    reporter = MemoryReporter()

    store = await StoreThatFailsOneOutcome.open(f"sqlite:///{tmp_path / 'lockbot.db'}")
    tracker = AttemptTracker(seam, deadline_seconds=5)  # type: ignore[arg-type]
    actions = DoorActions(
        seam,  # type: ignore[arg-type]
        tracker,
        reporter,
        store,
        timeout_seconds=5,
        owner="only-instance",
        lease=timedelta(milliseconds=300),
    )
    leases = asyncio.create_task(actions.keep_leases())
    await actions.run(ActionKind.LOCK, Lock(device_id="lock_1", display_name="Front Door"), "U1", "C1")
    deadline = time.monotonic() + 10
    while await store.unfinished_actions():  # the lease, no longer renewed, runs out; then taken over
        assert time.monotonic() < deadline, "the action was never finished"
        await asyncio.sleep(0.05)
    assert store.failed
    [entry] = await store.audit_entries()
    assert (entry.event, entry.outcome, entry.attempt_id) == ("lock", "succeeded", "slow")
    leases.cancel()
    await actions.aclose()
    await tracker.aclose()
    await store.close()

    assert reporter.shown[-1].state is ActionState.SUCCEEDED


@pytest.mark.anyio
async def test_attempts_ended_by_events_are_asked_about_together_and_teach_the_schedule() -> None:
    seam = MemorySeam({f"e{i}": 1 for i in range(30)})
    now = [100.0]

    tracker = AttemptTracker(seam, deadline_seconds=20, patience=2.5, clock=lambda: now[0])  # type: ignore[arg-type]
    outcomes: dict[str, AttemptOutcome] = {}
    done = asyncio.Event()

    def recorder(attempt_id: str) -> Any:
        async def record(outcome: AttemptOutcome) -> None:
            outcomes[attempt_id] = outcome
            if len(outcomes) == len(seam.finish_after):
                done.set()

        return record

    for attempt_id in seam.finish_after:
        tracker.follow(attempt(attempt_id), "lock_1", recorder(attempt_id), started=now[0])
    now[0] += 0.9  # Seam's events come 0.9 s later, all at once, before the first poll (at 0.4 s x 2.5)
    assert all(tracker.check_now(attempt_id) for attempt_id in seam.finish_after)
    assert not tracker.check_now("not-followed-here")
    await asyncio.wait_for(done.wait(), 5)
    # Learned: the lock takes about 0.9 s, so a fallback poll is not asked for early.
    assert tracker._estimates.expected("lock_1", "LOCK_DOOR") == pytest.approx(0.8)
    await tracker.aclose()

    assert {outcome.state for outcome in outcomes.values()} == {ActionState.SUCCEEDED}
    assert seam.list_calls == 1  # thirty events, one question
    assert seam.get_calls == 0


class SlowListSeam(MemorySeam):
    """Its list call waits until released, so an event can finish an attempt while a poll is out."""

    def __init__(self, finish_after: dict[str, int]) -> None:
        super().__init__(finish_after)
        self.listing = asyncio.Event()
        self.release = asyncio.Event()

    async def list_action_attempts(self, ids: Sequence[str]) -> list[ActionAttempt]:
        self.listing.set()
        await self.release.wait()
        return await super().list_action_attempts(ids)


@pytest.mark.anyio
async def test_an_attempt_finished_by_an_event_while_a_poll_is_out_is_delivered_once_and_the_rest_still() -> None:
    seam = SlowListSeam({"a": 1, "b": 1, "c": 1})

    tracker = AttemptTracker(seam, deadline_seconds=20)  # type: ignore[arg-type]
    delivered: dict[str, list[AttemptOutcome]] = {}
    all_three = asyncio.Event()

    def recorder(attempt_id: str) -> Any:
        async def record(outcome: AttemptOutcome) -> None:
            delivered.setdefault(attempt_id, []).append(outcome)
            if len(delivered) == 3:
                all_three.set()

        return record

    for attempt_id in ("a", "b", "c"):
        tracker.follow(attempt(attempt_id), "lock_1", recorder(attempt_id))
    await asyncio.wait_for(seam.listing.wait(), 5)  # the first poll (at 0.4 s) is out
    assert tracker.check_now("a")  # Seam's event for "a" comes meanwhile: asked by get

    async def a_delivered() -> None:
        while "a" not in delivered:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(a_delivered(), 5)
    seam.release.set()  # the poll comes back, with "a" in it too
    await asyncio.wait_for(all_three.wait(), 5)
    await tracker.aclose()

    assert {attempt_id: len(outcomes) for attempt_id, outcomes in delivered.items()} == {"a": 1, "b": 1, "c": 1}
    assert seam.list_calls == 1  # "b" and "c" were finished by that same poll, not a later one


@pytest.mark.anyio
async def test_a_direct_unlock_interrupted_before_it_was_sent_is_never_sent_later_but_a_lock_is(tmp_path: Path) -> None:
    seam = MemorySeam({"late-lock": 1})
    seam.lock_result = attempt("late-lock", "success", result={})
    reporter = MemoryReporter()

    store = await Store.open(f"sqlite:///{tmp_path / 'lockbot.db'}")
    now = datetime.now(UTC)
    for kind in ("unlock", "lock"):  # typed, stored, and then lockbot died before sending
        record = ActionRecord(
            id=new_id(),
            kind=ActionKind(kind),
            device_id="lock_1",
            door="Front Door",
            requested_by="U1",
            reason="",
            channel="C1",
            state=ActionState.QUEUED,
            created_at=now,
            updated_at=now,
        )
        await store.add_action(record, owner="dead-instance", lease_until=now - timedelta(seconds=1))
    tracker = AttemptTracker(seam, deadline_seconds=5)  # type: ignore[arg-type]
    actions = DoorActions(seam, tracker, reporter, store, timeout_seconds=5)  # type: ignore[arg-type]
    assert await actions.resume() == 2
    deadline = time.monotonic() + 10
    while await store.unfinished_actions():
        assert time.monotonic() < deadline, "the taken-over actions never finished"
        await asyncio.sleep(0.05)
    entries = await store.audit_entries()
    await actions.aclose()
    await tracker.aclose()
    await store.close()
    unlocks, locks = (
        [(e.event, e.outcome) for e in entries if e.event == "unlock"],
        [(e.event, e.outcome) for e in entries if e.event == "lock"],
    )

    assert unlocks == [("unlock", "not_sent")]  # MemorySeam has no unlock_door: calling it would fail
    assert locks == [("lock", "succeeded")]


@pytest.mark.anyio
async def test_an_instance_does_not_take_over_what_it_is_still_working_on(tmp_path: Path) -> None:
    seam = MemorySeam({"slow": 1000})
    seam.lock_result = attempt("slow")

    store = await Store.open(f"sqlite:///{tmp_path / 'lockbot.db'}")
    tracker = AttemptTracker(seam, deadline_seconds=30)  # type: ignore[arg-type]
    actions = DoorActions(seam, tracker, MemoryReporter(), store, timeout_seconds=30, owner="me")  # type: ignore[arg-type]
    await actions.run(ActionKind.LOCK, Lock(device_id="lock_1", display_name="Front Door"), "U1", "C1")
    [pending] = await store.unfinished_actions()
    # Its renewal came late (a busy database): the lease has run out while it still works on it.
    past = datetime.now(UTC) - timedelta(seconds=1)
    await store.renew_leases("me", {pending.id}, past)
    taken = await actions.resume()
    assert tracker.following == 1  # followed once, not twice
    await actions.aclose()
    await tracker.aclose()
    await store.close()
    assert taken == 0
