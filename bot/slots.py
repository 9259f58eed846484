"""What /slot lock, /slot unlock and /slot status do, as typed results the Slack edge renders.

lockbot makes each lock's key itself (random, unguessable), keeps it in its database, and never
shows or logs it. A slot lock is an action: a parent message and a status message in its thread.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from bot.actions import ActionPhase, ActionThread, CannotReport, utcnow
from bot.durations import LockUntilError, parse_lock_until
from bot.overbooked import OverbookedError, OverbookedTimeout, Slot, SlotClient
from bot.policy import PeopleDirectory, PeopleUnavailable, Policy, may_approve
from bot.records import AuditEntry, SlotLock, SlotLockState, new_id
from bot.replies import Problem
from bot.store import Store

__all__ = [
    "BadSlotCommand",
    "SlotLocked",
    "SlotReporter",
    "SlotService",
    "SlotStatus",
    "SlotUnlocked",
    "SlotView",
    "valid_slot_id",
]

log = logging.getLogger(__name__)

_SLOT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
_PROFILE_UNAVAILABLE = Problem("Could not look up your Slack profile; try again shortly.")


def valid_slot_id(text: str) -> bool:
    return bool(_SLOT_ID.match(text))


@dataclass(frozen=True)
class SlotView:
    """Everything a message about a slot lock shows."""

    slot_id: str
    requested_by: str
    phase: ActionPhase
    until: datetime
    problem: str | None = None
    unlocked_by: str | None = None
    unlocked_at: datetime | None = None


class SlotReporter(Protocol):
    async def open(self, channel: str, view: SlotView) -> ActionThread:
        """Post the parent and status messages; raise CannotReport if that is impossible."""

    async def show(self, thread: ActionThread, view: SlotView) -> ActionThread:
        """Show the view; never raise."""


@dataclass(frozen=True)
class BadSlotCommand:
    """The command could not be used: `why` in plain words, followed by the usage."""

    why: str


@dataclass(frozen=True)
class SlotLocked:
    thread: ActionThread


@dataclass(frozen=True)
class SlotUnlocked:
    slot_id: str
    locked_by: str


@dataclass(frozen=True)
class SlotStatus:
    slot: Slot
    ours: SlotLock | None  # lockbot's current lock on it, if the slot is locked by lockbot
    now: datetime


class SlotService:
    def __init__(
        self,
        client: SlotClient,
        store: Store,
        people: PeopleDirectory,
        policy: Policy,
        reporter: SlotReporter,
        *,
        longest: timedelta,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._client = client
        self._store = store
        self._people = people
        self._policy = policy
        self._reporter = reporter
        self._longest = longest
        self._clock = clock

    async def lock(self, user_id: str, channel: str, slot_id: str, when: str) -> SlotLocked | BadSlotCommand | Problem:
        if not valid_slot_id(slot_id):
            return BadSlotCommand(f"“{slot_id}” is not a slot id")
        try:
            time_zone = await self._people.time_zone(user_id)
        except PeopleUnavailable:
            return _PROFILE_UNAVAILABLE
        now = self._clock()
        try:
            until = parse_lock_until(when, now=now, time_zone=time_zone, longest=self._longest)
        except LockUntilError as exc:
            return BadSlotCommand(f"Cannot lock until then: {exc.reason}")
        lock = SlotLock(
            id=new_id(),
            slot_id=slot_id,
            lock_key=secrets.token_urlsafe(32),
            locked_by=user_id,
            channel=channel,
            locked_until=until,
            state=SlotLockState.LOCKING,
            created_at=now,
            updated_at=now,
        )
        view = SlotView(slot_id, user_id, ActionPhase.WORKING, until)
        try:
            thread = await self._reporter.open(channel, view)
        except CannotReport as exc:
            return Problem(exc.user_message)
        # Stored, key and all, before Overbooked is asked: a lock lockbot made is never keyless.
        await self._store.add_slot_lock(replace(lock, parent_ts=thread.parent_ts, status_ts=thread.status_ts))
        lock = replace(lock, parent_ts=thread.parent_ts, status_ts=thread.status_ts)
        try:
            slot = await self._client.lock(slot_id, until, lock.lock_key)
        except OverbookedTimeout as exc:
            await self._settle_unknown(lock, thread, view, exc)
            return SlotLocked(thread)
        except OverbookedError as exc:
            await self._store.update_slot_lock(
                lock, self._clock(), state=SlotLockState.FAILED, audit=self._audit(lock, "slot_lock", "failed", exc)
            )
            await self._reporter.show(thread, replace(view, phase=ActionPhase.FAILED, problem=exc.user_message))
            return SlotLocked(thread)
        locked_until = slot.locked_until or until
        await self._store.update_slot_lock(
            lock,
            self._clock(),
            state=SlotLockState.LOCKED,
            locked_until=locked_until,
            audit=self._audit(replace(lock, locked_until=locked_until), "slot_lock", "locked"),
        )
        await self._reporter.show(thread, replace(view, phase=ActionPhase.SUCCEEDED, until=locked_until))
        return SlotLocked(thread)

    async def _settle_unknown(
        self, lock: SlotLock, thread: ActionThread, view: SlotView, error: OverbookedError
    ) -> None:
        """Overbooked did not answer: find out from the slot itself whether the lock took."""
        if await self._took(lock):
            await self._store.update_slot_lock(
                lock, self._clock(), state=SlotLockState.LOCKED, audit=self._audit(lock, "slot_lock", "locked")
            )
            await self._reporter.show(thread, replace(view, phase=ActionPhase.SUCCEEDED))
            return
        await self._store.update_slot_lock(
            lock,
            self._clock(),
            state=SlotLockState.FAILED,
            audit=self._audit(lock, "slot_lock", "not_confirmed", error),
        )
        await self._reporter.show(
            thread,
            replace(
                view,
                phase=ActionPhase.NOT_CONFIRMED,
                problem=f"{error.user_message}; check /slot status {lock.slot_id}",
            ),
        )

    async def _took(self, lock: SlotLock) -> bool:
        try:
            slot = await self._client.get(lock.slot_id)
        except OverbookedError:
            return False
        return _same_time(slot.locked_until, lock.locked_until)

    async def settle_interrupted(self) -> int:
        """After a restart: settle slot locks that were being made when lockbot stopped."""
        interrupted = await self._store.slot_locks_in(SlotLockState.LOCKING)
        for lock in interrupted:
            thread = (
                ActionThread(lock.channel, lock.parent_ts, lock.status_ts)
                if lock.parent_ts and lock.status_ts
                else None
            )
            view = SlotView(lock.slot_id, lock.locked_by, ActionPhase.WORKING, lock.locked_until)
            took = await self._took(lock)
            state, outcome = (SlotLockState.LOCKED, "locked") if took else (SlotLockState.FAILED, "not_confirmed")
            await self._store.update_slot_lock(
                lock, self._clock(), state=state, audit=self._audit(lock, "slot_lock", outcome)
            )
            if thread is not None:
                problem = None if took else "lockbot restarted before Overbooked answered, and the slot is not locked"
                phase = ActionPhase.SUCCEEDED if took else ActionPhase.NOT_CONFIRMED
                await self._reporter.show(thread, replace(view, phase=phase, problem=problem))
        return len(interrupted)

    async def unlock(self, user_id: str, slot_id: str) -> SlotUnlocked | BadSlotCommand | Problem:
        if not valid_slot_id(slot_id):
            return BadSlotCommand(f"“{slot_id}” is not a slot id")
        lock = await self._store.current_slot_lock(slot_id)
        if lock is None or lock.state is not SlotLockState.LOCKED:
            return Problem(f"lockbot holds no lock on slot `{slot_id}`, so there is nothing for it to unlock.")
        now = self._clock()
        if lock.locked_until <= now:
            await self._store.update_slot_lock(lock, now, state=SlotLockState.EXPIRED)
            return Problem(f"The lock on slot `{slot_id}` already ran out at {lock.locked_until:%Y-%m-%d %H:%M} UTC.")
        if user_id != lock.locked_by:
            try:
                person = await self._people.person(user_id)
            except PeopleUnavailable:
                return _PROFILE_UNAVAILABLE
            if not may_approve(self._policy.defaults, person):
                return Problem(
                    f"Only <@{lock.locked_by}>, who locked slot `{slot_id}`, or an approver can unlock it early."
                )
        try:
            await self._client.unlock(slot_id, lock.lock_key)
        except OverbookedError as exc:
            await self._store.audit(self._audit(lock, "slot_unlock", "failed", exc, actor=user_id))
            return Problem(f"Could not unlock slot `{slot_id}`: {exc.user_message}.")
        unlocked_at = self._clock()
        await self._store.update_slot_lock(
            lock,
            unlocked_at,
            state=SlotLockState.UNLOCKED,
            unlocked_by=user_id,
            audit=self._audit(lock, "slot_unlock", "unlocked", actor=user_id),
        )
        if lock.parent_ts and lock.status_ts:
            view = SlotView(
                slot_id,
                lock.locked_by,
                ActionPhase.SUCCEEDED,
                lock.locked_until,
                unlocked_by=user_id,
                unlocked_at=unlocked_at,
            )
            await self._reporter.show(ActionThread(lock.channel, lock.parent_ts, lock.status_ts), view)
        return SlotUnlocked(slot_id, lock.locked_by)

    async def status(self, slot_id: str) -> SlotStatus | BadSlotCommand | Problem:
        if not valid_slot_id(slot_id):
            return BadSlotCommand(f"“{slot_id}” is not a slot id")
        try:
            slot = await self._client.get(slot_id)
        except OverbookedError as exc:
            return Problem(f"Could not look up slot `{slot_id}`: {exc.user_message}.")
        now = self._clock()
        ours = await self._store.current_slot_lock(slot_id)
        held = ours is not None and slot.locked_at(now) and _same_time(slot.locked_until, ours.locked_until)
        return SlotStatus(slot, ours if held else None, now)

    def _audit(
        self,
        lock: SlotLock,
        event: str,
        outcome: str,
        error: OverbookedError | None = None,
        *,
        actor: str | None = None,
    ) -> AuditEntry:
        detail = f"slot {lock.slot_id} until {lock.locked_until.isoformat()}"
        if error is not None:
            detail += f"; {error.user_message}"
        return AuditEntry(at=self._clock(), actor=actor or lock.locked_by, event=event, outcome=outcome, detail=detail)


def _same_time(overbooked: datetime | None, ours: datetime) -> bool:
    """Overbooked keeps milliseconds: the lock is ours when its end is ours to the second."""
    return overbooked is not None and abs((overbooked - ours).total_seconds()) < 1
