"""Action leases with several actions in flight on one instance: only those still being worked on
are renewed, and those stay out of other instances' reach."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.actions import DoorActions
from bot.db import actions
from bot.model import ActionKind, ActionRecord, ActionState, Lock, new_id
from bot.seam import ActionAttempt
from bot.store import Store
from bot.tracking import AttemptTracker
from tests.test_tracking import MemoryReporter, MemorySeam, attempt

LEASE = timedelta(milliseconds=300)
DOORS = {"quick-1": "Front Door", "quick-2": "Back Door", "slow-1": "Garage Door", "slow-2": "Garden Gate"}


class SeamWithOneAttemptPerDoor(MemorySeam):
    """Each door's lock_door starts its own attempt: the quick ones end at the first poll, the slow ones
    stay pending for as long as the test runs."""

    def __init__(self) -> None:
        super().__init__({attempt_id: 1 if attempt_id.startswith("quick") else 10**6 for attempt_id in DOORS})

    async def lock_door(self, device_id: str) -> ActionAttempt:
        return attempt(device_id)  # the device id doubles as the attempt id


@dataclass(frozen=True)
class Renewal:
    action_ids: frozenset[str]
    lease_until: datetime
    leases: dict[str, datetime | None]  # every action's lease just after the renewal


class StoreThatRecordsRenewals(Store):
    ids: dict[str, str]  # device id -> action id
    renewals: list[Renewal]

    async def add_action(self, record: ActionRecord, **kwargs: Any) -> None:
        self.ids[record.device_id] = record.id
        await super().add_action(record, **kwargs)

    async def renew_leases(self, owner: str, action_ids: Collection[str], lease_until: datetime) -> None:
        await super().renew_leases(owner, action_ids, lease_until)
        async with self._db.reading() as connection:
            rows = (await connection.execute(select(actions.c.id, actions.c.lease_expires))).all()
        leases = {row.id: _utc(row.lease_expires) for row in rows}
        self.renewals.append(Renewal(frozenset(action_ids), lease_until, leases))


def _utc(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


async def wait_for(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


@pytest.mark.anyio
async def test_only_the_actions_still_in_flight_have_their_leases_renewed(tmp_path: Path) -> None:
    seam = SeamWithOneAttemptPerDoor()
    reporter = MemoryReporter()

    store = await StoreThatRecordsRenewals.open(f"sqlite:///{tmp_path / 'lockbot.db'}")
    store.ids, store.renewals = {}, []
    tracker = AttemptTracker(seam, deadline_seconds=60)  # type: ignore[arg-type]
    actions = DoorActions(
        seam,  # type: ignore[arg-type]
        tracker,
        reporter,
        store,
        timeout_seconds=60,
        owner="this-instance",
        lease=LEASE,
    )
    leases = asyncio.create_task(actions.keep_leases())
    for device_id, name in DOORS.items():
        await actions.run(ActionKind.LOCK, Lock(device_id=device_id, display_name=name), "U1", "C1")
    ids = store.ids

    async def only_the_slow_ones_left() -> bool:
        return {record.device_id for record in await store.unfinished_actions()} == {"slow-1", "slow-2"}

    await wait_for(only_the_slow_ones_left, "the quick actions to finish")
    # The round under way now may have begun before the last quick one let go: the ones after it count.
    renewals_so_far = len(store.renewals) + 1

    async def renewed_three_more_times() -> bool:
        return len(store.renewals) >= renewals_so_far + 3

    await wait_for(renewed_three_more_times, "three more rounds of renewals")
    slow = {ids["slow-1"], ids["slow-2"]}
    for renewal in store.renewals[renewals_so_far:]:
        assert renewal.action_ids == slow  # the unfinished ones, and only those
        written = {action_id for action_id, expires in renewal.leases.items() if expires == renewal.lease_until}
        assert written == slow
    leases.cancel()
    # Held all along, several leases after they began: another instance cannot take them over.
    now = datetime.now(UTC)
    assert await store.claim_orphans("another-instance", now, now + LEASE) == []
    await actions.aclose()
    await tracker.aclose()
    await store.close()

    finished = [view for view in reporter.shown if view.state is ActionState.SUCCEEDED]
    assert sorted(view.door for view in finished) == ["Back Door", "Front Door"]


@pytest.mark.anyio
async def test_a_renewal_extends_only_its_owners_unfinished_actions(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    soon, later = now + LEASE, now + timedelta(minutes=5)

    def record(state: ActionState) -> ActionRecord:
        return ActionRecord(
            id=new_id(),
            kind=ActionKind.LOCK,
            device_id="lock_1",
            door="Front Door",
            requested_by="U1",
            reason="",
            channel="C1",
            state=state,
            created_at=now,
            updated_at=now,
        )

    store = await StoreThatRecordsRenewals.open(f"sqlite:///{tmp_path / 'lockbot.db'}")
    store.ids, store.renewals = {}, []
    pending, finished, others = (
        record(ActionState.PENDING),
        record(ActionState.SUCCEEDED),
        record(ActionState.PENDING),
    )
    await store.add_action(pending, owner="me", lease_until=soon)
    await store.add_action(finished, owner="me", lease_until=soon)
    await store.add_action(others, owner="another-instance", lease_until=soon)
    dropped = record(ActionState.PENDING)  # its work died here: left out, so its lease runs out
    await store.add_action(dropped, owner="me", lease_until=soon)

    await store.renew_leases("me", {pending.id, finished.id, others.id}, later)

    [renewal] = store.renewals
    await store.close()
    leases = {
        "pending": renewal.leases[pending.id],
        "finished": renewal.leases[finished.id],
        "others": renewal.leases[others.id],
        "dropped": renewal.leases[dropped.id],
    }

    assert leases == {"pending": later, "finished": soon, "others": soon, "dropped": soon}
