"""Reminders of undecided requests: when the next is due and whom it mentions (pure), and the
scheduler over a real store (SQLite and PostgreSQL): each reminder taken once, stopped by a decision,
one sent late after downtime, a post Slack did not take tried again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.model import (
    ActionKind,
    ActionState,
    ActionView,
    ReminderHistory,
    RequestReminder,
    RequestState,
    UnlockRequest,
    new_id,
)
from bot.policy import DoorRules, Policy
from bot.reminders import (
    Reminder,
    ReminderHistories,
    ReminderPost,
    Reminders,
    first_reminder_due,
    next_reminder_due,
    reminder_at,
)
from bot.store import Store
from tests.databases import DATABASE_KINDS, fresh_database

FILED = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
EXPIRES = FILED + timedelta(minutes=60)
MIN = timedelta(minutes=1)
RULES = DoorRules(
    approvers=frozenset({"U0APPROV01", "S0GUARDS01"}),
    remind_after=10 * MIN,
    escalate_after=25 * MIN,
    escalate_to=frozenset({"S0SECURITY"}),
    request_ttl=60 * MIN,
)


# -- when ---------------------------------------------------------------------------------------------


def test_reminders_fall_every_remind_after_from_filing_and_the_escalation_between() -> None:
    due = first_reminder_due(RULES, FILED, EXPIRES)
    times = []
    escalated = False
    while due is not None:
        times.append(due - FILED)
        escalated = escalated or reminder_at(RULES, request(), due, escalated=escalated).escalating
        due = next_reminder_due(RULES, FILED, EXPIRES, now=due, escalated=escalated)
    assert times == [10 * MIN, 20 * MIN, 25 * MIN, 30 * MIN, 40 * MIN, 50 * MIN]  # none at expiry (60)


def test_an_escalation_on_a_reminder_time_is_one_message() -> None:
    rules = DoorRules(remind_after=10 * MIN, escalate_after=20 * MIN, escalate_to=frozenset({"S0SECURITY"}))
    assert next_reminder_due(rules, FILED, EXPIRES, now=FILED + 10 * MIN, escalated=False) == FILED + 20 * MIN
    at_twenty = reminder_at(rules, request(), FILED + 20 * MIN, escalated=False)
    assert at_twenty.escalating
    assert next_reminder_due(rules, FILED, EXPIRES, now=FILED + 20 * MIN, escalated=True) == FILED + 30 * MIN


def test_a_reminder_sent_late_after_downtime_is_one_and_the_next_keeps_the_rhythm() -> None:
    # Down from minute 5 to minute 47: one reminder at start (escalating), the next at minute 50.
    late = FILED + 47 * MIN
    reminder = reminder_at(RULES, request(), late, escalated=False)
    assert reminder.escalating
    assert next_reminder_due(RULES, FILED, EXPIRES, now=late, escalated=True) == FILED + 50 * MIN


def test_no_reminder_without_remind_after_and_escalation_only_with_someone_to_escalate_to() -> None:
    assert first_reminder_due(DoorRules(), FILED, EXPIRES) is None
    assert first_reminder_due(DoorRules(escalate_after=5 * MIN), FILED, EXPIRES) is None  # escalate_to empty
    only_escalation = DoorRules(escalate_after=5 * MIN, escalate_to=frozenset({"U0BOSS0001"}))
    assert first_reminder_due(only_escalation, FILED, EXPIRES) == FILED + 5 * MIN
    assert next_reminder_due(only_escalation, FILED, EXPIRES, now=FILED + 5 * MIN, escalated=True) is None


def test_a_door_without_approvers_is_not_reminded_until_escalated() -> None:
    nobody = DoorRules(approvers=frozenset(), remind_after=10 * MIN)
    assert first_reminder_due(nobody, FILED, EXPIRES) is None
    escalating = DoorRules(
        approvers=frozenset(), remind_after=10 * MIN, escalate_after=15 * MIN, escalate_to=frozenset({"S0SECURITY"})
    )
    assert first_reminder_due(escalating, FILED, EXPIRES) == FILED + 15 * MIN
    assert next_reminder_due(escalating, FILED, EXPIRES, now=FILED + 15 * MIN, escalated=True) == FILED + 20 * MIN


def test_no_reminder_at_or_after_expiry() -> None:
    assert first_reminder_due(RULES, FILED, FILED + 10 * MIN) is None
    assert next_reminder_due(RULES, FILED, FILED + 15 * MIN, now=FILED + 10 * MIN, escalated=False) is None


# -- whom ---------------------------------------------------------------------------------------------


def test_a_reminder_names_the_approvers_and_once_escalated_escalate_to_as_well() -> None:
    before = reminder_at(RULES, request(), FILED + 10 * MIN, escalated=False)
    assert (before.approvers, before.escalate_to, before.escalating) == (RULES.approvers, frozenset(), False)
    assert before.waited == 10 * MIN
    escalation = reminder_at(RULES, request(), FILED + 25 * MIN, escalated=False)
    assert (escalation.escalate_to, escalation.escalating) == (RULES.escalate_to, True)
    after = reminder_at(RULES, request(), FILED + 30 * MIN, escalated=True)
    assert (after.escalate_to, after.escalating) == (RULES.escalate_to, False)


def test_approvers_left_to_admins_stay_none_for_the_renderer_to_name_without_pinging() -> None:
    assert reminder_at(DoorRules(remind_after=MIN), request(), FILED + MIN, escalated=False).approvers is None


# -- the scheduler over a real store -------------------------------------------------------------------


def request(*, created: datetime = FILED, ttl: timedelta = 60 * MIN) -> UnlockRequest:
    return UnlockRequest(
        id=new_id(),
        device_id="lock_1",
        door="Front Door",
        requester="U0MEMBER01",
        reason="parcel",
        origin_channel="C0GENERAL",
        channel="C0GENERAL",
        state=RequestState.PENDING,
        created_at=created,
        expires_at=created + ttl,
        message_ts="1.000001",
    )


@dataclass
class Messenger:
    answers: list[ReminderPost] = field(default_factory=list)
    sent: list[Reminder] = field(default_factory=list)
    shown: list[ReminderHistory] = field(default_factory=list)
    decided: list[UnlockRequest] = field(default_factory=list)

    async def remind(self, reminder: Reminder) -> ReminderPost:
        answer = self.answers.pop(0) if self.answers else ReminderPost.POSTED
        if answer is ReminderPost.POSTED:
            self.sent.append(reminder)
        return answer

    async def show_reminded(self, request: UnlockRequest, history: ReminderHistory) -> None:
        self.shown.append(history)

    async def show(self, request: UnlockRequest) -> None:
        self.decided.append(request)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


async def filed(store: Store, pending: UnlockRequest) -> UnlockRequest:
    await store.add_request(pending)
    due = first_reminder_due(RULES, pending.created_at, pending.expires_at)
    assert due is not None
    assert pending.message_ts is not None
    await store.set_request_message(pending.id, pending.channel, pending.message_ts, first_reminder_due=due)
    return pending


@pytest.mark.anyio
async def test_the_first_reminder_is_stored_with_the_request_message_in_one_transaction(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        unposted = replace(request(), message_ts=None)
        await store.add_request(unposted)
        assert await store.reminder_of(unposted.id) is None  # a request not posted yet has no reminder

        due = FILED + 10 * MIN
        await store.set_request_message(unposted.id, "C0APPROVE1", "1.000002", first_reminder_due=due)
        assert await store.reminder_of(unposted.id) == RequestReminder(unposted.id, due)
        posted = await store.request(unposted.id)
        assert posted is not None
        assert (posted.channel, posted.message_ts) == ("C0APPROVE1", "1.000002")

        # One transaction: a reminder that cannot be stored (one exists) takes the message with it.
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
            await store.set_request_message(unposted.id, "C0APPROVE1", "2.000002", first_reminder_due=due + MIN)
        kept = await store.request(unposted.id)
        assert kept is not None
        assert kept.message_ts == "1.000002"
        assert await store.reminder_of(unposted.id) == RequestReminder(unposted.id, due)

        without = replace(request(), message_ts=None)
        await store.add_request(without)
        await store.set_request_message(without.id, "C0APPROVE1", "3.000002")  # a policy that never reminds
        assert await store.reminder_of(without.id) is None
    finally:
        await store.close()


@pytest.mark.anyio
async def test_each_due_reminder_is_sent_once_across_instances_and_a_late_one_once(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        pending = await filed(store, request())
        clock = Clock(FILED + 5 * MIN)
        # One messenger shared by both instances: it keeps the order the reminders were sent in.
        messenger = Messenger()
        instances = [Reminders(store, messenger, Policy(RULES), clock=clock) for _ in range(2)]

        assert await instances[0].run_due() == 0  # nothing due yet
        clock.now = FILED + 10 * MIN
        await asyncio.gather(*(instance.run_due() for instance in instances * 3))
        sent = messenger.sent
        assert len(sent) == 1
        assert not sent[0].escalating

        clock.now = FILED + 47 * MIN  # down through the 20, 25, 30 and 40 minute reminders
        await asyncio.gather(*(instance.run_due() for instance in instances * 3))
        sent = messenger.sent
        assert len(sent) == 2
        assert sent[1].escalating
        assert sent[1].escalate_to == RULES.escalate_to
        stored = await store.reminder_of(pending.id)
        assert stored is not None
        assert stored.due_at == FILED + 50 * MIN
        assert stored.escalated_at == FILED + 47 * MIN
        shown = messenger.shown
        assert shown[-1].escalated_at == FILED + 47 * MIN
        assert shown[-1].reminded_at == FILED + 47 * MIN
    finally:
        await store.close()


@pytest.mark.anyio
async def test_a_decided_request_is_reminded_no_more(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        pending = await filed(store, request())
        clock = Clock(FILED + 10 * MIN)
        messenger = Messenger()
        reminders = Reminders(store, messenger, Policy(RULES), clock=clock)
        await reminders.run_due()
        assert len(messenger.sent) == 1
        decided = await store.decide(pending.id, RequestState.DENIED, by="U0APPROV01", at=clock.now)
        assert decided is not None

        clock.now = FILED + 20 * MIN
        assert await reminders.run_due() == 1  # due, found closed, ended
        clock.now = FILED + 30 * MIN
        assert await reminders.run_due() == 0
        assert len(messenger.sent) == 1
        stored = await store.reminder_of(pending.id)
        assert stored is not None
        assert stored.due_at is None
    finally:
        await store.close()


@pytest.mark.anyio
async def test_a_decided_request_and_its_unlock_carry_who_was_reminded_and_when(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        pending = await filed(store, request())
        never_reminded = request()
        await store.add_request(never_reminded)  # as with a policy without remind_after
        clock = Clock(FILED + 10 * MIN)
        reminders = Reminders(store, Messenger(), Policy(RULES), clock=clock)
        await reminders.run_due()
        clock.now = FILED + 25 * MIN
        await reminders.run_due()  # the escalation
        approved = await store.decide(pending.id, RequestState.APPROVED, by="U0APPROV01", at=clock.now)
        assert approved is not None
        histories = ReminderHistories(store, Policy(RULES))

        shown = await histories.attach(approved)

        assert shown.reminded == ReminderHistory(RULES.approvers, FILED + 25 * MIN, RULES.escalate_to, FILED + 25 * MIN)
        assert replace(shown, reminded=None) == approved
        assert (await histories.attach(never_reminded)).reminded is None
        unlock = ActionView(ActionKind.UNLOCK, "Front Door", "U0MEMBER01", ActionState.SUCCEEDED, request=approved)
        assert (await histories.attach_to_action(unlock)).request == shown
        direct = ActionView(ActionKind.UNLOCK, "Front Door", "U0MEMBER01", ActionState.SUCCEEDED)
        assert await histories.attach_to_action(direct) == direct
    finally:
        await store.close()


@pytest.mark.anyio
async def test_a_reminder_slack_did_not_take_is_tried_again_and_one_refused_for_good_is_skipped(
    database_url: str,
) -> None:
    store = await Store.open(database_url)
    try:
        pending = await filed(store, request())
        clock = Clock(FILED + 10 * MIN)
        messenger = Messenger(answers=[ReminderPost.FAILED_FOR_NOW, ReminderPost.FAILED_FOR_NOW])
        reminders = Reminders(store, messenger, Policy(RULES), clock=clock)

        await reminders.run_due()
        stored = await store.reminder_of(pending.id)
        assert stored is not None
        assert stored.due_at == clock.now + timedelta(seconds=2)
        assert stored.failures == 1
        clock.now += timedelta(seconds=2)
        await reminders.run_due()
        stored = await store.reminder_of(pending.id)
        assert stored is not None
        assert stored.due_at == clock.now + timedelta(seconds=4)
        assert stored.failures == 2
        clock.now += timedelta(seconds=4)
        await reminders.run_due()
        assert len(messenger.sent) == 1
        stored = await store.reminder_of(pending.id)
        assert stored is not None
        assert stored.failures == 0
        assert stored.due_at == FILED + 20 * MIN

        messenger.answers = [ReminderPost.FAILED_FOR_GOOD]
        clock.now = FILED + 20 * MIN
        await reminders.run_due()
        stored = await store.reminder_of(pending.id)
        assert stored is not None
        assert stored.due_at == FILED + 25 * MIN
        assert stored.escalated_at is None
    finally:
        await store.close()


@pytest.mark.anyio
async def test_a_decision_shown_while_a_reminder_edited_the_message_is_shown_again(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'lockbot.db'}")
    try:
        pending = await filed(store, request())
        clock = Clock(FILED + 10 * MIN)

        class DecidingMessenger(Messenger):
            async def remind(self, reminder: Reminder) -> ReminderPost:
                await store.decide(pending.id, RequestState.APPROVED, by="U0APPROV01", at=clock.now)
                return await super().remind(reminder)

        messenger = DecidingMessenger()
        await Reminders(store, messenger, Policy(RULES), clock=clock).run_due()
        assert [decided.state for decided in messenger.decided] == [RequestState.APPROVED]
    finally:
        await store.close()
