"""The domain's vocabulary: plain values every layer uses, owned by none of them.

Kinds and states of actions, where an action is shown, the doors (`Lock`), unlock requests, slot
locks, the audit log and what is owed to Slack. Services, the store, the API clients and the Slack
edge import these; this module imports nothing of lockbot's, so a word never costs a service.
One module, not a package: it is one idea (the values), and one import line serves every layer.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

__all__ = [
    "UNFINISHED",
    "ActionKind",
    "ActionProblem",
    "ActionRecord",
    "ActionState",
    "ActionThread",
    "ActionView",
    "AuditEntry",
    "CannotReport",
    "Lock",
    "OwedSlackMessage",
    "ProblemReason",
    "Relock",
    "RelockState",
    "ReminderHistory",
    "RequestReminder",
    "RequestState",
    "SlotLock",
    "SlotLockState",
    "TimedUnlockEnd",
    "UnlockEnding",
    "UnlockRequest",
    "UnlockedAlert",
    "UnlockedAlertState",
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
    battery_level: float | None = None  # 0 to 1, when Seam reports it

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
    """The action could not even be announced, so it was not started.

    `user_message` is the Slack edge's own sentence for why (the edge raises this, and words it
    from Slack's refusal once, where it happens); services carry it as it is, never compose it.
    `slack_error` is Slack's own code for the refusal (`not_in_channel`), kept for the audit log.
    """

    def __init__(self, user_message: str, *, slack_error: str | None = None) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.slack_error = slack_error


class ProblemReason(StrEnum):
    """Why something lockbot was asked to do did not happen, or may not have: one vocabulary for the
    answers to commands (`bot.replies.Problem`) and the problems of actions and slot locks
    (`ActionProblem`). The values are stable codes: they are stored and grepped in the audit log."""

    # -- answers to commands
    PROFILE_UNAVAILABLE = "profile_unavailable"  # the person's Slack profile could not be read
    DOORS_UNLISTED = "doors_unlisted"  # /doors: Seam could not list the locks (`detail`)
    DOORS_UNAVAILABLE = "doors_unavailable"  # a door could not be looked up (`detail`)
    LOG_FOR_APPROVERS = "log_for_approvers"  # the audit log is for approvers only
    NOT_REMOTE = "not_remote"  # `door` cannot be `action`ed remotely
    # the action could not be posted, so nothing was done (`detail`: the edge's words, from `CannotReport`)
    NOT_ANNOUNCED = "not_announced"
    REQUEST_NOT_POSTED = "request_not_posted"  # the unlock request could not be posted (`detail`)
    # asked from App Home, where there is no channel: `door` names no approval_channel or notify_channel
    NO_REQUEST_CHANNEL = "no_request_channel"
    SLOT_NOT_HELD = "slot_not_held"  # lockbot holds no lock on `slot_id` (`user` unlocked it, if known)
    SLOT_STILL_LOCKING = "slot_still_locking"  # lockbot is still locking `slot_id`
    SLOT_NOT_YOURS = "slot_not_yours"  # only `user` (who locked `slot_id`) or an approver may unlock it
    SLOT_KEY_NOT_ON_SLOT = "slot_key_not_on_slot"  # the unconfirmed lock on `slot_id` is not there
    # unlocking `slot_id` may or may not have worked (`detail`; `status`: Overbooked's 5xx, if that was it)
    SLOT_UNLOCK_NOT_CONFIRMED = "slot_unlock_not_confirmed"
    SLOT_UNLOCK_FAILED = "slot_unlock_failed"  # Overbooked refused to unlock `slot_id` (`detail`)
    SLOT_UNAVAILABLE = "slot_unavailable"  # `slot_id` could not be read (`detail`)
    UNLOCK_TOO_LONG = "unlock_too_long"  # `door` may be unlocked for at most `duration` (its max_unlock)
    UNLOCK_TOO_SHORT = "unlock_too_short"  # the shortest timed unlock is `duration`
    UNLOCK_TIME_UNUSABLE = "unlock_time_unusable"  # how long to unlock was mistyped or has passed (`detail`)
    REASON_REQUIRED = "reason_required"  # `door` is unlocked only with a reason (its reason_required)
    EMERGENCY_NOT_LISTED = "emergency_not_listed"  # --emergency by someone not on `door`'s emergency list
    EMERGENCY_NEEDS_REASON = "emergency_needs_reason"  # --emergency without a reason
    DOOR_NOT_FOUND = "door_not_found"  # a button named a device id Seam does not list as a lock (`detail`: the id)
    MAY_NOT_LOCK = "may_not_lock"  # the policy does not let this person lock `door`
    LOCK_IN_FLIGHT = "lock_in_flight"  # `door` is being locked already (asked by `user`): no second lock at once

    # -- door actions (the `ActionProblem` of an action)
    NOT_SENT_INTERRUPTED = "not_sent_interrupted"  # lockbot stopped before sending a direct unlock: not sent
    REQUEST_MESSAGE_MISSING = "request_message_missing"  # an approved request's message is gone
    STATUS_NOT_POSTED = "status_not_posted"  # the status could not be posted, so not sent (`detail`, as NOT_ANNOUNCED)
    RESTARTED_TOO_LONG_AGO = "restarted_too_long_ago"  # never sent, and too long ago to send after a restart
    RESTARTED_WHILE_ASKING = "restarted_while_asking"  # lockbot restarted while asking Seam: outcome unknown
    SEAM_REFUSED = "seam_refused"  # Seam answered with an error (`detail`, `error_type`, `status`)
    SEAM_OUTCOME_UNKNOWN = "seam_outcome_unknown"  # Seam may have acted (`detail`; `status`: its 5xx, if that was it)
    ATTEMPT_FAILED = "attempt_failed"  # Seam says the attempt failed (`error_type`, `detail`: Seam's message)
    ATTEMPT_UNREADABLE = "attempt_unreadable"  # asking Seam about the attempt failed (`detail`)
    ATTEMPT_NOT_ASKED = "attempt_not_asked"  # lockbot itself failed to ask Seam about the attempt

    # -- slot locks (the `ActionProblem` of a slot lock)
    OVERBOOKED_REFUSED = "overbooked_refused"  # Overbooked answered with an error (`detail`, `error_type`)
    # Overbooked may hold the lock (`detail`; `status`: its 5xx, if that was it)
    OVERBOOKED_OUTCOME_UNKNOWN = "overbooked_outcome_unknown"
    RESTARTED_BEFORE_ANSWER = "restarted_before_answer"  # lockbot restarted before Overbooked answered
    RESTARTED_NOT_LOCKED = "restarted_not_locked"  # ... and the slot turned out not to be locked
    NEVER_CONFIRMED = "never_confirmed"  # not confirmed, and the slot later turned out not to be locked
    UNEXPECTED_WHILE_ASKING = "unexpected_while_asking"  # lockbot failed while asking Overbooked
    UNEXPECTED_BEFORE_ASKING = "unexpected_before_asking"  # lockbot failed before asking Overbooked

    # A problem stored as words, before problems were typed: `detail` holds them, shown as they were.
    WORDS = "words"


@dataclass(frozen=True)
class ActionProblem:
    """Why an action (or a slot lock) failed or could not be confirmed: a reason and its values.

    Every string here is a plain value (an API's own words, Seam's error type), unescaped; the
    Slack edge chooses the words around them. Stored as JSON (`stored`), logged as `plain`.
    """

    reason: ProblemReason
    detail: str | None = None  # plain words from an API (its `user_message`, Seam's attempt error) or the edge
    error_type: str | None = None  # Seam's error type, Overbooked's error code, or Slack's (a `CannotReport`)
    status: int | None = None  # the HTTP status, when it tells the reason (a 5xx)

    def _data(self) -> dict[str, str | int]:
        data = {"detail": self.detail, "error_type": self.error_type, "status": self.status}
        return {key: item for key, item in data.items() if item is not None}

    def stored(self) -> str:
        """The stable serialised form kept in the database: JSON with the reason code and its data."""
        return json.dumps({"reason": str(self.reason), **self._data()}, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_stored(cls, text: str) -> ActionProblem:
        """The problem stored as `text`; free text written before problems were typed reads as WORDS."""
        try:
            data = json.loads(text)
            reason = ProblemReason(data["reason"])
            status = data.get("status")
            return cls(
                reason,
                detail=_str_or_none(data.get("detail")),
                error_type=_str_or_none(data.get("error_type")),
                status=status if isinstance(status, int) else None,
            )
        except (ValueError, TypeError, KeyError):
            return cls(ProblemReason.WORDS, detail=text)

    def plain(self) -> str:
        """A stable, greppable line for logs and exports: the code, then its data (`reason key="value" …`)."""
        if self.reason is ProblemReason.WORDS:
            return self.detail or ""
        data = " ".join(f"{key}={json.dumps(item, ensure_ascii=False)}" for key, item in self._data().items())
        return f"{self.reason} {data}".rstrip()


def _str_or_none(item: object) -> str | None:
    return item if isinstance(item, str) else None


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
    problem: ActionProblem | None = None
    confirmed_by_device: bool | None = None
    unlock_for: timedelta | None = None  # an unlock: lock the door again this long after it succeeded

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
    problem: ActionProblem | None = None  # why it failed or could not be confirmed
    confirmed_by_device: bool = True
    timeout_seconds: float | None = None
    attempt_id: str | None = None
    reason: str | None = None
    request: UnlockRequest | None = None  # the approved request this action carries out
    until: datetime | None = None  # an unlock that succeeded: when lockbot locks the door again
    action_id: str | None = None  # the action's own id (a timed unlock's buttons carry it)
    ends: TimedUnlockEnd | None = None  # a lock that ends a timed unlock: its parent is the unlock's


# -- relocks -----------------------------------------------------------------------------------


class RelockState(StrEnum):
    PENDING = "pending"  # waiting for its time, or (tries > 0) to try again
    # Its lock action exists (`lock_action_id`): that action's outcome is the relock's. Started by
    # `settled_by` pressing Lock now, or (None) by its time.
    STARTED = "started"
    SETTLED = "settled"  # the door was locked before the time (by `settled_by`, or as Seam reported)
    SUPERSEDED = "superseded"  # a later timed unlock of the same door decides when it locks again
    GAVE_UP = "gave_up"  # its last try failed too: said loudly, the door may still be unlocked


@dataclass(frozen=True)
class Relock:
    """Locking a door again when its timed unlock ends, in the unlock's own thread."""

    unlock_id: str  # the unlock action
    device_id: str
    door: str
    unlocked_by: str
    channel: str
    parent_ts: str  # the unlock's thread
    unlocked_at: datetime
    due_at: datetime
    state: RelockState = RelockState.PENDING
    lock_action_id: str | None = None
    settled_by: str | None = None  # who locked the door first; None with SETTLED: Seam said it was locked
    tries: int = 0  # lock actions started for it; pending with tries > 0: waiting to try again
    status_ts: str | None = None  # its status message in the thread, which each retry edits


# -- doors left unlocked -----------------------------------------------------------------------


class UnlockedAlertState(StrEnum):
    PENDING = "pending"  # the door is unlocked; the notice is due at `due_at`
    POSTING = "posting"  # one instance is checking the door and posting the notice (until `claimed_until`)
    POSTED = "posted"  # the notice is in the channel (`notice_ts`), waiting for the door to be locked
    LOCKED = "locked"  # the door was locked (by `locked_by`, or as `locked_how` says) at `locked_at`
    GONE = "gone"  # Seam no longer lists the lock: nothing to say

    @property
    def open(self) -> bool:
        """Whether the door is still believed unlocked since `unlocked_at`."""
        return self in (UnlockedAlertState.PENDING, UnlockedAlertState.POSTING, UnlockedAlertState.POSTED)


@dataclass(frozen=True)
class UnlockedAlert:
    """A door unlocked since `unlocked_at`: a notice in `channel` at `due_at` unless it is locked first.

    At most one is open per door; once the door is locked it is closed, and a later unlock opens another."""

    id: str
    device_id: str
    door: str
    channel: str  # the door's notify_channel
    unlocked_at: datetime
    due_at: datetime
    state: UnlockedAlertState = UnlockedAlertState.PENDING
    # POSTING: when the instance's claim ends (also its token); PENDING after a failed try: when it was.
    claimed_until: datetime | None = None
    notice_ts: str | None = None
    posted_at: datetime | None = None
    locked_at: datetime | None = None
    locked_by: str | None = None  # a Slack user who locked it through lockbot
    locked_how: str | None = None  # else how Seam says it was locked: keypad, manual, automatic, remote, relock


class UnlockEnding(StrEnum):
    """How a timed unlock ended (the audit log's outcome of its end, too)."""

    RELOCK = "relock"  # its time ran out and lockbot locked the door again
    LOCK_NOW = "lock_now"  # someone pressed Lock now
    LOCKED = "locked"  # someone locked the door before its time (/lock, a lock button)
    SEAM_LOCKED = "seam_locked"  # Seam reported the door locked (lock.locked) before its time


@dataclass(frozen=True)
class TimedUnlockEnd:
    """A timed unlock as the lock that ends it shows it on the unlock's parent message."""

    ending: UnlockEnding
    unlocked_by: str
    unlocked_at: datetime
    locked_at: datetime  # when it was locked (or the lock was asked for)
    locked_by: str | None = None  # who ended it early (Lock now, /lock)
    reason: str | None = None  # the unlock's reason
    request: UnlockRequest | None = None  # the approved request it carried out: its message is the parent
    lock_confirmed: bool = True  # False: Seam said the lock that ended it was not confirmed by the device


# -- unlock requests ---------------------------------------------------------------------------


class RequestState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(frozen=True)
class ReminderHistory:
    """Who was reminded of a request and when, shown on its message so an approver landing on it sees it."""

    approvers: frozenset[str] | None  # None: workspace admins and owners
    reminded_at: datetime  # the last reminder posted
    escalate_to: frozenset[str]  # empty until escalated
    escalated_at: datetime | None


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
    unlock_for: timedelta | None = None  # approved, it locks again this long after it succeeded
    # Its reminders so far, for its message: not a column; attached where the message is shown
    # (`bot.reminders.ReminderHistories`), None when it was never reminded or it was not looked up.
    reminded: ReminderHistory | None = None


@dataclass(frozen=True)
class RequestReminder:
    """The reminders of one undecided request: when the next is due, and what was sent so far."""

    request_id: str
    due_at: datetime | None  # None: no more reminders
    taken: int = 0  # how many times an instance took it: each take is one conditional write on this
    failures: int = 0  # posts Slack did not take in a row; tried again with backoff
    reminded_at: datetime | None = None  # the last reminder posted
    escalated_at: datetime | None = None  # when escalate_to was first mentioned


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
    detail: str | None = None  # plain: who approved, the reason given, what was done (older entries: the problem too)
    problem: ActionProblem | None = None  # why it failed or could not be confirmed


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
