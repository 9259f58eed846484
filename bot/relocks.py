"""Timed unlocks end in a relock: the door is locked again, as an action in the unlock's thread.

A relock is stored with the unlock's outcome (`bot.actions`); here the scheduler runs the due
ones. Each tick costs one indexed query however many are pending; a relock due while lockbot was
stopped is due at the first tick after the start, at once. Several instances may run the
scheduler: a tick's due relocks are taken by one conditional write, with their lock actions, so
each is sent once, at once (its messages follow: `DoorActions.start_relock`). A lock of the door
before the time (a `/lock`, or Seam saying it was locked) settles it.

A relock whose lock fails or is not confirmed is said loudly once, then tried again on a schedule
(`retry_after`, 30 s, 2 min and 5 min after each failure by default): each retry is the relock
pending again with a later due time, so it survives a restart and is taken by one instance like
the first try. A failed retry only edits the relock's status message in the thread; one that
works says so in the thread; after the last, lockbot gives up, loudly. A lock of the door meanwhile
settles the pending retry like any pending relock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from bot.actions import DoorActions, FinalListener, action_view
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

__all__ = ["RELOCK_REASON", "RELOCK_RETRIES", "RelockMessenger", "RelockStore", "Relocks"]

log = logging.getLogger(__name__)

RELOCK_REASON = "the timed unlock ended"
# How long after each failed try the next one starts: four tries in all, the last about 7.5 min on.
RELOCK_RETRIES = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=5))


class RelockStore(TimedUnlockRecords, Protocol):
    """What the scheduler needs of the database (`bot.store.Store` is one)."""

    async def take_due_relocks(
        self,
        now: datetime,
        *,
        limit: int,
        lock_action: Callable[[Relock], ActionRecord],
        owner: str,
        lease_until: datetime,
    ) -> tuple[int, list[tuple[Relock, ActionRecord]]]: ...

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

    async def retry_relock(self, relock: Relock, *, due_at: datetime, status_ts: str | None) -> Relock | None: ...

    async def give_up_relock(self, relock: Relock) -> Relock | None: ...


class RelockMessenger(Protocol):
    """The Slack edge's part (`bot.slack.reporter.SlackRelockMessenger`)."""

    async def settled(self, relock: Relock, parent: ActionView) -> None:
        """Say in the unlock's thread that the door was locked before its time, and by whom; show
        `parent` on the unlock's parent message."""

    async def unlock_ended(self, thread: ActionThread, unlock: ActionView) -> None:
        """Show on the unlock's status message that it ended (its buttons go)."""

    async def failed(
        self, relock: Relock, outcome: ActionView, notify_channel: str | None, *, retry_in: timedelta | None = None
    ) -> None:
        """Say loudly that the door could not be locked again: in the thread, to whoever unlocked
        it, and in `notify_channel`; and when lockbot tries again (`retry_in`), if it does."""

    async def retrying(self, relock: Relock, outcome: ActionView, *, retry_in: timedelta, tries: int) -> None:
        """Edit the relock's status message in the thread: try `relock.tries` of `tries` failed,
        the next in `retry_in`. Nobody else is told."""

    async def locked_on_retry(self, relock: Relock, outcome: ActionView, *, tries: int) -> None:
        """Say in the thread that the door is locked now (Seam said so), on try `relock.tries` of `tries`."""

    async def gave_up(self, relock: Relock, notify_channel: str | None) -> None:
        """Say loudly that lockbot stopped trying after `relock.tries` tries: in the thread, to
        whoever unlocked it, and in `notify_channel`."""


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
        # A relock waits half a tick on average before it is taken: 10,000 due in a minute keep
        # their p99 within 1 s at 0.25 s (bench/relocks.py); idle, that is 4 indexed queries a second.
        tick_seconds: float = 0.25,
        batch: int = 200,
        retry_after: Sequence[timedelta] = RELOCK_RETRIES,
    ) -> None:
        self._store = store
        self._actions = actions
        self._messenger = messenger
        self._policy = policy
        self._clock = clock
        self._tick_seconds = tick_seconds
        self._batch = batch
        self._retry_after = tuple(retry_after)

    async def run(self) -> None:
        """Until cancelled: every tick, start the relocks that are due (the first tick at once)."""
        await run_every_tick(self.run_due, tick_seconds=self._tick_seconds, batch=self._batch, what="relocks")

    async def run_due(self) -> int:
        """Start each relock due now that no other instance took first. Returns how many were due."""
        now = self._clock()
        # Found and taken in one write: a tick with many due costs one commit, not one each.
        due, started = await self._store.take_due_relocks(
            now,
            limit=self._batch,
            lock_action=lambda relock: self._lock_action(relock, now),
            owner=self._actions.owner,
            lease_until=self._actions.lease_until(),
        )
        for relock, action in started:
            lateness = (self._clock() - relock.due_at).total_seconds()
            log.info(
                "relocking %s (unlock %s, try %d), %.1f s after it was due",
                relock.device_id,
                relock.unlock_id,
                relock.tries,
                lateness,
            )
            self._actions.start_relock(action, await timed_unlock_end(self._store, relock, UnlockEnding.RELOCK, at=now))
        return due

    @staticmethod
    def _lock_action(relock: Relock, now: datetime) -> ActionRecord:
        return ActionRecord(
            id=new_id(),
            kind=ActionKind.LOCK,
            device_id=relock.device_id,
            door=relock.door,
            requested_by=relock.unlocked_by,
            reason=RELOCK_REASON,
            channel=relock.channel,
            # Stored requesting: sent the moment it is taken. After a crash before Seam answered it
            # is "not confirmed", never sent twice, and so tried again (`retry_after`).
            state=ActionState.REQUESTING,
            created_at=now,
            updated_at=now,
            parent_ts=relock.parent_ts,
            status_ts=relock.status_ts,  # a retry edits the status message of the try before
        )

    async def action_finished(self, record: ActionRecord, view: ActionView) -> None:
        """A final listener of door actions: a lock that worked settles the door's pending relocks
        (and a retry that worked says so); a relock that did not is tried again later, or given up."""
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
            if relock is not None and relock.tries > 1:
                log.info("relock of %s worked on try %d", relock.device_id, relock.tries)
                await self._messenger.locked_on_retry(relock, view, tries=self._tries)
            await self._settle(record.device_id, by=record.requested_by, at=self._clock())
            return
        if relock is not None:
            await self._try_again_or_give_up(relock, view, status_ts=record.status_ts)

    def quiet_retries(self, listener: FinalListener) -> FinalListener:
        """`listener` (the notify channel's outcome notice), except for a relock's try that failed:
        the first failure and the giving up are said loudly already (the same words, and more), and
        the tries between only edit the thread's status."""

        async def unless_a_failed_retry(record: ActionRecord, view: ActionView) -> None:
            if record.kind is ActionKind.LOCK and view.state is not ActionState.SUCCEEDED:
                relock = await self._store.relock_by_lock_action(record.id)
                if relock is not None:
                    return
            await listener(record, view)

        return unless_a_failed_retry

    @property
    def _tries(self) -> int:
        """How many lock actions a relock gets in all."""
        return 1 + len(self._retry_after)

    async def _try_again_or_give_up(self, relock: Relock, outcome: ActionView, *, status_ts: str | None) -> None:
        rules = self._policy.rules_for_door(relock.device_id, relock.door)
        if relock.tries < self._tries:
            retry_in = self._retry_after[relock.tries - 1]
            retrying = await self._store.retry_relock(relock, due_at=self._clock() + retry_in, status_ts=status_ts)
            if retrying is None:
                return  # this failure was acted on already
            log.warning(
                "relock of %s ended %s on try %d of %d: it may still be unlocked; trying again in %s",
                relock.device_id,
                outcome.state,
                relock.tries,
                self._tries,
                retry_in,
            )
            if relock.tries == 1:  # the first failure is loud; the next ones only edit the thread's status
                await self._messenger.failed(relock, outcome, rules.notify_channel, retry_in=retry_in)
            await self._messenger.retrying(retrying, outcome, retry_in=retry_in, tries=self._tries)
            return
        gave_up = await self._store.give_up_relock(relock)
        if gave_up is None:
            return
        log.warning(
            "relock of %s ended %s on its last try (%d): it may still be unlocked",
            relock.device_id,
            outcome.state,
            relock.tries,
        )
        if relock.tries == 1:  # no retries: the one failure says it all
            await self._messenger.failed(relock, outcome, rules.notify_channel)
        else:
            await self._messenger.gave_up(gave_up, rules.notify_channel)

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
