"""Doors left unlocked, as stored: one row per unlock, moved only by conditional writes.

A door has at most one open alert (`open_device_id` is unique, and NULL once the alert is closed),
so the same unlock heard twice (Seam's event and lockbot's own outcome, on two instances) opens
one. The scheduler's cost when idle is one indexed query per tick (`due_unlocked_alerts`); a due
alert is taken by one instance only (`take_unlocked_alert`), for a while: an instance that stops
before it has posted leaves it to be taken again once that while is over.

The claim's end (`claimed_until`) is also its token: the writes that end a claim (posted, tried
again later) match it, so an instance whose claim ran out and was taken over changes nothing. A
pending alert put back after a failed try keeps that try's time in `claimed_until` (its `due_at` is
the next try), so the next wait is known from the row alone.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.db import door_unlocked_alerts as alerts
from bot.model import UnlockedAlert, UnlockedAlertState
from bot.store.database import Database

__all__ = ["UnlockedAlertRecords"]

_PENDING = str(UnlockedAlertState.PENDING)
_POSTING = str(UnlockedAlertState.POSTING)
_POSTED = str(UnlockedAlertState.POSTED)
_OPEN = [str(state) for state in UnlockedAlertState if state.open]


def _alert(row: Row[Any]) -> UnlockedAlert:
    values = dict(row._mapping)
    values.pop("open_device_id", None)
    values["state"] = UnlockedAlertState(values["state"])
    return UnlockedAlert(**values)


class UnlockedAlertRecords:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def open_unlocked_alert(self, alert: UnlockedAlert) -> bool:
        """Open the alert, unless the door has one open already (the same unlock heard again, or
        the door unlocked again before it was locked: the first unlock counts). True if opened."""
        values = asdict(alert) | {"state": str(alert.state), "open_device_id": alert.device_id}
        try:
            async with self._db.transaction() as connection:
                await connection.execute(insert(alerts).values(values))
        except IntegrityError:
            return False
        return True

    async def due_unlocked_alerts(self, now: datetime, *, limit: int) -> list[UnlockedAlert]:
        """Pending alerts due by `now`, and those an instance took but did not finish in time; soonest first."""
        async with self._db.reading() as connection:
            rows = await connection.execute(
                select(alerts)
                .where(
                    or_(
                        and_(alerts.c.state == _PENDING, alerts.c.due_at <= now),
                        and_(alerts.c.state == _POSTING, alerts.c.claimed_until < now),
                    )
                )
                .order_by(alerts.c.due_at)
                .limit(limit)
            )
            return [_alert(row) for row in rows]

    async def take_unlocked_alert(self, alert: UnlockedAlert, now: datetime, *, until: datetime) -> bool:
        """Take a due alert to check the door and post it: one conditional write, so one instance wins."""
        taken_before = and_(alerts.c.state == _POSTING, alerts.c.claimed_until < now)
        async with self._db.transaction() as connection:
            taken = await connection.execute(
                update(alerts)
                .where(alerts.c.id == alert.id, or_(alerts.c.state == _PENDING, taken_before))
                .values(state=_POSTING, claimed_until=until)
            )
        return taken.rowcount == 1

    async def unlocked_alert_posted(
        self, alert_id: str, notice_ts: str | None, at: datetime, *, claimed_until: datetime
    ) -> bool:
        """The notice is posted (`notice_ts`; None: it may or may not be in the channel, and it is not
        tried again), by the instance still holding the claim that ends at `claimed_until`. False when
        that claim is over: the door was locked meanwhile, or another instance took the alert over."""
        async with self._db.transaction() as connection:
            moved = await connection.execute(
                update(alerts)
                .where(alerts.c.id == alert_id, alerts.c.state == _POSTING, alerts.c.claimed_until == claimed_until)
                .values(state=_POSTED, notice_ts=notice_ts, posted_at=at, claimed_until=None)
            )
        return moved.rowcount == 1

    async def retry_unlocked_alert(
        self, alert_id: str, *, claimed_until: datetime, tried_at: datetime, due_at: datetime
    ) -> bool:
        """Put a taken alert back to pending, to be tried again at `due_at` (its post certainly did not
        reach Slack); only by the instance still holding the claim that ends at `claimed_until`."""
        async with self._db.transaction() as connection:
            moved = await connection.execute(
                update(alerts)
                .where(alerts.c.id == alert_id, alerts.c.state == _POSTING, alerts.c.claimed_until == claimed_until)
                .values(state=_PENDING, due_at=due_at, claimed_until=tried_at)
            )
        return moved.rowcount == 1

    async def close_unlocked_alerts(
        self,
        device_id: str,
        *,
        locked_at: datetime,
        by: str | None,
        how: str | None,
        state: UnlockedAlertState = UnlockedAlertState.LOCKED,
    ) -> list[UnlockedAlert]:
        """The door was locked at `locked_at`: its open alerts of unlocks before then are closed (an
        unlock after that lock keeps its own). Returns those closed here, as they now are."""
        closed = []
        async with self._db.transaction() as connection:
            rows = await connection.execute(
                select(alerts).where(
                    alerts.c.device_id == device_id,
                    alerts.c.state.in_(_OPEN),
                    alerts.c.unlocked_at < locked_at,
                )
            )
            for found in [_alert(row) for row in rows]:
                moved = await connection.execute(
                    update(alerts)
                    .where(alerts.c.id == found.id, alerts.c.state == str(found.state))
                    .values(
                        state=str(state),
                        open_device_id=None,
                        claimed_until=None,
                        locked_at=locked_at,
                        locked_by=by,
                        locked_how=how,
                    )
                )
                if moved.rowcount == 1:
                    row = (await connection.execute(select(alerts).where(alerts.c.id == found.id))).one()
                    closed.append(_alert(row))
        return closed

    async def unlocked_alert(self, alert_id: str) -> UnlockedAlert | None:
        async with self._db.reading() as connection:
            row = (await connection.execute(select(alerts).where(alerts.c.id == alert_id))).first()
        return _alert(row) if row is not None else None

    async def open_unlocked_alerts(self) -> list[UnlockedAlert]:
        """Every open alert, soonest due first."""
        async with self._db.reading() as connection:
            rows = await connection.execute(select(alerts).where(alerts.c.state.in_(_OPEN)).order_by(alerts.c.due_at))
            return [_alert(row) for row in rows]
