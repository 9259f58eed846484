"""Slack requests already taken, remembered while a copy of one could still pass the signature check."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Insert, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db import seen_slack_requests
from bot.store.database import Database

__all__ = ["SeenSlackRequests"]

# How often an instance clears out the Slack requests it no longer needs to remember.
_PURGE_EVERY = timedelta(minutes=1)


class SeenSlackRequests:
    _next_purge: datetime | None = None  # when this instance next clears out what has expired

    def __init__(self, database: Database) -> None:
        self._db = database

    async def first_sighting(self, digest: str, *, until: datetime, now: datetime) -> bool:
        """Whether a Slack request (by the digest of its body) is new, remembering it until `until`.

        One statement, so of two instances taking the same request at once exactly one hears True.
        An entry whose time has passed counts as absent (purging is occasional)."""
        # Taken over only where the kept entry has expired: of two racing instances one writes a row.
        remember = self._upsert({digest: until}, lambda kept, _given: kept <= now)
        async with self._db.transaction() as connection:
            taken = (await connection.execute(remember)).rowcount == 1
            await self._purge_if_due(connection, now)
        return taken

    async def remember_slack_requests(self, seen: Mapping[str, datetime], *, now: datetime) -> None:
        """Keep requests already taken (digest -> until when), in one transaction; a digest kept
        already keeps the later of its two times."""
        if not seen:
            return
        remember = self._upsert(seen, lambda kept, given: kept < given)
        async with self._db.transaction() as connection:
            await connection.execute(remember)
            await self._purge_if_due(connection, now)

    async def slack_requests_seen(self, now: datetime) -> dict[str, datetime]:
        """The requests taken whose window has not passed: digest -> until when."""
        async with self._db.reading() as connection:
            rows = await connection.execute(
                select(seen_slack_requests.c.digest, seen_slack_requests.c.expires_at).where(
                    seen_slack_requests.c.expires_at > now
                )
            )
            return {str(digest): until for digest, until in rows}

    def _upsert(self, seen: Mapping[str, datetime], replaces: Callable[[Any, Any], ColumnElement[bool]]) -> Insert:
        """Insert each digest with its time; a digest kept already takes the new time only where
        `replaces(kept expires_at, given expires_at)` holds."""
        dialect_insert = postgresql.insert if self._db.shared else sqlite.insert
        remember = dialect_insert(seen_slack_requests).values(
            [{"digest": digest, "expires_at": until} for digest, until in seen.items()]
        )
        return remember.on_conflict_do_update(
            index_elements=[seen_slack_requests.c.digest],
            set_={"expires_at": remember.excluded.expires_at},
            where=replaces(seen_slack_requests.c.expires_at, remember.excluded.expires_at),
        )

    async def _purge_if_due(self, connection: AsyncConnection, now: datetime) -> None:
        """Clear out what has expired, at most once a `_PURGE_EVERY` per instance."""
        if self._next_purge is None or now >= self._next_purge:
            self._next_purge = now + _PURGE_EVERY
            await connection.execute(delete(seen_slack_requests).where(seen_slack_requests.c.expires_at <= now))
