"""One database for every aggregate, and the one way to write to it: a transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["Database"]


class Database:
    """The engine every aggregate's records share (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @property
    def shared(self) -> bool:
        """Whether several instances may share this database (PostgreSQL), and so hear each other."""
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """Everything written in the block is stored together or not at all (a decision, its audit
        entry and its action, say): the aggregates' `write_*` functions take this connection."""
        async with self.engine.begin() as connection:
            yield connection

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads only."""
        async with self.engine.connect() as connection:
            yield connection

    async def close(self) -> None:
        await self.engine.dispose()
