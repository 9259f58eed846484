"""The domain's vocabulary: plain values every layer uses, owned by none of them.

Kinds and states of actions, where an action is shown, the doors (`Lock`), unlock requests, slot
locks, the audit log and what is owed to Slack. Services, the store, the API clients and the Slack
edge import these; this module imports nothing of lockbot's, so a word never costs a service.
One module, not a package: it is one idea (the values), and one import line serves every layer.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

__all__ = [
    "UNFINISHED",
    "ActionKind",
    "ActionRecord",
    "ActionState",
    "ActionThread",
    "ActionView",
    "AuditEntry",
    "CannotReport",
    "Lock",
    "OwedSlackMessage",
    "RequestState",
    "SlotLock",
    "SlotLockState",
    "UnlockRequest",
    "new_id",
    "utcnow",
]


def utcnow() -> datetime:
    """The wall clock, aware and in UTC: the default clock of every service."""
    return datetime.now(UTC)


def new_id() -> str:
    """An opaque, unguessable id (it travels in button values)."""
    return secrets.token_hex(16)


# -- doors -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lock:
    """A smart lock: a door lockbot can lock or unlock (built by the Seam client from its answer)."""

    device_id: str
    display_name: str | None = None
    device_name: str | None = None  # the name the lock itself carries (Seam's `properties.name`)
    locked: bool | None = None
    online: bool | None = None
    can_remotely_lock: bool | None = None
    can_remotely_unlock: bool | None = None

    @property
    def name(self) -> str:
        return self.display_name or self.device_name or self.device_id

    @property
    def names(self) -> tuple[str, ...]:
        """Every name a person may know this lock by."""
        return tuple(dict.fromkeys(n for n in (self.display_name, self.device_name) if n))


# -- actions -----------------------------------------------------------------------------------


class ActionKind(StrEnum):
    LOCK = "lock"
    UNLOCK = "unlock"

    @property
    def past(self) -> str:
        return "locked" if self is ActionKind.LOCK else "unlocked"

    @property
    def gerund(self) -> str:
        return "locking" if self is ActionKind.LOCK else "unlocking"


class ActionState(StrEnum):
    """Where an action (or a slot lock) is. `requesting` means the API may have been asked: it is
    never sent again."""

    QUEUED = "queued"
    REQUESTING = "requesting"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    NOT_CONFIRMED = "not_confirmed"

    @property
    def final(self) -> bool:
        return self in (ActionState.SUCCEEDED, ActionState.FAILED, ActionState.NOT_CONFIRMED)

    @property
    def working(self) -> bool:
        """What its thread shows as "working": lockbot has it, and no answer has come yet."""
        return self in (ActionState.QUEUED, ActionState.REQUESTING)


# The states of an action that is still to end: after a restart they are taken up again.
UNFINISHED = (ActionState.QUEUED, ActionState.REQUESTING, ActionState.PENDING)


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


@dataclass(frozen=True)
class ActionRecord:
    id: str
    kind: ActionKind
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

    @property
    def thread(self) -> ActionThread | None:
        """Where it is shown, once both of its messages are known."""
        if self.parent_ts and self.status_ts:
            return ActionThread(self.channel, self.parent_ts, self.status_ts)
        return None


@dataclass(frozen=True)
class ActionView:
    """Everything a message about an action shows."""

    kind: ActionKind
    door: str
    requested_by: str
    state: ActionState  # as last shown: queued and requesting both show as working
    problem: str | None = None  # plain words: why it failed or could not be confirmed
    confirmed_by_device: bool = True
    timeout_seconds: float | None = None
    attempt_id: str | None = None
    reason: str | None = None
    request: UnlockRequest | None = None  # the approved request this action carries out


# -- unlock requests ---------------------------------------------------------------------------


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


# -- the audit log -----------------------------------------------------------------------------


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


# -- slot locks --------------------------------------------------------------------------------


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


# -- what is owed to Slack ---------------------------------------------------------------------


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
