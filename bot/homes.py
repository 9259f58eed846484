"""App Home: each person's page of doors, requests to decide, timed unlocks and slot locks, published
when they open it and again when something on it changes while it is recent.

A change (a door's state, a request filed or decided, a relock set or run) marks every Home opened
in the last hour with one write; the tick loop publishes the marked ones once the change has
settled (changes close together make one publish), each taken by one conditional write so that
with several instances each is published once. Publishes are paced to stay within Slack's rate
limit for `views.publish`; one tick lists the doors once for every Home it publishes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.door_service import DoorDirectory
from bot.doors import normalised
from bot.model import Lock, Relock, SlotLock, SlotLockState, UnlockRequest, utcnow
from bot.policy import PeopleDirectory, PeopleUnavailable, Person, Policy, may_approve, may_unlock_directly
from bot.replies import Problem, ProblemReason
from bot.seam import SeamError
from bot.ticks import run_every_tick

__all__ = [
    "RECENT_HOME",
    "HomeDoor",
    "HomePage",
    "HomePublisher",
    "HomeStore",
    "Homes",
    "PublishPace",
]

log = logging.getLogger(__name__)

# A Home opened this long ago or less is published again when something on it changes.
RECENT_HOME = timedelta(hours=1)
# Doors with an action in this long count as busy (shown before the quiet ones).
_ACTIVITY_WINDOW = timedelta(days=7)
# While publishing a long paced batch, what the Homes show is read again at least this often.
_SNAPSHOT_LIFE = timedelta(seconds=10)


@dataclass(frozen=True)
class HomeDoor:
    lock: Lock
    may_unlock: bool  # directly; otherwise the person may ask for an unlock
    unlocked_until: datetime | None = None  # a relock is pending: locked again then
    last_activity: datetime | None = None  # lockbot's newest action on it
    relock_after: timedelta | None = None  # an unlock from Home lasts this long (None: the person says)


@dataclass(frozen=True)
class HomePage:
    """What one person's Home shows, busiest doors first."""

    user_id: str
    doors: tuple[HomeDoor, ...] = ()
    to_decide: tuple[UnlockRequest, ...] = ()  # pending requests this person may approve (not their own)
    timed_unlocks: tuple[Relock, ...] = ()  # this person's unlocks waiting to be locked again
    slot_locks: tuple[SlotLock, ...] = ()  # slots this person locked, still held
    problem: Problem | None = None  # why the doors are not shown


class HomeStore(Protocol):
    """What Homes need of the database (`bot.store.Store` is one)."""

    async def home_opened(self, user_id: str, at: datetime) -> None: ...

    async def homes_changed(self, at: datetime, *, opened_since: datetime) -> int: ...

    async def due_home_refreshes(self, changed_before: datetime, *, limit: int) -> list[tuple[str, datetime]]: ...

    async def take_home_refresh(self, user_id: str, changed_at: datetime) -> bool: ...

    async def forget_home_openings(self, opened_before: datetime) -> int: ...

    async def pending_requests(self) -> list[UnlockRequest]: ...

    async def pending_relocks(self) -> list[Relock]: ...

    async def latest_door_activity(self, since: datetime) -> dict[str, datetime]: ...

    async def slot_locks_in(self, state: SlotLockState) -> list[SlotLock]: ...


class HomePublisher(Protocol):
    """The Slack edge: renders a page and publishes it as the person's Home (`views.publish`)."""

    async def publish(self, page: HomePage) -> bool:
        """Whether Slack took it; never raises."""


class PublishPace:
    """At most `burst` publishes at once and `per_minute` a minute after that, on this instance.

    Slack allows `views.publish` about 100 a minute per workspace (Tier 4): a burst of 20 and 80 a
    minute keep any minute's publishes within 100. A 429 (Retry-After) is waited out by the client."""

    def __init__(self, *, per_minute: float = 80.0, burst: int = 20, clock: Callable[[], float] = time.monotonic):
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._at = clock()
        self._lock = asyncio.Lock()

    async def wait_turn(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
                self._at = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self._rate)


@dataclass
class _Shared:
    """What every Home published in one tick shows alike: read once for all of them."""

    locks: list[Lock] | None
    problem: Problem | None
    pending: list[UnlockRequest]
    relocks: list[Relock]
    activity: dict[str, datetime]
    slot_locks: list[SlotLock]
    read_at: datetime
    changes: int  # the instance's count of changes when it was read


class Homes:
    def __init__(
        self,
        store: HomeStore,
        directory: DoorDirectory | None,
        people: PeopleDirectory,
        policy: Policy,
        publisher: HomePublisher,
        *,
        clock: Callable[[], datetime] = utcnow,
        pace: PublishPace | None = None,
        tick_seconds: float = 0.5,
        settle: timedelta = timedelta(seconds=1),
        batch: int = 100,
    ) -> None:
        self._store = store
        self._directory = directory
        self._people = people
        self._policy = policy
        self._publisher = publisher
        self._clock = clock
        self._pace = pace or PublishPace()
        self._tick_seconds = tick_seconds
        self._settle = settle
        self._batch = batch
        self._next_forget: datetime | None = None
        self._changes = 0  # changes this instance saw: a snapshot read before one is stale

    async def opened(self, user_id: str) -> bool:
        """The person opened their Home: remember when, and publish it now. Whether Slack took it."""
        now = self._clock()
        await self._store.home_opened(user_id, now)
        page = await self._page(user_id, await self._shared())
        await self._pace.wait_turn()
        return await self._publisher.publish(page)

    async def page(self, user_id: str) -> HomePage:
        """The person's Home as it is now."""
        return await self._page(user_id, await self._shared())

    async def changed(self) -> None:
        """Something Homes show changed: the recent ones are published again shortly. Never raises."""
        now = self._clock()
        self._changes += 1
        try:
            await self._store.homes_changed(now, opened_since=now - RECENT_HOME)
        except Exception:
            log.exception("could not mark the open Homes as changed")

    async def run(self) -> None:
        """Until cancelled: every tick, publish the Homes owed one (the first tick at once)."""
        await run_every_tick(self.run_due, tick_seconds=self._tick_seconds, batch=self._batch, what="Home refreshes")

    async def run_due(self) -> int:
        """Publish each Home whose change has settled, that no other instance took first. Returns how many were due."""
        now = self._clock()
        due = await self._store.due_home_refreshes(now - self._settle, limit=self._batch)
        if not due:
            await self._forget_old(now)
            return 0
        shared = await self._shared()
        published = 0
        for user_id, changed_at in due:
            if not await self._store.take_home_refresh(user_id, changed_at):
                continue  # another instance took it
            if shared.changes != self._changes or self._clock() - shared.read_at > _SNAPSHOT_LIFE:
                # A Home still owed its first change's publish is not marked for a later one: it is shown
                # what is true now. Changes on other instances are caught within the snapshot's life.
                shared = await self._shared()
            page = await self._page(user_id, shared)
            await self._pace.wait_turn()
            if await self._publisher.publish(page):
                published += 1
        log.info("published %d of %d changed Homes", published, len(due))
        return len(due)

    async def _forget_old(self, now: datetime) -> None:
        if self._next_forget is None or now >= self._next_forget:
            self._next_forget = now + timedelta(minutes=5)
            await self._store.forget_home_openings(now - RECENT_HOME)

    async def _shared(self) -> _Shared:
        read_at, changes = self._clock(), self._changes
        locks: list[Lock] | None = None
        problem: Problem | None = None
        if self._directory is None:
            problem = Problem(ProblemReason.DOORS_UNLISTED, detail="lockbot has no Seam API key")
        else:
            try:
                locks = await self._directory.locks(fresh=True)
            except SeamError as exc:
                problem = Problem(ProblemReason.DOORS_UNLISTED, detail=exc.user_message)
        pending = await self._store.pending_requests()
        relocks = await self._store.pending_relocks()
        activity = await self._store.latest_door_activity(self._clock() - _ACTIVITY_WINDOW)
        slot_locks = [
            lock for state in SlotLockState if state.may_be_held for lock in await self._store.slot_locks_in(state)
        ]
        return _Shared(locks, problem, pending, relocks, activity, slot_locks, read_at, changes)

    async def _page(self, user_id: str, shared: _Shared) -> HomePage:
        try:
            person: Person | None = await self._people.person(user_id)
        except PeopleUnavailable:
            person = None
        own_unlocks = tuple(relock for relock in shared.relocks if relock.unlocked_by == user_id)
        own_slots = tuple(
            sorted(
                (lock for lock in shared.slot_locks if lock.locked_by == user_id), key=lambda lock: lock.locked_until
            )
        )
        if person is None:
            return HomePage(
                user_id,
                timed_unlocks=own_unlocks,
                slot_locks=own_slots,
                problem=Problem(ProblemReason.PROFILE_UNAVAILABLE),
            )
        to_decide = tuple(
            request
            for request in shared.pending
            if request.requester != user_id
            and may_approve(self._policy.rules_for_door(request.device_id, request.door), person)
        )
        if shared.locks is None:
            return HomePage(user_id, (), to_decide, own_unlocks, own_slots, shared.problem)
        until = {relock.device_id: relock.due_at for relock in shared.relocks}
        doors = [
            HomeDoor(
                lock,
                may_unlock_directly(self._policy.rules_for(lock), person),
                until.get(lock.device_id),
                shared.activity.get(lock.device_id),
                self._policy.rules_for(lock).relock_after,
            )
            for lock in shared.locks
        ]
        return HomePage(user_id, _busiest_first(doors), to_decide, own_unlocks, own_slots)


def _busiest_first(doors: Sequence[HomeDoor]) -> tuple[HomeDoor, ...]:
    """Unlocked doors first, then by lockbot's newest action on them, then by name."""

    def key(door: HomeDoor) -> tuple[int, float, str]:
        unlocked = door.lock.locked is False
        activity = door.last_activity.timestamp() if door.last_activity else 0.0
        return (0 if unlocked else 1, -activity, normalised(door.lock.name))

    return tuple(sorted(doors, key=key))
