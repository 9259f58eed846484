"""Door actions as stored: one row each, moved only by conditional writes, held by leases."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db import actions, relocks
from bot.model import (
    UNFINISHED,
    ActionKind,
    ActionProblem,
    ActionRecord,
    ActionState,
    ActionThread,
    AuditEntry,
    Relock,
    RelockState,
)
from bot.store.audit import write_audit
from bot.store.database import Database
from bot.store.relocks import PENDING_RELOCK, write_relock

__all__ = ["ActionRecords", "write_action"]

_UNFINISHED = [str(state) for state in UNFINISHED]


def _action(row: Row[Any]) -> ActionRecord:
    values = dict(row._mapping)
    values["kind"] = ActionKind(values["kind"])
    values["state"] = ActionState(values["state"])
    values["problem"] = ActionProblem.from_stored(values["problem"]) if values["problem"] is not None else None
    values.pop("lease_owner", None)
    values.pop("lease_expires", None)
    seconds = values.pop("unlock_for_seconds", None)
    return ActionRecord(**values, unlock_for=timedelta(seconds=seconds) if seconds is not None else None)


def _seconds(duration: timedelta | None) -> int | None:
    return int(duration.total_seconds()) if duration is not None else None


async def write_action(
    connection: AsyncConnection, record: ActionRecord, *, owner: str | None, lease_until: datetime | None
) -> None:
    """Add a new action in the caller's transaction (an approval's, with its decision)."""
    values = asdict(record) | {"kind": str(record.kind), "state": str(record.state), "problem": _stored(record.problem)}
    values["unlock_for_seconds"] = _seconds(values.pop("unlock_for"))
    await connection.execute(insert(actions).values(values | {"lease_owner": owner, "lease_expires": lease_until}))


def _stored(problem: ActionProblem | None) -> str | None:
    """The `problem` column: the problem's JSON (rows written before hold free text, read as words)."""
    return problem.stored() if problem is not None else None


def _column(key: str, value: Any) -> Any:
    if key == "state":
        return str(value)
    if key == "problem":
        return _stored(value)
    return value


class ActionRecords:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add_action(self, record: ActionRecord, *, owner: str, lease_until: datetime) -> None:
        """Store a new action, held by `owner` until `lease_until` (renewed while it runs)."""
        async with self._db.transaction() as connection:
            await write_action(connection, record, owner=owner, lease_until=lease_until)

    # -- leases ----------------------------------------------------------------------------------

    async def claim_action(self, action_id: str, owner: str, now: datetime, lease_until: datetime) -> bool:
        """Take an unfinished action that nobody else holds (or whose holder's lease ran out)."""
        async with self._db.transaction() as connection:
            won = await connection.execute(
                update(actions)
                .where(
                    actions.c.id == action_id,
                    actions.c.state.in_(_UNFINISHED),
                    or_(
                        actions.c.lease_owner.is_(None),
                        actions.c.lease_owner == owner,
                        actions.c.lease_expires < now,
                    ),
                )
                .values(lease_owner=owner, lease_expires=lease_until)
            )
        return won.rowcount == 1

    async def claim_orphans(self, owner: str, now: datetime, lease_until: datetime) -> list[ActionRecord]:
        """Take every unfinished action whose lease ran out (its instance died); returns those taken."""
        unheld = and_(
            actions.c.state.in_(_UNFINISHED),
            or_(actions.c.lease_expires.is_(None), actions.c.lease_expires < now),
        )
        async with self._db.reading() as connection:
            ids = (await connection.execute(select(actions.c.id).where(unheld))).scalars().all()
        claimed = []
        for action_id in ids:
            async with self._db.transaction() as connection:
                won = await connection.execute(
                    update(actions)
                    .where(actions.c.id == action_id, unheld)
                    .values(lease_owner=owner, lease_expires=lease_until)
                )
                if won.rowcount == 1:
                    row = (await connection.execute(select(actions).where(actions.c.id == action_id))).one()
                    claimed.append(_action(row))
        return claimed

    async def renew_leases(self, owner: str, action_ids: Collection[str], lease_until: datetime) -> None:
        """Extend `owner`'s hold on these actions (the ones it is still working on)."""
        if not action_ids:
            return
        async with self._db.transaction() as connection:
            await connection.execute(
                update(actions)
                .where(
                    actions.c.lease_owner == owner,
                    actions.c.id.in_(list(action_ids)),
                    actions.c.state.in_(_UNFINISHED),
                )
                .values(lease_expires=lease_until)
            )

    # -- where an action is ----------------------------------------------------------------------

    async def remember_thread(
        self, record: ActionRecord, at: datetime, thread: ActionThread, *, owner: str
    ) -> ActionRecord | None:
        """Where a queued action held by `owner` is shown; None (nothing written) if it is not so any more."""
        return await self._move(
            record,
            at,
            only_from=(ActionState.QUEUED,),
            owner=owner,
            parent_ts=thread.parent_ts,
            status_ts=thread.status_ts,
        )

    async def mark_requesting(
        self, record: ActionRecord, at: datetime, *, owner: str, parent_ts: str | None, status_ts: str | None
    ) -> ActionRecord | None:
        """About to ask Seam: from queued, while held by `owner`, so exactly one instance sends it.
        None (nothing written) when it was not so: it must not be sent."""
        return await self._move(
            record,
            at,
            only_from=(ActionState.QUEUED,),
            owner=owner,
            state=ActionState.REQUESTING,
            parent_ts=parent_ts,
            status_ts=status_ts,
        )

    async def mark_pending(
        self, record: ActionRecord, at: datetime, attempt_id: str, *, owner: str
    ) -> ActionRecord | None:
        """Seam took it as this attempt: from requesting, while held by `owner` (never back from an outcome)."""
        return await self._move(
            record,
            at,
            only_from=(ActionState.REQUESTING,),
            owner=owner,
            state=ActionState.PENDING,
            attempt_id=attempt_id,
        )

    async def finish(
        self,
        record: ActionRecord,
        at: datetime,
        state: ActionState,
        *,
        audit: AuditEntry,
        problem: ActionProblem | None,
        status_ts: str | None,
        attempt_id: str | None,
        confirmed_by_device: bool | None,
        relock: Relock | None = None,
    ) -> ActionRecord | None:
        """Store the outcome (a final `state`) and its audit entry together, with the `relock` a
        timed unlock's outcome brings; None (nothing written) when the action had an outcome
        already: an outcome is never overwritten."""
        return await self._move(
            record,
            at,
            only_from=UNFINISHED,
            audit=audit,
            relock=relock,
            state=state,
            problem=problem,
            status_ts=status_ts,
            attempt_id=attempt_id,
            confirmed_by_device=confirmed_by_device,
        )

    async def _move(
        self,
        record: ActionRecord,
        at: datetime,
        *,
        only_from: tuple[ActionState, ...],
        owner: str | None = None,
        audit: AuditEntry | None = None,
        relock: Relock | None = None,
        **changes: Any,
    ) -> ActionRecord | None:
        values = {key: _column(key, value) for key, value in changes.items()}
        conditions = [actions.c.id == record.id, actions.c.state.in_([str(state) for state in only_from])]
        if owner is not None:
            conditions.append(actions.c.lease_owner == owner)
        async with self._db.transaction() as connection:
            changed = await connection.execute(update(actions).where(*conditions).values(updated_at=at, **values))
            if changed.rowcount != 1:
                return None
            if audit is not None:
                await write_audit(connection, audit)
            if relock is not None:
                await write_relock(connection, relock)
        return replace(record, updated_at=at, **changes)

    async def start_relock(
        self, relock: Relock, action: ActionRecord, *, owner: str, lease_until: datetime
    ) -> Relock | None:
        """Take a pending relock and store its lock action, held by `owner`, in one transaction.
        None when it was no longer pending: another instance took it, or the door was locked."""
        async with self._db.transaction() as connection:
            taken = await connection.execute(
                update(relocks)
                .where(
                    relocks.c.unlock_id == relock.unlock_id,
                    relocks.c.state == PENDING_RELOCK,
                    relocks.c.tries == relock.tries,  # not a later retry of it another instance set
                )
                .values(state=str(RelockState.STARTED), lock_action_id=action.id, tries=relock.tries + 1)
            )
            if taken.rowcount != 1:
                return None
            await write_action(connection, action, owner=owner, lease_until=lease_until)
        return replace(relock, state=RelockState.STARTED, lock_action_id=action.id, tries=relock.tries + 1)

    # -- reads -----------------------------------------------------------------------------------

    async def unfinished_actions(self) -> list[ActionRecord]:
        async with self._db.reading() as connection:
            rows = await connection.execute(
                select(actions).where(actions.c.state.in_(_UNFINISHED)).order_by(actions.c.created_at)
            )
            return [_action(row) for row in rows]

    async def action_by_attempt(self, attempt_id: str) -> ActionRecord | None:
        async with self._db.reading() as connection:
            row = (await connection.execute(select(actions).where(actions.c.attempt_id == attempt_id))).first()
        return _action(row) if row is not None else None
