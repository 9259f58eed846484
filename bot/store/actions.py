"""Door actions as stored: one row each, moved only by conditional writes, held by leases."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, case, func, insert, or_, select, text, update
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
from bot.store.relocks import PENDING_RELOCK, relock_of_row, write_relock

__all__ = ["ActionRecords", "write_action", "write_actions"]

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
    await write_actions(connection, [record], owner=owner, lease_until=lease_until)


async def write_actions(
    connection: AsyncConnection, records: Sequence[ActionRecord], *, owner: str | None, lease_until: datetime | None
) -> None:
    """Add new actions in the caller's transaction, in one statement (relocks taken together)."""
    rows = []
    for record in records:
        values = asdict(record) | {
            "kind": str(record.kind),
            "state": str(record.state),
            "problem": _stored(record.problem),
        }
        values["unlock_for_seconds"] = _seconds(values.pop("unlock_for"))
        rows.append(values | {"lease_owner": owner, "lease_expires": lease_until})
    if len(rows) == 1:
        await connection.execute(insert(actions).values(rows[0]))
    elif rows:
        await connection.execute(insert(actions), rows)


def _stored(problem: ActionProblem | None) -> str | None:
    """The `problem` column: the problem's JSON (rows written before hold free text, read as words)."""
    return problem.stored() if problem is not None else None


def _column(key: str, value: Any) -> Any:
    if key == "state":
        return str(value)
    if key == "problem":
        return _stored(value)
    return value


async def _start_relocks(
    connection: AsyncConnection,
    due: Sequence[tuple[Relock, ActionRecord]],
    *,
    owner: str,
    lease_until: datetime,
    by: str | None = None,
) -> list[Relock]:
    """Take the pending ones of these relocks with one conditional UPDATE (RETURNING tells which),
    and store their lock actions with one INSERT; `by`: who pressed Lock now (None: their time came)."""
    if not due:
        return []
    by_id = {relock.unlock_id: (relock, action) for relock, action in due}
    taken = await connection.execute(
        update(relocks)
        .where(
            relocks.c.unlock_id.in_(list(by_id)),
            relocks.c.state == PENDING_RELOCK,
            # Not a later retry of it, stored since it was read.
            or_(*(and_(relocks.c.unlock_id == r.unlock_id, relocks.c.tries == r.tries) for r, _ in due)),
        )
        .values(
            state=str(RelockState.STARTED),
            lock_action_id=case({uid: action.id for uid, (_, action) in by_id.items()}, value=relocks.c.unlock_id),
            tries=relocks.c.tries + 1,
            settled_by=by,
        )
        .returning(relocks.c.unlock_id)
    )
    taken_ids = set(taken.scalars().all())
    started = [
        replace(relock, state=RelockState.STARTED, lock_action_id=action.id, tries=relock.tries + 1, settled_by=by)
        for relock, action in due
        if relock.unlock_id in taken_ids
    ]
    if started:
        await write_actions(connection, [by_id[r.unlock_id][1] for r in started], owner=owner, lease_until=lease_until)
    return started


class ActionRecords:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add_action(self, record: ActionRecord, *, owner: str, lease_until: datetime) -> None:
        """Store a new action, held by `owner` until `lease_until` (renewed while it runs)."""
        async with self._db.transaction() as connection:
            await write_action(connection, record, owner=owner, lease_until=lease_until)

    async def add_lock_unless_in_flight(
        self, record: ActionRecord, *, owner: str, lease_until: datetime
    ) -> ActionRecord | None:
        """Store a new lock action unless a lock of the same door is still unfinished: then store
        nothing and return that one. One check and one write in one transaction, which on PostgreSQL
        holds a lock on the door's id, so presses on two instances at once store one lock."""
        async with self._db.transaction() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"lock:{record.device_id}"}
                )
            row = (
                await connection.execute(
                    select(actions)
                    .where(
                        actions.c.device_id == record.device_id,
                        actions.c.kind == str(ActionKind.LOCK),
                        actions.c.state.in_(_UNFINISHED),
                    )
                    .order_by(actions.c.created_at)
                    .limit(1)
                )
            ).first()
            if row is not None:
                return _action(row)
            await write_action(connection, record, owner=owner, lease_until=lease_until)
        return None

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
        """Where a queued action held by `owner` is shown (or a requesting one: a relock is sent
        first, shown after); None (nothing written) if it is not so any more.

        The channel is the one Slack posted in: for an action shown in someone's DM (asked for by
        their user id), the DM's own id, by which its messages are edited later, after a restart too."""
        return await self._move(
            record,
            at,
            only_from=(ActionState.QUEUED, ActionState.REQUESTING),
            owner=owner,
            channel=thread.channel,
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
        self,
        relock: Relock,
        action: ActionRecord,
        *,
        owner: str,
        lease_until: datetime,
        by: str | None = None,
        audit: AuditEntry | None = None,
    ) -> Relock | None:
        """Take a pending relock and store its lock action, held by `owner`, in one transaction;
        `by`: who pressed Lock now (None: its time came), with the `audit` entry of that.
        None when it was no longer pending: another instance or press took it, or the door was locked."""
        async with self._db.transaction() as connection:
            started = await _start_relocks(connection, [(relock, action)], owner=owner, lease_until=lease_until, by=by)
            if started and audit is not None:
                await write_audit(connection, audit)
        return started[0] if started else None

    async def start_relocks(
        self, due: Sequence[tuple[Relock, ActionRecord]], *, owner: str, lease_until: datetime
    ) -> list[Relock]:
        """Take each pending relock and store its lock action, held by `owner`, all in one
        transaction. Returns those taken here; the others were no longer pending (another instance
        took them, or the door was locked)."""
        async with self._db.transaction() as connection:
            return await _start_relocks(connection, due, owner=owner, lease_until=lease_until)

    async def take_due_relocks(
        self,
        now: datetime,
        *,
        limit: int,
        lock_action: Callable[[Relock], ActionRecord],
        owner: str,
        lease_until: datetime,
    ) -> tuple[int, list[tuple[Relock, ActionRecord]]]:
        """The scheduler's tick: find the relocks due by `now` (one query on (state, due_at)) and
        take them with their lock actions (`lock_action(relock)`), held by `owner`, in one
        transaction. Returns how many were due and those taken here. On PostgreSQL the rows another
        instance is taking are skipped (FOR UPDATE SKIP LOCKED), so two instances share the due ones
        instead of queueing on the same rows; the conditional write decides either way."""
        async with self._db.transaction() as connection:
            rows = await connection.execute(
                select(relocks)
                .where(relocks.c.state == PENDING_RELOCK, relocks.c.due_at <= now)
                .order_by(relocks.c.due_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            due = [relock_of_row(row) for row in rows]
            if not due:
                return 0, []
            pairs = [(relock, lock_action(relock)) for relock in due]
            started = await _start_relocks(connection, pairs, owner=owner, lease_until=lease_until)
        actions_of = {relock.unlock_id: action for relock, action in pairs}
        return len(due), [(relock, actions_of[relock.unlock_id]) for relock in started]

    # -- reads -----------------------------------------------------------------------------------

    async def unfinished_actions(self) -> list[ActionRecord]:
        async with self._db.reading() as connection:
            rows = await connection.execute(
                select(actions).where(actions.c.state.in_(_UNFINISHED)).order_by(actions.c.created_at)
            )
            return [_action(row) for row in rows]

    async def action(self, action_id: str) -> ActionRecord | None:
        async with self._db.reading() as connection:
            row = (await connection.execute(select(actions).where(actions.c.id == action_id))).first()
        return _action(row) if row is not None else None

    async def action_by_attempt(self, attempt_id: str) -> ActionRecord | None:
        async with self._db.reading() as connection:
            row = (await connection.execute(select(actions).where(actions.c.attempt_id == attempt_id))).first()
        return _action(row) if row is not None else None

    async def latest_door_activity(self, since: datetime) -> dict[str, datetime]:
        """device id -> when an action on it last moved, for the doors with one since `since`."""
        async with self._db.reading() as connection:
            rows = await connection.execute(
                select(actions.c.device_id, func.max(actions.c.updated_at))
                .where(actions.c.updated_at >= since)
                .group_by(actions.c.device_id)
            )
            return {str(device_id): at for device_id, at in rows}
