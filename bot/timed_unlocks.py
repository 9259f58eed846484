"""What people may do to a timed unlock before its time: lock the door now, or keep it unlocked longer.

The buttons that do it (on the unlock's status message, on App Home) carry only the unlock's id;
who pressed is checked here when the press arrives (`bot.policy.may_change_timed_unlock`). Each
change is one conditional write on the relock, with its audit entry: of two presses on two
instances, or a press and the scheduler, one decides and the other is told what already happened.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.actions import ActionReporter, DoorActions, action_view
from bot.model import (
    ActionKind,
    ActionRecord,
    ActionState,
    ActionView,
    AuditEntry,
    Relock,
    RelockState,
    TimedUnlockEnd,
    UnlockEnding,
    UnlockRequest,
    new_id,
    utcnow,
)
from bot.policy import PeopleDirectory, PeopleUnavailable, Policy, may_change_timed_unlock

__all__ = [
    "EXTEND_BY",
    "LOCK_NOW_REASON",
    "AlreadyEnded",
    "AtTheLimit",
    "ChangeRefusal",
    "ChangeRefused",
    "Extended",
    "LockingNow",
    "TimedUnlockChange",
    "TimedUnlockRecords",
    "TimedUnlockStore",
    "TimedUnlocks",
    "UnlockUnknown",
    "timed_unlock_end",
    "timed_unlock_parent",
]

log = logging.getLogger(__name__)

EXTEND_BY = timedelta(minutes=15)
LOCK_NOW_REASON = "Lock now"
# An extension shorter than this is no extension: the unlock is as long as the door's max_unlock allows.
_SHORTEST_EXTENSION = timedelta(minutes=1)
# Presses that race for the same due time: each is tried again on what the other left, this many times.
_EXTEND_TRIES = 3
# How long an unlock's outcome may be shown before it is stored (`bot.actions`: shown first, stored after).
_OUTCOME_STORED_WITHIN = 5.0


class TimedUnlockRecords(Protocol):
    """What a timed unlock's story needs of the database (`bot.store.Store` is one)."""

    async def action(self, action_id: str) -> ActionRecord | None: ...

    async def request(self, request_id: str) -> UnlockRequest | None: ...


class TimedUnlockStore(TimedUnlockRecords, Protocol):
    """What Lock now and +15 min need of the database (`bot.store.Store` is one)."""

    async def relock(self, unlock_id: str) -> Relock | None: ...

    async def extend_relock(self, relock: Relock, due_at: datetime, *, audit: AuditEntry) -> Relock | None: ...

    async def start_relock(
        self,
        relock: Relock,
        action: ActionRecord,
        *,
        owner: str,
        lease_until: datetime,
        by: str | None = None,
        audit: AuditEntry | None = None,
    ) -> Relock | None: ...


async def timed_unlock_end(
    store: TimedUnlockRecords, relock: Relock, ending: UnlockEnding, *, at: datetime, by: str | None = None
) -> TimedUnlockEnd:
    """The timed unlock as the lock that ends it shows it (its reason, the request it came from)."""
    unlock = await store.action(relock.unlock_id)
    request = await store.request(unlock.request_id) if unlock is not None and unlock.request_id else None
    return TimedUnlockEnd(
        ending=ending,
        unlocked_by=relock.unlocked_by,
        unlocked_at=relock.unlocked_at,
        locked_at=at,
        locked_by=by,
        reason=(unlock.reason or None) if unlock is not None else None,
        request=request,
    )


def timed_unlock_parent(relock: Relock, end: TimedUnlockEnd) -> ActionView:
    """The unlock's parent message once the door was locked without a lock action in its thread."""
    return ActionView(
        kind=ActionKind.LOCK,
        door=relock.door,
        requested_by=end.locked_by or relock.unlocked_by,
        state=ActionState.SUCCEEDED,
        ends=end,
    )


class ChangeRefusal(StrEnum):
    NOT_ALLOWED = "not_allowed"  # not who unlocked it, nor an approver of the door, nor a direct unlocker
    PROFILE_UNAVAILABLE = "profile_unavailable"


@dataclass(frozen=True)
class LockingNow:
    """The relock was taken by this press: its lock runs now, in the unlock's thread."""

    relock: Relock


@dataclass(frozen=True)
class Extended:
    relock: Relock  # with its new due time
    capped_by: timedelta | None = None  # the door's max_unlock, when it made the extension shorter


@dataclass(frozen=True)
class AtTheLimit:
    """Not extended: it already ends as late as the door's `max_unlock`, counted from now, allows."""

    relock: Relock
    max_unlock: timedelta


@dataclass(frozen=True)
class AlreadyEnded:
    """Nothing done: the relock ran, was settled, or was superseded (its state says which, and by whom)."""

    relock: Relock
    lock: ActionState | None = None  # where its lock action is, when it has one


@dataclass(frozen=True)
class ChangeRefused:
    relock: Relock
    reason: ChangeRefusal


@dataclass(frozen=True)
class UnlockUnknown:
    """No timed unlock has this id."""


TimedUnlockChange = LockingNow | Extended | AtTheLimit | AlreadyEnded | ChangeRefused | UnlockUnknown


class TimedUnlocks:
    """Lock now and +15 min, for whoever may (`bot.policy.may_change_timed_unlock`)."""

    def __init__(
        self,
        store: TimedUnlockStore,
        actions: DoorActions,
        reporter: ActionReporter,
        policy: Policy,
        people: PeopleDirectory,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._actions = actions
        self._reporter = reporter
        self._policy = policy
        self._people = people
        self._clock = clock

    async def lock_now(self, unlock_id: str, presser: str) -> TimedUnlockChange:
        """Settle the pending relock and lock the door now, as an action in the unlock's thread."""
        checked = await self._pending(unlock_id, presser)
        if not isinstance(checked, Relock):
            return checked
        relock, now = checked, self._clock()
        action = ActionRecord(
            id=new_id(),
            kind=ActionKind.LOCK,
            device_id=relock.device_id,
            door=relock.door,
            requested_by=presser,
            reason=LOCK_NOW_REASON,
            channel=relock.channel,
            # Stored requesting, as a relock's lock is (`DoorActions.start_relock` sends it at once): after
            # a crash before Seam answered it is "not confirmed", never sent twice.
            state=ActionState.REQUESTING,
            created_at=now,
            updated_at=now,
            parent_ts=relock.parent_ts,
        )
        audit = self._audit(relock, presser, "timed_unlock_end", str(UnlockEnding.LOCK_NOW), "Lock now")
        started = await self._store.start_relock(
            relock, action, owner=self._actions.owner, lease_until=self._actions.lease_until(), by=presser, audit=audit
        )
        if started is None:
            return await self._ended(await self._store.relock(unlock_id) or relock)
        log.info("%s pressed Lock now on %s (unlock %s)", presser, relock.device_id, unlock_id)
        ends = await timed_unlock_end(self._store, relock, UnlockEnding.LOCK_NOW, at=now, by=presser)
        self._actions.start_relock(action, ends)
        return LockingNow(started)

    async def extend(self, unlock_id: str, presser: str) -> TimedUnlockChange:
        """Lock the door 15 min later, never later than its `max_unlock` from now; the unlock's
        status message shows the new time."""
        checked = await self._pending(unlock_id, presser)
        if not isinstance(checked, Relock):
            return checked
        relock = checked
        max_unlock = self._policy.rules_for_door(relock.device_id, relock.door).max_unlock
        for _ in range(_EXTEND_TRIES):
            limit = self._clock() + max_unlock
            due_at = min(relock.due_at + EXTEND_BY, limit)
            if due_at - relock.due_at < _SHORTEST_EXTENSION:
                return AtTheLimit(relock, max_unlock)
            detail = f"until {due_at.isoformat(timespec='seconds')}"
            audit = self._audit(relock, presser, "timed_unlock_extend", "extended", detail)
            extended = await self._store.extend_relock(relock, due_at, audit=audit)
            if extended is not None:
                log.info("%s extended the unlock of %s until %s", presser, relock.device_id, due_at)
                await self._show_until(extended)
                return Extended(extended, max_unlock if due_at == limit else None)
            again = await self._store.relock(unlock_id)
            if again is None or again.state is not RelockState.PENDING:
                return await self._ended(again or relock)
            relock = again  # another press moved it first: extend from there
        return await self._ended(relock)

    async def _pending(self, unlock_id: str, presser: str) -> Relock | TimedUnlockChange:
        relock = await self._relock(unlock_id)
        if relock is None:
            return UnlockUnknown()
        if relock.state is not RelockState.PENDING:
            return await self._ended(relock)
        try:
            person = await self._people.person(presser)
        except PeopleUnavailable:
            return ChangeRefused(relock, ChangeRefusal.PROFILE_UNAVAILABLE)
        rules = self._policy.rules_for_door(relock.device_id, relock.door)
        if not may_change_timed_unlock(rules, person, relock.unlocked_by):
            return ChangeRefused(relock, ChangeRefusal.NOT_ALLOWED)
        return relock

    async def _ended(self, relock: Relock) -> AlreadyEnded:
        lock = await self._store.action(relock.lock_action_id) if relock.lock_action_id else None
        return AlreadyEnded(relock, lock.state if lock is not None else None)

    async def _relock(self, unlock_id: str) -> Relock | None:
        """The unlock's relock. Its outcome is shown (with the buttons) just before it is stored with its
        relock: a press in between waits for the store, a little."""
        deadline = time.monotonic() + _OUTCOME_STORED_WITHIN
        while True:
            relock = await self._store.relock(unlock_id)
            if relock is not None:
                return relock
            unlock = await self._store.action(unlock_id)
            if unlock is None:
                return None
            if unlock.state.final:  # stored with its relock, if it has one, in one transaction
                return await self._store.relock(unlock_id)
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.1)

    async def _show_until(self, relock: Relock) -> None:
        """The unlock's status message (and parent) say the new time; never raise."""
        try:
            unlock = await self._store.action(relock.unlock_id)
            if unlock is None or unlock.thread is None:
                return
            request = await self._store.request(unlock.request_id) if unlock.request_id else None
            view = replace(action_view(unlock, request), until=relock.due_at)
            await self._reporter.show(unlock.thread, view)
        except Exception:
            log.exception("could not show the new time of unlock %s", relock.unlock_id)

    def _audit(self, relock: Relock, actor: str, event: str, outcome: str, detail: str) -> AuditEntry:
        return AuditEntry(
            at=self._clock(),
            actor=actor,
            event=event,
            outcome=outcome,
            door=relock.door,
            device_id=relock.device_id,
            detail=detail,
        )
