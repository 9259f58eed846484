"""Unlock requests: filed by people who may not unlock directly, decided by a door's approvers.

The first decision wins by one conditional write, so double clicks, clicks on two instances, or
clicks after expiry or cancellation change nothing. Expiry is durable: a request that expired
while lockbot was down is expired at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.actions import DoorActions
from bot.model import (
    ActionKind,
    ActionRecord,
    ActionState,
    ActionView,
    AuditEntry,
    CannotReport,
    Lock,
    RequestState,
    UnlockRequest,
    new_id,
    utcnow,
)
from bot.policy import DoorRules, PeopleDirectory, PeopleUnavailable, Policy, may_approve
from bot.reminders import first_reminder_due
from bot.replies import Problem, ProblemReason
from bot.seam import SeamError

__all__ = [
    "AlreadyDecided",
    "Decided",
    "Decision",
    "DecisionRefused",
    "DecisionResult",
    "Refusal",
    "RequestFiled",
    "RequestGone",
    "RequestListener",
    "RequestMessenger",
    "RequestStore",
    "UnlockRequests",
]

log = logging.getLogger(__name__)

_NOTE_LIMIT = 500
# The longest the expiry loop sleeps without looking again.
_EXPIRY_IDLE_SECONDS = 30.0
# A decision stored this long ago and still not shown was cut short by a stop (no live instance is on it).
_ANNOUNCE_GRACE = timedelta(seconds=30)


class Decision(StrEnum):
    APPROVE = "approve"
    DENY = "deny"
    CANCEL = "cancel"


_STATE_OF = {
    Decision.APPROVE: RequestState.APPROVED,
    Decision.DENY: RequestState.DENIED,
    Decision.CANCEL: RequestState.CANCELLED,
}


class RequestMessenger(Protocol):
    """How requests are shown (the Slack edge)."""

    async def post(self, request: UnlockRequest, approvers: frozenset[str] | None) -> str:
        """Post the request with its buttons; returns the message ts. Raises CannotReport."""

    async def show(self, request: UnlockRequest) -> None:
        """Show a request's decision (denied, cancelled, expired) on its message; never raise."""

    async def tell_requester(self, request: UnlockRequest, outcome: ActionView | None) -> None:
        """Tell the requester (DM) what became of the request; never raise."""


@dataclass(frozen=True)
class RequestFiled:
    request: UnlockRequest
    approvers: frozenset[str] | None


@dataclass(frozen=True)
class Decided:
    request: UnlockRequest
    decision: Decision


@dataclass(frozen=True)
class AlreadyDecided:
    request: UnlockRequest


class Refusal(StrEnum):
    """Why a click on a request (or a reason for a denial) changed nothing."""

    NOT_THE_DENIER = "not_the_denier"  # only who denied a request may give the reason
    REASON_ALREADY_GIVEN = "reason_already_given"
    EMPTY_REASON = "empty_reason"
    ONLY_REQUESTER_CANCELS = "only_requester_cancels"  # `user` is the requester
    OWN_REQUEST = "own_request"  # nobody approves their own request
    DENY_OWN_REQUEST = "deny_own_request"  # the requester withdraws with Cancel, not Deny
    PROFILE_UNAVAILABLE = "profile_unavailable"
    RULES_UNAVAILABLE = "rules_unavailable"  # the door's rules could not be checked with Seam
    NOT_AN_APPROVER = "not_an_approver"  # of `door`


@dataclass(frozen=True)
class DecisionRefused:
    reason: Refusal
    user: str | None = None
    door: str | None = None


@dataclass(frozen=True)
class RequestGone:
    pass


DecisionResult = Decided | AlreadyDecided | DecisionRefused | RequestGone

RequestListener = Callable[[UnlockRequest], None]


class RequestStore(Protocol):
    """What unlock requests need of the database (`bot.store.Store` is one)."""

    async def add_request(self, request: UnlockRequest) -> None: ...

    async def request(self, request_id: str) -> UnlockRequest | None: ...

    async def set_request_message(
        self, request_id: str, channel: str, message_ts: str, *, first_reminder_due: datetime | None = None
    ) -> None: ...

    async def set_request_note(self, request_id: str, note: str) -> None: ...

    async def decide(
        self,
        request_id: str,
        state: RequestState,
        *,
        by: str,
        at: datetime,
        note: str | None = None,
        audit: AuditEntry | None = None,
        owes_announcement: bool = False,
        then_run: ActionRecord | None = None,
        then_run_lease_until: datetime | None = None,
    ) -> UnlockRequest | None: ...

    async def expire_due(
        self, now: datetime, audit_of: Callable[[UnlockRequest], AuditEntry] | None = None
    ) -> list[UnlockRequest]: ...

    async def announced(self, request_id: str) -> bool: ...

    async def owed_announcements(self, decided_before: datetime) -> list[UnlockRequest]: ...

    async def next_expiry(self) -> datetime | None: ...

    async def audit(self, entry: AuditEntry) -> None: ...


class UnlockRequests:
    def __init__(
        self,
        store: RequestStore,
        policy: Policy,
        people: PeopleDirectory,
        actions: DoorActions,
        messenger: RequestMessenger,
        lock_named: Callable[[str], Awaitable[Lock | None]],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._policy = policy
        self._people = people
        self._actions = actions
        self._messenger = messenger
        self._lock_named = lock_named
        self._clock = clock
        self._expiry_changed = asyncio.Event()
        self._state_listeners: list[RequestListener] = []
        actions.on_final(self._tell_requester_the_outcome)

    def on_state_change(self, listener: RequestListener) -> None:
        """Call `listener` with each request filed (pending) and each decided or expired, once each."""
        self._state_listeners.append(listener)

    def _changed(self, request: UnlockRequest) -> None:
        for listener in self._state_listeners:
            listener(request)

    async def _rules(self, request: UnlockRequest) -> DoorRules:
        """The door's rules, matched on every name Seam gives the lock now, as when it was filed."""
        lock = await self._lock_named(request.device_id)
        if lock is not None:
            return self._policy.rules_for(lock)
        return self._policy.rules_for_door(request.device_id, request.door)

    async def file(
        self, lock: Lock, requester: str, origin_channel: str, reason: str, *, unlock_for: timedelta | None = None
    ) -> RequestFiled | Problem:
        """Ask the door's approvers; approved, the unlock lasts `unlock_for` (None: until locked)."""
        rules = self._policy.rules_for(lock)
        now = self._clock()
        request = UnlockRequest(
            id=new_id(),
            device_id=lock.device_id,
            door=lock.name,
            requester=requester,
            reason=reason,
            origin_channel=origin_channel,
            channel=rules.approval_channel or origin_channel,
            state=RequestState.PENDING,
            created_at=now,
            expires_at=now + rules.request_ttl,
            unlock_for=unlock_for,
        )
        await self._store.add_request(request)
        try:
            message_ts = await self._messenger.post(request, rules.approvers)
        except CannotReport as exc:
            await self._store.decide(request.id, RequestState.CANCELLED, by="lockbot", at=now, note=exc.user_message)
            await self._audit(request, "request", "not_posted", actor=requester, detail=exc.user_message)
            return Problem(ProblemReason.REQUEST_NOT_POSTED, detail=exc.user_message)
        # Its first reminder with its message: a stop between the two would leave it never reminded.
        reminder_due = first_reminder_due(rules, request.created_at, request.expires_at)
        await self._store.set_request_message(request.id, request.channel, message_ts, first_reminder_due=reminder_due)
        request = replace(request, message_ts=message_ts)
        await self._audit(request, "request", "pending", actor=requester, detail=reason or None)
        self._changed(request)
        self._expiry_changed.set()
        return RequestFiled(request, rules.approvers)

    async def decide(
        self, request_id: str, clicker: str, decision: Decision, *, clicked_in: tuple[str, str] | None = None
    ) -> DecisionResult:
        """`clicked_in`: the (channel, ts) of the message whose button was clicked, if Slack said."""
        request = await self._store.request(request_id)
        if request is None:
            return RequestGone()
        if request.state is not RequestState.PENDING:
            return AlreadyDecided(request)
        if request.message_ts is None and clicked_in is not None and clicked_in[0] == request.channel:
            # Posted, but lockbot stopped before it stored where: the click shows where the message is.
            await self._store.set_request_message(request.id, *clicked_in)
            request = replace(request, message_ts=clicked_in[1])
        if self._clock() >= request.expires_at:
            await self.expire_due()
            return AlreadyDecided(await self._store.request(request_id) or request)
        refused = await self._refusal(request, clicker, decision)
        if refused is not None:
            return refused
        now = self._clock()  # after the lookups, so a slow one cannot stretch the request's life
        then_run = None
        if decision is Decision.APPROVE:
            then_run = ActionRecord(
                id=new_id(),
                kind=ActionKind.UNLOCK,
                device_id=request.device_id,
                door=request.door,
                requested_by=request.requester,
                reason=request.reason,
                channel=request.channel,
                state=ActionState.QUEUED,
                created_at=now,
                updated_at=now,
                request_id=request.id,
                approved_by=clicker,
                parent_ts=request.message_ts,
                unlock_for=request.unlock_for,
            )
        decided = await self._store.decide(
            request.id,
            _STATE_OF[decision],
            by=clicker,
            at=now,
            audit=self._audit_entry(request, str(decision), str(_STATE_OF[decision]), actor=clicker),
            owes_announcement=then_run is None,
            then_run=then_run,
            then_run_lease_until=now + self._actions.lease,
        )
        if decided is None:
            return AlreadyDecided(await self._store.request(request_id) or request)
        self._changed(decided)
        if then_run is not None:
            self._actions.start_approved(then_run, decided)  # its action shows and tells
        else:
            await self._announce(decided)
            await self._store.announced(decided.id)
        return Decided(decided, decision)

    async def may_explain_denial(self, request_id: str, denier: str) -> DecisionRefused | None:
        request = await self._store.request(request_id)
        if request is None or request.state is not RequestState.DENIED or request.decided_by != denier:
            return DecisionRefused(Refusal.NOT_THE_DENIER)
        if request.note:
            return DecisionRefused(Refusal.REASON_ALREADY_GIVEN)
        return None

    async def explain_denial(self, request_id: str, denier: str, reason: str) -> UnlockRequest | DecisionRefused:
        """Add the denier's reason to a denied request, show it, and tell the requester."""
        reason = " ".join(reason.split())[:_NOTE_LIMIT]
        refused = await self.may_explain_denial(request_id, denier)
        if refused is not None:
            return refused
        request = await self._store.request(request_id)
        assert request is not None
        if not reason:
            return DecisionRefused(Refusal.EMPTY_REASON)
        await self._store.set_request_note(request_id, reason)
        explained = replace(request, note=reason)
        await self._audit(explained, "deny_reason", "denied", actor=denier, detail=reason)
        await self._messenger.show(explained)
        await self._messenger.tell_requester(explained, None)
        return explained

    async def _refusal(self, request: UnlockRequest, clicker: str, decision: Decision) -> DecisionRefused | None:
        if decision is Decision.CANCEL:
            if clicker != request.requester:
                return DecisionRefused(Refusal.ONLY_REQUESTER_CANCELS, user=request.requester)
            return None
        if clicker == request.requester:
            if decision is Decision.APPROVE:
                return DecisionRefused(Refusal.OWN_REQUEST)
            return DecisionRefused(Refusal.DENY_OWN_REQUEST)
        try:
            person = await self._people.person(clicker)
        except PeopleUnavailable:
            return DecisionRefused(Refusal.PROFILE_UNAVAILABLE)
        try:
            rules = await self._rules(request)
        except SeamError:
            return DecisionRefused(Refusal.RULES_UNAVAILABLE)
        if not may_approve(rules, person):
            return DecisionRefused(Refusal.NOT_AN_APPROVER, door=request.door)
        return None

    async def expire_due(self) -> list[UnlockRequest]:
        """Expire every request past its time (once, whichever instance gets there first)."""
        expired = await self._store.expire_due(
            self._clock(), lambda request: self._audit_entry(request, "expire", "expired", actor="lockbot")
        )
        for request in expired:
            log.info("request %s for %s expired", request.id, request.door)
            self._changed(request)
            await self._announce(request)
            await self._store.announced(request.id)
        return expired

    async def announce_owed(self) -> int:
        """Show and tell decisions that lockbot stopped before showing (once, whichever instance).

        Only those decided a while ago: a live instance may be announcing a fresh one right now.
        """
        owed = await self._store.owed_announcements(self._clock() - _ANNOUNCE_GRACE)
        told = 0
        for request in owed:
            if await self._store.announced(request.id):  # claimed here: no other instance tells it too
                log.info("request %s: showing its %s decision, which a stop cut short", request.id, request.state)
                await self._announce(request)
                told += 1
        return told

    async def _announce(self, request: UnlockRequest) -> None:
        """The decision on the request's message; the requester told of a denial or expiry (a cancel is theirs)."""
        await self._messenger.show(request)
        if request.state in (RequestState.DENIED, RequestState.EXPIRED):
            await self._messenger.tell_requester(request, None)

    async def run_expiry(self) -> None:
        """Expire requests as their time comes, until cancelled."""
        while True:
            # Cleared before looking, so a request filed meanwhile still wakes the loop.
            self._expiry_changed.clear()
            try:
                await self.expire_due()
                await self.announce_owed()
                next_expiry = await self._store.next_expiry()
            except Exception:
                log.exception("expiring requests failed; trying again shortly")
                next_expiry = None
            wait = _EXPIRY_IDLE_SECONDS
            if next_expiry is not None:
                wait = min(wait, max(0.05, (next_expiry - self._clock()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._expiry_changed.wait(), wait)

    async def _tell_requester_the_outcome(self, record: ActionRecord, view: ActionView) -> None:
        if view.request is not None:
            await self._messenger.tell_requester(view.request, view)

    async def _audit(
        self, request: UnlockRequest, event: str, outcome: str, *, actor: str, detail: str | None = None
    ) -> None:
        await self._store.audit(self._audit_entry(request, event, outcome, actor=actor, detail=detail))

    def _audit_entry(
        self, request: UnlockRequest, event: str, outcome: str, *, actor: str, detail: str | None = None
    ) -> AuditEntry:
        return AuditEntry(
            at=self._clock(),
            actor=actor,
            event=event,
            outcome=outcome,
            door=request.door,
            device_id=request.device_id,
            request_id=request.id,
            detail=detail,
        )
