"""Unlock requests as stored. Every decision is one conditional write, with its audit entry and its action."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, insert, select, update

from bot.db import request_reminders, unlock_requests
from bot.model import ActionRecord, AuditEntry, RequestState, UnlockRequest
from bot.store.actions import write_action
from bot.store.audit import write_audit
from bot.store.database import Database

__all__ = ["RequestRecords", "request_from_row"]


def _request(row: Row[Any]) -> UnlockRequest:
    # Only this table's columns: a row of a join carries others too.
    values = {column.name: row._mapping[column.name] for column in unlock_requests.c}
    values["state"] = RequestState(values["state"])
    values.pop("announced", None)
    seconds = values.pop("unlock_for_seconds", None)
    return UnlockRequest(**values, unlock_for=timedelta(seconds=seconds) if seconds is not None else None)


def request_from_row(row: Row[Any]) -> UnlockRequest:
    """The unlock request in a row of `unlock_requests` (or of a join with it)."""
    return _request(row)


class RequestRecords:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add_request(self, request: UnlockRequest) -> None:
        values = asdict(request)
        values.pop("reminded")  # the reminders' own table holds that
        values["state"] = str(request.state)
        unlock_for = values.pop("unlock_for")
        values["unlock_for_seconds"] = int(unlock_for.total_seconds()) if unlock_for is not None else None
        async with self._db.transaction() as connection:
            await connection.execute(insert(unlock_requests).values(values))

    async def request(self, request_id: str) -> UnlockRequest | None:
        async with self._db.reading() as connection:
            row = (await connection.execute(select(unlock_requests).where(unlock_requests.c.id == request_id))).first()
        return _request(row) if row is not None else None

    async def set_request_message(
        self, request_id: str, channel: str, message_ts: str, *, first_reminder_due: datetime | None = None
    ) -> None:
        """Where the request's message is (its channel and ts); with `first_reminder_due`, its first
        reminder, in the same transaction: a posted request is never left without its reminders, and
        no reminder exists for a request whose message was never posted."""
        async with self._db.transaction() as connection:
            await connection.execute(
                update(unlock_requests)
                .where(unlock_requests.c.id == request_id)
                .values(channel=channel, message_ts=message_ts)
            )
            if first_reminder_due is not None:
                await connection.execute(
                    insert(request_reminders).values(
                        request_id=request_id, due_at=first_reminder_due, taken=0, failures=0
                    )
                )

    async def set_request_note(self, request_id: str, note: str) -> None:
        async with self._db.transaction() as connection:
            await connection.execute(
                update(unlock_requests).where(unlock_requests.c.id == request_id).values(note=note)
            )

    async def decide(
        self,
        request_id: str,
        state: RequestState,
        *,
        by: str,
        at: datetime,
        note: str | None = None,
        audit: AuditEntry | None = None,
        owes_announcement: bool = False,
        then_run: ActionRecord | None = None,
        then_run_lease_until: datetime | None = None,
    ) -> UnlockRequest | None:
        """Move a pending, unexpired request to `state`; None if another decision came first.

        The decision's audit entry, and the action an approval starts, are stored in the same
        transaction: a decided request always has both, even if lockbot dies the moment after.
        `owes_announcement`: the decision is still to be shown and told (see `announced`).
        """
        async with self._db.transaction() as connection:
            won = await connection.execute(
                update(unlock_requests)
                .where(
                    unlock_requests.c.id == request_id,
                    unlock_requests.c.state == str(RequestState.PENDING),
                    unlock_requests.c.expires_at > at,
                )
                .values(
                    state=str(state),
                    decided_by=by,
                    decided_at=at,
                    note=note,
                    announced=False if owes_announcement else None,
                )
            )
            if won.rowcount != 1:
                return None
            if audit is not None:
                await write_audit(connection, audit)
            if then_run is not None:
                # Held by nobody yet, but not an orphan either until the lease time has passed.
                await write_action(connection, then_run, owner=None, lease_until=then_run_lease_until)
            row = (await connection.execute(select(unlock_requests).where(unlock_requests.c.id == request_id))).one()
        return _request(row)

    async def expire_due(
        self, now: datetime, audit_of: Callable[[UnlockRequest], AuditEntry] | None = None
    ) -> list[UnlockRequest]:
        """Expire every pending request past its time; returns the ones this call expired.

        Each expiry's audit entry (`audit_of` the expired request) is stored in its transaction.
        """
        async with self._db.reading() as connection:
            due = (
                (
                    await connection.execute(
                        select(unlock_requests.c.id).where(
                            unlock_requests.c.state == str(RequestState.PENDING),
                            unlock_requests.c.expires_at <= now,
                        )
                    )
                )
                .scalars()
                .all()
            )
        expired = []
        for request_id in due:
            async with self._db.transaction() as connection:
                won = await connection.execute(
                    update(unlock_requests)
                    .where(
                        unlock_requests.c.id == request_id,
                        unlock_requests.c.state == str(RequestState.PENDING),
                    )
                    .values(state=str(RequestState.EXPIRED), decided_at=now, announced=False)
                )
                if won.rowcount == 1:
                    row = (
                        await connection.execute(select(unlock_requests).where(unlock_requests.c.id == request_id))
                    ).one()
                    request = _request(row)
                    if audit_of is not None:
                        await write_audit(connection, audit_of(request))
                    expired.append(request)
        return expired

    async def announced(self, request_id: str) -> bool:
        """The request's decision was shown and told; False if that was done already (by another)."""
        async with self._db.transaction() as connection:
            done = await connection.execute(
                update(unlock_requests)
                .where(unlock_requests.c.id == request_id, unlock_requests.c.announced.is_(False))
                .values(announced=True)
            )
        return done.rowcount == 1

    async def owed_announcements(self, decided_before: datetime) -> list[UnlockRequest]:
        """Requests decided before then whose decision was never shown and told (lockbot stopped)."""
        async with self._db.reading() as connection:
            rows = await connection.execute(
                select(unlock_requests)
                .where(unlock_requests.c.announced.is_(False), unlock_requests.c.decided_at < decided_before)
                .order_by(unlock_requests.c.decided_at)
            )
            return [_request(row) for row in rows]

    async def next_expiry(self) -> datetime | None:
        async with self._db.reading() as connection:
            return (
                await connection.execute(
                    select(unlock_requests.c.expires_at)
                    .where(unlock_requests.c.state == str(RequestState.PENDING))
                    .order_by(unlock_requests.c.expires_at)
                    .limit(1)
                )
            ).scalar()

    async def pending_requests(self) -> list[UnlockRequest]:
        """Every request still waiting for a decision, oldest first (App Home shows them to approvers)."""
        async with self._db.reading() as connection:
            rows = await connection.execute(
                select(unlock_requests)
                .where(unlock_requests.c.state == str(RequestState.PENDING))
                .order_by(unlock_requests.c.created_at)
            )
            return [_request(row) for row in rows]
