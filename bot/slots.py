"""What /slot lock, /slot unlock and /slot status do, as typed results the Slack edge renders.

lockbot makes each lock's key itself (random, unguessable), keeps it in its database, and never
shows or logs it. A slot lock is an action: a parent message and a status message in its thread.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.durations import LockUntilError, parse_lock_until
from bot.model import (
    ActionProblem,
    ActionState,
    ActionThread,
    AuditEntry,
    CannotReport,
    SlotLock,
    SlotLockState,
    new_id,
    utcnow,
)
from bot.overbooked import OverbookedError, OverbookedLockKeyInvalid, OverbookedServerError, Slot, SlotClient
from bot.policy import PeopleDirectory, PeopleUnavailable, Person, Policy
from bot.replies import Problem, ProblemReason

__all__ = [
    "BadSlotCommand",
    "SlotCommandFault",
    "SlotLockStore",
    "SlotLocked",
    "SlotRanOut",
    "SlotReporter",
    "SlotService",
    "SlotStatus",
    "SlotUnlocked",
    "SlotView",
    "may_unlock_slots",
    "valid_slot_id",
]

log = logging.getLogger(__name__)

_SLOT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
_PROFILE_UNAVAILABLE = Problem(ProblemReason.PROFILE_UNAVAILABLE)


def valid_slot_id(text: str) -> bool:
    return bool(_SLOT_ID.match(text))


@dataclass(frozen=True)
class SlotView:
    """Everything a message about a slot lock shows."""

    slot_id: str
    requested_by: str
    state: ActionState  # a slot lock is shown as an action is
    until: datetime
    problem: ActionProblem | None = None
    unlocked_by: str | None = None
    unlocked_at: datetime | None = None


class SlotReporter(Protocol):
    async def open(self, channel: str, view: SlotView) -> ActionThread:
        """Post the parent and status messages; raise CannotReport if that is impossible."""

    async def show(self, thread: ActionThread, view: SlotView) -> ActionThread:
        """Show the view; never raise."""


class SlotCommandFault(StrEnum):
    NOT_A_SLOT_ID = "not_a_slot_id"  # `value` is what was typed
    BAD_TIME = "bad_time"  # `value` says why, in plain words (it may quote what was typed)


@dataclass(frozen=True)
class BadSlotCommand:
    """The command could not be used (the edge follows it with the usage)."""

    fault: SlotCommandFault
    value: str


@dataclass(frozen=True)
class SlotLocked:
    thread: ActionThread


@dataclass(frozen=True)
class SlotUnlocked:
    slot_id: str
    locked_by: str


@dataclass(frozen=True)
class SlotRanOut:
    """lockbot's lock on the slot already ran out, at `at`: there is nothing to unlock."""

    slot_id: str
    at: datetime


@dataclass(frozen=True)
class SlotStatus:
    slot: Slot
    ours: SlotLock | None  # lockbot's current lock on it, if the slot is locked by lockbot
    now: datetime


class SlotLockStore(Protocol):
    """What slot locks need of the database (`bot.store.Store` is one)."""

    async def add_slot_lock(self, lock: SlotLock) -> None: ...

    async def end_slot_lock(
        self,
        lock: SlotLock,
        at: datetime,
        state: SlotLockState,
        *,
        audit: AuditEntry,
        unlocked_by: str | None = None,
    ) -> SlotLock: ...

    async def move_slot_lock(
        self,
        lock: SlotLock,
        at: datetime,
        state: SlotLockState,
        *,
        audit: AuditEntry | None = None,
        locked_until: datetime | None = None,
    ) -> SlotLock | None: ...

    async def current_slot_lock(self, slot_id: str) -> SlotLock | None: ...

    async def latest_slot_lock(self, slot_id: str, states: Collection[SlotLockState]) -> SlotLock | None: ...

    async def slot_lock(self, lock_id: str) -> SlotLock | None: ...

    async def slot_locks_in(self, state: SlotLockState) -> list[SlotLock]: ...

    async def audit(self, entry: AuditEntry) -> None: ...


class SlotService:
    def __init__(
        self,
        client: SlotClient,
        store: SlotLockStore,
        people: PeopleDirectory,
        policy: Policy,
        reporter: SlotReporter,
        *,
        longest: timedelta,
        settle_after: timedelta = timedelta(0),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """`settle_after`: how long a lock may still be being made by a live instance (its answer from
        Overbooked, retries and all, takes at most this long); only older ones are settled by others."""
        self._client = client
        self._store = store
        self._people = people
        self._policy = policy
        self._reporter = reporter
        self._longest = longest
        self._settle_after = settle_after
        self._clock = clock

    async def lock(self, user_id: str, channel: str, slot_id: str, when: str) -> SlotLocked | BadSlotCommand | Problem:
        if not valid_slot_id(slot_id):
            return BadSlotCommand(SlotCommandFault.NOT_A_SLOT_ID, slot_id)
        try:
            time_zone = await self._people.time_zone(user_id)
        except PeopleUnavailable:
            return _PROFILE_UNAVAILABLE
        now = self._clock()
        try:
            until = parse_lock_until(when, now=now, time_zone=time_zone, longest=self._longest)
        except LockUntilError as exc:
            return BadSlotCommand(SlotCommandFault.BAD_TIME, exc.reason)
        view = SlotView(slot_id, user_id, ActionState.REQUESTING, until)
        try:
            thread = await self._reporter.open(channel, view)
        except CannotReport as exc:
            return Problem(ProblemReason.NOT_ANNOUNCED, detail=exc.user_message)
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
            parent_ts=thread.parent_ts,
            status_ts=thread.status_ts,
        )
        asked = False
        try:
            # Stored, key and all, before Overbooked is asked: a lock lockbot made is never keyless.
            await self._store.add_slot_lock(lock)
            asked = True
            await self._ask(lock, thread)
        except Exception:
            await self._give_up(lock, thread, asked=asked)
            raise
        return SlotLocked(thread)

    async def _ask(self, lock: SlotLock, thread: ActionThread) -> None:
        try:
            slot = await self._client.lock(lock.slot_id, lock.locked_until, lock.lock_key)
        except OverbookedError as exc:
            if exc.may_have_acted:
                # Never sent twice: the slot itself says whether the lock took.
                took = await self._took(lock)
                await self._settle(lock, thread, took, why=_why_unknown(exc), refused=_refused(exc))
            else:
                await self._finish(lock, thread, SlotLockState.FAILED, problem=_refused(exc))
            return
        await self._finish(lock, thread, SlotLockState.LOCKED, until=slot.locked_until or lock.locked_until)

    async def _give_up(self, lock: SlotLock, thread: ActionThread, *, asked: bool) -> None:
        """An unexpected error: the thread must not say "locking…" forever, nor the key be abandoned."""
        if asked:
            state, problem = SlotLockState.NOT_CONFIRMED, ActionProblem(ProblemReason.UNEXPECTED_WHILE_ASKING)
        else:
            state, problem = SlotLockState.FAILED, ActionProblem(ProblemReason.UNEXPECTED_BEFORE_ASKING)
        try:
            moved = await self._store.move_slot_lock(
                lock, self._clock(), state=state, audit=self._audit(lock, "slot_lock", str(state), problem)
            )
        except Exception:
            log.exception("could not record how slot lock %s ended", lock.id)
        else:
            if moved is None and asked:
                return  # it had an outcome already (stored and shown before the error, or by another instance)
        try:
            await self._reporter.show(thread, _view(lock, state, problem=problem))
        except Exception:
            log.exception("could not show how slot lock %s ended", lock.id)

    async def _settle(
        self,
        lock: SlotLock,
        thread: ActionThread | None,
        took: bool | None,
        *,
        why: ActionProblem | None,
        refused: ActionProblem,
    ) -> SlotLock:
        """Record what reading the slot found out: locked, not locked (`refused`), or still unknown (`why`)."""
        if took is None:
            return await self._finish(lock, thread, SlotLockState.NOT_CONFIRMED, problem=why)
        if took:
            return await self._finish(lock, thread, SlotLockState.LOCKED)
        return await self._finish(lock, thread, SlotLockState.FAILED, problem=refused)

    async def _finish(
        self,
        lock: SlotLock,
        thread: ActionThread | None,
        state: SlotLockState,
        *,
        problem: ActionProblem | None = None,
        until: datetime | None = None,
    ) -> SlotLock:
        """Store where the lock ended up (audited), then show it in its thread.

        Only from the state lockbot last knew it in: if another instance moved it first (settling a
        lock this one was still making, say), the first outcome stands and is not shown again.
        """
        until = until or lock.locked_until
        audit = self._audit(replace(lock, locked_until=until), "slot_lock", str(state), problem)
        settled = await self._store.move_slot_lock(
            lock, self._clock(), state, audit=audit, locked_until=until if until != lock.locked_until else None
        )
        if settled is None:
            log.info("slot lock %s was settled elsewhere first", lock.id)
            return await self._store.slot_lock(lock.id) or lock
        if thread is not None:
            await self._reporter.show(thread, _view(settled, state, problem=problem))
        return settled

    async def _took(self, lock: SlotLock) -> bool | None:
        """Whether Overbooked holds this lock, read from the slot; None when the slot cannot be read."""
        try:
            slot = await self._client.get(lock.slot_id)
        except OverbookedError:
            return None
        return _same_time(slot.locked_until, lock.locked_until)

    async def settle_interrupted(self) -> int:
        """After a restart: settle slot locks that were being made when lockbot stopped.

        A lock younger than `settle_after` may still be in the hands of another, live instance: it
        is settled only once that long has passed, and only if it is still being made by then.
        """
        interrupted = sorted(await self._store.slot_locks_in(SlotLockState.LOCKING), key=lambda lock: lock.updated_at)
        settled = 0
        for lock in interrupted:
            wait = (lock.updated_at + self._settle_after - self._clock()).total_seconds()
            if wait > 0:
                await asyncio.sleep(wait)
                current = await self._store.slot_lock(lock.id)
                if current is None or current.state is not SlotLockState.LOCKING:
                    continue  # its own instance finished it meanwhile
            settled += 1
            await self._settle(
                lock,
                _thread_of(lock),
                await self._took(lock),
                why=ActionProblem(ProblemReason.RESTARTED_BEFORE_ANSWER),
                refused=ActionProblem(ProblemReason.RESTARTED_NOT_LOCKED),
            )
        return settled

    async def unlock(self, user_id: str, slot_id: str) -> SlotUnlocked | SlotRanOut | BadSlotCommand | Problem:
        if not valid_slot_id(slot_id):
            return BadSlotCommand(SlotCommandFault.NOT_A_SLOT_ID, slot_id)
        lock = await self._store.current_slot_lock(slot_id)
        if lock is None:
            ended = await self._store.latest_slot_lock(slot_id, (SlotLockState.EXPIRED, SlotLockState.UNLOCKED))
            if ended is not None and ended.state is SlotLockState.EXPIRED:
                return SlotRanOut(slot_id, ended.locked_until)
            if ended is not None and ended.unlocked_by is not None:
                return Problem(ProblemReason.SLOT_NOT_HELD, slot_id=slot_id, user=ended.unlocked_by)
            return Problem(ProblemReason.SLOT_NOT_HELD, slot_id=slot_id)
        if lock.state is SlotLockState.LOCKING:
            return Problem(ProblemReason.SLOT_STILL_LOCKING, slot_id=slot_id)
        now = self._clock()
        if lock.locked_until <= now:
            expired = self._audit(lock, "slot_lock", "expired", actor=user_id)
            await self._store.end_slot_lock(lock, now, SlotLockState.EXPIRED, audit=expired)
            return SlotRanOut(slot_id, lock.locked_until)
        if user_id != lock.locked_by:
            try:
                person = await self._people.person(user_id)
            except PeopleUnavailable:
                return _PROFILE_UNAVAILABLE
            if not may_unlock_slots(self._policy, person):
                return Problem(ProblemReason.SLOT_NOT_YOURS, slot_id=slot_id, user=lock.locked_by)
        try:
            await self._client.unlock(slot_id, lock.lock_key)
        except OverbookedLockKeyInvalid as exc:
            if lock.state is not SlotLockState.NOT_CONFIRMED:
                return await self._unlock_failed(lock, user_id, exc)
            # The lock lockbot could not confirm is not on the slot: it did not take, or it has ended.
            await self._store.end_slot_lock(
                lock,
                self._clock(),
                SlotLockState.FAILED,
                audit=self._audit(lock, "slot_unlock", "not_locked", _refused(exc), actor=user_id),
            )
            thread = _thread_of(lock)
            if thread is not None:
                view = _view(lock, SlotLockState.FAILED, problem=_NEVER_CONFIRMED)
                await self._reporter.show(thread, view)
            return Problem(ProblemReason.SLOT_KEY_NOT_ON_SLOT, slot_id=slot_id)
        except OverbookedError as exc:
            return await self._unlock_failed(lock, user_id, exc)
        unlocked_at = self._clock()
        await self._store.end_slot_lock(
            lock,
            unlocked_at,
            SlotLockState.UNLOCKED,
            unlocked_by=user_id,
            audit=self._audit(lock, "slot_unlock", "unlocked", actor=user_id),
        )
        thread = _thread_of(lock)
        if thread is not None:
            view = SlotView(
                slot_id,
                lock.locked_by,
                ActionState.SUCCEEDED,
                lock.locked_until,
                unlocked_by=user_id,
                unlocked_at=unlocked_at,
            )
            await self._reporter.show(thread, view)
        return SlotUnlocked(slot_id, lock.locked_by)

    async def _unlock_failed(self, lock: SlotLock, user_id: str, error: OverbookedError) -> Problem:
        outcome = "not_confirmed" if error.may_have_acted else "failed"
        problem = _why_unknown(error) if error.may_have_acted else _refused(error)
        await self._store.audit(self._audit(lock, "slot_unlock", outcome, problem, actor=user_id))
        if error.may_have_acted:
            return Problem(
                ProblemReason.SLOT_UNLOCK_NOT_CONFIRMED,
                slot_id=lock.slot_id,
                detail=error.user_message,
                status=problem.status,
            )
        return Problem(ProblemReason.SLOT_UNLOCK_FAILED, slot_id=lock.slot_id, detail=error.user_message)

    async def status(self, slot_id: str) -> SlotStatus | BadSlotCommand | Problem:
        if not valid_slot_id(slot_id):
            return BadSlotCommand(SlotCommandFault.NOT_A_SLOT_ID, slot_id)
        try:
            slot = await self._client.get(slot_id)
        except OverbookedError as exc:
            return Problem(ProblemReason.SLOT_UNAVAILABLE, slot_id=slot_id, detail=exc.user_message)
        now = self._clock()
        ours = await self._store.current_slot_lock(slot_id)
        held = ours is not None and slot.locked_at(now) and _same_time(slot.locked_until, ours.locked_until)
        if ours is not None and ours.state is SlotLockState.NOT_CONFIRMED and (held or ours.locked_until > now):
            # The slot has just been read: a lock lockbot could not confirm is settled by what it shows.
            ours = await self._settle(ours, _thread_of(ours), held, why=None, refused=_NEVER_CONFIRMED)
        return SlotStatus(slot, ours if held else None, now)

    def _audit(
        self,
        lock: SlotLock,
        event: str,
        outcome: str,
        problem: ActionProblem | None = None,
        *,
        actor: str | None = None,
    ) -> AuditEntry:
        return AuditEntry(
            at=self._clock(),
            actor=actor or lock.locked_by,
            event=event,
            outcome=outcome,
            detail=f"slot {lock.slot_id} until {lock.locked_until.isoformat()}",
            problem=problem,
        )


_NEVER_CONFIRMED = ActionProblem(ProblemReason.NEVER_CONFIRMED)

# Where each slot lock state is, as an action: locking means Overbooked may have been asked.
_ACTION_STATE_OF = {
    SlotLockState.LOCKING: ActionState.REQUESTING,
    SlotLockState.LOCKED: ActionState.SUCCEEDED,
    SlotLockState.NOT_CONFIRMED: ActionState.NOT_CONFIRMED,
    SlotLockState.FAILED: ActionState.FAILED,
}


def _view(lock: SlotLock, state: SlotLockState, *, problem: ActionProblem | None = None) -> SlotView:
    return SlotView(lock.slot_id, lock.locked_by, _ACTION_STATE_OF[state], lock.locked_until, problem=problem)


def _thread_of(lock: SlotLock) -> ActionThread | None:
    if lock.parent_ts and lock.status_ts:
        return ActionThread(lock.channel, lock.parent_ts, lock.status_ts)
    return None


def may_unlock_slots(policy: Policy, person: Person) -> bool:
    """Whether the person may unlock a slot someone else locked: an approver of any door, or of all by default."""
    return policy.approves_anything(person)


def _why_unknown(error: OverbookedError) -> ActionProblem:
    """Why the outcome of a call is unknown (a server error is told by its status)."""
    status = error.status if isinstance(error, OverbookedServerError) else None
    return ActionProblem(ProblemReason.OVERBOOKED_OUTCOME_UNKNOWN, detail=error.user_message, status=status)


def _refused(error: OverbookedError) -> ActionProblem:
    return ActionProblem(
        ProblemReason.OVERBOOKED_REFUSED, detail=error.user_message, error_type=error.code, status=error.status
    )


def _same_time(overbooked: datetime | None, ours: datetime) -> bool:
    """Overbooked keeps milliseconds: the lock is ours when its end is ours to the second."""
    return overbooked is not None and abs((overbooked - ours).total_seconds()) < 1
