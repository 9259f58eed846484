"""What lockbot remembers: unlock requests, actions, and the audit log. Plain values."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

__all__ = [
    "ActionRecord",
    "ActionState",
    "AuditEntry",
    "OwedSlackMessage",
    "RequestState",
    "SlotLock",
    "SlotLockState",
    "UnlockRequest",
    "new_id",
]


def new_id() -> str:
    """An opaque, unguessable id (it travels in button values)."""
    return secrets.token_hex(16)


class RequestState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(frozen=True)
class UnlockRequest:
    id: str
    device_id: str
    door: str
    requester: str
    reason: str
    origin_channel: str
    channel: str
    state: RequestState
    created_at: datetime
    expires_at: datetime
    message_ts: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None


class ActionState(StrEnum):
    """Where an action is. `requesting` means Seam may have been asked: it is never sent again."""

    QUEUED = "queued"
    REQUESTING = "requesting"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    NOT_CONFIRMED = "not_confirmed"

    @property
    def final(self) -> bool:
        return self in (ActionState.SUCCEEDED, ActionState.FAILED, ActionState.NOT_CONFIRMED)


@dataclass(frozen=True)
class ActionRecord:
    id: str
    kind: str
    device_id: str
    door: str
    requested_by: str
    reason: str
    channel: str
    state: ActionState
    created_at: datetime
    updated_at: datetime
    request_id: str | None = None
    approved_by: str | None = None
    parent_ts: str | None = None
    status_ts: str | None = None
    attempt_id: str | None = None
    problem: str | None = None
    confirmed_by_device: bool | None = None


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    event: str
    outcome: str
    door: str | None = None
    device_id: str | None = None
    attempt_id: str | None = None
    request_id: str | None = None
    detail: str | None = None


class SlotLockState(StrEnum):
    LOCKING = "locking"  # Overbooked may have been asked
    LOCKED = "locked"
    # Overbooked may hold the lock, and lockbot could not find out: the key is kept, `/slot unlock` uses it.
    NOT_CONFIRMED = "not_confirmed"
    FAILED = "failed"
    UNLOCKED = "unlocked"
    EXPIRED = "expired"

    @property
    def may_be_held(self) -> bool:
        """Whether Overbooked may hold this lock now (as far as lockbot knows)."""
        return self in (SlotLockState.LOCKING, SlotLockState.LOCKED, SlotLockState.NOT_CONFIRMED)


@dataclass(frozen=True)
class SlotLock:
    """A slot lock lockbot made. The key unlocks it: it is never shown, logged or repr'd."""

    id: str
    slot_id: str
    lock_key: str = field(repr=False)
    locked_by: str
    channel: str
    locked_until: datetime
    state: SlotLockState
    created_at: datetime
    updated_at: datetime
    parent_ts: str | None = None
    status_ts: str | None = None
    unlocked_by: str | None = None


@dataclass(frozen=True)
class OwedSlackMessage:
    """An edit (or a delete) of a Slack message that Slack did not take when lockbot made it.

    `message` is the message as it should finally read (Slack's JSON: text and blocks), or None to
    delete it. `owe_id` tells one debt from a later one for the same message.
    """

    channel: str
    ts: str
    owe_id: str
    message: str | None
    attempts: int
    due_at: datetime
    owed_at: datetime
