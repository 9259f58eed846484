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

__all__ = ["RELOCKED", "AlertBoard", "UnlockedAlertStore", "UnlockedAlerts"]

log = logging.getLogger(__name__)

# `locked_how` of a door locked again by lockbot when its timed unlock ended.
RELOCKED = "relock"
# How long an instance has to check the door and post a notice it took, before another may take it.
_CLAIM = timedelta(seconds=60)


class UnlockedAlertStore(Protocol):
    """What alerts need of the database (`bot.store.Store` is one)."""

    async def open_unlocked_alert(self, alert: UnlockedAlert) -> bool: ...

    async def due_unlocked_alerts(self, now: datetime, *, limit: int) -> list[UnlockedAlert]: ...

    async def take_unlocked_alert(self, alert: UnlockedAlert, now: datetime, *, until: datetime) -> bool: ...

    async def unlocked_alert_posted(self, alert_id: str, notice_ts: str | None, at: datetime) -> bool: ...

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

    async def post_alert(self, alert: UnlockedAlert, unlocked_for: timedelta) -> str | None:
        """Post the notice in `alert.channel`; its ts, or None when Slack would not take it."""

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
    ) -> None:
        self._store = store
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
            if not await self._store.take_unlocked_alert(alert, now, until=now + _CLAIM):
                continue  # another instance took it, or the door was locked meanwhile
            try:
                await self._post(alert)
            except Exception:
                # Left taken: once the claim runs out it is due again, here or on another instance.
                log.exception("could not post the alert for %s", alert.device_id)
        return len(due)

    async def _post(self, alert: UnlockedAlert) -> None:
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
        notice_ts = await self._board.post_alert(shown, now - alert.unlocked_at)
        log.info("alerted: %s unlocked since %s", alert.device_id, alert.unlocked_at.isoformat())
        if await self._store.unlocked_alert_posted(alert.id, notice_ts, now):
            return
        # Locked while it was being posted: the fresh notice must say so at once.
        current = await self._store.unlocked_alert(alert.id)
        if current is not None and current.state is UnlockedAlertState.LOCKED and notice_ts is not None:
            await self._board.show_locked(replace(current, door=shown.door, notice_ts=notice_ts))

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
