"""Persistence behind one small interface. Every decision is one conditional write."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, fields, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, delete, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import (
    actions,
    audit_log,
    create_engine,
    migrate,
    owed_slack_messages,
    seam_events,
    seen_slack_requests,
    slot_locks,
    unlock_requests,
)
from bot.model import (
    UNFINISHED,
    ActionKind,
    ActionRecord,
    ActionState,
    AuditEntry,
    OwedSlackMessage,
    RequestState,
    SlotLock,
    SlotLockState,
    UnlockRequest,
)

__all__ = ["Store"]

log = logging.getLogger(__name__)


def _request(row: Row[Any]) -> UnlockRequest:
    values = dict(row._mapping)
    values["state"] = RequestState(values["state"])
    values.pop("announced", None)
    return UnlockRequest(**values)


def _slot_lock(row: Row[Any]) -> SlotLock:
    values = dict(row._mapping)
    values["state"] = SlotLockState(values["state"])
    return SlotLock(**values)


def _action(row: Row[Any]) -> ActionRecord:
    values = dict(row._mapping)
    values["kind"] = ActionKind(values["kind"])
    values["state"] = ActionState(values["state"])
    values.pop("lease_owner", None)
    values.pop("lease_expires", None)
    return ActionRecord(**values)


def _action_values(record: ActionRecord) -> dict[str, Any]:
    return asdict(record) | {"kind": str(record.kind), "state": str(record.state)}


_ACTION_FIELDS = {field.name for field in fields(ActionRecord)}
# How often the connection that listens to other instances is checked.
_LISTEN_CHECK_SECONDS = 30.0
# How often an instance clears out the Slack requests it no longer needs to remember.
_PURGE_EVERY = timedelta(minutes=1)


def _slot_lock_values(changes: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    return {key: (str(value) if key == "state" else value) for key, value in {**changes, "updated_at": at}.items()}


class Store:
    """Unlock requests, actions and the audit log, on SQLite or PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._next_purge: datetime | None = None

    @classmethod
    async def open(cls, database_url: str) -> Store:
        """Connect and apply any pending migrations."""
        engine = create_engine(database_url)
        await migrate(engine)
        return cls(engine)

    async def close(self) -> None:
        await self._engine.dispose()

    # -- what instances tell each other --------------------------------------------------------

    @property
    def shared(self) -> bool:
        """Whether several instances may share this database (PostgreSQL), and so hear each other."""
        return self._engine.dialect.name == "postgresql"

    async def tell_instances(self, topic: str, message: str) -> None:
        """Every instance listening on `topic` hears `message` (NOTIFY); nothing on an unshared database."""
        if not self.shared:
            return
        async with self._engine.begin() as connection:
            await connection.execute(text("SELECT pg_notify(:topic, :message)"), {"topic": topic, "message": message})

    async def hear_instances(self, topic: str, heard: Callable[[str], object]) -> None:
        """Until cancelled: `heard(message)` for each message told on `topic` (LISTEN), also by this
        instance. Reconnects after a lost connection; what was told meanwhile is not heard."""
        if not self.shared:
            return
        while True:
            try:
                async with self._engine.connect() as connection:
                    listening = (await connection.get_raw_connection()).driver_connection
                    assert listening is not None

                    def on_notification(_connection: object, _pid: int, _topic: str, message: str) -> None:
                        heard(message)

                    await listening.add_listener(topic, on_notification)
                    try:
                        while True:  # a dead connection shows here, and is replaced
                            await asyncio.sleep(_LISTEN_CHECK_SECONDS)
                            await connection.execute(text("SELECT 1"))
                            # Out of the transaction again at once: PostgreSQL holds notifications back during one.
                            await connection.commit()
                    finally:
                        # Back in the pool, the connection must not go on listening.
                        with contextlib.suppress(Exception):
                            await listening.remove_listener(topic, on_notification)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("listening to other instances failed (%s); listening again shortly", type(exc).__name__)
                await asyncio.sleep(_LISTEN_CHECK_SECONDS / 10)

    # -- unlock requests -----------------------------------------------------------------------

    async def add_request(self, request: UnlockRequest) -> None:
        values = asdict(request)
        values["state"] = str(request.state)
        async with self._engine.begin() as connection:
            await connection.execute(insert(unlock_requests).values(values))

    async def request(self, request_id: str) -> UnlockRequest | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(unlock_requests).where(unlock_requests.c.id == request_id))).first()
        return _request(row) if row is not None else None

    async def set_request_message(self, request_id: str, channel: str, message_ts: str) -> None:
        """Where the request's message is (its channel and ts)."""
        async with self._engine.begin() as connection:
            await connection.execute(
                update(unlock_requests)
                .where(unlock_requests.c.id == request_id)
                .values(channel=channel, message_ts=message_ts)
            )

    async def set_request_note(self, request_id: str, note: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(unlock_requests).where(unlock_requests.c.id == request_id).values(note=note)
            )

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
    ) -> UnlockRequest | None:
        """Move a pending, unexpired request to `state`; None if another decision came first.

        The decision's audit entry, and the action an approval starts, are stored in the same
        transaction: a decided request always has both, even if lockbot dies the moment after.
        `owes_announcement`: the decision is still to be shown and told (see `announced`).
        """
        async with self._engine.begin() as connection:
            won = await connection.execute(
                update(unlock_requests)
                .where(
                    unlock_requests.c.id == request_id,
                    unlock_requests.c.state == str(RequestState.PENDING),
                    unlock_requests.c.expires_at > at,
                )
                .values(
                    state=str(state),
                    decided_by=by,
                    decided_at=at,
                    note=note,
                    announced=False if owes_announcement else None,
                )
            )
            if won.rowcount != 1:
                return None
            if audit is not None:
                await connection.execute(insert(audit_log).values(asdict(audit)))
            if then_run is not None:
                # Held by nobody yet, but not an orphan either until the lease time has passed.
                values = _action_values(then_run) | {"lease_owner": None, "lease_expires": then_run_lease_until}
                await connection.execute(insert(actions).values(values))
            row = (await connection.execute(select(unlock_requests).where(unlock_requests.c.id == request_id))).one()
        return _request(row)

    async def expire_due(
        self, now: datetime, audit_of: Callable[[UnlockRequest], AuditEntry] | None = None
    ) -> list[UnlockRequest]:
        """Expire every pending request past its time; returns the ones this call expired.

        Each expiry's audit entry (`audit_of` the expired request) is stored in its transaction.
        """
        async with self._engine.connect() as connection:
            due = (
                (
                    await connection.execute(
                        select(unlock_requests.c.id).where(
                            unlock_requests.c.state == str(RequestState.PENDING),
                            unlock_requests.c.expires_at <= now,
                        )
                    )
                )
                .scalars()
                .all()
            )
        expired = []
        for request_id in due:
            async with self._engine.begin() as connection:
                won = await connection.execute(
                    update(unlock_requests)
                    .where(
                        unlock_requests.c.id == request_id,
                        unlock_requests.c.state == str(RequestState.PENDING),
                    )
                    .values(state=str(RequestState.EXPIRED), decided_at=now, announced=False)
                )
                if won.rowcount == 1:
                    row = (
                        await connection.execute(select(unlock_requests).where(unlock_requests.c.id == request_id))
                    ).one()
                    request = _request(row)
                    if audit_of is not None:
                        await connection.execute(insert(audit_log).values(asdict(audit_of(request))))
                    expired.append(request)
        return expired

    async def announced(self, request_id: str) -> bool:
        """The request's decision was shown and told; False if that was done already (by another)."""
        async with self._engine.begin() as connection:
            done = await connection.execute(
                update(unlock_requests)
                .where(unlock_requests.c.id == request_id, unlock_requests.c.announced.is_(False))
                .values(announced=True)
            )
        return done.rowcount == 1

    async def owed_announcements(self, decided_before: datetime) -> list[UnlockRequest]:
        """Requests decided before then whose decision was never shown and told (lockbot stopped)."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(unlock_requests)
                .where(unlock_requests.c.announced.is_(False), unlock_requests.c.decided_at < decided_before)
                .order_by(unlock_requests.c.decided_at)
            )
            return [_request(row) for row in rows]

    async def next_expiry(self) -> datetime | None:
        async with self._engine.connect() as connection:
            return (
                await connection.execute(
                    select(unlock_requests.c.expires_at)
                    .where(unlock_requests.c.state == str(RequestState.PENDING))
                    .order_by(unlock_requests.c.expires_at)
                    .limit(1)
                )
            ).scalar()

    # -- actions -------------------------------------------------------------------------------

    async def add_action(self, record: ActionRecord, *, owner: str, lease_until: datetime) -> None:
        """Store a new action, held by `owner` until `lease_until` (renewed while it runs)."""
        values = _action_values(record) | {"lease_owner": owner, "lease_expires": lease_until}
        async with self._engine.begin() as connection:
            await connection.execute(insert(actions).values(values))

    async def claim_action(self, action_id: str, owner: str, now: datetime, lease_until: datetime) -> bool:
        """Take an unfinished action that nobody else holds (or whose holder's lease ran out)."""
        async with self._engine.begin() as connection:
            won = await connection.execute(
                update(actions)
                .where(
                    actions.c.id == action_id,
                    actions.c.state.in_([str(state) for state in UNFINISHED]),
                    or_(
                        actions.c.lease_owner.is_(None),
                        actions.c.lease_owner == owner,
                        actions.c.lease_expires < now,
                    ),
                )
                .values(lease_owner=owner, lease_expires=lease_until)
            )
        return won.rowcount == 1

    async def claim_orphans(self, owner: str, now: datetime, lease_until: datetime) -> list[ActionRecord]:
        """Take every unfinished action whose lease ran out (its instance died); returns those taken."""
        unheld = and_(
            actions.c.state.in_([str(state) for state in UNFINISHED]),
            or_(actions.c.lease_expires.is_(None), actions.c.lease_expires < now),
        )
        async with self._engine.connect() as connection:
            ids = (await connection.execute(select(actions.c.id).where(unheld))).scalars().all()
        claimed = []
        for action_id in ids:
            async with self._engine.begin() as connection:
                won = await connection.execute(
                    update(actions)
                    .where(actions.c.id == action_id, unheld)
                    .values(lease_owner=owner, lease_expires=lease_until)
                )
                if won.rowcount == 1:
                    row = (await connection.execute(select(actions).where(actions.c.id == action_id))).one()
                    claimed.append(_action(row))
        return claimed

    async def renew_leases(self, owner: str, action_ids: Collection[str], lease_until: datetime) -> None:
        """Extend `owner`'s hold on these actions (the ones it is still working on)."""
        if not action_ids:
            return
        async with self._engine.begin() as connection:
            await connection.execute(
                update(actions)
                .where(
                    actions.c.lease_owner == owner,
                    actions.c.id.in_(list(action_ids)),
                    actions.c.state.in_([str(state) for state in UNFINISHED]),
                )
                .values(lease_expires=lease_until)
            )

    async def update_action(
        self,
        record: ActionRecord,
        at: datetime,
        *,
        audit: AuditEntry | None = None,
        only_from: tuple[ActionState, ...] | None = None,
        owner: str | None = None,
        **changes: Any,
    ) -> ActionRecord | None:
        """Store changes to an action, and its audit entry in the same transaction; returns the new record.

        With `only_from` (and `owner`), only while the action is in one of those states (and held by
        `owner`); None when it was not, and then nothing is written.
        """
        unknown = set(changes) - _ACTION_FIELDS
        if unknown:
            raise TypeError(f"not action fields: {sorted(unknown)}")
        updated = replace(record, updated_at=at, **changes)
        values: Mapping[str, Any] = {
            key: (str(value) if key == "state" else value) for key, value in {**changes, "updated_at": at}.items()
        }
        conditions = [actions.c.id == record.id]
        if only_from is not None:
            conditions.append(actions.c.state.in_([str(state) for state in only_from]))
        if owner is not None:
            conditions.append(actions.c.lease_owner == owner)
        async with self._engine.begin() as connection:
            changed = await connection.execute(update(actions).where(*conditions).values(**values))
            if changed.rowcount != 1:
                return None
            if audit is not None:
                await connection.execute(insert(audit_log).values(asdict(audit)))
        return updated

    async def action(self, action_id: str) -> ActionRecord | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(actions).where(actions.c.id == action_id))).first()
        return _action(row) if row is not None else None

    async def unfinished_actions(self) -> list[ActionRecord]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(actions)
                .where(actions.c.state.in_([str(state) for state in UNFINISHED]))
                .order_by(actions.c.created_at)
            )
            return [_action(row) for row in rows]

    # -- slot locks ----------------------------------------------------------------------------

    async def add_slot_lock(self, lock: SlotLock) -> None:
        values = asdict(lock) | {"state": str(lock.state)}
        async with self._engine.begin() as connection:
            await connection.execute(insert(slot_locks).values(values))

    async def update_slot_lock(
        self, lock: SlotLock, at: datetime, *, audit: AuditEntry | None = None, **changes: Any
    ) -> SlotLock:
        """Store changes to a slot lock, and its audit entry in the same transaction."""
        updated = replace(lock, updated_at=at, **changes)
        async with self._engine.begin() as connection:
            await connection.execute(
                update(slot_locks).where(slot_locks.c.id == lock.id).values(**_slot_lock_values(changes, at))
            )
            if audit is not None:
                await connection.execute(insert(audit_log).values(asdict(audit)))
        return updated

    async def move_slot_lock(
        self, lock: SlotLock, at: datetime, *, audit: AuditEntry | None = None, **changes: Any
    ) -> SlotLock | None:
        """Like `update_slot_lock`, but only while the lock is still in `lock.state`: None (and nothing
        written) when another instance moved it first."""
        async with self._engine.begin() as connection:
            moved = await connection.execute(
                update(slot_locks)
                .where(slot_locks.c.id == lock.id, slot_locks.c.state == str(lock.state))
                .values(**_slot_lock_values(changes, at))
            )
            if moved.rowcount != 1:
                return None
            if audit is not None:
                await connection.execute(insert(audit_log).values(asdict(audit)))
        return replace(lock, updated_at=at, **changes)

    async def current_slot_lock(self, slot_id: str) -> SlotLock | None:
        """lockbot's newest lock on the slot that is (or may be) held, confirmed or not."""
        return await self.latest_slot_lock(slot_id, [state for state in SlotLockState if state.may_be_held])

    async def latest_slot_lock(self, slot_id: str, states: Collection[SlotLockState]) -> SlotLock | None:
        """lockbot's newest lock on the slot in one of these states."""
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(slot_locks)
                    .where(slot_locks.c.slot_id == slot_id, slot_locks.c.state.in_([str(state) for state in states]))
                    .order_by(slot_locks.c.created_at.desc())
                    .limit(1)
                )
            ).first()
        return _slot_lock(row) if row is not None else None

    async def slot_lock(self, lock_id: str) -> SlotLock | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(slot_locks).where(slot_locks.c.id == lock_id))).first()
        return _slot_lock(row) if row is not None else None

    async def slot_locks_in(self, state: SlotLockState) -> list[SlotLock]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(select(slot_locks).where(slot_locks.c.state == str(state)))
            return [_slot_lock(row) for row in rows]

    # -- Seam events -----------------------------------------------------------------------------

    async def record_event(
        self, event_id: str, event_type: str, payload: str, at: datetime, *, processed: bool = False
    ) -> bool:
        """Remember a delivered event; False when it was delivered before (a redelivery)."""
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    insert(seam_events).values(
                        event_id=event_id, event_type=event_type, payload=payload, received_at=at, processed=processed
                    )
                )
        except IntegrityError:
            return False
        return True

    async def event_processed(self, event_id: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(seam_events).where(seam_events.c.event_id == event_id).values(processed=True)
            )

    async def unprocessed_events(self) -> list[str]:
        """Payloads of events received but not handled (lockbot stopped in between), oldest first."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(seam_events.c.payload)
                .where(seam_events.c.processed.is_(False))
                .order_by(seam_events.c.received_at)
            )
            return [str(payload) for payload in rows.scalars()]

    async def action_by_attempt(self, attempt_id: str) -> ActionRecord | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(actions).where(actions.c.attempt_id == attempt_id))).first()
        return _action(row) if row is not None else None

    # -- the audit log -------------------------------------------------------------------------

    async def audit(self, entry: AuditEntry) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(insert(audit_log).values(asdict(entry)))

    async def audit_entries(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        door: str | None = None,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        query = select(audit_log)
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        if until is not None:
            query = query.where(audit_log.c.at < until)
        if door is not None:
            query = query.where(audit_log.c.door == door)
        order = (audit_log.c.at.desc(), audit_log.c.id.desc()) if newest_first else (audit_log.c.at, audit_log.c.id)
        query = query.order_by(*order)
        if limit is not None:
            query = query.limit(limit)
        async with self._engine.connect() as connection:
            rows = await connection.execute(query)
            return [AuditEntry(**{k: v for k, v in row._mapping.items() if k != "id"}) for row in rows]

    # -- Slack requests already taken ------------------------------------------------------------

    async def first_sighting(self, digest: str, *, until: datetime, now: datetime) -> bool:
        """Whether a Slack request (by the digest of its body) is new, remembering it until `until`.

        One statement, so of two instances taking the same request at once exactly one hears True.
        An entry whose time has passed counts as absent (purging is occasional)."""
        dialect_insert = postgresql.insert if self.shared else sqlite.insert
        remember = dialect_insert(seen_slack_requests).values(digest=digest, expires_at=until)
        remember = remember.on_conflict_do_update(
            index_elements=[seen_slack_requests.c.digest],
            set_={"expires_at": remember.excluded.expires_at},
            where=seen_slack_requests.c.expires_at <= now,
        )
        async with self._engine.begin() as connection:
            taken = (await connection.execute(remember)).rowcount == 1
            if self._next_purge is None or now >= self._next_purge:
                self._next_purge = now + _PURGE_EVERY
                await connection.execute(delete(seen_slack_requests).where(seen_slack_requests.c.expires_at <= now))
        return taken

    # -- what is still owed to Slack -------------------------------------------------------------

    async def owe_slack_message(self, owed: OwedSlackMessage) -> None:
        """Remember an edit or delete Slack did not take; it replaces what was owed for that message."""
        values = {
            "owe_id": owed.owe_id,
            "message": owed.message,
            "attempts": owed.attempts,
            "due_at": owed.due_at,
            "claimed_until": None,
            "owed_at": owed.owed_at,
        }
        this_message = (owed_slack_messages.c.channel == owed.channel, owed_slack_messages.c.ts == owed.ts)
        for _ in range(2):  # insert, or replace the debt another write added meanwhile
            async with self._engine.begin() as connection:
                replaced = await connection.execute(update(owed_slack_messages).where(*this_message).values(values))
            if replaced.rowcount == 1:
                return
            try:
                async with self._engine.begin() as connection:
                    await connection.execute(
                        insert(owed_slack_messages).values(channel=owed.channel, ts=owed.ts, **values)
                    )
            except IntegrityError:
                continue
            return

    async def claim_owed_slack_messages(
        self, now: datetime, claim_until: datetime, *, limit: int = 50
    ) -> list[OwedSlackMessage]:
        """Take the debts due now that no instance holds (one conditional write each), until then."""
        claimable = and_(
            owed_slack_messages.c.due_at <= now,
            or_(owed_slack_messages.c.claimed_until.is_(None), owed_slack_messages.c.claimed_until < now),
        )
        async with self._engine.connect() as connection:
            due = (
                await connection.execute(
                    select(owed_slack_messages).where(claimable).order_by(owed_slack_messages.c.due_at).limit(limit)
                )
            ).all()
        claimed = []
        for row in due:
            async with self._engine.begin() as connection:
                won = await connection.execute(
                    update(owed_slack_messages)
                    .where(
                        owed_slack_messages.c.channel == row.channel,
                        owed_slack_messages.c.ts == row.ts,
                        owed_slack_messages.c.owe_id == row.owe_id,
                        claimable,
                    )
                    .values(claimed_until=claim_until)
                )
            if won.rowcount == 1:
                values = dict(row._mapping)
                values.pop("claimed_until")
                claimed.append(OwedSlackMessage(**values))
        return claimed

    async def settle_owed_slack_message(self, owed: OwedSlackMessage) -> None:
        """Slack took it (or it can never be taken): forget this debt, not a later one for the message."""
        async with self._engine.begin() as connection:
            await connection.execute(
                owed_slack_messages.delete().where(
                    owed_slack_messages.c.channel == owed.channel,
                    owed_slack_messages.c.ts == owed.ts,
                    owed_slack_messages.c.owe_id == owed.owe_id,
                )
            )

    async def postpone_owed_slack_message(self, owed: OwedSlackMessage, due_at: datetime) -> None:
        """Slack did not take it this time either: one attempt more, tried again from `due_at`."""
        async with self._engine.begin() as connection:
            await connection.execute(
                update(owed_slack_messages)
                .where(
                    owed_slack_messages.c.channel == owed.channel,
                    owed_slack_messages.c.ts == owed.ts,
                    owed_slack_messages.c.owe_id == owed.owe_id,
                )
                .values(attempts=owed.attempts + 1, due_at=due_at, claimed_until=None)
            )

    async def forget_owed_slack_message(self, channel: str, ts: str, *, owed_before: datetime) -> None:
        """A newer edit of the message went through: a debt owed to it before then is stale."""
        async with self._engine.begin() as connection:
            await connection.execute(
                owed_slack_messages.delete().where(
                    owed_slack_messages.c.channel == channel,
                    owed_slack_messages.c.ts == ts,
                    owed_slack_messages.c.owed_at < owed_before,
                )
            )

    async def next_owed_slack_message(self) -> datetime | None:
        """When the soonest debt to Slack comes due (claimed or not)."""
        async with self._engine.connect() as connection:
            return (
                await connection.execute(
                    select(owed_slack_messages.c.due_at).order_by(owed_slack_messages.c.due_at).limit(1)
                )
            ).scalar()
