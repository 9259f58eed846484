"""What instances sharing a database tell each other: PostgreSQL's NOTIFY and LISTEN."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from sqlalchemy import text

from bot.store.database import Database

__all__ = ["InstanceChannel"]

log = logging.getLogger(__name__)

# How often the connection that listens to other instances is checked.
_LISTEN_CHECK_SECONDS = 30.0


class InstanceChannel:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def tell_instances(self, topic: str, message: str) -> None:
        """Every instance listening on `topic` hears `message` (NOTIFY); nothing on an unshared database."""
        if not self._db.shared:
            return
        async with self._db.transaction() as connection:
            await connection.execute(text("SELECT pg_notify(:topic, :message)"), {"topic": topic, "message": message})

    async def hear_instances(self, topic: str, heard: Callable[[str], object]) -> None:
        """Until cancelled: `heard(message)` for each message told on `topic` (LISTEN), also by this
        instance. Reconnects after a lost connection; what was told meanwhile is not heard."""
        if not self._db.shared:
            return
        while True:
            try:
                async with self._db.reading() as connection:
                    listening = (await connection.get_raw_connection()).driver_connection
                    assert listening is not None

                    def on_notification(_connection: object, _pid: int, _topic: str, message: str) -> None:
                        heard(message)

                    await listening.add_listener(topic, on_notification)
                    try:
                        while True:  # a dead connection shows here, and is replaced
                            await asyncio.sleep(_LISTEN_CHECK_SECONDS)
                            await connection.execute(text("SELECT 1"))
                            # Out of the transaction again at once: PostgreSQL holds notifications back during one.
                            await connection.commit()
                    finally:
                        # Back in the pool, the connection must not go on listening.
                        with contextlib.suppress(Exception):
                            await listening.remove_listener(topic, on_notification)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("listening to other instances failed (%s); listening again shortly", type(exc).__name__)
                await asyncio.sleep(_LISTEN_CHECK_SECONDS / 10)
