"""Break-glass: `/unlock <door> --emergency <reason>` unlocks at once, without approval, for those
the policy names in `emergency`, and says so loudly to every approver of the door.

The unlock is an ordinary timed action (parent and thread, relocked by `bot.relocks`); what is
particular to it is decided here: who may, how long it lasts, who is alerted, and its audit entry.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.model import ActionKind, ActionThread, AuditEntry, CannotReport, Lock, utcnow
from bot.policy import EVERYONE, DoorRules, PeopleDirectory, PeopleUnavailable, Policy, may_break_glass
from bot.replies import Problem, ProblemReason

__all__ = [
    "EMERGENCY_EVENT",
    "EMERGENCY_UNLOCK_FOR",
    "ActionRunner",
    "BreakGlass",
    "EmergencyAlarm",
    "EmergencyAudit",
    "EmergencyUnlock",
    "GroupMembers",
    "approvers_to_tell",
    "emergency_unlock_for",
    "split_emergency_flag",
]

log = logging.getLogger(__name__)

EMERGENCY_EVENT = "emergency_unlock"  # the audit event of a break-glass unlock (its reason in `detail`)
EMERGENCY_UNLOCK_FOR = timedelta(minutes=15)  # how long it lasts when the door has no relock_after
# Direct messages sent for one emergency at most: a huge approver group is told by its mention.
_MOST_DIRECT_MESSAGES = 50

# Slack's clients turn a typed `--` into a dash; the flag is recognised either way, as a word of its own.
_FLAG = re.compile(r"(?<!\S)(?:--|—|–)emergency(?!\S)", re.IGNORECASE)  # noqa: RUF001 - the dashes Slack sends


def split_emergency_flag(text: str) -> tuple[str, bool]:
    """What was typed without the `--emergency` flag, and whether it was there.

    The flag counts wherever it stands after the command (the SPEC's form is door, flag, reason):
    taken as words of a reason, it would file an ordinary request or, for a direct unlocker, unlock
    without a word to the approvers, which is not what someone typing it in an emergency expects.
    """
    if _FLAG.search(text) is None:
        return text, False
    return " ".join(_FLAG.sub(" ", text).split()), True


def emergency_unlock_for(rules: DoorRules, asked: timedelta | None) -> timedelta:
    """How long a break-glass unlock lasts: as asked (else the door's relock_after), else 15 min;
    never longer than the door's max_unlock."""
    return min(asked or EMERGENCY_UNLOCK_FOR, rules.max_unlock)


@dataclass(frozen=True)
class EmergencyUnlock:
    """A break-glass unlock, as its notices show it."""

    door: str
    device_id: str
    by: str
    reason: str
    unlock_for: timedelta
    approvers: frozenset[str] | None  # as the policy names them; None: workspace admins and owners
    thread: ActionThread  # where the unlock itself is shown
    at: datetime


class GroupMembers(Protocol):
    """Who is in a user group (`bot.slack.people.SlackPeople` is one)."""

    async def members(self, group: str) -> frozenset[str]:
        """The group's users; raises PeopleUnavailable."""


class EmergencyAlarm(Protocol):
    """The Slack edge's part (`bot.slack.reporter.SlackEmergencyAlarm`)."""

    async def sound(self, unlock: EmergencyUnlock, channels: Sequence[str], recipients: Sequence[str]) -> None:
        """Post the notice in each channel and message each recipient directly; never raise."""


class ActionRunner(Protocol):
    """What break-glass needs of door actions (`bot.actions.DoorActions` is one)."""

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
        """Announce the action and send it; raises CannotReport, before touching the door, if it cannot be shown."""


class EmergencyAudit(Protocol):
    async def audit(self, entry: AuditEntry) -> None: ...


async def approvers_to_tell(approvers: frozenset[str] | None, members: GroupMembers, *, besides: str) -> list[str]:
    """The users to message directly: each approver user, and the members of each approver group
    that can be looked up (a group that cannot is still told by its mention in the notices).

    Nobody when approvers are left to workspace admins or are everyone: those are not pinged."""
    if approvers is None or EVERYONE in approvers:
        return []
    users = {entry for entry in approvers if entry.startswith(("U", "W"))}
    groups = sorted(entry for entry in approvers if entry.startswith("S"))
    looked_up = await asyncio.gather(*(members.members(group) for group in groups), return_exceptions=True)
    for group, found in zip(groups, looked_up, strict=True):
        if isinstance(found, PeopleUnavailable):
            log.warning("could not list the members of %s to tell them of an emergency unlock", group)
        elif isinstance(found, BaseException):
            raise found
        else:
            users |= found
    users.discard(besides)
    told = sorted(users)
    if len(told) > _MOST_DIRECT_MESSAGES:
        log.warning(
            "an emergency unlock has %d approvers to tell: messaging the first %d", len(told), _MOST_DIRECT_MESSAGES
        )
    return told[:_MOST_DIRECT_MESSAGES]


class BreakGlass:
    """Runs an emergency unlock: checked, audited, started as a timed action, and alarmed."""

    def __init__(
        self,
        policy: Policy,
        people: PeopleDirectory,
        members: GroupMembers,
        actions: ActionRunner,
        store: EmergencyAudit,
        alarm: EmergencyAlarm,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._policy = policy
        self._people = people
        self._members = members
        self._actions = actions
        self._store = store
        self._alarm = alarm
        self._clock = clock

    async def unlock(
        self, lock: Lock, user_id: str, channel: str, reason: str, asked: timedelta | None
    ) -> ActionThread | Problem:
        """`asked`: the duration typed, else the door's relock_after (None when it has none)."""
        rules = self._policy.rules_for(lock)
        try:
            person = await self._people.person(user_id)
        except PeopleUnavailable:
            return Problem(ProblemReason.PROFILE_UNAVAILABLE)
        if not may_break_glass(rules, person):
            return Problem(ProblemReason.EMERGENCY_NOT_LISTED, door=lock.name)
        if not reason.strip():
            return Problem(ProblemReason.EMERGENCY_NEEDS_REASON, door=lock.name)
        if lock.can_remotely_unlock is False:
            return Problem(ProblemReason.NOT_REMOTE, door=lock.name, action=str(ActionKind.UNLOCK))
        unlock_for = emergency_unlock_for(rules, asked)
        # Audited before the door is touched: whatever happens next, the emergency is on record.
        await self._store.audit(self._entry(lock, user_id, "requested", reason))
        try:
            thread = await self._actions.run(
                ActionKind.UNLOCK, lock, user_id, channel, reason=reason, unlock_for=unlock_for
            )
        except CannotReport as exc:
            await self._store.audit(self._entry(lock, user_id, "not_sent", reason))
            return Problem(ProblemReason.NOT_ANNOUNCED, detail=exc.user_message)
        log.warning("emergency unlock of %s by %s", lock.device_id, user_id)
        unlock = EmergencyUnlock(
            door=lock.name,
            device_id=lock.device_id,
            by=user_id,
            reason=reason,
            unlock_for=unlock_for,
            approvers=rules.approvers,
            thread=thread,
            at=self._clock(),
        )
        channels = list(dict.fromkeys(c for c in (rules.approval_channel or channel, rules.notify_channel) if c))
        recipients = await approvers_to_tell(rules.approvers, self._members, besides=user_id)
        await self._alarm.sound(unlock, channels, recipients)
        return thread

    def _entry(self, lock: Lock, user_id: str, outcome: str, reason: str) -> AuditEntry:
        return AuditEntry(
            at=self._clock(),
            actor=user_id,
            event=EMERGENCY_EVENT,
            outcome=outcome,
            door=lock.name,
            device_id=lock.device_id,
            detail=reason,
        )
