"""What /lock, /unlock and /doors do, as typed results the Slack edge renders."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.actions import DoorActions
from bot.break_glass import BreakGlass, split_emergency_flag
from bot.doors import DoorAmbiguous, DoorFound, DoorUnknown, match_door, match_door_and_reason, normalised
from bot.durations import SHORTEST_UNLOCK, LockUntilError, parse_duration, parse_lock_until, split_leading_duration
from bot.model import ActionKind, ActionThread, AuditEntry, CannotReport, Lock, Relock, utcnow
from bot.policy import (
    PeopleDirectory,
    PeopleUnavailable,
    Person,
    Policy,
    may_approve,
    may_lock,
    may_unlock_directly,
)
from bot.replies import Problem, ProblemReason
from bot.seam import SeamClient, SeamError
from bot.unlock_requests import RequestFiled, UnlockRequests

__all__ = [
    "ActionStarted",
    "AskHowLong",
    "AuditReader",
    "AuditView",
    "CommandResult",
    "DoorDirectory",
    "DoorOverview",
    "DoorService",
    "DoorStatus",
    "HomeUnlock",
    "HomeUnlockChecked",
    "HomeUnlockReady",
]

log = logging.getLogger(__name__)

_REASON_LIMIT = 500
_AUDIT_LINES = 20
_PROFILE_UNAVAILABLE = Problem(ProblemReason.PROFILE_UNAVAILABLE)


@dataclass(frozen=True)
class ActionStarted:
    thread: ActionThread


@dataclass(frozen=True)
class DoorStatus:
    lock: Lock
    may_lock: bool
    may_unlock: bool
    unlocked_until: datetime | None = None  # a timed unlock's relock is pending: lockbot locks it then


@dataclass(frozen=True)
class DoorOverview:
    doors: tuple[DoorStatus, ...]
    prefix: str = ""  # only the doors whose names start with this (as typed), if given
    total: int | None = None  # how many doors Seam lists in all, when `prefix` narrowed them


@dataclass(frozen=True)
class AuditView:
    entries: tuple[AuditEntry, ...]
    door: str | None


CommandResult = ActionStarted | RequestFiled | Problem | DoorAmbiguous | DoorUnknown


@dataclass(frozen=True)
class AskHowLong:
    """An unlock asked on App Home needs the person to say how long (and why, for a request) first."""

    lock: Lock
    direct: bool  # the person may unlock it directly; otherwise it becomes a request
    relock_after: timedelta | None  # the door's own time, used when none is given
    reason_required: bool = False  # the door's policy: no unlock of it without a reason


HomeUnlock = ActionStarted | RequestFiled | Problem | AskHowLong


@dataclass(frozen=True)
class HomeUnlockReady:
    """An unlock asked on App Home that passed every check: `DoorService.start_home_unlock` starts it
    (an unlock if the person may unlock directly, else a request)."""

    lock: Lock
    user_id: str
    channel: str
    reason: str
    unlock_for: timedelta | None
    direct: bool


HomeUnlockChecked = HomeUnlockReady | Problem | AskHowLong


class DoorDirectory:
    """The workspace's locks, cached briefly so a burst of commands costs one Seam call."""

    def __init__(self, seam: SeamClient, *, ttl_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self._seam = seam
        self._ttl = ttl_seconds
        self._clock = clock
        self._locks: list[Lock] | None = None
        self._fetched_at = float("-inf")
        self._refresh: asyncio.Task[list[Lock]] | None = None

    async def locks(self, *, fresh: bool = False) -> list[Lock]:
        if not fresh and self._locks is not None and self._clock() - self._fetched_at < self._ttl:
            return self._locks
        if self._refresh is None or self._refresh.done():
            # Shared by every caller meanwhile: not logged as the first caller's (a context of its own).
            self._refresh = asyncio.create_task(self._fetch(), context=contextvars.Context())
        # Concurrent callers share one call to Seam.
        return await asyncio.shield(self._refresh)

    async def lock_named(self, device_id: str) -> Lock | None:
        """The lock with this device id, as Seam lists it now (a recent list will do)."""
        for fresh in (False, True):
            found = next((lock for lock in await self.locks(fresh=fresh) if lock.device_id == device_id), None)
            if found is not None:
                return found
        return None

    async def _fetch(self) -> list[Lock]:
        started = self._clock()
        locks = await self._seam.list_locks()
        self._locks, self._fetched_at = locks, started
        return locks


class AuditReader(Protocol):
    """What the doors' commands need of the database: the audit log and the pending relocks
    (`bot.store.Store` is one)."""

    async def audit_entries(
        self, *, door: str | None = None, newest_first: bool = False, limit: int | None = None
    ) -> list[AuditEntry]: ...

    async def pending_relocks(self) -> list[Relock]: ...


class DoorService:
    """Resolves doors, applies the policy, starts actions and files unlock requests."""

    def __init__(
        self,
        directory: DoorDirectory,
        people: PeopleDirectory,
        policy: Policy,
        actions: DoorActions,
        requests: UnlockRequests,
        store: AuditReader,
        break_glass: BreakGlass,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._clock = clock
        self._break_glass = break_glass
        self._directory = directory
        self._people = people
        self._policy = policy
        self._actions = actions
        self._requests = requests
        self._store = store

    async def lock(self, user_id: str, channel: str, text: str) -> CommandResult:
        found = await self._find(text, with_reason=False)
        if not isinstance(found, DoorFound):
            return found
        return await self._start(ActionKind.LOCK, found.lock, user_id, channel)

    async def lock_pressed(self, user_id: str, device_id: str, channel: str | None, direct: str) -> CommandResult:
        """A `door_lock` button: lock the door with this device id (the button's value, the one
        thing trusted in the press), as `/lock` does, in `channel` where the button was.

        From App Home there is no channel: the lock is shown in the door's notify channel, where its
        events are announced and whoever watches the door sees it; without one, in `direct` (the
        presser's DM), since a Home is nobody else's. A lock of the door still on its way is not sent
        again (a double press): the answer says so.
        """
        try:
            lock = await self._directory.lock_named(device_id) if _plausible_device_id(device_id) else None
        except SeamError as exc:
            return Problem(ProblemReason.DOORS_UNAVAILABLE, detail=exc.user_message)
        if lock is None:
            return Problem(ProblemReason.DOOR_NOT_FOUND, detail=device_id)
        try:
            person = await self._people.person(user_id)
        except PeopleUnavailable:
            return _PROFILE_UNAVAILABLE
        rules = self._policy.rules_for(lock)
        if not may_lock(rules, person):
            return Problem(ProblemReason.MAY_NOT_LOCK, door=lock.name)
        if lock.can_remotely_lock is False:
            return Problem(ProblemReason.NOT_REMOTE, door=lock.name, action=str(ActionKind.LOCK))
        try:
            started = await self._actions.lock_unless_in_flight(
                lock, user_id, channel or rules.notify_channel or direct
            )
        except CannotReport as exc:
            return Problem(ProblemReason.NOT_ANNOUNCED, detail=exc.user_message)
        if isinstance(started, ActionThread):
            return ActionStarted(started)
        return Problem(ProblemReason.LOCK_IN_FLIGHT, door=lock.name, user=started.requested_by)

    async def unlock(self, user_id: str, channel: str, text: str) -> CommandResult:
        """`/unlock <door> [for] [30s|10m|1h30m|until 17:30] [reason]`, or break-glass:
        `/unlock <door> --emergency <reason>`."""
        text, emergency = split_emergency_flag(text)
        found = await self._find(text, with_reason=True)
        if not isinstance(found, DoorFound):
            return found
        asked = await self._unlock_for(found.lock, user_id, found.remainder)
        if isinstance(asked, Problem):
            return asked
        unlock_for, reason = asked
        if emergency:
            started = await self._break_glass.unlock(found.lock, user_id, channel, reason, unlock_for)
            return started if isinstance(started, Problem) else ActionStarted(started)
        if not reason.strip() and self._policy.rules_for(found.lock).reason_required:
            # For everyone, direct unlockers too: the door's rule is that every unlock of it says why.
            return Problem(ProblemReason.REASON_REQUIRED, door=found.lock.name)
        return await self._start(ActionKind.UNLOCK, found.lock, user_id, channel, reason=reason, unlock_for=unlock_for)

    async def _unlock_for(self, lock: Lock, user_id: str, text: str) -> tuple[timedelta | None, str] | Problem:
        """How long the unlock lasts (typed, else the door's relock_after) and the reason left over."""
        rules = self._policy.rules_for(lock)
        try:
            split = split_leading_duration(text)
            if split is None:
                return rules.relock_after, text
            words, reason = split
            if words.lower().startswith("until"):
                try:
                    time_zone = await self._people.time_zone(user_id)
                except PeopleUnavailable:
                    return _PROFILE_UNAVAILABLE
                now = self._clock()
                # Until a time today is never a day away: the door's max_unlock is checked below.
                duration = parse_lock_until(words, now=now, time_zone=time_zone, longest=timedelta(days=1)) - now
            else:
                try:
                    duration = parse_duration(words)
                except ValueError:  # longer than any calendar: longer than max_unlock too
                    duration = timedelta.max
        except LockUntilError as exc:
            return Problem(ProblemReason.UNLOCK_TIME_UNUSABLE, detail=exc.reason, door=lock.name)
        if duration > rules.max_unlock:
            return Problem(ProblemReason.UNLOCK_TOO_LONG, door=lock.name, duration=rules.max_unlock)
        if duration < SHORTEST_UNLOCK:
            return Problem(ProblemReason.UNLOCK_TOO_SHORT, door=lock.name, duration=SHORTEST_UNLOCK)
        return duration, reason

    async def home_unlock(
        self, user_id: str, device_id: str, *, duration: str | None = None, reason: str = "", asking: bool = False
    ) -> HomeUnlock | None:
        """An unlock asked on App Home, checked (`check_home_unlock`) and, if ready, started."""
        checked = await self.check_home_unlock(user_id, device_id, duration=duration, reason=reason, asking=asking)
        if not isinstance(checked, HomeUnlockReady):
            return checked
        return await self.start_home_unlock(checked)

    async def check_home_unlock(
        self, user_id: str, device_id: str, *, duration: str | None = None, reason: str = "", asking: bool = False
    ) -> HomeUnlockChecked | None:
        """Whether an unlock asked on App Home, by device id, may go ahead, the policy checked now; nothing
        is started or posted. None: Seam lists no such lock.

        `duration` as `/unlock` reads it ("" or None: the door's relock_after); None with `asking` or
        with no relock_after to fall back on: ask the person first (AskHowLong). Home is no channel: the
        action's thread goes to the door's notify_channel, else to the person's DM; a request to its
        approval_channel, else its notify_channel, else it is refused (NO_REQUEST_CHANNEL)."""
        try:
            lock = await self._directory.lock_named(device_id)
        except SeamError as exc:
            return Problem(ProblemReason.DOORS_UNAVAILABLE, detail=exc.user_message)
        if lock is None:
            return None
        try:
            person = await self._people.person(user_id)
        except PeopleUnavailable:
            return _PROFILE_UNAVAILABLE
        rules = self._policy.rules_for(lock)
        direct = may_unlock_directly(rules, person)
        if duration is None and (asking or not direct or rules.relock_after is None or rules.reason_required):
            return AskHowLong(lock, direct, rules.relock_after, reason_required=rules.reason_required)
        typed = (duration or "").strip()
        asked = await self._unlock_for(lock, user_id, typed)
        if isinstance(asked, Problem):
            return asked
        unlock_for, left_over = asked
        if left_over:
            return Problem(
                ProblemReason.UNLOCK_TIME_UNUSABLE,
                detail=f"“{typed}” is not a duration like 30s, 10m, 1h30m or until 17:30",
                door=lock.name,
            )
        if rules.reason_required and not reason.strip():
            return Problem(ProblemReason.REASON_REQUIRED, door=lock.name)
        if direct and lock.can_remotely_unlock is False:
            return Problem(ProblemReason.NOT_REMOTE, door=lock.name, action=str(ActionKind.UNLOCK))
        if not direct and rules.approval_channel is None and rules.notify_channel is None:
            return Problem(ProblemReason.NO_REQUEST_CHANNEL, door=lock.name)
        channel = rules.notify_channel or user_id
        reason = " ".join(reason.split())[:_REASON_LIMIT]
        return HomeUnlockReady(lock, user_id, channel, reason, unlock_for, direct)

    async def start_home_unlock(self, ready: HomeUnlockReady) -> HomeUnlock:
        """Start a checked Home unlock: its messages posted, Seam asked (or the request filed)."""
        result = await self._start(
            ActionKind.UNLOCK,
            ready.lock,
            ready.user_id,
            ready.channel,
            reason=ready.reason,
            unlock_for=ready.unlock_for,
        )
        assert not isinstance(result, DoorAmbiguous | DoorUnknown)
        return result

    async def overview(self, user_id: str, prefix: str = "") -> DoorOverview | Problem:
        """Every door, or those with a name (or device id) starting with `prefix`, and what this person may do."""
        try:
            locks, person, relocks = await asyncio.gather(
                self._directory.locks(fresh=True), self._people.person(user_id), self._store.pending_relocks()
            )
        except SeamError as exc:
            return Problem(ProblemReason.DOORS_UNLISTED, detail=exc.user_message)
        except PeopleUnavailable:
            return _PROFILE_UNAVAILABLE
        # One query for every door: soonest first, so a door's latest pending relock is the one kept.
        relocks_at = {relock.device_id: relock.due_at for relock in relocks}
        wanted = normalised(prefix)
        shown = [lock for lock in locks if not wanted or _starts_with(lock, wanted)]
        statuses = []
        for lock in sorted(shown, key=lambda lock: normalised(lock.name)):
            rules = self._policy.rules_for(lock)
            until = relocks_at.get(lock.device_id) if lock.locked is not True else None
            statuses.append(DoorStatus(lock, may_lock(rules, person), may_unlock_directly(rules, person), until))
        if not wanted:
            return DoorOverview(tuple(statuses))
        return DoorOverview(tuple(statuses), prefix=prefix.strip(), total=len(locks))

    async def audit_log(self, user_id: str, door_text: str) -> AuditView | Problem | DoorAmbiguous | DoorUnknown:
        """The recent audit entries, for approvers only; of one door when `door_text` names one."""
        try:
            person = await self._people.person(user_id)
        except PeopleUnavailable:
            return _PROFILE_UNAVAILABLE
        door: Lock | None = None
        if door_text.strip():
            found = await self._find(door_text, with_reason=False)
            if not isinstance(found, DoorFound):
                return found
            door = found.lock
        if not self._may_read_log(person, door):
            return Problem(ProblemReason.LOG_FOR_APPROVERS)
        entries = await self._store.audit_entries(door=door.name if door else None, newest_first=True, limit=500)
        # Each approver reads the entries of the doors they approve, and only those.
        readable = [
            entry
            for entry in entries
            if entry.device_id is None
            or may_approve(self._policy.rules_for_door(entry.device_id, entry.door or ""), person)
        ]
        return AuditView(tuple(readable[:_AUDIT_LINES]), door.name if door else None)

    def _may_read_log(self, person: Person, door: Lock | None) -> bool:
        if door is not None:
            return may_approve(self._policy.rules_for(door), person)
        return self._policy.approves_anything(person)

    async def _find(self, text: str, *, with_reason: bool) -> DoorFound | DoorAmbiguous | DoorUnknown | Problem:
        try:
            locks = await self._directory.locks()
            found = _match(text, locks, with_reason)
            if isinstance(found, DoorUnknown):
                # A door added since the last look: ask Seam once more before saying no.
                found = _match(text, await self._directory.locks(fresh=True), with_reason)
        except SeamError as exc:
            return Problem(ProblemReason.DOORS_UNAVAILABLE, detail=exc.user_message)
        return found

    async def _start(
        self,
        kind: ActionKind,
        lock: Lock,
        user_id: str,
        channel: str,
        *,
        reason: str = "",
        unlock_for: timedelta | None = None,
    ) -> CommandResult:
        try:
            person = await self._people.person(user_id)
        except PeopleUnavailable:
            return _PROFILE_UNAVAILABLE
        rules = self._policy.rules_for(lock)
        capable = lock.can_remotely_lock if kind is ActionKind.LOCK else lock.can_remotely_unlock
        if capable is False:
            return Problem(ProblemReason.NOT_REMOTE, door=lock.name, action=str(kind))
        if kind is ActionKind.LOCK and not may_lock(rules, person):
            return Problem(ProblemReason.MAY_NOT_LOCK, door=lock.name)
        if kind is ActionKind.UNLOCK and not may_unlock_directly(rules, person):
            return await self._requests.file(lock, user_id, channel, reason, unlock_for=unlock_for)
        try:
            thread = await self._actions.run(kind, lock, user_id, channel, reason=reason, unlock_for=unlock_for)
        except CannotReport as exc:
            return Problem(ProblemReason.NOT_ANNOUNCED, detail=exc.user_message)
        return ActionStarted(thread)


_DEVICE_ID_LIMIT = 128  # as stored (`actions.device_id`); Seam's ids are UUIDs


def _plausible_device_id(device_id: str) -> bool:
    """Whether a button's value could be a Seam device id at all: anything else is no door, without asking Seam."""
    return 0 < len(device_id) <= _DEVICE_ID_LIMIT and device_id.isprintable() and not device_id.isspace()


def _starts_with(lock: Lock, wanted: str) -> bool:
    return any(normalised(name).startswith(wanted) for name in (*lock.names, lock.device_id))


def _match(text: str, locks: Sequence[Lock], with_reason: bool) -> DoorFound | DoorAmbiguous | DoorUnknown:
    if not with_reason:
        return match_door(text, locks)
    found = match_door_and_reason(text, locks)
    if isinstance(found, DoorFound) and len(found.remainder) > _REASON_LIMIT:
        return DoorFound(found.lock, found.remainder[:_REASON_LIMIT])
    return found
