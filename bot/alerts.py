"""Doors left unlocked: a door unlocked longer than its `alert_unlocked_after` gets one notice in
its notify channel (with a button to lock it), and that notice says so once the door is locked.

What lockbot knows of a door's state comes from Seam's `lock.unlocked` / `lock.locked` events and
from the outcomes of its own actions; when the notice falls due, Seam is asked (`/locks/get`) so a
door locked unheard (no webhook, an event lost, a stop in between) is not alerted. Alerts are kept
in the database: one due while lockbot was stopped is checked and posted at the first tick after
the start, and with several instances each is taken by one conditional write, so posted once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.model import (
    ActionKind,
    ActionRecord,
    ActionState,
    ActionView,
    Lock,
    UnlockedAlert,
    UnlockedAlertState,
    new_id,
    utcnow,
)
from bot.policy import Policy
from bot.relocks import RELOCK_REASON
from bot.seam import SeamDeviceNotFound, SeamError
from bot.seam_events import LockChange
from bot.ticks import run_every_tick

__all__ = ["RELOCKED", "AlertBoard", "AlertNotPosted", "UnlockedAlertStore", "UnlockedAlerts", "alert_claim"]

log = logging.getLogger(__name__)

# `locked_how` of a door locked again by lockbot when its timed unlock ended.
RELOCKED = "relock"
# How long an instance has to check the door and post a notice it took, before another may take it,
# when the app does not size it from its timeouts (`alert_claim`).
_CLAIM = timedelta(minutes=10)
# After a post Slack certainly did not take: tried again after each of these waits, then given up.
_RETRY_AFTER = (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=5))
# Times read back from the database may lose a little precision: a wait is recognised within this.
_READ_BACK_TOLERANCE = timedelta(seconds=1)


def alert_claim(seam_call: timedelta, slack_post: timedelta) -> timedelta:
    """A claim that outlasts the slowest check and post: Seam's `/locks/get` with its retries, then
    Slack's post with its own (each the worst the configured timeouts allow), and a margin."""
    return seam_call + slack_post + timedelta(seconds=30)


class AlertNotPosted(StrEnum):
    """Why `AlertBoard.post_alert` has no notice to show."""

    NOT_TAKEN = "not_taken"  # Slack certainly did not post it (a refusal, a 429, no connection): try again
    UNCERTAIN = "uncertain"  # it may be in the channel (a 5xx, no answer): never posted twice


class UnlockedAlertStore(Protocol):
    """What alerts need of the database (`bot.store.Store` is one)."""

    async def open_unlocked_alert(self, alert: UnlockedAlert) -> bool: ...

    async def due_unlocked_alerts(self, now: datetime, *, limit: int) -> list[UnlockedAlert]: ...

    async def take_unlocked_alert(self, alert: UnlockedAlert, now: datetime, *, until: datetime) -> bool: ...

    async def unlocked_alert_posted(
        self, alert_id: str, notice_ts: str | None, at: datetime, *, claimed_until: datetime
    ) -> bool: ...

    async def retry_unlocked_alert(
        self, alert_id: str, *, claimed_until: datetime, tried_at: datetime, due_at: datetime
    ) -> bool: ...

    async def close_unlocked_alerts(
        self,
        device_id: str,
        *,
        locked_at: datetime,
        by: str | None,
        how: str | None,
        state: UnlockedAlertState = UnlockedAlertState.LOCKED,
    ) -> list[UnlockedAlert]: ...

    async def unlocked_alert(self, alert_id: str) -> UnlockedAlert | None: ...

    async def action_by_attempt(self, attempt_id: str) -> ActionRecord | None: ...


class AlertBoard(Protocol):
    """The Slack edge's part (`bot.slack.reporter.SlackAlertBoard`); never raises."""

    async def post_alert(self, alert: UnlockedAlert, unlocked_for: timedelta) -> str | AlertNotPosted:
        """Post the notice in `alert.channel`; its ts, or why there is none."""

    async def withdraw(self, alert: UnlockedAlert, notice_ts: str) -> None:
        """Delete a notice posted by an instance that had lost its claim (another posts the alert)."""

    async def show_locked(self, alert: UnlockedAlert) -> None:
        """Edit the posted notice (`alert.notice_ts`): the door was locked, by whom and when."""


class UnlockedAlerts:
    """Opens an alert when a door is unlocked, posts the due ones, and closes them when it is locked."""

    def __init__(
        self,
        store: UnlockedAlertStore,
        policy: Policy,
        lock_named: Callable[[str], Awaitable[Lock | None]],
        lock_now: Callable[[str], Awaitable[Lock]],
        board: AlertBoard,
        *,
        clock: Callable[[], datetime] = utcnow,
        tick_seconds: float = 0.5,
        batch: int = 100,
        claim: timedelta = _CLAIM,
    ) -> None:
        self._store = store
        self._claim = claim
        self._policy = policy
        self._lock_named = lock_named
        self._lock_now = lock_now
        self._board = board
        self._clock = clock
        self._tick_seconds = tick_seconds
        self._batch = batch

    async def run(self) -> None:
        """Until cancelled: every tick, post the alerts that are due (the first tick at once)."""
        await run_every_tick(self.run_due, tick_seconds=self._tick_seconds, batch=self._batch, what="unlocked alerts")

    async def run_due(self) -> int:
        """Post each alert due now that no other instance took first. Returns how many were due."""
        now = self._clock()
        due = await self._store.due_unlocked_alerts(now, limit=self._batch)
        for alert in due:
            claim = now + self._claim
            if not await self._store.take_unlocked_alert(alert, now, until=claim):
                continue  # another instance took it, or the door was locked meanwhile
            try:
                await self._post(alert, claim)
            except Exception:
                # Left taken: once the claim runs out it is due again, here or on another instance.
                log.exception("could not post the alert for %s", alert.device_id)
        return len(due)

    async def _post(self, alert: UnlockedAlert, claim: datetime) -> None:
        """Check the door and post the notice of an alert taken with the claim ending at `claim`."""
        try:
            lock: Lock | None = await self._lock_now(alert.device_id)
        except SeamDeviceNotFound:
            log.info("no alert for %s: Seam no longer lists it", alert.device_id)
            await self._store.close_unlocked_alerts(
                alert.device_id, locked_at=self._clock(), by=None, how=None, state=UnlockedAlertState.GONE
            )
            return
        except SeamError as exc:
            # Unknown is not locked: a door that may be open is worth the notice.
            log.warning("could not ask Seam whether %s is locked (%s): alerting all the same", alert.device_id, exc)
            lock = None
        now = self._clock()
        if lock is not None and lock.locked is True:
            log.info("no alert for %s: Seam says it is locked (its lock.locked was not heard)", alert.device_id)
            await self._store.close_unlocked_alerts(alert.device_id, locked_at=now, by=None, how=None)
            return
        shown = replace(alert, door=lock.name) if lock is not None else alert
        posted = await self._board.post_alert(shown, now - alert.unlocked_at)
        if posted is AlertNotPosted.NOT_TAKEN and await self._try_again(alert, claim):
            return
        notice_ts = None if isinstance(posted, AlertNotPosted) else posted
        if notice_ts is not None:
            log.info("alerted: %s unlocked since %s", alert.device_id, alert.unlocked_at.isoformat())
        elif posted is AlertNotPosted.UNCERTAIN:
            log.error("the alert for %s may or may not be in %s: not posted again", alert.device_id, alert.channel)
        if await self._store.unlocked_alert_posted(alert.id, notice_ts, now, claimed_until=claim):
            return
        current = await self._store.unlocked_alert(alert.id)
        if current is not None and current.state is UnlockedAlertState.LOCKED:
            # Locked while it was being posted: the fresh notice must say so at once.
            if notice_ts is not None:
                await self._board.show_locked(replace(current, door=shown.door, notice_ts=notice_ts))
        elif notice_ts is not None and (current is None or current.notice_ts != notice_ts):
            # The claim ran out and another instance took the alert over: its notice is the one kept.
            log.warning("the alert for %s was taken over while it was posted: withdrawn", alert.device_id)
            await self._board.withdraw(shown, notice_ts)

    async def _try_again(self, alert: UnlockedAlert, claim: datetime) -> bool:
        """Put the alert back to be posted after a wait; False once the last wait is over (given up)."""
        now = self._clock()
        waited = (
            alert.due_at - alert.claimed_until
            if alert.state is UnlockedAlertState.PENDING and alert.claimed_until is not None
            else None
        )
        tries = 0 if waited is None else sum(1 for wait in _RETRY_AFTER if wait <= waited + _READ_BACK_TOLERANCE)
        if tries >= len(_RETRY_AFTER):
            log.error(
                "could not post the alert for %s in %s after %d tries: given up (the door may still be unlocked)",
                alert.device_id,
                alert.channel,
                tries + 1,
            )
            return False
        retry_at = now + _RETRY_AFTER[tries]
        if await self._store.retry_unlocked_alert(alert.id, claimed_until=claim, tried_at=now, due_at=retry_at):
            log.error(
                "could not post the alert for %s in %s (try %d): trying again at %s",
                alert.device_id,
                alert.channel,
                tries + 1,
                retry_at.isoformat(),
            )
        return True

    async def door_unlocked(self, device_id: str, at: datetime) -> None:
        """The door was unlocked at `at`: open its alert, if its rules want one and none is open."""
        try:
            lock = await self._lock_named(device_id)
        except SeamError as exc:
            log.warning("no alert opened for %s: could not look the lock up (%s)", device_id, exc)
            return
        if lock is None:
            return  # not a lock lockbot knows
        rules = self._policy.rules_for(lock)
        if rules.notify_channel is None or rules.alert_unlocked_after is None:
            return
        alert = UnlockedAlert(
            id=new_id(),
            device_id=device_id,
            door=lock.name,
            channel=rules.notify_channel,
            unlocked_at=at,
            due_at=at + rules.alert_unlocked_after,
        )
        if await self._store.open_unlocked_alert(alert):
            log.info(
                "%s unlocked: an alert is due at %s unless it is locked first", device_id, alert.due_at.isoformat()
            )

    async def door_locked(self, device_id: str, at: datetime, *, by: str | None, how: str | None) -> None:
        """The door was locked at `at` (by a Slack user through lockbot, or as `how` says): its open
        alerts are closed, and a posted one is edited to say so."""
        for alert in await self._store.close_unlocked_alerts(device_id, locked_at=at, by=by, how=how):
            if alert.notice_ts is not None:
                await self._board.show_locked(alert)

    async def lock_changed(self, change: LockChange) -> None:
        """A listener of Seam's `lock.locked` / `lock.unlocked` events; a failure here is logged and
        never stops the event's notice."""
        try:
            if change.locked and await self._own_action(change.attempt_id):
                return  # lockbot's own lock: its outcome closes the alert, naming who asked
            if change.locked:
                await self.door_locked(change.device_id, change.at, by=None, how=change.method)
            else:
                await self.door_unlocked(change.device_id, change.at)
        except Exception:
            log.exception(
                "could not follow %s of %s for its alert", "lock" if change.locked else "unlock", change.device_id
            )

    async def _own_action(self, attempt_id: str | None) -> bool:
        return attempt_id is not None and await self._store.action_by_attempt(attempt_id) is not None

    async def action_finished(self, record: ActionRecord, view: ActionView) -> None:
        """A final listener of door actions: an unlock that may have worked opens an alert; a lock
        that worked closes it."""
        at = self._clock()
        if record.kind is ActionKind.UNLOCK and view.state in (ActionState.SUCCEEDED, ActionState.NOT_CONFIRMED):
            await self.door_unlocked(record.device_id, at)
        elif record.kind is ActionKind.LOCK and view.state is ActionState.SUCCEEDED:
            if record.reason == RELOCK_REASON:
                await self.door_locked(record.device_id, at, by=None, how=RELOCKED)
            else:
                await self.door_locked(record.device_id, at, by=record.requested_by, how=None)
