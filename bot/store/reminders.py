"""Reminders of undecided requests as stored: one row per request, moved only by conditional writes.

A request's first reminder is stored with its message (`RequestRecords.set_request_message`).
The scheduler's cost is one indexed query per tick (`due_reminders`); a due reminder is taken by
one instance only (`take_reminder`: one conditional write on how many times it was taken, and only
while its request is pending and unexpired).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update

from bot.db import request_reminders, unlock_requests
from bot.model import RequestReminder, RequestState
from bot.reminders import DueReminder
from bot.store.database import Database
from bot.store.requests import request_from_row

__all__ = ["ReminderRecords"]

_COLUMNS = [column.name for column in request_reminders.c]


def _reminder(row: Row[Any]) -> RequestReminder:
    values = row._mapping
    return RequestReminder(**{name: values[f"reminder_{name}"] for name in _COLUMNS})


class ReminderRecords:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def due_reminders(self, now: datetime, *, limit: int) -> list[DueReminder]:
        """The reminders due by `now`, soonest first, each with its request (one query on due_at)."""
        labelled = [column.label(f"reminder_{column.name}") for column in request_reminders.c]
        async with self._db.reading() as connection:
            rows = await connection.execute(
                select(unlock_requests, *labelled)
                .select_from(
                    request_reminders.join(unlock_requests, unlock_requests.c.id == request_reminders.c.request_id)
                )
                .where(request_reminders.c.due_at <= now)
                .order_by(request_reminders.c.due_at)
                .limit(limit)
            )
            return [DueReminder(_reminder(row), request_from_row(row)) for row in rows]

    async def reminder_of(self, request_id: str) -> RequestReminder | None:
        async with self._db.reading() as connection:
            row = (
                await connection.execute(
                    select(*[column.label(f"reminder_{column.name}") for column in request_reminders.c]).where(
                        request_reminders.c.request_id == request_id
                    )
                )
            ).first()
        return _reminder(row) if row is not None else None

    async def take_reminder(
        self, reminder: RequestReminder, *, now: datetime, next_due: datetime | None
    ) -> RequestReminder | None:
        """Take the due reminder to send it, moving it on to `next_due`; None if another instance took
        it first or its request is no longer pending and unexpired."""
        pending = select(unlock_requests.c.id).where(
            unlock_requests.c.id == reminder.request_id,
            unlock_requests.c.state == str(RequestState.PENDING),
            unlock_requests.c.expires_at > now,
        )
        async with self._db.transaction() as connection:
            won = await connection.execute(
                update(request_reminders)
                .where(
                    request_reminders.c.request_id == reminder.request_id,
                    request_reminders.c.taken == reminder.taken,
                    request_reminders.c.request_id.in_(pending.scalar_subquery()),
                )
                .values(taken=reminder.taken + 1, due_at=next_due)
            )
        if won.rowcount != 1:
            return None
        return RequestReminder(
            request_id=reminder.request_id,
            due_at=next_due,
            taken=reminder.taken + 1,
            failures=reminder.failures,
            reminded_at=reminder.reminded_at,
            escalated_at=reminder.escalated_at,
        )

    async def reminder_sent(self, request_id: str, *, at: datetime, escalated: bool) -> None:
        """A reminder was posted at `at` (the escalation, if `escalated`)."""
        values: dict[str, Any] = {"reminded_at": at, "failures": 0}
        async with self._db.transaction() as connection:
            await connection.execute(
                update(request_reminders).where(request_reminders.c.request_id == request_id).values(values)
            )
            if escalated:
                await connection.execute(
                    update(request_reminders)
                    .where(request_reminders.c.request_id == request_id, request_reminders.c.escalated_at.is_(None))
                    .values(escalated_at=at)
                )

    async def retry_reminder(self, taken: RequestReminder, *, due_at: datetime) -> bool:
        """Slack did not take the reminder just taken: it is due again at `due_at`, unless taken since."""
        async with self._db.transaction() as connection:
            moved = await connection.execute(
                update(request_reminders)
                .where(request_reminders.c.request_id == taken.request_id, request_reminders.c.taken == taken.taken)
                .values(due_at=due_at, failures=taken.failures + 1)
            )
        return moved.rowcount == 1

    async def end_reminders(self, reminder: RequestReminder) -> None:
        """Its request was decided, cancelled or expired: nothing more is due."""
        async with self._db.transaction() as connection:
            await connection.execute(
                update(request_reminders)
                .where(
                    request_reminders.c.request_id == reminder.request_id,
                    request_reminders.c.taken == reminder.taken,
                )
                .values(due_at=None, taken=reminder.taken + 1)
            )
