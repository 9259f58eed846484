"""Doors left unlocked, as stored: one open alert per door, due by one query, taken by one instance,
closed by a lock of an earlier unlock only; and a lock pressed twice at once stored once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.model import (
    ActionKind,
    ActionRecord,
    ActionState,
    ActionThread,
    AuditEntry,
    UnlockedAlert,
    UnlockedAlertState,
    new_id,
)
from bot.store import Store
from tests.databases import DATABASE_KINDS, fresh_database

NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


def alert(device_id: str = "lock_1", *, unlocked_at: datetime = NOW) -> UnlockedAlert:
    return UnlockedAlert(
        id=new_id(),
        device_id=device_id,
        door="Front Door",
        channel="C0NOTIFY",
        unlocked_at=unlocked_at,
        due_at=unlocked_at + timedelta(minutes=30),
    )


@pytest.mark.anyio
async def test_a_door_has_one_open_alert_and_a_due_one_is_taken_by_one_instance(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        first = alert()
        opened = await asyncio.gather(*(store.open_unlocked_alert(a) for a in [first, alert(), alert()]))
        assert sum(opened) == 1
        assert await store.due_unlocked_alerts(NOW + timedelta(minutes=29), limit=10) == []
        (due,) = await store.due_unlocked_alerts(NOW + timedelta(minutes=30), limit=10)

        later = NOW + timedelta(minutes=30)
        taken = await asyncio.gather(
            *(store.take_unlocked_alert(due, later, until=later + timedelta(minutes=1)) for _ in range(4))
        )

        assert sum(taken) == 1
        assert await store.due_unlocked_alerts(later, limit=10) == []
        # An instance that took it and stopped before posting: taken again once its claim ran out.
        (again,) = await store.due_unlocked_alerts(later + timedelta(minutes=2), limit=10)
        assert again.state is UnlockedAlertState.POSTING
        taken_over = later + timedelta(minutes=2)
        assert await store.take_unlocked_alert(again, taken_over, until=taken_over + timedelta(minutes=1))
        # The first instance's claim is over: it marks nothing; the one holding the claim does.
        first_claim = later + timedelta(minutes=1)
        assert not await store.unlocked_alert_posted(due.id, "1.000001", later, claimed_until=first_claim)
        assert await store.unlocked_alert_posted(
            due.id, "1.000002", taken_over, claimed_until=taken_over + timedelta(minutes=1)
        )
        current = await store.unlocked_alert(due.id)
        assert current is not None
        assert (current.state, current.notice_ts) == (UnlockedAlertState.POSTED, "1.000002")
        assert await store.due_unlocked_alerts(later + timedelta(hours=1), limit=10) == []
    finally:
        await store.close()


@pytest.mark.anyio
async def test_a_lock_closes_the_alerts_of_earlier_unlocks_and_a_later_unlock_opens_a_new_one(
    database_url: str,
) -> None:
    store = await Store.open(database_url)
    try:
        first = alert("lock_2")
        assert await store.open_unlocked_alert(first)
        assert await store.close_unlocked_alerts("lock_2", locked_at=NOW, by="U0MEMBER", how=None) == []

        locked_at = NOW + timedelta(minutes=1)
        (closed,) = await store.close_unlocked_alerts("lock_2", locked_at=locked_at, by=None, how="keypad")

        assert (closed.state, closed.locked_at, closed.locked_how) == (UnlockedAlertState.LOCKED, locked_at, "keypad")
        assert await store.due_unlocked_alerts(NOW + timedelta(hours=1), limit=10) == []
        second = alert("lock_2", unlocked_at=NOW + timedelta(minutes=2))
        assert await store.open_unlocked_alert(second)
        assert [a.id for a in await store.open_unlocked_alerts()] == [second.id]
    finally:
        await store.close()


@pytest.mark.anyio
async def test_an_alert_locked_while_it_was_being_posted_is_not_marked_posted(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        pending = alert("lock_3")
        await store.open_unlocked_alert(pending)
        later = pending.due_at
        assert await store.take_unlocked_alert(pending, later, until=later + timedelta(minutes=1))

        await store.close_unlocked_alerts("lock_3", locked_at=later, by="U0MEMBER", how=None)

        assert not await store.unlocked_alert_posted(
            pending.id, "1.000002", later, claimed_until=later + timedelta(minutes=1)
        )
        current = await store.unlocked_alert(pending.id)
        assert current is not None
        assert (current.state, current.locked_by, current.notice_ts) == (UnlockedAlertState.LOCKED, "U0MEMBER", None)
    finally:
        await store.close()


@pytest.mark.anyio
async def test_an_alert_slack_refused_is_pending_again_after_its_wait_and_only_its_claim_holder_puts_it_back(
    database_url: str,
) -> None:
    store = await Store.open(database_url)
    try:
        pending = alert("lock_4")
        await store.open_unlocked_alert(pending)
        tried_at = pending.due_at
        claim = tried_at + timedelta(minutes=1)
        assert await store.take_unlocked_alert(pending, tried_at, until=claim)
        retry_at = tried_at + timedelta(seconds=30)

        assert not await store.retry_unlocked_alert(
            pending.id, claimed_until=claim + timedelta(seconds=1), tried_at=tried_at, due_at=retry_at
        )
        assert await store.retry_unlocked_alert(pending.id, claimed_until=claim, tried_at=tried_at, due_at=retry_at)

        assert await store.due_unlocked_alerts(retry_at - timedelta(seconds=1), limit=10) == []
        (again,) = await store.due_unlocked_alerts(retry_at, limit=10)
        assert (again.state, again.claimed_until, again.due_at) == (UnlockedAlertState.PENDING, tried_at, retry_at)
        assert await store.take_unlocked_alert(again, retry_at, until=retry_at + timedelta(minutes=1))
        assert not await store.unlocked_alert_posted(pending.id, "1.000003", retry_at, claimed_until=claim)
        assert await store.unlocked_alert_posted(
            pending.id, "1.000003", retry_at, claimed_until=retry_at + timedelta(minutes=1)
        )
    finally:
        await store.close()


def lock(device_id: str) -> ActionRecord:
    return ActionRecord(
        id=new_id(),
        kind=ActionKind.LOCK,
        device_id=device_id,
        door="Front Door",
        requested_by="U0MEMBER",
        reason="",
        channel="C0GENERAL",
        state=ActionState.QUEUED,
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.anyio
async def test_locks_of_one_door_pressed_at_once_store_one_action(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        presses = [lock("lock_4") for _ in range(5)]
        until = NOW + timedelta(seconds=30)

        answers = await asyncio.gather(
            *(
                store.add_lock_unless_in_flight(press, owner=f"i{n}", lease_until=until)
                for n, press in enumerate(presses)
            )
        )

        stored = [press for press, in_flight in zip(presses, answers, strict=True) if in_flight is None]
        assert len(stored) == 1
        assert {in_flight.id for in_flight in answers if in_flight is not None} == {stored[0].id}
        assert await store.add_lock_unless_in_flight(lock("lock_5"), owner="i0", lease_until=until) is None
        # Once that lock has ended, the next press is a lock of its own.
        (record,) = [r for r in await store.unfinished_actions() if r.id == stored[0].id]
        done = await store.finish(
            record,
            NOW,
            ActionState.SUCCEEDED,
            audit=_audit(),
            problem=None,
            status_ts=None,
            attempt_id=None,
            confirmed_by_device=True,
        )
        assert done is not None
        assert await store.add_lock_unless_in_flight(lock("lock_4"), owner="i0", lease_until=until) is None
    finally:
        await store.close()


def _audit() -> AuditEntry:
    return AuditEntry(at=NOW, actor="U0MEMBER", event="lock", outcome="succeeded")


@pytest.mark.anyio
async def test_an_action_asked_for_in_a_dm_by_user_id_remembers_the_dms_own_id(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        pressed = replace(lock("lock_6"), channel="U0MEMBER")  # a press on App Home, shown in the presser's DM
        await store.add_lock_unless_in_flight(pressed, owner="me", lease_until=NOW + timedelta(seconds=30))

        shown = await store.remember_thread(pressed, NOW, ActionThread("D0MEMBER", "1.1", "1.2"), owner="me")

        assert shown is not None
        (stored,) = [r for r in await store.unfinished_actions() if r.id == pressed.id]
        # After a restart its messages are edited in the DM they are in, by the DM's id.
        assert stored.thread == shown.thread == ActionThread("D0MEMBER", "1.1", "1.2")
    finally:
        await store.close()
