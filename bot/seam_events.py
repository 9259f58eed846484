"""Seam's webhook events: each handled once, outcomes of lockbot's own actions finished at once,
and door events announced in the door's notify channel."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.model import ActionKind, ActionRecord, ActionState, ActionView, Lock, utcnow
from bot.policy import Policy
from bot.seam import SeamError
from bot.tracking import AttemptTracker

__all__ = [
    "DEVICE_EVENTS",
    "EVENT_TYPES",
    "DoorNotice",
    "EventStore",
    "LockChange",
    "NoticeBoard",
    "SeamEvents",
    "UnreadableEvent",
]

log = logging.getLogger(__name__)

_ANNOUNCED = (
    "lock.locked",
    "lock.unlocked",
    "lock.access_denied",
    "device.disconnected",
    "device.connected",
    "device.low_battery",
)
_ATTEMPT_OUTCOMES = (
    "action_attempt.lock_door.succeeded",
    "action_attempt.lock_door.failed",
    "action_attempt.unlock_door.succeeded",
    "action_attempt.unlock_door.failed",
)
EVENT_TYPES = (*_ANNOUNCED, *_ATTEMPT_OUTCOMES)
# Seam sends these for every device (thermostats, cameras, sensors): lockbot speaks only of locks.
DEVICE_EVENTS = ("device.disconnected", "device.connected", "device.low_battery")
# Devices /locks/list did not have, remembered so that their events cost no more calls to Seam.
_REMEMBERED_NOT_LOCKS = 1024
# Not for good: a lock paired later (Seam lists it from then on) is heard of again soon.
_NOT_A_LOCK_FOR = timedelta(minutes=15)
# Seam's webhook reaches one instance; the attempt may be followed by another (same database).
_ATTEMPT_ENDED_TOPIC = "lockbot_attempt_ended"

_METHODS = {
    "keycode": "keypad",
    "keypad": "keypad",
    "manual": "manual",
    "automatic": "automatic",
    "seamapi": "remote",
    "remote": "remote",
}


class UnreadableEvent(Exception):
    """The delivery is not a Seam event lockbot can read."""


@dataclass(frozen=True)
class DoorNotice:
    """One thing that happened at a door, for its notify channel."""

    event_type: str
    door: str
    device_id: str
    at: datetime
    method: str | None = None  # keypad, manual, automatic, remote
    battery_level: float | None = None
    known: bool = True  # False: a lock lockbot does not find in Seam


@dataclass(frozen=True)
class LockChange:
    """Seam says a lock was locked or unlocked (`lock.locked`, `lock.unlocked`), by any means."""

    device_id: str
    locked: bool
    at: datetime
    method: str | None = None  # keypad, manual, automatic, remote
    attempt_id: str | None = None  # lockbot's own action's attempt, when it was one


class NoticeBoard(Protocol):
    """Posts notices (the Slack edge); never raises."""

    async def post_notice(self, channel: str, notice: DoorNotice) -> None: ...

    async def post_outcome(
        self, channel: str, view: ActionView, approved_by: str | None, lock_device_id: str | None = None
    ) -> None:
        """`lock_device_id`: the door may now be unlocked, so the notice offers to lock it."""


def _parse_time(value: Any, fallback: datetime) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo else fallback


class EventStore(Protocol):
    """What Seam's events need of the database (`bot.store.Store` is one)."""

    async def record_event(
        self, event_id: str, event_type: str, payload: str, at: datetime, *, processed: bool = False
    ) -> bool: ...

    async def event_processed(self, event_id: str) -> None: ...

    async def unprocessed_events(self) -> list[str]: ...

    async def action_by_attempt(self, attempt_id: str) -> ActionRecord | None: ...

    async def tell_instances(self, topic: str, message: str) -> None: ...

    async def hear_instances(self, topic: str, heard: Callable[[str], object]) -> None: ...


class SeamEvents:
    def __init__(
        self,
        store: EventStore,
        policy: Policy,
        tracker: AttemptTracker,
        lock_named: Callable[[str], Awaitable[Lock | None]],
        board: NoticeBoard,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._policy = policy
        self._tracker = tracker
        self._lock_named = lock_named
        self._board = board
        self._clock = clock
        self._not_locks: OrderedDict[str, datetime] = OrderedDict()  # device id -> when Seam's list lacked it
        self._looking_up: dict[str, asyncio.Task[Lock | None]] = {}
        self._locked_listeners: list[Callable[[str, datetime], Awaitable[None]]] = []
        self._door_listeners: list[Callable[[str], Awaitable[None]]] = []
        self._change_listeners: list[Callable[[LockChange], Awaitable[None]]] = []

    def on_locked(self, listener: Callable[[str, datetime], Awaitable[None]]) -> None:
        """Call `listener(device_id, occurred_at)` for each `lock.locked` event (a relock it settles),
        except those of lockbot's own actions, whose outcomes say who locked."""
        self._locked_listeners.append(listener)

    def on_door_event(self, listener: Callable[[str], Awaitable[None]]) -> None:
        """Call `listener(device_id)` for each event about a lock or device (its state may have changed)."""
        self._door_listeners.append(listener)

    def on_lock_change(self, listener: Callable[[LockChange], Awaitable[None]]) -> None:
        """Call `listener` for each `lock.locked` and `lock.unlocked` event, lockbot's own actions' too."""
        self._change_listeners.append(listener)

    @staticmethod
    def read(body: bytes) -> dict[str, Any]:
        """The event in a delivery (Seam sends the event itself; a wrapping `event` key is accepted)."""
        try:
            payload = json.loads(body)
        except ValueError:
            raise UnreadableEvent("not JSON") from None
        event = payload.get("event", payload) if isinstance(payload, dict) else None
        if not isinstance(event, dict) or not event.get("event_id") or not event.get("event_type"):
            raise UnreadableEvent("no event_id or event_type")
        return event

    async def receive(self, event: dict[str, Any]) -> bool:
        """Remember the event; False for a redelivery, which must change nothing."""
        return await self._store.record_event(
            str(event["event_id"]), str(event["event_type"]), json.dumps(event), self._clock()
        )

    @staticmethod
    def ends_an_attempt(event: dict[str, Any]) -> bool:
        """Whether the event says an action attempt ended (it only hastens what polling finds anyway)."""
        return str(event["event_type"]) in _ATTEMPT_OUTCOMES

    def attempt_ended(self, event: dict[str, Any]) -> bool:
        """Seam says the attempt ended: ask for it now, rather than at the next poll. False when this
        instance does not follow it (another may: `remember_handled` tells them).

        Acted on before it is stored: losing it in a crash loses nothing, since polling finds the
        outcome; a redelivery, or an event for an attempt no longer followed (already finished, or
        not lockbot's), changes nothing.
        """
        attempt_id = event.get("action_attempt_id")
        return bool(attempt_id) and self._tracker.check_now(str(attempt_id))

    async def remember_handled(self, event: dict[str, Any], *, followed_here: bool) -> None:
        """Keep an event that was already acted on, for the record; tell the other instances about
        an attempt this one does not follow."""
        attempt_id = event.get("action_attempt_id")
        if attempt_id and not followed_here:
            await self._store.tell_instances(_ATTEMPT_ENDED_TOPIC, str(attempt_id))
        await self._store.record_event(
            str(event["event_id"]), str(event["event_type"]), json.dumps(event), self._clock(), processed=True
        )

    async def hear_other_instances(self) -> None:
        """Until cancelled: ask at once about attempts whose end another instance heard of."""
        await self._store.hear_instances(_ATTEMPT_ENDED_TOPIC, self._tracker.check_now)

    async def handle(self, event: dict[str, Any]) -> None:
        """Act on a remembered event, then mark it handled (also when acting failed: never retried forever).

        Stopped part-way (cancelled), it stays unhandled, so the next start handles it.
        """
        try:
            await self._act(event)
        except asyncio.CancelledError:
            raise
        except Exception:
            await self._store.event_processed(str(event["event_id"]))
            raise
        await self._store.event_processed(str(event["event_id"]))

    async def catch_up(self) -> int:
        """After a restart: handle events that were received but not yet handled."""
        payloads = await self._store.unprocessed_events()
        for payload in payloads:
            await self.handle(json.loads(payload))
        return len(payloads)

    async def _act(self, event: dict[str, Any]) -> None:
        event_type = str(event["event_type"])
        attempt_id = event.get("action_attempt_id")
        if event_type in _ATTEMPT_OUTCOMES:
            self.attempt_ended(event)
            return
        # lockbot's own lock: its outcome settles the relock, naming who asked (its event may come first)
        own = bool(attempt_id) and await self._store.action_by_attempt(str(attempt_id)) is not None
        if event_type == "lock.locked" and event.get("device_id") and not own:
            at = _parse_time(event.get("occurred_at") or event.get("created_at"), self._clock())
            for listener in self._locked_listeners:
                await listener(str(event["device_id"]), at)
        if event_type.startswith(("lock.", "device.")) and event.get("device_id"):
            for door_listener in self._door_listeners:
                await door_listener(str(event["device_id"]))
        if event_type in ("lock.locked", "lock.unlocked") and event.get("device_id"):
            change = LockChange(
                device_id=str(event["device_id"]),
                locked=event_type == "lock.locked",
                at=_parse_time(event.get("occurred_at") or event.get("created_at"), self._clock()),
                method=_METHODS.get(str(event.get("method") or "").lower()),
                attempt_id=str(attempt_id) if attempt_id else None,
            )
            for change_listener in self._change_listeners:
                await change_listener(change)
        if event_type not in _ANNOUNCED:
            return
        if own:
            return  # lockbot's own action: its outcome is announced with the action
        device_id = str(event.get("device_id") or "")
        try:
            lock = await self._lock_of(device_id) if device_id else None
        except SeamError as exc:
            lock = None
            if event_type in DEVICE_EVENTS:
                log.warning("no notice of %s: could not tell whether the device is a lock (%s)", event_type, exc)
                return
        if lock is None and event_type in DEVICE_EVENTS:
            return  # not a lock (a lock's own events still speak of a lock lockbot does not know)
        rules = self._policy.rules_for(lock) if lock else self._policy.rules_for_door(device_id)
        if rules.notify_channel is None:
            return
        level = event.get("battery_level")
        notice = DoorNotice(
            event_type=event_type,
            door=lock.name if lock else device_id or "an unknown lock",
            device_id=device_id,
            at=_parse_time(event.get("occurred_at") or event.get("created_at"), self._clock()),
            method=_METHODS.get(str(event.get("method") or "").lower()),
            battery_level=float(level) if isinstance(level, int | float) else None,
            known=lock is not None,
        )
        await self._board.post_notice(rules.notify_channel, notice)

    async def _lock_of(self, device_id: str) -> Lock | None:
        """The lock with this device id; None for a device Seam does not list as a lock.

        Each unknown device is looked up once (a burst of its events shares the one look-up) and
        remembered for a while, so a thermostat's events cost no call to Seam after the first.
        """
        now = self._clock()
        lacked_at = self._not_locks.get(device_id)
        if lacked_at is not None and now - lacked_at < _NOT_A_LOCK_FOR:
            return None
        lookup = self._looking_up.get(device_id)
        if lookup is None:
            lookup = asyncio.create_task(self._look_up(device_id), name=f"look-up-{device_id}")
            self._looking_up[device_id] = lookup
            lookup.add_done_callback(lambda done: self._looked_up(device_id, done))
        return await asyncio.shield(lookup)

    def _looked_up(self, device_id: str, done: asyncio.Task[Lock | None]) -> None:
        self._looking_up.pop(device_id, None)
        if not done.cancelled():
            done.exception()  # seen here too: every waiter may have been cancelled meanwhile

    async def _look_up(self, device_id: str) -> Lock | None:
        lock = await self._lock_named(device_id)
        if lock is None:
            self._not_locks[device_id] = self._clock()
            self._not_locks.move_to_end(device_id)
            while len(self._not_locks) > _REMEMBERED_NOT_LOCKS:
                self._not_locks.popitem(last=False)
        else:
            self._not_locks.pop(device_id, None)
        return lock

    async def announce_outcome(self, record: ActionRecord, view: ActionView) -> None:
        """An action's outcome, in its door's notify channel when that is not where the action ran."""
        rules = self._policy.rules_for_door(record.device_id, record.door)
        if rules.notify_channel and rules.notify_channel != record.channel:
            may_be_unlocked = record.kind is ActionKind.UNLOCK and view.state in (
                ActionState.SUCCEEDED,
                ActionState.NOT_CONFIRMED,
            )
            lock_device_id = record.device_id if may_be_unlocked else None
            await self._board.post_outcome(rules.notify_channel, view, record.approved_by, lock_device_id)
