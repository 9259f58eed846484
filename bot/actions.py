"""Door actions: one lock or unlock, from the request to its shown outcome.

An action is reported through an `ActionReporter` (the Slack edge: a parent message and a status
message in its thread) as it goes working -> pending -> succeeded / failed / not confirmed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from bot.seam import ActionAttempt, Lock, SeamClient, SeamError, SeamTimeout
from bot.tracking import AttemptOutcome, AttemptTracker, OutcomeKind

__all__ = [
    "ActionKind",
    "ActionPhase",
    "ActionReporter",
    "ActionThread",
    "ActionView",
    "CannotReport",
    "DoorActions",
    "describe_attempt_error",
]

log = logging.getLogger(__name__)


class ActionKind(StrEnum):
    LOCK = "lock"
    UNLOCK = "unlock"

    @property
    def past(self) -> str:
        return "locked" if self is ActionKind.LOCK else "unlocked"

    @property
    def gerund(self) -> str:
        return "locking" if self is ActionKind.LOCK else "unlocking"


class ActionPhase(StrEnum):
    WORKING = "working"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    NOT_CONFIRMED = "not_confirmed"

    @property
    def final(self) -> bool:
        return self in (ActionPhase.SUCCEEDED, ActionPhase.FAILED, ActionPhase.NOT_CONFIRMED)


@dataclass(frozen=True)
class ActionView:
    """Everything a message about an action shows."""

    kind: ActionKind
    door: str
    requested_by: str
    phase: ActionPhase
    problem: str | None = None  # plain words: why it failed or could not be confirmed
    confirmed_by_device: bool = True
    timeout_seconds: float | None = None
    attempt_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ActionThread:
    """Where an action is shown: the parent message and the status message in its thread."""

    channel: str
    parent_ts: str
    status_ts: str


class CannotReport(Exception):
    """The action could not even be announced, so it was not started."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class ActionReporter(Protocol):
    async def open(self, channel: str, view: ActionView) -> ActionThread:
        """Post the parent and status messages; raise CannotReport if that is impossible."""

    async def show(self, thread: ActionThread, view: ActionView) -> ActionThread:
        """Show the view; never raise. Returns the thread, whose status message may have moved."""


_ATTEMPT_ERRORS = {
    "device_offline": "the lock is offline",
    "device_disconnected": "the lock is offline",
    "hub_disconnected": "the lock's hub is offline",
    "device_removed": "the lock was removed from its account",
    "account_disconnected": "the lock's account is disconnected from Seam",
    "bridge_disconnected": "the lock's bridge is offline",
    "timeout": "the lock did not answer",
}


def describe_attempt_error(attempt: ActionAttempt) -> str:
    """Plain words for why Seam says an action attempt failed."""
    error = attempt.error
    if error is None:
        return "the lock reported an error"
    known = _ATTEMPT_ERRORS.get(error.type)
    if known is not None:
        return known
    return error.message.rstrip(".") or f"the lock reported an error ({error.type})"


def _describe_request_failure(kind: ActionKind, error: SeamError) -> str:
    if isinstance(error, SeamTimeout):
        # Seam may have acted on it: say so rather than guess.
        return f"{error.user_message}, so lockbot cannot tell whether it {kind.past} the door; check /doors"
    return error.user_message


@dataclass
class _Running:
    view: ActionView
    thread: ActionThread
    lock: asyncio.Lock


class DoorActions:
    """Runs lock and unlock actions and keeps their messages up to date."""

    def __init__(
        self,
        seam: SeamClient,
        tracker: AttemptTracker,
        reporter: ActionReporter,
        *,
        timeout_seconds: float,
    ) -> None:
        self._seam = seam
        self._tracker = tracker
        self._reporter = reporter
        self._timeout_seconds = timeout_seconds

    async def run(
        self, kind: ActionKind, lock: Lock, requested_by: str, channel: str, *, reason: str | None = None
    ) -> ActionThread:
        """Announce the action, ask Seam, and follow it to its end in the background.

        Raises CannotReport, before touching the door, when the action cannot be announced.
        """
        view = ActionView(kind, lock.name, requested_by, ActionPhase.WORKING, reason=reason or None)
        thread = await self._reporter.open(channel, view)
        running = _Running(view, thread, asyncio.Lock())
        try:
            if kind is ActionKind.LOCK:
                attempt = await self._seam.lock_door(lock.device_id)
            else:
                attempt = await self._seam.unlock_door(lock.device_id)
        except SeamError as exc:
            log.warning("%s %s failed at Seam: %s", kind, lock.device_id, exc)
            await self._show(running, ActionPhase.FAILED, problem=_describe_request_failure(kind, exc))
            return running.thread
        log.info("%s %s: attempt %s %s", kind, lock.device_id, attempt.action_attempt_id, attempt.status)
        if attempt.finished:
            await self._finish(running, AttemptOutcome(_outcome_kind(attempt), attempt))
            return running.thread
        await self._show(running, ActionPhase.PENDING, attempt_id=attempt.action_attempt_id)

        async def on_finished(outcome: AttemptOutcome) -> None:
            await self._finish(running, outcome)

        self._tracker.follow(attempt, lock.device_id, on_finished)
        return running.thread

    async def _finish(self, running: _Running, outcome: AttemptOutcome) -> None:
        attempt = outcome.attempt
        if outcome.kind is OutcomeKind.SUCCEEDED and attempt is not None:
            await self._show(running, ActionPhase.SUCCEEDED, confirmed_by_device=attempt.confirmed_by_device)
        elif outcome.kind is OutcomeKind.FAILED and attempt is not None:
            await self._show(running, ActionPhase.FAILED, problem=describe_attempt_error(attempt))
        else:
            await self._show(
                running,
                ActionPhase.NOT_CONFIRMED,
                problem=outcome.problem,
                timeout_seconds=self._timeout_seconds,
            )

    async def _show(
        self,
        running: _Running,
        phase: ActionPhase,
        *,
        problem: str | None = None,
        confirmed_by_device: bool = True,
        timeout_seconds: float | None = None,
        attempt_id: str | None = None,
    ) -> None:
        async with running.lock:
            if running.view.phase.final:
                return  # an outcome is never overwritten
            running.view = replace(
                running.view,
                phase=phase,
                problem=problem,
                confirmed_by_device=confirmed_by_device,
                timeout_seconds=timeout_seconds,
                attempt_id=attempt_id or running.view.attempt_id,
            )
            running.thread = await self._reporter.show(running.thread, running.view)


def _outcome_kind(attempt: ActionAttempt) -> OutcomeKind:
    return OutcomeKind.SUCCEEDED if attempt.status == "success" else OutcomeKind.FAILED
