"""Persistence: one module per aggregate over one database. Every decision is one conditional write.

- `requests`: unlock requests (a decision, its audit entry and its action in one transaction)
- `actions`: door actions, their intent-named moves and their leases
- `audit`: the audit log; `write_audit` adds an entry inside another write's transaction
- `relocks`: the relocks of timed unlocks (`write_relock` adds one with the unlock's outcome)
- `home_openings`: who opened App Home when, and which Homes are owed a publish
- `reminders`: the next reminder of each undecided request, taken by one conditional write
- `alerts`: doors left unlocked, each alerted once in its notify channel
- `slot_locks`, `seam_events`, `seen_requests`, `owed_messages`: the other aggregates
- `backlog`: what is waiting (pending requests and relocks, actions in flight), for `/metrics`
- `instances`: what instances sharing PostgreSQL tell each other (NOTIFY / LISTEN)
- `database`: the engine and the one transaction helper every write goes through

Services depend on small Protocols of what they use (each defined beside its service); `Store`
is the one object that satisfies them all, built by the composition root with `Store.open`.
"""

from __future__ import annotations

from typing import Self

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import create_engine, migrate
from bot.store.actions import ActionRecords
from bot.store.alerts import UnlockedAlertRecords
from bot.store.audit import AuditLog
from bot.store.backlog import BacklogCounts
from bot.store.database import Database
from bot.store.home_openings import HomeOpeningRecords
from bot.store.instances import InstanceChannel
from bot.store.owed_messages import OwedSlackMessageRecords
from bot.store.relocks import RelockRecords
from bot.store.reminders import ReminderRecords
from bot.store.requests import RequestRecords
from bot.store.seam_events import SeamEventRecords
from bot.store.seen_requests import SeenSlackRequests
from bot.store.slot_locks import SlotLockRecords

__all__ = [
    "ActionRecords",
    "AuditLog",
    "BacklogCounts",
    "Database",
    "HomeOpeningRecords",
    "InstanceChannel",
    "OwedSlackMessageRecords",
    "RelockRecords",
    "ReminderRecords",
    "RequestRecords",
    "SeamEventRecords",
    "SeenSlackRequests",
    "SlotLockRecords",
    "Store",
    "UnlockedAlertRecords",
]


class Store(
    RequestRecords,
    ActionRecords,
    RelockRecords,
    ReminderRecords,
    UnlockedAlertRecords,
    AuditLog,
    SlotLockRecords,
    SeamEventRecords,
    SeenSlackRequests,
    OwedSlackMessageRecords,
    HomeOpeningRecords,
    InstanceChannel,
    BacklogCounts,
):
    """Every aggregate's records over one database (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(Database(engine))

    @classmethod
    async def open(cls, database_url: str) -> Self:
        """Connect and apply any pending migrations."""
        engine = create_engine(database_url)
        await migrate(engine)
        return cls(engine)

    @property
    def shared(self) -> bool:
        """Whether several instances may share this database (PostgreSQL), and so hear each other."""
        return self._db.shared

    async def close(self) -> None:
        await self._db.close()
