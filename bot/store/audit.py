"""The audit log: what was done, by whom, to which door, and how it ended."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db import audit_log
from bot.model import ActionProblem, AuditEntry
from bot.store.database import Database

__all__ = ["AuditLog", "write_audit"]


async def write_audit(connection: AsyncConnection, entry: AuditEntry) -> None:
    """Add the entry in the caller's transaction (with the change it records)."""
    problem = entry.problem.stored() if entry.problem is not None else None
    await connection.execute(insert(audit_log).values(asdict(entry) | {"problem": problem}))


class AuditLog:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def audit(self, entry: AuditEntry) -> None:
        async with self._db.transaction() as connection:
            await write_audit(connection, entry)

    async def audit_entries(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        door: str | None = None,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        query = select(audit_log)
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        if until is not None:
            query = query.where(audit_log.c.at < until)
        if door is not None:
            query = query.where(audit_log.c.door == door)
        order = (audit_log.c.at.desc(), audit_log.c.id.desc()) if newest_first else (audit_log.c.at, audit_log.c.id)
        query = query.order_by(*order)
        if limit is not None:
            query = query.limit(limit)
        async with self._db.reading() as connection:
            rows = await connection.execute(query)
            return [_entry(row) for row in rows]


def _entry(row: Row[Any]) -> AuditEntry:
    values = {key: item for key, item in row._mapping.items() if key != "id"}
    values["problem"] = ActionProblem.from_stored(values["problem"]) if values.get("problem") is not None else None
    return AuditEntry(**values)
