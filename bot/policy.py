"""Who may do what with which door: pure decisions over the policy and the facts about a person."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from bot.seam import Lock

__all__ = ["EVERYONE", "DoorRules", "Person", "Policy", "may_approve", "may_lock", "may_unlock_directly"]

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


@dataclass(frozen=True)
class DoorRules:
    """The rules for one door. `None` for a list means: workspace admins and owners."""

    direct_unlock: frozenset[str] | None = None
    approvers: frozenset[str] | None = None
    approval_channel: str | None = None
    notify_channel: str | None = None
    request_ttl: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Policy:
    """The default rules and each door's own, keyed by casefolded name or device id."""

    defaults: DoorRules = DoorRules()
    doors: Mapping[str, DoorRules] = field(default_factory=dict)

    def rules_for(self, lock: Lock) -> DoorRules:
        for key in (lock.device_id, *lock.names):
            rules = self.doors.get(key.casefold())
            if rules is not None:
                return rules
        return self.defaults


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
