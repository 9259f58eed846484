"""Timed unlocks end in a relock: the door is locked again, as an action in the unlock's thread.

A relock is stored with the unlock's outcome (`bot.actions`); here the scheduler runs the due
ones. Each tick costs one indexed query however many are pending; a relock due while lockbot was
stopped is due at the first tick after the start, at once. Several instances may run the
scheduler: a relock is taken by one conditional write, with its lock action, so it is sent once.
A lock of the door before the time (a `/lock`, or Seam saying it was locked) settles it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from bot.actions import DoorActions, action_view
from bot.model import (
    ActionKind,
    ActionRecord,
    ActionState,
    ActionThread,
    ActionView,
    AuditEntry,
    Relock,
    TimedUnlockEnd,
    UnlockEnding,
    new_id,
    utcnow,
)
from bot.policy import Policy
from bot.ticks import run_every_tick
from bot.timed_unlocks import TimedUnlockRecords, timed_unlock_end, timed_unlock_parent

__all__ = ["RELOCK_REASON", "RelockMessenger", "RelockStore", "Relocks"]

log = logging.getLogger(__name__)

RELOCK_REASON = "the timed unlock ended"


class RelockStore(TimedUnlockRecords, Protocol):
    """What the scheduler needs of the database (`bot.store.Store` is one)."""

    async def due_relocks(self, now: datetime, *, limit: int) -> list[Relock]: ...

    async def start_relock(
        self, relock: Relock, action: ActionRecord, *, owner: str, lease_until: datetime
    ) -> Relock | None: ...

    async def settle_relocks(
        self,
        device_id: str,
        *,
        by: str | None,
        unlocked_before: datetime,
        audit_of: Callable[[Relock], AuditEntry] | None = None,
    ) -> list[Relock]: ...

    async def relock_by_lock_action(self, action_id: str) -> Relock | None: ...

    async def audit(self, entry: AuditEntry) -> None: ...


class RelockMessenger(Protocol):
    """The Slack edge's part (`bot.slack.reporter.SlackRelockMessenger`)."""

    async def settled(self, relock: Relock, parent: ActionView) -> None:
        """Say in the unlock's thread that the door was locked before its time, and by whom; show
        `parent` on the unlock's parent message."""

    async def unlock_ended(self, thread: ActionThread, unlock: ActionView) -> None:
        """Show on the unlock's status message that it ended (its buttons go)."""

    async def failed(self, relock: Relock, outcome: ActionView, notify_channel: str | None) -> None:
        """Say loudly that the door could not be locked again: in the thread, to whoever unlocked
        it, and in `notify_channel`."""


class Relocks:
    """Runs due relocks, and settles pending ones when their door is locked first."""

    def __init__(
        self,
        store: RelockStore,
        actions: DoorActions,
        messenger: RelockMessenger,
        policy: Policy,
        *,
        clock: Callable[[], datetime] = utcnow,
        tick_seconds: float = 0.5,
        batch: int = 200,
    ) -> None:
        self._store = store
        self._actions = actions
        self._messenger = messenger
        self._policy = policy
        self._clock = clock
        self._tick_seconds = tick_seconds
        self._batch = batch

    async def run(self) -> None:
        """Until cancelled: every tick, start the relocks that are due (the first tick at once)."""
        await run_every_tick(self.run_due, tick_seconds=self._tick_seconds, batch=self._batch, what="relocks")

    async def run_due(self) -> int:
        """Start each relock due now that no other instance took first. Returns how many were due."""
        now = self._clock()
        due = await self._store.due_relocks(now, limit=self._batch)
        for relock in due:
            action = ActionRecord(
                id=new_id(),
                kind=ActionKind.LOCK,
                device_id=relock.device_id,
                door=relock.door,
                requested_by=relock.unlocked_by,
                reason=RELOCK_REASON,
                channel=relock.channel,
                state=ActionState.QUEUED,
                created_at=now,
                updated_at=now,
                parent_ts=relock.parent_ts,
            )
            started = await self._store.start_relock(
                relock, action, owner=self._actions.owner, lease_until=self._actions.lease_until()
            )
            if started is None:
                continue  # another instance took it, or the door was locked meanwhile
            lateness = (self._clock() - relock.due_at).total_seconds()
            log.info("relocking %s (unlock %s), %.1f s after it was due", relock.device_id, relock.unlock_id, lateness)
            self._actions.start_relock(action, await timed_unlock_end(self._store, relock, UnlockEnding.RELOCK, at=now))
        return len(due)

    async def action_finished(self, record: ActionRecord, view: ActionView) -> None:
        """A final listener of door actions: a lock that worked settles the door's pending relocks;
        a relock that did not is said loudly."""
        if record.kind is not ActionKind.LOCK:
            return
        relock = await self._store.relock_by_lock_action(record.id)
        if relock is not None and relock.settled_by is None:  # its time ran out (a Lock now is audited as pressed)
            await self._store.audit(
                AuditEntry(
                    at=self._clock(),
                    actor="lockbot",
                    event="relock",
                    outcome=str(view.state),
                    door=relock.door,
                    device_id=relock.device_id,
                    attempt_id=record.attempt_id,
                    detail=f"unlocked by {relock.unlocked_by}, due {relock.due_at.isoformat(timespec='seconds')}",
                    problem=view.problem,
                )
            )
        if view.state is ActionState.SUCCEEDED:
            if relock is not None:
                await self._show_ended(relock, await self._ended(relock, record))
            await self._settle(record.device_id, by=record.requested_by, at=self._clock())
            return
        if relock is not None:
            log.warning("relock of %s ended %s: it may still be unlocked", relock.device_id, view.state)
            rules = self._policy.rules_for_door(relock.device_id, relock.door)
            await self._messenger.failed(relock, view, rules.notify_channel)

    async def timed_unlock_ended_by(self, lock: ActionRecord) -> TimedUnlockEnd | None:
        """The timed unlock a lock action ends, if it is a relock or a Lock now (after a restart)."""
        relock = await self._store.relock_by_lock_action(lock.id)
        return await self._ended(relock, lock) if relock is not None else None

    async def _ended(self, relock: Relock, lock: ActionRecord) -> TimedUnlockEnd:
        ending = UnlockEnding.LOCK_NOW if relock.settled_by else UnlockEnding.RELOCK
        end = await timed_unlock_end(self._store, relock, ending, at=lock.created_at, by=relock.settled_by)
        return replace(end, lock_confirmed=lock.confirmed_by_device is not False)

    async def door_locked(self, device_id: str, at: datetime) -> None:
        """Seam says the door was locked at `at` (`lock.locked`): unlocks before then need no relock."""
        await self._settle(device_id, by=None, at=at)

    async def _settle(self, device_id: str, *, by: str | None, at: datetime) -> None:
        ending = UnlockEnding.LOCKED if by is not None else UnlockEnding.SEAM_LOCKED

        def audit_of(relock: Relock) -> AuditEntry:
            return AuditEntry(
                at=self._clock(),
                actor=by or "seam",
                event="timed_unlock_end",
                outcome=str(ending),
                door=relock.door,
                device_id=relock.device_id,
                detail="locked before its time" if by else "Seam reported it locked (lock.locked)",
            )

        for relock in await self._store.settle_relocks(device_id, by=by, unlocked_before=at, audit_of=audit_of):
            log.info("relock of %s (unlock %s) settled: locked first by %s", device_id, relock.unlock_id, by or "Seam")
            end = await timed_unlock_end(self._store, relock, ending, at=at, by=by)
            await self._messenger.settled(relock, timed_unlock_parent(relock, end))
            await self._show_ended(relock, end)

    async def _show_ended(self, relock: Relock, end: TimedUnlockEnd) -> None:
        unlock = await self._store.action(relock.unlock_id)
        if unlock is not None and unlock.thread is not None:
            await self._messenger.unlock_ended(unlock.thread, replace(action_view(unlock, None), ends=end))
