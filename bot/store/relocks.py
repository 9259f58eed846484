"""Relocks as stored: one row per timed unlock, moved only by conditional writes.

The scheduler's cost when idle is one indexed query per tick (`due_relocks`), however many are
pending; a due relock is taken by one instance only (`bot.store.actions.ActionRecords.start_relock`,
which writes its lock action in the same transaction: from then on the action's own lease decides
who sends it). A relock whose lock action failed is pending again with a later due time (a retry,
`retry_relock`), taken the same way, until its last try (`give_up_relock`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db import relocks
from bot.model import AuditEntry, Relock, RelockState
from bot.store.audit import write_audit
from bot.store.database import Database

__all__ = ["PENDING_RELOCK", "RelockRecords", "relock_of_row", "write_relock"]

PENDING_RELOCK = _PENDING = str(RelockState.PENDING)


def relock_of_row(row: Row[Any]) -> Relock:
    """A `relocks` row as the model's `Relock`."""
    values = dict(row._mapping)
    values["state"] = RelockState(values["state"])
    return Relock(**values)


async def write_relock(connection: AsyncConnection, relock: Relock) -> None:
    """Add a pending relock in the caller's transaction (the unlock's outcome's). A later timed
    unlock of the same door decides when it locks again: earlier pending relocks are superseded."""
    await connection.execute(
        update(relocks)
        .where(relocks.c.device_id == relock.device_id, relocks.c.state == _PENDING)
        .values(state=str(RelockState.SUPERSEDED))
    )
    await connection.execute(insert(relocks).values(asdict(relock) | {"state": str(relock.state)}))


class RelockRecords:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def due_relocks(self, now: datetime, *, limit: int) -> list[Relock]:
        """The pending relocks due by `now`, soonest first (one query on (state, due_at))."""
        async with self._db.reading() as connection:
            rows = await connection.execute(
                select(relocks)
                .where(relocks.c.state == _PENDING, relocks.c.due_at <= now)
                .order_by(relocks.c.due_at)
                .limit(limit)
            )
            return [relock_of_row(row) for row in rows]

    async def pending_relocks(self) -> list[Relock]:
        """Every pending relock, soonest first."""
        async with self._db.reading() as connection:
            rows = await connection.execute(
                select(relocks).where(relocks.c.state == _PENDING).order_by(relocks.c.due_at)
            )
            return [relock_of_row(row) for row in rows]

    async def relock(self, unlock_id: str) -> Relock | None:
        """The relock of this timed unlock, in whatever state."""
        async with self._db.reading() as connection:
            row = (await connection.execute(select(relocks).where(relocks.c.unlock_id == unlock_id))).first()
        return relock_of_row(row) if row is not None else None

    async def extend_relock(self, relock: Relock, due_at: datetime, *, audit: AuditEntry) -> Relock | None:
        """Move a pending relock to `due_at`, with its audit entry; None (nothing written) when it is
        no longer pending or its due time moved since it was read (another press came first)."""
        async with self._db.transaction() as connection:
            moved = await connection.execute(
                update(relocks)
                .where(
                    relocks.c.unlock_id == relock.unlock_id,
                    relocks.c.state == _PENDING,
                    relocks.c.due_at == relock.due_at,
                )
                .values(due_at=due_at)
            )
            if moved.rowcount != 1:
                return None
            await write_audit(connection, audit)
        return replace(relock, due_at=due_at)

    async def settle_relocks(
        self,
        device_id: str,
        *,
        by: str | None,
        unlocked_before: datetime,
        audit_of: Callable[[Relock], AuditEntry] | None = None,
    ) -> list[Relock]:
        """The door was locked: its pending relocks from unlocks before `unlocked_before` are settled
        (an unlock after that lock still gets its relock), each audited as `audit_of` says. Returns
        those settled here."""
        settled = []
        async with self._db.transaction() as connection:
            rows = await connection.execute(
                select(relocks).where(
                    relocks.c.device_id == device_id,
                    relocks.c.state == _PENDING,
                    relocks.c.unlocked_at < unlocked_before,
                )
            )
            for relock in [relock_of_row(row) for row in rows]:
                moved = await connection.execute(
                    update(relocks)
                    .where(relocks.c.unlock_id == relock.unlock_id, relocks.c.state == _PENDING)
                    .values(state=str(RelockState.SETTLED), settled_by=by)
                )
                if moved.rowcount == 1:
                    settled.append(replace(relock, state=RelockState.SETTLED, settled_by=by))
                    if audit_of is not None:
                        await write_audit(connection, audit_of(settled[-1]))
        return settled

    async def retry_relock(self, relock: Relock, *, due_at: datetime, status_ts: str | None) -> Relock | None:
        """Its lock action (`relock.lock_action_id`) failed: pending again, due at `due_at`, its
        status message `status_ts` edited by the retry. None when that action is no longer the
        relock's current one (it was moved already), so each failure is acted on once."""
        return await self._after_try(relock, state=RelockState.PENDING, due_at=due_at, status_ts=status_ts)

    async def give_up_relock(self, relock: Relock) -> Relock | None:
        """Its last lock action failed too: no more tries. None when it was moved already."""
        return await self._after_try(relock, state=RelockState.GAVE_UP)

    async def _after_try(self, relock: Relock, *, state: RelockState, **changes: Any) -> Relock | None:
        async with self._db.transaction() as connection:
            moved = await connection.execute(
                update(relocks)
                .where(
                    relocks.c.unlock_id == relock.unlock_id,
                    relocks.c.state == str(RelockState.STARTED),
                    relocks.c.lock_action_id == relock.lock_action_id,
                )
                .values(state=str(state), **changes)
            )
        return replace(relock, state=state, **changes) if moved.rowcount == 1 else None

    async def relock_by_lock_action(self, action_id: str) -> Relock | None:
        """The relock a lock action carries out, if it is one."""
        async with self._db.reading() as connection:
            row = (await connection.execute(select(relocks).where(relocks.c.lock_action_id == action_id))).first()
        return relock_of_row(row) if row is not None else None
