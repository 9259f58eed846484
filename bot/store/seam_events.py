"""Seam's webhook events as delivered: each remembered once, and marked when handled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.db import seam_events
from bot.store.database import Database

__all__ = ["SeamEventRecords"]


class SeamEventRecords:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def record_event(
        self, event_id: str, event_type: str, payload: str, at: datetime, *, processed: bool = False
    ) -> bool:
        """Remember a delivered event; False when it was delivered before (a redelivery)."""
        try:
            async with self._db.transaction() as connection:
                await connection.execute(
                    insert(seam_events).values(
                        event_id=event_id, event_type=event_type, payload=payload, received_at=at, processed=processed
                    )
                )
        except IntegrityError:
            return False
        return True

    async def event_processed(self, event_id: str) -> None:
        async with self._db.transaction() as connection:
            await connection.execute(
                update(seam_events).where(seam_events.c.event_id == event_id).values(processed=True)
            )

    async def unprocessed_events(self) -> list[str]:
        """Payloads of events received but not handled (lockbot stopped in between), oldest first."""
        async with self._db.reading() as connection:
            rows = await connection.execute(
                select(seam_events.c.payload)
                .where(seam_events.c.processed.is_(False))
                .order_by(seam_events.c.received_at)
            )
            return [str(payload) for payload in rows.scalars()]
