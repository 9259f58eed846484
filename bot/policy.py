"""Who may do what with which door: pure decisions over the policy and the facts about a person."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from bot.model import Lock

__all__ = [
    "EVERYONE",
    "DoorRules",
    "PeopleDirectory",
    "PeopleUnavailable",
    "Person",
    "Policy",
    "may_approve",
    "may_break_glass",
    "may_change_timed_unlock",
    "may_lock",
    "may_unlock_directly",
]

EVERYONE = "*"


@dataclass(frozen=True)
class Person:
    """What lockbot knows about a Slack user when it decides."""

    user_id: str
    is_admin: bool = False
    is_owner: bool = False
    groups: frozenset[str] = frozenset()

    @property
    def is_admin_or_owner(self) -> bool:
        return self.is_admin or self.is_owner


class PeopleUnavailable(Exception):
    """Facts about a Slack user could not be looked up."""


class PeopleDirectory(Protocol):
    async def person(self, user_id: str) -> Person: ...

    async def time_zone(self, user_id: str) -> str | None:
        """The user's IANA time zone as Slack knows it."""


@dataclass(frozen=True)
class DoorRules:
    """The rules for one door. `None` for a list means: workspace admins and owners."""

    direct_unlock: frozenset[str] | None = None
    approvers: frozenset[str] | None = None
    approval_channel: str | None = None
    notify_channel: str | None = None
    request_ttl: timedelta = timedelta(minutes=15)
    relock_after: timedelta | None = None  # a plain /unlock relocks after this; None: only when asked
    max_unlock: timedelta = timedelta(hours=12)  # the longest unlock anyone may ask for
    alert_unlocked_after: timedelta | None = None  # a notice for a door left unlocked this long; None: no alert
    remind_after: timedelta | None = None  # an undecided request is bumped every this long; None: never
    escalate_after: timedelta | None = None  # ...and after this, escalate_to is mentioned too (once)
    escalate_to: frozenset[str] = frozenset()
    reason_required: bool = False  # /unlock without a reason is refused with the usage
    emergency: frozenset[str] = frozenset()  # who may break glass (--emergency); empty: nobody


@dataclass(frozen=True)
class Policy:
    """The default rules and each door's own, keyed by casefolded name or device id."""

    defaults: DoorRules = DoorRules()
    doors: Mapping[str, DoorRules] = field(default_factory=dict)

    def rules_for(self, lock: Lock) -> DoorRules:
        return self.rules_for_door(lock.device_id, *lock.names)

    def rules_for_door(self, device_id: str, *names: str) -> DoorRules:
        for key in (device_id, *names):
            rules = self.doors.get(key.casefold())
            if rules is not None:
                return rules
        return self.defaults

    def doors_without_lock(self, locks: Iterable[Lock]) -> list[str]:
        """The doors this policy names (casefolded, as keyed) that are no lock's device id or name:
        matched as `rules_for` matches them, so a door listed here gets the defaults."""
        known = {key.casefold() for lock in locks for key in (lock.device_id, *lock.names)}
        return [door for door in self.doors if door not in known]

    def groups(self) -> frozenset[str]:
        """Every user group the policy names: their members must be looked up."""
        named: set[str] = set()
        for rules in (self.defaults, *self.doors.values()):
            for entries in (rules.direct_unlock, rules.approvers, rules.escalate_to, rules.emergency):
                named.update(entry for entry in entries or () if entry.startswith("S"))
        return frozenset(named)

    def approves_anything(self, person: Person) -> bool:
        """Whether the person approves at least one door (or every door by default)."""
        return any(may_approve(rules, person) for rules in (self.defaults, *self.doors.values()))


def _listed(entries: frozenset[str] | None, person: Person) -> bool:
    if entries is None:
        return person.is_admin_or_owner
    return EVERYONE in entries or person.user_id in entries or not entries.isdisjoint(person.groups)


def may_lock(rules: DoorRules, person: Person) -> bool:
    """Everyone may lock: locking a door never lets anybody in."""
    return True


def may_unlock_directly(rules: DoorRules, person: Person) -> bool:
    return _listed(rules.direct_unlock, person)


def may_approve(rules: DoorRules, person: Person) -> bool:
    return _listed(rules.approvers, person)


def may_break_glass(rules: DoorRules, person: Person) -> bool:
    """Only those the policy names in `emergency`; nobody by default, admins included."""
    return _listed(rules.emergency, person)


def may_change_timed_unlock(rules: DoorRules, person: Person, unlocked_by: str) -> bool:
    """Lock now, or keep unlocked longer, a timed unlock of the door: whoever unlocked it (an
    approved request's requester), an approver of the door, or anyone who may unlock it directly."""
    return person.user_id == unlocked_by or may_approve(rules, person) or may_unlock_directly(rules, person)
