"""Which instance runs which action: leases renewed while an instance works on its actions.

An instance holds the actions it runs by renewing their leases in the database. One that dies
stops renewing, its leases run out, and another instance takes those actions over and finishes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Collection, Iterator
from datetime import datetime, timedelta
from typing import Protocol

from bot.logs import about_action
from bot.model import ActionRecord

__all__ = ["ACTION_LEASE", "ActionLeases", "LeaseStore"]

log = logging.getLogger(__name__)

# How long an instance holds the actions it runs without renewing; after that another takes them over.
ACTION_LEASE = timedelta(seconds=10)


class LeaseStore(Protocol):
    async def claim_action(self, action_id: str, owner: str, now: datetime, lease_until: datetime) -> bool: ...

    async def claim_orphans(self, owner: str, now: datetime, lease_until: datetime) -> list[ActionRecord]: ...

    async def renew_leases(self, owner: str, action_ids: Collection[str], lease_until: datetime) -> None: ...


class ActionLeases:
    """The actions this instance works on: only their leases are renewed. One whose work died of an
    error drops out, so its lease runs out and it is taken over and finished."""

    def __init__(
        self,
        store: LeaseStore,
        clock: Callable[[], datetime],
        *,
        owner: str | None = None,
        lease: timedelta = ACTION_LEASE,
    ) -> None:
        self.owner = owner or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.lease = lease
        self._store = store
        self._clock = clock
        self._held: set[str] = set()

    def until(self) -> datetime:
        """When a lease taken or renewed now runs out."""
        return self._clock() + self.lease

    def holds(self, action_id: str) -> bool:
        return action_id in self._held

    @contextlib.contextmanager
    def held(self, action_id: str) -> Iterator[None]:
        """Hold the action's lease while this block works on it; let go if the work dies. What is
        logged within (and in tasks started within) names the action."""
        self._held.add(action_id)
        try:
            with about_action(action_id):
                yield
        except BaseException:
            self._held.discard(action_id)
            raise

    def release(self, action_id: str) -> None:
        """No longer this instance's to hold (finished, or taken over by another)."""
        self._held.discard(action_id)

    async def claim(self, action_id: str) -> bool:
        """Take an unfinished action nobody else holds (a stored approval's action)."""
        now = self._clock()
        return await self._store.claim_action(action_id, self.owner, now, now + self.lease)

    async def take_orphans(self) -> list[ActionRecord]:
        """Take every unfinished action whose holder stopped renewing; not those this instance works on."""
        now = self._clock()
        records = await self._store.claim_orphans(self.owner, now, now + self.lease)
        # A renewal that came late lets this instance "claim" what it is still working on: kept as is.
        return [record for record in records if record.id not in self._held]

    async def keep(self, take_over: Callable[[], Awaitable[int]]) -> None:
        """Until cancelled: renew the leases held here, and `take_over` orphans (returns how many)."""
        while True:
            try:
                await self._store.renew_leases(self.owner, set(self._held), self.until())
                taken = await take_over()
                if taken:
                    log.info("took over %d actions that were in flight", taken)
            except Exception:
                log.exception("keeping action leases failed; trying again shortly")
            await asyncio.sleep(self.lease.total_seconds() / 3)
