"""Who opened their App Home when, and which Homes are owed a new publish since something changed.

A change marks every Home opened in the last hour with one indexed UPDATE, only where none is
owed yet, so a burst of changes coalesces into one mark. A mark is taken by one conditional write
(`take_home_refresh`), so with several instances on one database each Home is published once per mark.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.db import home_openings
from bot.store.database import Database

__all__ = ["HomeOpeningRecords"]


class HomeOpeningRecords:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def home_opened(self, user_id: str, at: datetime) -> None:
        """The person opened their Home now (and is shown it now: nothing is owed)."""
        dialect_insert = postgresql.insert if self._db.shared else sqlite.insert
        opened = dialect_insert(home_openings).values(user_id=user_id, opened_at=at, changed_at=None)
        opened = opened.on_conflict_do_update(
            index_elements=[home_openings.c.user_id], set_={"opened_at": at, "changed_at": None}
        )
        async with self._db.transaction() as connection:
            await connection.execute(opened)

    async def homes_changed(self, at: datetime, *, opened_since: datetime) -> int:
        """Something shown on Homes changed at `at`: each opened since `opened_since` is owed a publish
        (from the first change not yet published: later ones join it). Returns how many were marked."""
        async with self._db.transaction() as connection:
            marked = await connection.execute(
                update(home_openings)
                .where(home_openings.c.opened_at >= opened_since, home_openings.c.changed_at.is_(None))
                .values(changed_at=at)
            )
        return int(marked.rowcount)

    async def due_home_refreshes(self, changed_before: datetime, *, limit: int) -> list[tuple[str, datetime]]:
        """(user id, changed at) of the Homes owed a publish whose change is older than `changed_before`:
        the oldest change first, and of one change the most recently opened Home first (likeliest looked at)."""
        async with self._db.reading() as connection:
            rows = await connection.execute(
                select(home_openings.c.user_id, home_openings.c.changed_at)
                .where(home_openings.c.changed_at <= changed_before)
                .order_by(home_openings.c.changed_at, home_openings.c.opened_at.desc())
                .limit(limit)
            )
            return [(str(user_id), changed_at) for user_id, changed_at in rows]

    async def take_home_refresh(self, user_id: str, changed_at: datetime) -> bool:
        """Whether this instance publishes the Home owed since `changed_at` (no other took it first)."""
        async with self._db.transaction() as connection:
            taken = await connection.execute(
                update(home_openings)
                .where(home_openings.c.user_id == user_id, home_openings.c.changed_at == changed_at)
                .values(changed_at=None)
            )
        return taken.rowcount == 1

    async def forget_home_openings(self, opened_before: datetime) -> int:
        """Forget Homes opened before then that are owed nothing: a change no longer republishes them."""
        async with self._db.transaction() as connection:
            forgotten = await connection.execute(
                delete(home_openings).where(
                    home_openings.c.opened_at < opened_before, home_openings.c.changed_at.is_(None)
                )
            )
        return int(forgotten.rowcount)

    async def home_opened_at(self, user_id: str) -> datetime | None:
        async with self._db.reading() as connection:
            return (
                await connection.execute(select(home_openings.c.opened_at).where(home_openings.c.user_id == user_id))
            ).scalar()
