"""Command results that the Slack edge words for the person who asked: values, never sentences.

Every string field here is a plain value (a door name, an id, an API's own words), unescaped;
only `bot/slack/` chooses the words around it and escapes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["NotAllowed", "Problem", "ProblemReason"]


@dataclass(frozen=True)
class NotAllowed:
    """The policy does not let this person `action` (lock) `door`."""

    door: str
    action: str


class ProblemReason(StrEnum):
    PROFILE_UNAVAILABLE = "profile_unavailable"  # the person's Slack profile could not be read
    DOORS_UNLISTED = "doors_unlisted"  # /doors: Seam could not list the locks (`detail`)
    DOORS_UNAVAILABLE = "doors_unavailable"  # a door could not be looked up (`detail`)
    LOG_FOR_APPROVERS = "log_for_approvers"  # the audit log is for approvers only
    NOT_REMOTE = "not_remote"  # `door` cannot be `action`ed remotely
    NOT_ANNOUNCED = "not_announced"  # the action could not be posted, so nothing was done (`detail`)
    REQUEST_NOT_POSTED = "request_not_posted"  # the unlock request could not be posted (`detail`)
    SLOT_NOT_HELD = "slot_not_held"  # lockbot holds no lock on `slot_id` (`user` unlocked it, if known)
    SLOT_STILL_LOCKING = "slot_still_locking"  # lockbot is still locking `slot_id`
    SLOT_NOT_YOURS = "slot_not_yours"  # only `user` (who locked `slot_id`) or an approver may unlock it
    SLOT_KEY_NOT_ON_SLOT = "slot_key_not_on_slot"  # the unconfirmed lock on `slot_id` is not there
    SLOT_UNLOCK_NOT_CONFIRMED = "slot_unlock_not_confirmed"  # unlocking `slot_id` may or may not have worked
    SLOT_UNLOCK_FAILED = "slot_unlock_failed"  # Overbooked refused to unlock `slot_id` (`detail`)
    SLOT_UNAVAILABLE = "slot_unavailable"  # `slot_id` could not be read (`detail`)


@dataclass(frozen=True)
class Problem:
    """Something outside the user's control stopped the command: why, and the values to say it with."""

    reason: ProblemReason
    detail: str | None = None  # plain words from an API or from Slack: why, as they put it
    door: str | None = None
    action: str | None = None  # "lock" or "unlock"
    slot_id: str | None = None
    user: str | None = None
