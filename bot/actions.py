"""Door actions: one lock or unlock, from the request to its shown and audited outcome.

An action is stored before anything is done, and its state moves queued -> requesting ->
pending -> succeeded / failed / not confirmed. It is shown through an `ActionReporter` (the
Slack edge: a parent message and a status message in its thread). After a restart `resume`
finishes what was in flight; an action that may already have reached Seam is never sent again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.leases import ACTION_LEASE, ActionLeases, LeaseStore
from bot.logs import about_action
from bot.model import (
    ActionKind,
    ActionProblem,
    ActionRecord,
    ActionState,
    ActionThread,
    ActionView,
    AuditEntry,
    CannotReport,
    Lock,
    ProblemReason,
    Relock,
    TimedUnlockEnd,
    UnlockRequest,
    new_id,
    utcnow,
)
from bot.resumption import Resumption, resumption
from bot.seam import ActionAttempt, ActionType, SeamClient, SeamError, SeamServerError
from bot.tracking import AttemptOutcome, AttemptTracker

__all__ = ["ActionReporter", "ActionStore", "DoorActions", "FinalListener", "action_view"]

log = logging.getLogger(__name__)


# Relocks whose messages and outcome are worked on at once after their lock was sent (see _run_relock).
_RELOCK_MESSAGES_AT_ONCE = 2

_SEAM_ACTION_TYPE = {ActionKind.LOCK: ActionType.LOCK_DOOR, ActionKind.UNLOCK: ActionType.UNLOCK_DOOR}


class ActionStore(LeaseStore, Protocol):
    """What the runner needs of the database (`bot.store.Store` is one)."""

    async def add_action(self, record: ActionRecord, *, owner: str, lease_until: datetime) -> None: ...

    async def add_lock_unless_in_flight(
        self, record: ActionRecord, *, owner: str, lease_until: datetime
    ) -> ActionRecord | None: ...

    async def request(self, request_id: str) -> UnlockRequest | None: ...

    async def remember_thread(
        self, record: ActionRecord, at: datetime, thread: ActionThread, *, owner: str
    ) -> ActionRecord | None: ...

    async def mark_requesting(
        self, record: ActionRecord, at: datetime, *, owner: str, parent_ts: str | None, status_ts: str | None
    ) -> ActionRecord | None: ...

    async def mark_pending(
        self, record: ActionRecord, at: datetime, attempt_id: str, *, owner: str
    ) -> ActionRecord | None: ...

    async def finish(
        self,
        record: ActionRecord,
        at: datetime,
        state: ActionState,
        *,
        audit: AuditEntry,
        problem: ActionProblem | None,
        status_ts: str | None,
        attempt_id: str | None,
        confirmed_by_device: bool | None,
        relock: Relock | None = None,
    ) -> ActionRecord | None: ...


class ActionReporter(Protocol):
    async def open(self, channel: str, view: ActionView) -> ActionThread:
        """Post the parent and status messages; raise CannotReport if that is impossible."""

    async def open_in_thread(self, channel: str, parent_ts: str, view: ActionView) -> ActionThread:
        """Show the action under an existing parent (an approved request); raise CannotReport."""

    async def show(self, thread: ActionThread, view: ActionView) -> ActionThread:
        """Show the view; never raise. Returns the thread, whose status message may have moved."""


def _unknown_outcome(error: SeamError) -> ActionProblem:
    # Seam may have acted on it: say so rather than guess (a server error is told by its status).
    status = error.status if isinstance(error, SeamServerError) else None
    return ActionProblem(ProblemReason.SEAM_OUTCOME_UNKNOWN, detail=error.user_message, status=status)


def _refused(error: SeamError) -> ActionProblem:
    return ActionProblem(
        ProblemReason.SEAM_REFUSED, detail=error.user_message, error_type=error.error_type, status=error.status
    )


def _attempt_failed(attempt: ActionAttempt) -> ActionProblem:
    error = attempt.error
    if error is None:
        return ActionProblem(ProblemReason.ATTEMPT_FAILED)
    return ActionProblem(ProblemReason.ATTEMPT_FAILED, detail=error.message or None, error_type=error.type)


def _not_announced(error: CannotReport) -> ActionProblem:
    # The edge's words for why it could not post (reporter.py words Slack's refusal): carried as they are.
    return ActionProblem(ProblemReason.NOT_ANNOUNCED, detail=error.user_message, error_type=error.slack_error)


def _could_not_post(error: CannotReport) -> ActionProblem:
    return ActionProblem(ProblemReason.STATUS_NOT_POSTED, detail=error.user_message, error_type=error.slack_error)


@dataclass
class _Running:
    record: ActionRecord
    view: ActionView
    thread: ActionThread | None
    lock: asyncio.Lock


FinalListener = Callable[[ActionRecord, ActionView], Awaitable[None]]


class DoorActions:
    """Runs lock and unlock actions, keeps their messages and records up to date, audits them."""

    def __init__(
        self,
        seam: SeamClient,
        tracker: AttemptTracker,
        reporter: ActionReporter,
        store: ActionStore,
        *,
        timeout_seconds: float,
        clock: Callable[[], datetime] = utcnow,
        owner: str | None = None,
        lease: timedelta = ACTION_LEASE,
    ) -> None:
        self._leases = ActionLeases(store, clock, owner=owner, lease=lease)
        self._seam = seam
        self._tracker = tracker
        self._reporter = reporter
        self._store = store
        self._timeout_seconds = timeout_seconds
        self._clock = clock
        self._final_listeners: list[FinalListener] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._timed_unlock_ended_by: Callable[[ActionRecord], Awaitable[TimedUnlockEnd | None]] | None = None
        self._relock_messages = asyncio.Semaphore(_RELOCK_MESSAGES_AT_ONCE)

    @property
    def lease(self) -> timedelta:
        """How long an action stays this instance's without renewing (an approval's action is stored with it)."""
        return self._leases.lease

    @property
    def owner(self) -> str:
        """This instance, as it holds leases."""
        return self._leases.owner

    def lease_until(self) -> datetime:
        """When a lease taken now runs out (a relock's action is stored with it)."""
        return self._leases.until()

    def show_timed_unlocks_with(self, ended_by: Callable[[ActionRecord], Awaitable[TimedUnlockEnd | None]]) -> None:
        """After a restart, a lock action taken up again asks `ended_by` which timed unlock it ends (its
        parent is that unlock's), as `start_relock` is told when it starts."""
        self._timed_unlock_ended_by = ended_by

    def on_final(self, listener: FinalListener) -> None:
        """Call `listener` after an action's outcome is stored and shown."""
        self._final_listeners.append(listener)

    async def run(
        self,
        kind: ActionKind,
        lock: Lock,
        requested_by: str,
        channel: str,
        *,
        reason: str = "",
        unlock_for: timedelta | None = None,
    ) -> ActionThread:
        """Announce the action, ask Seam, and follow it to its end in the background.

        `unlock_for`: an unlock locks the door again this long after it succeeded.

        Raises CannotReport, before touching the door, when the action cannot be announced.
        """
        now = self._clock()
        record = ActionRecord(
            id=new_id(),
            kind=kind,
            device_id=lock.device_id,
            door=lock.name,
            requested_by=requested_by,
            reason=reason,
            channel=channel,
            state=ActionState.QUEUED,
            created_at=now,
            updated_at=now,
            unlock_for=unlock_for,
        )
        await self._store.add_action(record, owner=self._leases.owner, lease_until=self._leases.until())
        return await self._run_stored(record)

    async def lock_unless_in_flight(self, lock: Lock, requested_by: str, channel: str) -> ActionThread | ActionRecord:
        """A lock, run as `run` runs it, unless a lock of this door is still on its way: then nothing
        is sent, and that lock's record is returned (a double press must not send two locks at once).

        Raises CannotReport, before touching the door, when the action cannot be announced.
        """
        now = self._clock()
        record = ActionRecord(
            id=new_id(),
            kind=ActionKind.LOCK,
            device_id=lock.device_id,
            door=lock.name,
            requested_by=requested_by,
            reason="",
            channel=channel,
            state=ActionState.QUEUED,
            created_at=now,
            updated_at=now,
        )
        in_flight = await self._store.add_lock_unless_in_flight(
            record, owner=self._leases.owner, lease_until=self._leases.until()
        )
        if in_flight is not None:
            log.info("lock of %s not sent: action %s is locking it already", lock.device_id, in_flight.id)
            return in_flight
        return await self._run_stored(record)

    async def _run_stored(self, record: ActionRecord) -> ActionThread:
        running = _Running(record, action_view(record, None), None, asyncio.Lock())
        with self._leases.held(record.id):
            try:
                thread = await self._reporter.open(record.channel, running.view)
            except CannotReport as exc:
                await self._finish_unannounced(running, _not_announced(exc))
                raise
            await self._remember_thread(running, thread)
            await self._send(running, thread)
        assert running.thread is not None
        return running.thread

    def start_approved(self, record: ActionRecord, request: UnlockRequest) -> None:
        """Carry out an approved request's stored action in the background."""
        self._spawn(self._run_approved(record, request), f"approved-{record.id}")

    def start_relock(self, record: ActionRecord, ends: TimedUnlockEnd | None = None) -> None:
        """Carry out a relock's lock action in the background, in the unlock's thread
        (`record.parent_ts`); `ends`: the timed unlock it ends, as the unlock's parent shows it. The
        scheduler stored it already requesting and held by this instance, in the write that took the
        relock: it is sent at once, and shown after."""
        self._spawn(self._run_relock(record, ends), f"relock-{record.id}")

    async def _run_relock(self, record: ActionRecord, ends: TimedUnlockEnd | None) -> None:
        # Held since the scheduler took it; only a task that started after that lease ran out asks
        # again, since another instance may have taken it over meanwhile.
        late = self._clock() >= record.updated_at + self._leases.lease
        if late and not await self._leases.claim(record.id):
            log.info("relock action %s is already in another instance's hands", record.id)
            return
        running = _Running(record, replace(action_view(record, None), ends=ends), None, asyncio.Lock())
        with self._leases.held(record.id):
            # The lock goes first: a relock's time is the door's, and its messages follow it. When
            # many fall due at once, only a few relocks' messages are worked on at a time, so the
            # event loop stays free for the locks still to send; the messages catch up after.
            answer, answered = await self._request(running)
            async with self._relock_messages:
                try:
                    await self._open_relock_thread(running)
                except Exception:
                    log.exception("relock %s: could not show it; following it all the same", record.id)
                await self._take_answer(running, answer, answered)

    async def _open_relock_thread(self, running: _Running) -> None:
        """Show the relock in the unlock's thread (a retry: the try before's status message, edited)."""
        record = running.record
        assert record.parent_ts is not None
        try:
            if record.thread is not None:
                thread = await self._reporter.show(record.thread, running.view)
            else:
                thread = await self._reporter.open_in_thread(record.channel, record.parent_ts, running.view)
        except CannotReport:
            # Locking is never held back for want of a message: sent all the same, shown nowhere.
            log.warning("relock %s: could not post in the unlock's thread", record.id)
            return
        await self._remember_thread(running, thread)

    async def _run_approved(self, record: ActionRecord, request: UnlockRequest) -> None:
        if not await self._leases.claim(record.id):
            log.info("approved action %s is already in another instance's hands", record.id)
            return
        running = _Running(record, action_view(record, request), None, asyncio.Lock())
        with self._leases.held(record.id):
            if request.message_ts is None:
                await self._finish(
                    running, ActionState.FAILED, problem=ActionProblem(ProblemReason.REQUEST_MESSAGE_MISSING)
                )
                return
            try:
                thread = await self._reporter.open_in_thread(request.channel, request.message_ts, running.view)
            except CannotReport as exc:
                # Nothing was sent; the requester still hears of it (the final listeners).
                await self._finish(running, ActionState.FAILED, problem=_could_not_post(exc))
                return
            await self._remember_thread(running, thread)
            await self._send(running, thread)

    async def resume(self) -> int:
        """Take over every action whose holder stopped renewing its lease (a restart, a dead
        instance), and finish it. Returns how many were taken."""
        records = await self._leases.take_orphans()
        for record in records:
            request = await self._store.request(record.request_id) if record.request_id else None
            view = action_view(record, request)
            if self._timed_unlock_ended_by is not None and record.kind is ActionKind.LOCK and request is None:
                view = replace(view, ends=await self._timed_unlock_ended_by(record))
            running = _Running(record, view, record.thread, asyncio.Lock())
            self._spawn(self._resume_one(running, request), f"resume-{record.id}")
        return len(records)

    async def keep_leases(self) -> None:
        """Until cancelled: renew the leases of this instance's actions, and take over orphans."""
        await self._leases.keep(self.resume)

    async def _resume_one(self, running: _Running, request: UnlockRequest | None) -> None:
        with self._leases.held(running.record.id):
            await self._carry_on(running, request)

    async def _carry_on(self, running: _Running, request: UnlockRequest | None) -> None:
        record = running.record
        log.info("resuming action %s (%s %s, %s)", record.id, record.kind, record.device_id, record.state)
        decision = resumption(record, request, self._clock())
        if decision is Resumption.FOLLOW:
            assert record.attempt_id is not None
            self._follow(running, record.attempt_id, started_at=record.updated_at)
        elif decision is Resumption.DROP_UNSENT_UNLOCK:
            await self._finish_unannounced(running, ActionProblem(ProblemReason.NOT_SENT_INTERRUPTED))
        elif decision is Resumption.SEND:
            if running.thread is None:
                try:
                    if request is not None and request.message_ts:
                        thread = await self._reporter.open_in_thread(request.channel, request.message_ts, running.view)
                    elif record.parent_ts:  # a relock, in its unlock's thread
                        thread = await self._reporter.open_in_thread(record.channel, record.parent_ts, running.view)
                    else:
                        thread = await self._reporter.open(record.channel, running.view)
                except CannotReport as exc:
                    if request is None:
                        await self._finish_unannounced(running, _not_announced(exc))
                    else:  # the requester still hears of it (the final listeners)
                        await self._finish(running, ActionState.FAILED, problem=_could_not_post(exc))
                    return
                await self._remember_thread(running, thread)
            await self._send(running, running.thread)
        elif decision is Resumption.TOO_OLD:
            await self._finish(running, ActionState.FAILED, problem=ActionProblem(ProblemReason.RESTARTED_TOO_LONG_AGO))
        else:
            await self._finish(
                running, ActionState.NOT_CONFIRMED, problem=ActionProblem(ProblemReason.RESTARTED_WHILE_ASKING)
            )

    async def _remember_thread(self, running: _Running, thread: ActionThread) -> None:
        """Store where the action is shown as soon as it is: after a crash before it is sent, a restart
        finishes these messages instead of leaving them saying "Working" for good."""
        running.thread = thread
        remembered = await self._store.remember_thread(running.record, self._clock(), thread, owner=self._leases.owner)
        if remembered is not None:
            running.record = remembered

    async def _send(self, running: _Running, thread: ActionThread | None) -> None:
        running.thread = thread
        # Stored before the call: after a crash from here on, Seam may have acted, so never resend.
        # Only from queued and only while held by this instance: exactly one instance sends it.
        requesting = await self._store.mark_requesting(
            running.record,
            self._clock(),
            owner=self._leases.owner,
            parent_ts=thread.parent_ts if thread else running.record.parent_ts,
            status_ts=thread.status_ts if thread else running.record.status_ts,
        )
        if requesting is None:
            log.warning("action %s was taken over by another instance before it was sent", running.record.id)
            self._leases.release(running.record.id)
            return
        running.record = requesting
        await self._ask_seam(running)

    async def _ask_seam(self, running: _Running) -> None:
        """Send the requesting action to Seam and follow its attempt to the outcome."""
        answer, answered = await self._request(running)
        await self._take_answer(running, answer, answered)

    async def _request(self, running: _Running) -> tuple[ActionAttempt | SeamError, float]:
        """Seam's answer to the requesting action (an attempt, or why there is none), and when it came."""
        record = running.record
        try:
            if record.kind is ActionKind.LOCK:
                attempt = await self._seam.lock_door(record.device_id)
            else:
                attempt = await self._seam.unlock_door(record.device_id)
        except SeamError as exc:
            return exc, time.monotonic()
        return attempt, time.monotonic()

    async def _take_answer(self, running: _Running, answer: ActionAttempt | SeamError, answered: float) -> None:
        """Store and show Seam's answer; follow a pending attempt to its outcome."""
        record = running.record
        kind = record.kind
        if isinstance(answer, SeamError):
            if answer.may_have_acted:
                log.warning("%s %s: outcome unknown at Seam: %s", kind, record.device_id, answer)
                await self._finish(running, ActionState.NOT_CONFIRMED, problem=_unknown_outcome(answer))
            else:
                log.warning("%s %s failed at Seam: %s", kind, record.device_id, answer)
                await self._finish(running, ActionState.FAILED, problem=_refused(answer))
            return
        attempt = answer
        log.info("%s %s: attempt %s %s", kind, record.device_id, attempt.action_attempt_id, attempt.status)
        running.record = replace(running.record, attempt_id=attempt.action_attempt_id)
        if attempt.finished:
            await self._finish_with(running, AttemptOutcome.of(attempt))
            return
        # Followed before anything else, so no failure after Seam answered can leave it unfollowed.
        self._follow(running, attempt.action_attempt_id, started=answered)
        try:
            # Only from requesting, while still held here: never back from an outcome another instance stored.
            pending = await self._store.mark_pending(
                running.record, self._clock(), attempt.action_attempt_id, owner=self._leases.owner
            )
        except Exception:
            # Followed all the same; the outcome (with its attempt id) is stored when it comes.
            log.exception("could not store attempt %s of action %s", attempt.action_attempt_id, record.id)
        else:
            if pending is not None:
                running.record = pending
        await self._show(running, ActionState.PENDING, attempt_id=attempt.action_attempt_id)

    def _follow(
        self,
        running: _Running,
        attempt_id: str,
        *,
        started: float | None = None,
        started_at: datetime | None = None,
    ) -> None:
        """Follow the attempt; it began at monotonic `started`, or at wall-clock `started_at` (after a restart)."""

        async def on_finished(outcome: AttemptOutcome) -> None:
            # Called from the tracker's task: the action is named here again for what is logged.
            with about_action(running.record.id):
                await self._finish_with(running, outcome)

        if started_at is not None:
            started = time.monotonic() - max(0.0, (self._clock() - started_at).total_seconds())
        pending = ActionAttempt(
            action_attempt_id=attempt_id,
            action_type=_SEAM_ACTION_TYPE[running.record.kind],
            status="pending",
        )
        self._tracker.follow(pending, running.record.device_id, on_finished, started=started)

    async def _finish_with(self, running: _Running, outcome: AttemptOutcome) -> None:
        attempt = outcome.attempt
        if outcome.state is ActionState.SUCCEEDED and attempt is not None:
            await self._finish(running, ActionState.SUCCEEDED, confirmed_by_device=attempt.confirmed_by_device)
        elif outcome.state is ActionState.FAILED and attempt is not None:
            await self._finish(running, ActionState.FAILED, problem=_attempt_failed(attempt))
        else:
            await self._finish(
                running, ActionState.NOT_CONFIRMED, problem=outcome.problem, timeout_seconds=self._timeout_seconds
            )

    async def _finish_unannounced(self, running: _Running, why: ActionProblem) -> None:
        """The action was never sent (it could not be shown, or lockbot stopped first): record and audit
        that, and finish its messages if it has any."""
        self._leases.release(running.record.id)
        if running.thread is not None:
            async with running.lock:
                running.view = replace(running.view, state=ActionState.FAILED, problem=why)
                running.thread = await self._reporter.show(running.thread, running.view)
        await self._store.finish(
            running.record,
            self._clock(),
            ActionState.FAILED,
            audit=self._audit_entry(running.record, outcome="not_sent", problem=why),
            problem=why,
            status_ts=running.thread.status_ts if running.thread else running.record.status_ts,
            attempt_id=running.record.attempt_id,
            confirmed_by_device=running.record.confirmed_by_device,
        )

    async def _finish(
        self,
        running: _Running,
        state: ActionState,
        *,
        problem: ActionProblem | None = None,
        confirmed_by_device: bool = True,
        timeout_seconds: float | None = None,
    ) -> None:
        try:
            stored = await self._show_and_store_outcome(
                running,
                state,
                problem=problem,
                confirmed_by_device=confirmed_by_device,
                timeout_seconds=timeout_seconds,
            )
        finally:
            # Finished, or failed to store it: either way no longer this instance's to hold.
            self._leases.release(running.record.id)
        if not stored:
            return
        for listener in self._final_listeners:
            try:
                await listener(running.record, running.view)
            except Exception:
                log.exception("after the outcome of action %s", running.record.id)

    async def _show_and_store_outcome(
        self,
        running: _Running,
        state: ActionState,
        *,
        problem: ActionProblem | None,
        confirmed_by_device: bool,
        timeout_seconds: float | None,
    ) -> bool:
        """Show the final outcome and store it; False if the action had an outcome already."""
        async with running.lock:
            if running.view.state.final:
                return False  # an outcome is never overwritten
            at = self._clock()
            relock = self._relock_after(running, state, at)
            running.view = replace(
                running.view,
                state=state,
                problem=problem,
                confirmed_by_device=confirmed_by_device,
                timeout_seconds=timeout_seconds,
                until=relock.due_at if relock is not None else None,
            )
            # Shown first, stored after: a crash in between leaves the action pending, so after a
            # restart it is asked about and shown again; stored first, it could never be shown.
            if running.thread is not None:
                running.thread = await self._reporter.show(running.thread, running.view)
            stored = await self._store.finish(
                running.record,
                at,
                state,
                audit=self._audit_entry(running.record, outcome=str(state), problem=problem),
                problem=problem,
                status_ts=running.thread.status_ts if running.thread else running.record.status_ts,
                attempt_id=running.record.attempt_id,
                confirmed_by_device=confirmed_by_device,
                relock=relock,
            )
            if stored is None:
                log.info("action %s was already finished elsewhere", running.record.id)
                return False
            running.record = stored
            return True

    @staticmethod
    def _relock_after(running: _Running, state: ActionState, at: datetime) -> Relock | None:
        """The relock a timed unlock's outcome brings: also when not confirmed, since the door may
        then be unlocked, and a door must not be left open for want of a confirmation."""
        record, thread = running.record, running.thread
        if record.kind is not ActionKind.UNLOCK or record.unlock_for is None or thread is None:
            return None
        if state not in (ActionState.SUCCEEDED, ActionState.NOT_CONFIRMED):
            return None
        return Relock(
            unlock_id=record.id,
            device_id=record.device_id,
            door=record.door,
            unlocked_by=record.requested_by,
            channel=thread.channel,
            parent_ts=thread.parent_ts,
            unlocked_at=at,
            due_at=at + record.unlock_for,
        )

    async def _show(self, running: _Running, state: ActionState, *, attempt_id: str | None = None) -> None:
        async with running.lock:
            if running.view.state.final or running.thread is None:
                return
            running.view = replace(running.view, state=state, attempt_id=attempt_id or running.view.attempt_id)
            running.thread = await self._reporter.show(running.thread, running.view)

    def _audit_entry(self, record: ActionRecord, *, outcome: str, problem: ActionProblem | None) -> AuditEntry:
        approved = f"approved by {record.approved_by}" if record.approved_by else None
        return AuditEntry(
            at=self._clock(),
            actor=record.requested_by,
            event=str(record.kind),
            outcome=outcome,
            door=record.door,
            device_id=record.device_id,
            attempt_id=record.attempt_id,
            request_id=record.request_id,
            detail="; ".join(part for part in (approved, record.reason or None) if part) or None,
            problem=problem,
        )

    def _spawn(self, work: Awaitable[None], name: str) -> None:
        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("%s failed", name)

        task = asyncio.create_task(guarded(), name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)


def action_view(record: ActionRecord, request: UnlockRequest | None) -> ActionView:
    """How a stored action is shown (`request`: the approved request it carries out)."""
    return ActionView(
        kind=record.kind,
        door=record.door,
        requested_by=record.requested_by,
        state=record.state,
        problem=record.problem,
        confirmed_by_device=record.confirmed_by_device is not False,
        attempt_id=record.attempt_id,
        reason=record.reason or None,
        request=request,
        action_id=record.id,
    )
