"""Approvals that do not stall: an undecided request is bumped in its own thread.

Every `remind_after` (counted from filing) its approvers are mentioned again; once `escalate_after`
has passed, `escalate_to` is mentioned too: once as an escalation, and in every later reminder.
Each request's next reminder is a row with an indexed due time, so each tick costs one query;
a reminder is taken by one conditional write, so across instances each is sent once, and one due
while lockbot was stopped is sent once at start (never one per missed interval). Reminders stop
when the request is decided, cancelled or expires: a reminder is only taken while its request is
pending and unexpired.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.model import ActionView, ReminderHistory, RequestReminder, RequestState, UnlockRequest, utcnow
from bot.policy import DoorRules, Policy
from bot.ticks import run_every_tick

__all__ = [
    "DueReminder",
    "HistoryStore",
    "Reminder",
    "ReminderHistories",
    "ReminderMessenger",
    "ReminderPost",
    "ReminderStore",
    "Reminders",
    "first_reminder_due",
    "next_reminder_due",
    "reminder_at",
    "reminder_history",
]

log = logging.getLogger(__name__)

# A reminder Slack did not take is tried again after 2, 4, 8… seconds, at most this often.
_MAX_FAILURES = 8
_FIRST_RETRY_SECONDS = 2.0
_LONGEST_RETRY_SECONDS = 120.0


# -- the pure decision: when, and whom ------------------------------------------------------------


def _escalation_at(rules: DoorRules, created_at: datetime) -> datetime | None:
    """When escalate_to is to be mentioned; None when the policy escalates to nobody."""
    if rules.escalate_after is None or not rules.escalate_to:
        return None
    return created_at + rules.escalate_after


def next_reminder_due(
    rules: DoorRules, created_at: datetime, expires_at: datetime, *, now: datetime, escalated: bool
) -> datetime | None:
    """The first reminder time strictly after `now`, or None if none comes before the request expires.

    Reminders fall every `remind_after` from filing (not from the last one sent: one sent late, as
    at a start after downtime, does not shift the rest); the escalation, while not sent, at
    `escalate_after` from filing.
    """
    candidates = []
    escalation = _escalation_at(rules, created_at)
    # A policy naming no approvers has nobody to remind, until there is someone escalated to.
    someone = rules.approvers != frozenset() or (escalated and escalation is not None)
    if rules.remind_after is not None and rules.remind_after > timedelta(0) and someone:
        intervals = (now - created_at) // rules.remind_after
        candidates.append(created_at + (max(0, intervals) + 1) * rules.remind_after)
    if escalation is not None and not escalated and escalation > now:
        candidates.append(escalation)
    if not candidates:
        return None
    due = min(candidates)
    return due if due < expires_at else None


def first_reminder_due(rules: DoorRules, created_at: datetime, expires_at: datetime) -> datetime | None:
    """When a request filed at `created_at` is first bumped; None: never."""
    return next_reminder_due(rules, created_at, expires_at, now=created_at, escalated=False)


@dataclass(frozen=True)
class Reminder:
    """One bump of an undecided request: whom it mentions and how long the requester has waited."""

    request: UnlockRequest
    waited: timedelta
    approvers: frozenset[str] | None  # None: workspace admins and owners (named, never pinged)
    escalate_to: frozenset[str]  # mentioned too; empty until the escalation
    escalating: bool  # this one escalates: escalate_to is mentioned for the first time


def reminder_at(rules: DoorRules, request: UnlockRequest, now: datetime, *, escalated: bool) -> Reminder:
    """The reminder due at `now`: an escalation if escalate_after has passed and none was sent yet."""
    escalation = _escalation_at(rules, request.created_at)
    escalating = escalation is not None and not escalated and now >= escalation
    return Reminder(
        request=request,
        waited=max(timedelta(0), now - request.created_at),
        approvers=rules.approvers,
        escalate_to=rules.escalate_to if escalated or escalating else frozenset(),
        escalating=escalating,
    )


def reminder_history(rules: DoorRules, stored: RequestReminder | None) -> ReminderHistory | None:
    """Who was reminded and when, as the request's message shows it; None while nobody was reminded."""
    if stored is None or stored.reminded_at is None:
        return None
    escalated = stored.escalated_at is not None and bool(rules.escalate_to)
    return ReminderHistory(
        approvers=rules.approvers,
        reminded_at=stored.reminded_at,
        escalate_to=rules.escalate_to if escalated else frozenset(),
        escalated_at=stored.escalated_at if escalated else None,
    )


# -- the scheduler ----------------------------------------------------------------------------------


class ReminderPost(StrEnum):
    """How posting a reminder went."""

    POSTED = "posted"
    FAILED_FOR_NOW = "failed_for_now"  # worth another try (Slack down, rate limited, the network)
    FAILED_FOR_GOOD = "failed_for_good"  # no retry changes it (the bot left the channel, say)


@dataclass(frozen=True)
class DueReminder:
    reminder: RequestReminder
    request: UnlockRequest


class ReminderStore(Protocol):
    """What the scheduler needs of the database (`bot.store.Store` is one)."""

    async def due_reminders(self, now: datetime, *, limit: int) -> list[DueReminder]: ...

    async def take_reminder(
        self, reminder: RequestReminder, *, now: datetime, next_due: datetime | None
    ) -> RequestReminder | None: ...

    async def reminder_sent(self, request_id: str, *, at: datetime, escalated: bool) -> None: ...

    async def retry_reminder(self, taken: RequestReminder, *, due_at: datetime) -> bool: ...

    async def end_reminders(self, reminder: RequestReminder) -> None: ...

    async def request(self, request_id: str) -> UnlockRequest | None: ...


class ReminderMessenger(Protocol):
    """The Slack edge's part (`bot.slack.reporter.SlackReminderMessenger`)."""

    async def remind(self, reminder: Reminder) -> ReminderPost:
        """Reply in the request's thread, mentioning whom the reminder names; never raise."""

    async def show_reminded(self, request: UnlockRequest, history: ReminderHistory) -> None:
        """Show on the (pending) request message who was reminded and when; never raise."""

    async def show(self, request: UnlockRequest) -> None:
        """Show a request's decision on its message (as `RequestMessenger.show`); never raise."""


def _retry_delay(failures: int) -> timedelta:
    return timedelta(seconds=min(_LONGEST_RETRY_SECONDS, _FIRST_RETRY_SECONDS * 2 ** max(0, failures - 1)))


class Reminders:
    """Sends due reminders: one indexed query per tick, each reminder taken by one instance."""

    def __init__(
        self,
        store: ReminderStore,
        messenger: ReminderMessenger,
        policy: Policy,
        *,
        clock: Callable[[], datetime] = utcnow,
        tick_seconds: float = 0.5,
        batch: int = 100,
    ) -> None:
        self._store = store
        self._messenger = messenger
        self._policy = policy
        self._clock = clock
        self._tick_seconds = tick_seconds
        self._batch = batch

    async def run(self) -> None:
        """Until cancelled: every tick, send the reminders that are due (the first tick at once)."""
        await run_every_tick(self.run_due, tick_seconds=self._tick_seconds, batch=self._batch, what="reminders")

    async def run_due(self) -> int:
        """Send each reminder due now that no other instance took first. Returns how many were due."""
        now = self._clock()
        due = await self._store.due_reminders(now, limit=self._batch)
        for item in due:
            await self._send(item, now)
        return len(due)

    async def _send(self, item: DueReminder, now: datetime) -> None:
        request, stored = item.request, item.reminder
        if request.state is not RequestState.PENDING or now >= request.expires_at or request.message_ts is None:
            await self._store.end_reminders(stored)  # decided, cancelled or expired: no more
            return
        rules = self._policy.rules_for_door(request.device_id, request.door)
        escalated = stored.escalated_at is not None
        reminder = reminder_at(rules, request, now, escalated=escalated)
        next_due = next_reminder_due(
            rules, request.created_at, request.expires_at, now=now, escalated=escalated or reminder.escalating
        )
        taken = await self._store.take_reminder(stored, now=now, next_due=next_due)
        if taken is None:
            return  # another instance took it, or the request was decided meanwhile
        lateness = (now - stored.due_at).total_seconds() if stored.due_at is not None else 0.0
        posted = await self._messenger.remind(reminder)
        if posted is ReminderPost.POSTED:
            log.info(
                "reminded the approvers of request %s (%s)%s, %.1f s after it was due",
                request.id,
                request.door,
                ", escalated" if reminder.escalating else "",
                lateness,
            )
            await self._store.reminder_sent(request.id, at=now, escalated=reminder.escalating)
            history = ReminderHistory(
                approvers=reminder.approvers,
                reminded_at=now,
                escalate_to=reminder.escalate_to,
                escalated_at=stored.escalated_at or (now if reminder.escalating else None),
            )
            await self._messenger.show_reminded(request, history)
            await self._show_if_decided_meanwhile(request.id)
            return
        failures = taken.failures + 1
        if posted is ReminderPost.FAILED_FOR_NOW and failures < _MAX_FAILURES:
            retry_at = now + _retry_delay(failures)
            if next_due is not None:
                retry_at = min(retry_at, next_due)
            if retry_at < request.expires_at and await self._store.retry_reminder(taken, due_at=retry_at):
                log.error(
                    "could not post the reminder of request %s (%s) in %s (try %d): trying again at %s",
                    request.id,
                    request.door,
                    request.channel,
                    failures,
                    retry_at.isoformat(),
                )
                return
        log.error(
            "could not post the reminder of request %s (%s) in %s (try %d): given up; the next is due %s",
            request.id,
            request.door,
            request.channel,
            failures,
            next_due.isoformat() if next_due is not None else "never",
        )

    async def _show_if_decided_meanwhile(self, request_id: str) -> None:
        """The reminded message shows buttons: a decision shown before that edit is shown again."""
        request = await self._store.request(request_id)
        if request is not None and request.state is not RequestState.PENDING:
            await self._messenger.show(request)


# -- the history a request message shows ----------------------------------------------------------


class HistoryStore(Protocol):
    async def reminder_of(self, request_id: str) -> RequestReminder | None: ...


class ReminderHistories:
    """Attaches to a request, before its message is shown, who was reminded of it and when: the
    message keeps that line once the request is decided, cancelled or expired, and as its unlock runs."""

    def __init__(self, store: HistoryStore, policy: Policy) -> None:
        self._store = store
        self._policy = policy

    async def attach(self, request: UnlockRequest) -> UnlockRequest:
        """The request with its reminder history (as it was, if that cannot be read now: never raises)."""
        if request.reminded is not None:
            return request
        try:
            stored = await self._store.reminder_of(request.id)
        except Exception:
            log.warning("could not read the reminders of request %s to show them", request.id, exc_info=True)
            return request
        history = reminder_history(self._policy.rules_for_door(request.device_id, request.door), stored)
        return replace(request, reminded=history) if history is not None else request

    async def attach_to_action(self, view: ActionView) -> ActionView:
        """The action's view with the history on the approved request whose message is its parent."""
        if view.request is not None:
            view = replace(view, request=await self.attach(view.request))
        if view.ends is not None and view.ends.request is not None:
            view = replace(view, ends=replace(view.ends, request=await self.attach(view.ends.request)))
        return view
