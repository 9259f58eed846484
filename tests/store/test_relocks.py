"""Relocks as stored: found by one query when due, taken by one instance only, settled by a lock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.model import ActionKind, ActionRecord, ActionState, AuditEntry, Relock, RelockState, new_id
from bot.store import Store
from tests.databases import DATABASE_KINDS, fresh_database

NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


def relock(device_id: str = "lock_1", *, due_in: timedelta = timedelta(seconds=10)) -> Relock:
    return Relock(
        unlock_id=new_id(),
        device_id=device_id,
        door="Front Door",
        unlocked_by="U0ADMIN",
        channel="C0GENERAL",
        parent_ts="1.000001",
        unlocked_at=NOW,
        due_at=NOW + due_in,
    )


def lock_action(of: Relock) -> ActionRecord:
    return ActionRecord(
        id=new_id(),
        kind=ActionKind.LOCK,
        device_id=of.device_id,
        door=of.door,
        requested_by=of.unlocked_by,
        reason="the timed unlock ended",
        channel=of.channel,
        state=ActionState.QUEUED,
        created_at=NOW,
        updated_at=NOW,
        parent_ts=of.parent_ts,
    )


async def add(store: Store, pending: Relock) -> None:
    """Stored as a timed unlock's outcome stores it: with the outcome, in one transaction."""
    unlock = replace(
        lock_action(pending), id=pending.unlock_id, kind=ActionKind.UNLOCK, unlock_for=pending.due_at - NOW
    )
    await store.add_action(unlock, owner="instance", lease_until=NOW + timedelta(seconds=30))
    audit = AuditEntry(at=NOW, actor=unlock.requested_by, event="unlock", outcome="succeeded")
    finished = await store.finish(
        unlock,
        NOW,
        ActionState.SUCCEEDED,
        audit=audit,
        problem=None,
        status_ts=None,
        attempt_id=None,
        confirmed_by_device=True,
        relock=pending,
    )
    assert finished is not None


@pytest.mark.anyio
async def test_a_relock_is_due_at_its_time_and_taken_by_one_instance_only(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        pending = relock()
        await add(store, pending)

        assert await store.due_relocks(NOW + timedelta(seconds=9), limit=10) == []
        due = await store.due_relocks(NOW + timedelta(seconds=10), limit=10)
        assert [r.unlock_id for r in due] == [pending.unlock_id]
        actions = [lock_action(pending) for _ in range(4)]
        taken = await asyncio.gather(
            *(
                store.start_relock(pending, action, owner=f"instance-{i}", lease_until=NOW + timedelta(seconds=30))
                for i, action in enumerate(actions)
            )
        )

        winners = [t for t in taken if t is not None]
        assert len(winners) == 1
        assert winners[0].state is RelockState.STARTED
        assert await store.due_relocks(NOW + timedelta(hours=1), limit=10) == []
        unfinished = {record.id for record in await store.unfinished_actions()}
        assert len(unfinished & {action.id for action in actions}) == 1  # the lock action of the winner only
        assert winners[0].lock_action_id is not None
        assert await store.relock_by_lock_action(winners[0].lock_action_id) == winners[0]
    finally:
        await store.close()


@pytest.mark.anyio
async def test_a_lock_settles_the_pending_relocks_of_earlier_unlocks_only(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        pending = relock("lock_2")
        await add(store, pending)

        assert await store.settle_relocks("lock_2", by="U0MEMBER", unlocked_before=NOW) == []  # a lock before it
        settled = await store.settle_relocks("lock_2", by="U0MEMBER", unlocked_before=NOW + timedelta(seconds=1))

        assert [(r.unlock_id, r.state, r.settled_by) for r in settled] == [
            (pending.unlock_id, RelockState.SETTLED, "U0MEMBER")
        ]
        assert await store.due_relocks(NOW + timedelta(hours=1), limit=10) == []
        assert await store.start_relock(pending, lock_action(pending), owner="a", lease_until=NOW) is None
    finally:
        await store.close()


@pytest.mark.anyio
async def test_a_later_timed_unlock_of_the_door_supersedes_the_earlier_relock(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        first, second = relock("lock_3", due_in=timedelta(seconds=10)), relock("lock_3", due_in=timedelta(minutes=5))
        await add(store, first)
        await add(store, second)

        due = await store.due_relocks(NOW + timedelta(hours=1), limit=10)
        assert [r.unlock_id for r in due] == [second.unlock_id]
    finally:
        await store.close()


def audit(event: str) -> AuditEntry:
    return AuditEntry(at=NOW, actor="U0PRESSER", event=event, outcome="done", door="Front Door", device_id="lock_1")


@pytest.mark.anyio
async def test_lock_now_takes_the_relock_once_and_says_who_pressed(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        pending = relock()
        await add(store, pending)

        taken = await asyncio.gather(
            *(
                store.start_relock(
                    pending, lock_action(pending), owner=f"i{i}", lease_until=NOW, by=f"U0PRESS{i}", audit=audit("end")
                )
                for i in range(3)
            )
        )

        winners = [t for t in taken if t is not None]
        assert len(winners) == 1
        stored = await store.relock(pending.unlock_id)
        assert stored == winners[0]
        assert stored is not None
        assert stored.state is RelockState.STARTED
        assert stored.settled_by == winners[0].settled_by
        assert [e.event for e in await store.audit_entries()].count("end") == 1
    finally:
        await store.close()


@pytest.mark.anyio
async def test_an_extension_moves_a_pending_relock_only_from_the_due_time_it_was_read_at(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        pending = relock()
        await add(store, pending)
        later = pending.due_at + timedelta(minutes=15)

        moved, raced = await asyncio.gather(
            store.extend_relock(pending, later, audit=audit("extend")),
            store.extend_relock(pending, later, audit=audit("extend")),
        )

        assert [m for m in (moved, raced) if m is not None] == [replace(pending, due_at=later)]
        assert await store.relock(pending.unlock_id) == replace(pending, due_at=later)
        assert [e.event for e in await store.audit_entries()].count("extend") == 1
        assert await store.due_relocks(pending.due_at, limit=10) == []
        await store.settle_relocks("lock_1", by=None, unlocked_before=NOW + timedelta(seconds=1))
        assert await store.extend_relock(replace(pending, due_at=later), later, audit=audit("extend")) is None
    finally:
        await store.close()


@pytest.mark.anyio
async def test_settling_a_relock_audits_it_in_the_same_write(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        pending = relock("lock_4")
        await add(store, pending)

        settled = await store.settle_relocks(
            "lock_4", by=None, unlocked_before=NOW + timedelta(seconds=1), audit_of=lambda r: audit(r.unlock_id[:32])
        )

        assert len(settled) == 1
        assert [e.event for e in await store.audit_entries()][-1] == pending.unlock_id[:32]
    finally:
        await store.close()


@pytest.mark.anyio
async def test_a_failed_relock_waits_to_try_again_and_each_try_is_taken_once(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        pending = relock("lock_4")
        await add(store, pending)
        first = await store.start_relock(pending, lock_action(pending), owner="a", lease_until=NOW)
        assert first is not None
        assert first.tries == 1

        retry_at = NOW + timedelta(minutes=1)
        retrying = await store.retry_relock(first, due_at=retry_at, status_ts="1.000002")
        again = await store.retry_relock(first, due_at=retry_at, status_ts="1.000002")  # the same failure twice

        assert retrying is not None
        assert again is None
        assert await store.due_relocks(retry_at - timedelta(seconds=1), limit=10) == []
        due = await store.due_relocks(retry_at, limit=10)
        assert [(r.unlock_id, r.state, r.tries, r.status_ts) for r in due] == [
            (pending.unlock_id, RelockState.PENDING, 1, "1.000002")
        ]
        # The retry is taken by one instance only; a stale read of the first try takes nothing.
        assert await store.start_relock(pending, lock_action(pending), owner="b", lease_until=NOW) is None
        taken = await asyncio.gather(
            *(store.start_relock(due[0], lock_action(pending), owner=f"i{i}", lease_until=NOW) for i in range(3))
        )
        winners = [t for t in taken if t is not None]
        assert len(winners) == 1
        assert winners[0].tries == 2

        assert await store.give_up_relock(first) is None  # an older try's outcome moves nothing
        gave_up = await store.give_up_relock(winners[0])
        assert gave_up is not None
        assert gave_up.state is RelockState.GAVE_UP
        assert await store.due_relocks(NOW + timedelta(hours=1), limit=10) == []
    finally:
        await store.close()


@pytest.mark.anyio
async def test_a_lock_settles_a_relock_waiting_to_try_again(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        pending = relock("lock_5")
        await add(store, pending)
        first = await store.start_relock(pending, lock_action(pending), owner="a", lease_until=NOW)
        assert first is not None
        retrying = await store.retry_relock(first, due_at=NOW + timedelta(minutes=1), status_ts=None)
        assert retrying is not None

        settled = await store.settle_relocks("lock_5", by="U0MEMBER", unlocked_before=NOW + timedelta(seconds=20))

        assert [(r.unlock_id, r.state, r.tries) for r in settled] == [(pending.unlock_id, RelockState.SETTLED, 1)]
        assert await store.start_relock(retrying, lock_action(pending), owner="a", lease_until=NOW) is None
    finally:
        await store.close()


@pytest.mark.anyio
async def test_a_tick_takes_its_due_relocks_in_one_write_and_two_instances_share_them(database_url: str) -> None:
    stores = [await Store.open(database_url), await Store.open(database_url)]
    try:
        due = [relock(f"lock_{10 + i}", due_in=timedelta(seconds=i)) for i in range(6)]
        later = relock("lock_99", due_in=timedelta(minutes=5))
        for pending in [*due, later]:
            await add(stores[0], pending)

        taken = await asyncio.gather(
            *(
                store.take_due_relocks(
                    NOW + timedelta(seconds=10),
                    limit=10,
                    lock_action=lock_action,
                    owner=f"instance-{i}",
                    lease_until=NOW + timedelta(seconds=30),
                )
                for i, store in enumerate(stores)
            )
        )

        pairs = [pair for _, started in taken for pair in started]
        assert sorted(r.unlock_id for r, _ in pairs) == sorted(r.unlock_id for r in due)  # each once, the later not
        assert all(r.state is RelockState.STARTED and r.tries == 1 and r.lock_action_id == a.id for r, a in pairs)
        unfinished = {record.id for record in await stores[0].unfinished_actions()}
        assert {a.id for _, a in pairs} <= unfinished  # their lock actions, stored with them
        for _, action in pairs:
            assert await stores[0].relock_by_lock_action(action.id) is not None
        idle = await stores[0].take_due_relocks(
            NOW + timedelta(seconds=10), limit=10, lock_action=lock_action, owner="x", lease_until=NOW
        )
        assert idle == (0, [])
    finally:
        for store in stores:
            await store.close()
