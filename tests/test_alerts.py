"""Doors left unlocked, decided without Slack: when an alert opens, is posted (once), is not, and
how its lock is told."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.alerts import RELOCKED, AlertNotPosted, UnlockedAlerts
from bot.model import (
    ActionKind,
    ActionRecord,
    ActionState,
    ActionView,
    Lock,
    UnlockedAlert,
    UnlockedAlertState,
)
from bot.policy import DoorRules, Policy
from bot.relocks import RELOCK_REASON
from bot.seam import SeamDeviceNotFound, SeamServerError
from bot.seam_events import LockChange
from bot.store import Store

START = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
AFTER = timedelta(minutes=30)
FRONT = Lock(device_id="lock_1", display_name="Front Door", locked=False)
ALERTING = Policy(DoorRules(notify_channel="C0NOTIFY", alert_unlocked_after=AFTER))


@dataclass
class Board:
    posted: list[tuple[UnlockedAlert, timedelta]] = field(default_factory=list)
    locked: list[UnlockedAlert] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    failures: list[AlertNotPosted] = field(default_factory=list)  # how the next posts fail, in order
    tries: int = 0
    ts_prefix: str = "1."  # an instance's notices differ from another's
    during_post: Callable[[], Awaitable[None]] | None = None  # what happens while Slack is being asked

    async def post_alert(self, alert: UnlockedAlert, unlocked_for: timedelta) -> str | AlertNotPosted:
        self.tries += 1
        if self.during_post is not None:
            during, self.during_post = self.during_post, None
            await during()
        if self.failures:
            return self.failures.pop(0)
        self.posted.append((alert, unlocked_for))
        return f"{self.ts_prefix}{len(self.posted):06d}"

    async def show_locked(self, alert: UnlockedAlert) -> None:
        self.locked.append(alert)

    async def withdraw(self, alert: UnlockedAlert, notice_ts: str) -> None:
        self.withdrawn.append(notice_ts)


@dataclass
class Door:
    """Seam's view of the one door: what /locks/get answers."""

    lock: Lock | None = FRONT
    failure: Exception | None = None
    asked: int = 0

    async def named(self, device_id: str) -> Lock | None:
        return self.lock if self.lock is not None and device_id == self.lock.device_id else None

    async def now(self, device_id: str) -> Lock:
        self.asked += 1
        if self.failure is not None:
            raise self.failure
        if self.lock is None:
            raise SeamDeviceNotFound("Device not found", status=404, error_type="device_not_found")
        return self.lock


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Setup:
    alerts: UnlockedAlerts
    store: Store
    board: Board
    door: Door
    clock: Clock


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    store = await Store.open(f"sqlite:///{tmp_path / 'lockbot.db'}")
    board, door, clock = Board(), Door(), Clock()
    alerts = UnlockedAlerts(store, ALERTING, door.named, door.now, board, clock=clock)
    yield Setup(alerts, store, board, door, clock)
    await store.close()


def action(kind: ActionKind, *, by: str = "U0MEMBER01", reason: str = "") -> ActionRecord:
    return ActionRecord(
        id="a" * 32,
        kind=kind,
        device_id="lock_1",
        door="Front Door",
        requested_by=by,
        reason=reason,
        channel="C0GENERAL",
        state=ActionState.SUCCEEDED,
        created_at=START,
        updated_at=START,
    )


def view(kind: ActionKind, state: ActionState = ActionState.SUCCEEDED) -> ActionView:
    return ActionView(kind, "Front Door", "U0MEMBER01", state)


pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "rules",
    [DoorRules(notify_channel="C0NOTIFY"), DoorRules(alert_unlocked_after=AFTER)],
    ids=["without the key", "without a notify channel"],
)
async def test_without_the_key_or_a_notify_channel_nothing_is_alerted(tmp_path: Path, rules: DoorRules) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'lockbot.db'}")
    try:
        board, door, clock = Board(), Door(), Clock()
        alerts = UnlockedAlerts(store, Policy(rules), door.named, door.now, board, clock=clock)
        await alerts.door_unlocked("lock_1", START)
        clock.now = START + timedelta(days=1)

        assert await alerts.run_due() == 0
        assert board.posted == []
        assert await store.open_unlocked_alerts() == []
    finally:
        await store.close()


async def test_a_door_left_unlocked_is_alerted_once_when_due(setup: Setup) -> None:
    await setup.alerts.lock_changed(LockChange("lock_1", locked=False, at=START, method="keypad"))
    setup.clock.now = START + AFTER - timedelta(seconds=1)
    assert await setup.alerts.run_due() == 0

    setup.clock.now = START + AFTER
    assert await setup.alerts.run_due() == 1
    setup.clock.now = START + AFTER + timedelta(minutes=5)
    assert await setup.alerts.run_due() == 0

    ((posted, unlocked_for),) = setup.board.posted
    assert (posted.door, posted.channel, posted.unlocked_at, unlocked_for) == ("Front Door", "C0NOTIFY", START, AFTER)
    assert setup.door.asked == 1  # Seam was asked whether it is still unlocked


async def test_an_unlock_heard_again_before_the_lock_keeps_the_first_unlock_time(setup: Setup) -> None:
    await setup.alerts.door_unlocked("lock_1", START)
    await setup.alerts.action_finished(action(ActionKind.UNLOCK), view(ActionKind.UNLOCK))  # at START too

    setup.clock.now = START + timedelta(minutes=10)
    await setup.alerts.door_unlocked("lock_1", setup.clock.now)

    (only,) = await setup.store.open_unlocked_alerts()
    assert only.unlocked_at == START


async def test_a_door_locked_before_the_due_time_is_not_alerted(setup: Setup) -> None:
    await setup.alerts.door_unlocked("lock_1", START)
    setup.clock.now = START + timedelta(minutes=5)
    await setup.alerts.action_finished(action(ActionKind.LOCK), view(ActionKind.LOCK))

    setup.clock.now = START + AFTER * 2
    assert await setup.alerts.run_due() == 0
    assert setup.board.posted == []
    assert setup.board.locked == []  # nothing was posted, so nothing to edit


async def test_a_posted_alert_says_who_locked_the_door_and_when(setup: Setup) -> None:
    await setup.alerts.door_unlocked("lock_1", START)
    setup.clock.now = START + AFTER
    await setup.alerts.run_due()
    setup.clock.now = locked_at = START + AFTER + timedelta(minutes=2)

    await setup.alerts.action_finished(action(ActionKind.LOCK, by="U0LOCKER01"), view(ActionKind.LOCK))

    (edited,) = setup.board.locked
    assert (edited.notice_ts, edited.locked_by, edited.locked_at) == ("1.000001", "U0LOCKER01", locked_at)
    assert edited.state is UnlockedAlertState.LOCKED


@pytest.mark.parametrize("how", ["keypad", RELOCKED])
async def test_a_lock_without_a_slack_user_says_how_it_was_locked(setup: Setup, how: str) -> None:
    await setup.alerts.door_unlocked("lock_1", START)
    setup.clock.now = START + AFTER
    await setup.alerts.run_due()
    setup.clock.now = START + AFTER + timedelta(minutes=1)

    if how == RELOCKED:
        relock = action(ActionKind.LOCK, reason=RELOCK_REASON)
        await setup.alerts.action_finished(relock, view(ActionKind.LOCK))
    else:
        await setup.alerts.lock_changed(LockChange("lock_1", locked=True, at=setup.clock.now, method=how))

    (edited,) = setup.board.locked
    assert (edited.locked_by, edited.locked_how) == (None, how)


async def test_a_failed_or_unconfirmed_lock_leaves_the_alert_open(setup: Setup) -> None:
    await setup.alerts.door_unlocked("lock_1", START)
    for state in (ActionState.FAILED, ActionState.NOT_CONFIRMED):
        await setup.alerts.action_finished(action(ActionKind.LOCK), view(ActionKind.LOCK, state))

    assert len(await setup.store.open_unlocked_alerts()) == 1


async def test_seams_lock_event_for_lockbots_own_lock_is_left_to_its_outcome(setup: Setup) -> None:
    record = replace(action(ActionKind.LOCK), state=ActionState.PENDING, attempt_id="attempt_1")
    await setup.store.add_action(record, owner="i", lease_until=START + timedelta(minutes=1))
    await setup.alerts.door_unlocked("lock_1", START)

    await setup.alerts.lock_changed(LockChange("lock_1", locked=True, at=START + timedelta(1), attempt_id="attempt_1"))

    assert len(await setup.store.open_unlocked_alerts()) == 1  # closed by the outcome, which names who asked


async def test_a_door_seam_says_is_locked_at_the_due_time_is_not_alerted(setup: Setup) -> None:
    await setup.alerts.door_unlocked("lock_1", START)
    setup.door.lock = replace(FRONT, locked=True)  # locked, and lockbot never heard it
    setup.clock.now = START + AFTER

    await setup.alerts.run_due()

    assert setup.board.posted == []
    assert await setup.store.open_unlocked_alerts() == []


async def test_a_lock_seam_no_longer_lists_is_not_alerted_and_one_it_cannot_ask_about_is(setup: Setup) -> None:
    await setup.alerts.door_unlocked("lock_1", START)
    setup.door.lock = None
    setup.clock.now = START + AFTER
    await setup.alerts.run_due()
    assert setup.board.posted == []
    assert await setup.store.open_unlocked_alerts() == []

    setup.door.lock = FRONT
    await setup.alerts.door_unlocked("lock_1", setup.clock.now)
    setup.door.failure = SeamServerError("HTTP 503", status=503)
    setup.clock.now += AFTER
    await setup.alerts.run_due()
    assert len(setup.board.posted) == 1  # unknown is not locked


async def test_a_door_unlocked_again_after_its_lock_gets_a_new_alert(setup: Setup) -> None:
    await setup.alerts.door_unlocked("lock_1", START)
    setup.clock.now = START + AFTER
    await setup.alerts.run_due()
    await setup.alerts.door_locked("lock_1", START + AFTER + timedelta(seconds=1), by="U0MEMBER01", how=None)
    again = START + AFTER + timedelta(minutes=1)

    await setup.alerts.door_unlocked("lock_1", again)
    setup.clock.now = again + AFTER
    await setup.alerts.run_due()

    assert [alert.unlocked_at for alert, _ in setup.board.posted] == [START, again]


async def test_an_unknown_device_opens_no_alert(setup: Setup) -> None:
    await setup.alerts.lock_changed(LockChange("thermostat_1", locked=False, at=START))

    assert await setup.store.open_unlocked_alerts() == []


async def run_until_quiet(setup: Setup, *, for_: timedelta, step: timedelta = timedelta(seconds=1)) -> None:
    """The scheduler's ticks over `for_` of the test clock."""
    end = setup.clock.now + for_
    while setup.clock.now < end:
        await setup.alerts.run_due()
        setup.clock.now += step


async def test_a_post_slack_refused_is_tried_again_later_and_posted_once(setup: Setup) -> None:
    await setup.alerts.door_unlocked("lock_1", START)
    setup.board.failures = [AlertNotPosted.NOT_TAKEN, AlertNotPosted.NOT_TAKEN]
    setup.clock.now = START + AFTER

    await setup.alerts.run_due()
    assert setup.board.tries == 1
    (waiting,) = await setup.store.open_unlocked_alerts()
    assert waiting.state is UnlockedAlertState.PENDING
    assert waiting.due_at > setup.clock.now  # not at once: after a wait
    await run_until_quiet(setup, for_=timedelta(minutes=10))

    assert setup.board.tries == 3
    assert len(setup.board.posted) == 1
    (posted,) = await setup.store.open_unlocked_alerts()
    assert (posted.state, posted.notice_ts) == (UnlockedAlertState.POSTED, "1.000001")


async def test_a_post_slack_keeps_refusing_is_given_up_after_a_few_spaced_tries(setup: Setup) -> None:
    await setup.alerts.door_unlocked("lock_1", START)
    setup.board.failures = [AlertNotPosted.NOT_TAKEN] * 10
    setup.clock.now = START + AFTER
    tried_at = []
    end = setup.clock.now + timedelta(hours=1)
    while setup.clock.now < end:
        before = setup.board.tries
        await setup.alerts.run_due()
        if setup.board.tries > before:
            tried_at.append(setup.clock.now)
        setup.clock.now += timedelta(seconds=1)

    assert len(tried_at) == 5
    waits = [later - earlier for earlier, later in itertools.pairwise(tried_at)]
    assert waits == sorted(waits)  # spaced out more each time
    assert waits[0] >= timedelta(seconds=5)
    (given_up,) = await setup.store.open_unlocked_alerts()
    assert (given_up.state, given_up.notice_ts) == (UnlockedAlertState.POSTED, None)


async def test_a_post_that_may_have_reached_slack_is_not_tried_again(setup: Setup) -> None:
    await setup.alerts.door_unlocked("lock_1", START)
    setup.board.failures = [AlertNotPosted.UNCERTAIN]
    setup.clock.now = START + AFTER

    await run_until_quiet(setup, for_=timedelta(hours=1))

    assert setup.board.tries == 1
    (alert,) = await setup.store.open_unlocked_alerts()
    assert (alert.state, alert.notice_ts) == (UnlockedAlertState.POSTED, None)


async def test_an_instance_whose_claim_ran_out_while_posting_withdraws_its_notice(setup: Setup) -> None:
    """The first instance is slow past its claim; the second takes the alert over and posts it: one stays."""
    second_board = Board(ts_prefix="2.")
    second = UnlockedAlerts(setup.store, ALERTING, setup.door.named, setup.door.now, second_board, clock=setup.clock)
    await setup.alerts.door_unlocked("lock_1", START)
    setup.clock.now = START + AFTER

    async def taken_over() -> None:
        setup.clock.now += timedelta(hours=1)  # far past any claim
        assert await second.run_due() == 1

    setup.board.during_post = taken_over
    await setup.alerts.run_due()

    assert len(second_board.posted) == 1
    assert setup.board.withdrawn == ["1.000001"]
    (alert,) = await setup.store.open_unlocked_alerts()
    assert (alert.state, alert.notice_ts) == (UnlockedAlertState.POSTED, "2.000001")  # the second's


async def test_a_late_instance_cannot_mark_posted_an_alert_another_instance_is_posting(setup: Setup) -> None:
    """The first instance ends its post while the second, which took the alert over, is still posting."""
    second_board = Board(ts_prefix="2.")
    second = UnlockedAlerts(setup.store, ALERTING, setup.door.named, setup.door.now, second_board, clock=setup.clock)
    await setup.alerts.door_unlocked("lock_1", START)
    setup.clock.now = START + AFTER
    second_posting, second_may_finish = asyncio.Event(), asyncio.Event()

    async def held() -> None:
        second_posting.set()
        await second_may_finish.wait()

    second_board.during_post = held
    running: list[asyncio.Task[int]] = []

    async def taken_over() -> None:
        setup.clock.now += timedelta(hours=1)  # far past any claim
        running.append(asyncio.create_task(second.run_due()))
        await second_posting.wait()

    setup.board.during_post = taken_over
    await setup.alerts.run_due()
    assert setup.board.withdrawn == ["1.000001"]
    second_may_finish.set()
    await running[0]

    (alert,) = await setup.store.open_unlocked_alerts()
    assert (alert.state, alert.notice_ts) == (UnlockedAlertState.POSTED, "2.000001")
    assert second_board.withdrawn == []
