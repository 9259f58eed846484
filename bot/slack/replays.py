"""Slack requests already taken, so a replay within the signature window does nothing.

Every accepted request is remembered by a digest of its body until no copy of it can pass the
signature check any more. On a shared database (PostgreSQL, several instances) the database
decides, in one conditional write, so a replay sent to another instance is caught too. On an
unshared one (SQLite: one instance) this instance's memory decides, at once and without waiting
for the database, which only keeps the digests (written behind, in batches) so that a replay after
a restart is still caught: a Slack acknowledgement never queues behind the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["ReplayGuard", "SeenRequestStore"]

log = logging.getLogger(__name__)

# The memory is swept of digests whose window has passed at most this often (seconds).
_SWEEP_EVERY = timedelta(minutes=1)
# A batch of digests that could not be written is tried again after this long (seconds).
_RETRY_SAVE_AFTER = 1.0


class SeenRequestStore(Protocol):
    async def first_sighting(self, digest: str, *, until: datetime, now: datetime) -> bool: ...

    async def remember_slack_requests(self, seen: Mapping[str, datetime], *, now: datetime) -> None: ...

    async def slack_requests_seen(self, now: datetime) -> dict[str, datetime]: ...


class ReplayGuard:
    """Whether a Slack request (by its body's digest) is seen for the first time: replays do nothing."""

    def __init__(
        self, store: SeenRequestStore, *, shared: bool, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._store = store
        self._shared = shared
        self._clock = clock
        self._seen: dict[str, datetime] = {}
        self._unsaved: dict[str, datetime] = {}
        self._next_sweep: datetime | None = None
        self._unsaved_added = asyncio.Event()

    async def load(self) -> int:
        """Remember what was taken before a restart and is still within its window; how many."""
        self._seen.update(await self._store.slack_requests_seen(self._clock()))
        return len(self._seen)

    async def first_sighting(self, digest: str, *, until: datetime) -> bool:
        """True once per digest within its window (on every instance, with a shared database)."""
        now = self._clock()
        self._sweep(now)
        known = self._seen.get(digest)
        if known is not None and known > now:
            return False
        if self._shared:
            new = await self._store.first_sighting(digest, until=until, now=now)
            self._seen[digest] = until
            return new
        # Decided here, with no await between the look and the note: two copies at once, one wins.
        self._seen[digest] = until
        self._unsaved[digest] = until
        self._unsaved_added.set()
        return True

    async def keep(self) -> None:
        """Until cancelled: write the digests taken here (unshared database), in batches."""
        while True:
            await self._unsaved_added.wait()
            self._unsaved_added.clear()
            if not await self.save():
                await asyncio.sleep(_RETRY_SAVE_AFTER)
                self._unsaved_added.set()

    async def save(self) -> bool:
        """Write what is not written yet; False if the database refused (it stays unwritten)."""
        if not self._unsaved:
            return True
        batch, self._unsaved = self._unsaved, {}
        try:
            await self._store.remember_slack_requests(batch, now=self._clock())
        except Exception as exc:
            log.warning("could not keep %d taken Slack requests (%s); trying again", len(batch), type(exc).__name__)
            self._unsaved = batch | self._unsaved
            return False
        return True

    async def aclose(self) -> None:
        """Write what is left before a stop."""
        with contextlib.suppress(Exception):
            await self.save()

    def _sweep(self, now: datetime) -> None:
        if self._next_sweep is not None and now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_EVERY
        self._seen = {digest: until for digest, until in self._seen.items() if until > now}
