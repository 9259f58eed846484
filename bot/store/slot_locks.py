"""Slot locks lockbot made on Overbooked: each moved by a write that holds only from the state it was in."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update

from bot.db import slot_locks
from bot.model import AuditEntry, SlotLock, SlotLockState
from bot.store.audit import write_audit
from bot.store.database import Database

__all__ = ["SlotLockRecords"]


def _slot_lock(row: Row[Any]) -> SlotLock:
    values = dict(row._mapping)
    values["state"] = SlotLockState(values["state"])
    return SlotLock(**values)


def _slot_lock_values(changes: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    return {key: (str(value) if key == "state" else value) for key, value in {**changes, "updated_at": at}.items()}


class SlotLockRecords:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add_slot_lock(self, lock: SlotLock) -> None:
        values = asdict(lock) | {"state": str(lock.state)}
        async with self._db.transaction() as connection:
            await connection.execute(insert(slot_locks).values(values))

    async def end_slot_lock(
        self,
        lock: SlotLock,
        at: datetime,
        state: SlotLockState,
        *,
        audit: AuditEntry,
        unlocked_by: str | None = None,
    ) -> SlotLock:
        """The lock is over (unlocked, expired, or found never to have taken): stored with its audit entry."""
        changes: dict[str, Any] = {"state": state}
        if unlocked_by is not None:
            changes["unlocked_by"] = unlocked_by
        async with self._db.transaction() as connection:
            await connection.execute(
                update(slot_locks).where(slot_locks.c.id == lock.id).values(**_slot_lock_values(changes, at))
            )
            await write_audit(connection, audit)
        return replace(lock, updated_at=at, **changes)

    async def move_slot_lock(
        self,
        lock: SlotLock,
        at: datetime,
        state: SlotLockState,
        *,
        audit: AuditEntry | None = None,
        locked_until: datetime | None = None,
    ) -> SlotLock | None:
        """Where a lock being made ended up (with `locked_until` if Overbooked moved its end), only
        while it is still in `lock.state`: None (and nothing written) when another instance moved it first."""
        changes: dict[str, Any] = {"state": state}
        if locked_until is not None:
            changes["locked_until"] = locked_until
        async with self._db.transaction() as connection:
            moved = await connection.execute(
                update(slot_locks)
                .where(slot_locks.c.id == lock.id, slot_locks.c.state == str(lock.state))
                .values(**_slot_lock_values(changes, at))
            )
            if moved.rowcount != 1:
                return None
            if audit is not None:
                await write_audit(connection, audit)
        return replace(lock, updated_at=at, **changes)

    async def current_slot_lock(self, slot_id: str) -> SlotLock | None:
        """lockbot's newest lock on the slot that is (or may be) held, confirmed or not."""
        return await self.latest_slot_lock(slot_id, [state for state in SlotLockState if state.may_be_held])

    async def latest_slot_lock(self, slot_id: str, states: Collection[SlotLockState]) -> SlotLock | None:
        """lockbot's newest lock on the slot in one of these states."""
        async with self._db.reading() as connection:
            row = (
                await connection.execute(
                    select(slot_locks)
                    .where(slot_locks.c.slot_id == slot_id, slot_locks.c.state.in_([str(state) for state in states]))
                    .order_by(slot_locks.c.created_at.desc())
                    .limit(1)
                )
            ).first()
        return _slot_lock(row) if row is not None else None

    async def slot_lock(self, lock_id: str) -> SlotLock | None:
        async with self._db.reading() as connection:
            row = (await connection.execute(select(slot_locks).where(slot_locks.c.id == lock_id))).first()
        return _slot_lock(row) if row is not None else None

    async def slot_locks_in(self, state: SlotLockState) -> list[SlotLock]:
        async with self._db.reading() as connection:
            rows = await connection.execute(select(slot_locks).where(slot_locks.c.state == str(state)))
            return [_slot_lock(row) for row in rows]
