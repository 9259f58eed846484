"""Seam events alone: an event received but not handled before a stop is handled at the next start."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.model import ActionKind, ActionRecord, ActionState, ActionView, Lock
from bot.policy import DoorRules, Policy
from bot.seam_events import DoorNotice, SeamEvents
from bot.store import Store


class Board:
    def __init__(self) -> None:
        self.notices: list[tuple[str, DoorNotice]] = []

    async def post_notice(self, channel: str, notice: DoorNotice) -> None:
        self.notices.append((channel, notice))

    async def post_outcome(
        self, channel: str, view: ActionView, approved_by: str | None, lock_device_id: str | None = None
    ) -> None:
        raise AssertionError("no action here")


class Tracker:
    def check_now(self, attempt_id: str) -> bool:
        return False


@pytest.mark.anyio
async def test_events_received_before_a_stop_are_handled_once_at_the_next_start(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'lockbot.db'}")
    board = Board()

    async def lock_named(device_id: str) -> Lock | None:
        return Lock(device_id=device_id, display_name="Front Door")

    policy = Policy(defaults=DoorRules(notify_channel="C0NOTIFY01"))
    events = SeamEvents(store, policy, Tracker(), lock_named, board)  # type: ignore[arg-type]
    event: dict[str, Any] = {
        "event_id": "evt_1",
        "event_type": "lock.unlocked",
        "device_id": "lock_1",
        "occurred_at": "2026-11-22T10:00:00Z",
        "method": "keycode",
    }
    assert await events.receive(SeamEvents.read(json.dumps(event).encode()))  # then lockbot stopped
    assert not await events.receive(event)  # a redelivery is not new

    assert await events.catch_up() == 1
    assert await events.catch_up() == 0  # handled once
    await store.close()
    [(channel, notice)] = board.notices

    assert channel == "C0NOTIFY01"
    assert (notice.door, notice.event_type, notice.method) == ("Front Door", "lock.unlocked", "keypad")


@pytest.mark.anyio
async def test_an_attempts_end_is_acted_on_at_once_and_kept_as_handled(tmp_path: Path) -> None:
    asked: list[str] = []

    class FollowingTracker:
        def check_now(self, attempt_id: str) -> bool:
            asked.append(attempt_id)
            return True

    store = await Store.open(f"sqlite:///{tmp_path / 'lockbot.db'}")

    async def lock_named(device_id: str) -> Lock | None:
        return None

    events = SeamEvents(store, Policy(), FollowingTracker(), lock_named, Board())  # type: ignore[arg-type]
    ended = {"event_id": "evt_9", "event_type": "action_attempt.unlock_door.succeeded", "action_attempt_id": "a9"}
    assert SeamEvents.ends_an_attempt(ended)
    assert not SeamEvents.ends_an_attempt({"event_id": "evt_8", "event_type": "lock.unlocked"})
    assert events.attempt_ended(ended)  # followed here; before anything is stored
    assert asked == ["a9"]
    await events.remember_handled(ended, followed_here=True)
    assert not await events.receive(ended)  # kept: a redelivery is known
    replayed = await events.catch_up()  # and not handled again after a restart
    await store.close()
    assert replayed == 0

    assert asked == ["a9"]


@pytest.mark.anyio
async def test_an_event_whose_handling_was_stopped_part_way_is_handled_at_the_next_start(tmp_path: Path) -> None:
    class StuckBoard(Board):
        def __init__(self) -> None:
            super().__init__()
            self.posting = asyncio.Event()

        async def post_notice(self, channel: str, notice: DoorNotice) -> None:
            self.posting.set()
            await asyncio.Event().wait()  # Slack never answers before lockbot stops

    store = await Store.open(f"sqlite:///{tmp_path / 'lockbot.db'}")

    async def lock_named(device_id: str) -> Lock | None:
        return Lock(device_id=device_id, display_name="Front Door")

    policy = Policy(defaults=DoorRules(notify_channel="C0NOTIFY01"))
    stuck = StuckBoard()
    before = SeamEvents(store, policy, Tracker(), lock_named, stuck)  # type: ignore[arg-type]
    event = {"event_id": "evt_2", "event_type": "device.disconnected", "device_id": "lock_1"}
    assert await before.receive(event)
    handling = asyncio.create_task(before.handle(event))
    await asyncio.wait_for(stuck.posting.wait(), 5)
    handling.cancel()  # lockbot stops
    with contextlib.suppress(asyncio.CancelledError):
        await handling

    board = Board()
    after = SeamEvents(store, policy, Tracker(), lock_named, board)  # type: ignore[arg-type]
    assert await after.catch_up() == 1
    await store.close()
    [(_, notice)] = board.notices

    assert notice.event_type == "device.disconnected"


class Directory:
    """Seam's locks as lockbot's door directory sees them: every look-up counted, each a moment long."""

    def __init__(self, *locks: Lock) -> None:
        self.locks = {lock.device_id: lock for lock in locks}
        self.lookups: list[str] = []

    async def lock_named(self, device_id: str) -> Lock | None:
        self.lookups.append(device_id)
        await asyncio.sleep(0.01)
        return self.locks.get(device_id)


def device_event(event_type: str, device_id: str, number: int) -> dict[str, Any]:
    return {"event_id": f"evt_{device_id}_{number}", "event_type": event_type, "device_id": device_id}


@pytest.mark.anyio
async def test_a_burst_of_events_from_a_thermostat_costs_one_look_up_and_posts_nothing(tmp_path: Path) -> None:
    directory = Directory(Lock(device_id="lock_1", display_name="Front Door"))

    store = await Store.open(f"sqlite:///{tmp_path / 'lockbot.db'}")
    board = Board()
    policy = Policy(defaults=DoorRules(notify_channel="C0NOTIFY01"))
    events = SeamEvents(store, policy, Tracker(), directory.lock_named, board)  # type: ignore[arg-type]
    kinds = ("device.disconnected", "device.connected", "device.low_battery")
    burst = [device_event(kinds[n % 3], "thermostat_1", n) for n in range(12)]
    for event in burst:
        assert await events.receive(event)
    await asyncio.gather(*(events.handle(event) for event in burst[:6]))  # together, as webhooks come
    for event in burst[6:]:  # and one after another
        await events.handle(event)
    lock_event = device_event("device.disconnected", "lock_1", 99)
    assert await events.receive(lock_event)
    await events.handle(lock_event)
    await store.close()
    notices = board.notices

    assert directory.lookups == ["thermostat_1", "lock_1"]
    [(channel, notice)] = notices  # the lock's event, and only it
    assert (channel, notice.door, notice.event_type, notice.known) == (
        "C0NOTIFY01",
        "Front Door",
        "device.disconnected",
        True,
    )


@pytest.mark.anyio
async def test_a_locks_own_event_from_an_unlisted_lock_is_still_told_and_looked_up_once(tmp_path: Path) -> None:
    directory = Directory()

    store = await Store.open(f"sqlite:///{tmp_path / 'lockbot.db'}")
    board = Board()
    policy = Policy(defaults=DoorRules(notify_channel="C0NOTIFY01"))
    events = SeamEvents(store, policy, Tracker(), directory.lock_named, board)  # type: ignore[arg-type]
    for number in range(3):
        event = device_event("lock.unlocked", "lock_99", number)
        assert await events.receive(event)
        await events.handle(event)
    await store.close()
    notices = board.notices

    assert directory.lookups == ["lock_99"]
    assert [(notice.device_id, notice.known) for _, notice in notices] == [("lock_99", False)] * 3


@pytest.mark.anyio
async def test_a_lock_event_of_lockbots_own_lock_is_left_to_its_outcome_to_settle_the_relock(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'lockbot.db'}")
    at = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    own_lock = ActionRecord(
        id="a" * 32,
        kind=ActionKind.LOCK,
        device_id="lock_1",
        door="Front Door",
        requested_by="U0LOCKER01",
        reason="",
        channel="C0GENERAL",
        state=ActionState.PENDING,
        created_at=at,
        updated_at=at,
        attempt_id="attempt_own",
    )
    await store.add_action(own_lock, owner="i", lease_until=at + timedelta(minutes=1))
    settled: list[tuple[str, datetime]] = []

    async def door_locked(device_id: str, locked_at: datetime) -> None:
        settled.append((device_id, locked_at))

    events = SeamEvents(store, Policy(), Tracker(), Directory().lock_named, Board())  # type: ignore[arg-type]
    events.on_locked(door_locked)

    def locked(number: int, attempt_id: str | None) -> dict[str, Any]:
        event = {"event_id": f"evt_{number}", "event_type": "lock.locked", "device_id": "lock_1"}
        return event | {"occurred_at": "2026-11-22T10:05:00Z", "action_attempt_id": attempt_id}

    for event in (locked(1, "attempt_own"), locked(2, "attempt_elsewhere"), locked(3, None)):
        await events.handle(event)
    await store.close()

    # lockbot's own /lock (or relock) is settled by its outcome, which names who asked
    assert settled == [("lock_1", datetime(2026, 11, 22, 10, 5, tzinfo=UTC))] * 2
