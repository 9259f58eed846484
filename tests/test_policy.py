"""Who may do what: pure decisions."""

from __future__ import annotations

from bot.model import Lock
from bot.policy import (
    EVERYONE,
    DoorRules,
    Person,
    Policy,
    may_approve,
    may_break_glass,
    may_change_timed_unlock,
    may_lock,
    may_unlock_directly,
)

ADMIN = Person("U1", is_admin=True)
OWNER = Person("U2", is_owner=True)
MEMBER = Person("U3", groups=frozenset({"S0SECURITY"}))


def test_without_a_policy_everyone_locks_and_only_admins_and_owners_unlock_and_approve() -> None:
    rules = Policy().defaults
    assert all(may_lock(rules, person) for person in (ADMIN, OWNER, MEMBER))
    assert may_unlock_directly(rules, ADMIN)
    assert may_unlock_directly(rules, OWNER)
    assert not may_unlock_directly(rules, MEMBER)
    assert may_approve(rules, ADMIN)
    assert not may_approve(rules, MEMBER)


def test_listed_users_groups_and_everyone() -> None:
    assert may_unlock_directly(DoorRules(direct_unlock=frozenset({"U3"})), MEMBER)
    assert may_unlock_directly(DoorRules(direct_unlock=frozenset({"S0SECURITY"})), MEMBER)
    assert may_unlock_directly(DoorRules(direct_unlock=frozenset({EVERYONE})), MEMBER)
    assert not may_unlock_directly(DoorRules(direct_unlock=frozenset()), ADMIN)  # an explicit empty list: nobody


def test_door_rules_by_name_or_device_id_override_the_defaults() -> None:
    secure = DoorRules(direct_unlock=frozenset())
    policy = Policy(doors={"server room": secure, "lock_9": secure})
    assert policy.rules_for(Lock(device_id="x", display_name="Server Room")) is secure
    assert policy.rules_for(Lock(device_id="lock_9", display_name="Other")) is secure
    assert policy.rules_for(Lock(device_id="y", display_name="Front Door")) is policy.defaults


def test_doors_without_lock_are_those_rules_for_would_never_find() -> None:
    policy = Policy(doors={"server room": DoorRules(), "lock_9": DoorRules(), "server rom": DoorRules()})
    locks = [Lock(device_id="LOCK_9", display_name="Lab"), Lock(device_id="x", device_name="SERVER ROOM")]

    assert policy.doors_without_lock(locks) == ["server rom"]
    assert all(policy.rules_for(lock) is not policy.defaults for lock in locks)


def test_nobody_breaks_glass_unless_named_in_emergency_not_even_an_admin() -> None:
    admin = Person("UADMIN", is_admin=True)
    oncall = Person("UONCALL", groups=frozenset({"S0ONCALL"}))
    assert not may_break_glass(DoorRules(), admin)
    rules = DoorRules(emergency=frozenset({"S0ONCALL"}))
    assert may_break_glass(rules, oncall)
    assert not may_break_glass(rules, admin)


def test_a_timed_unlock_is_ended_or_extended_by_who_unlocked_an_approver_or_a_direct_unlocker() -> None:
    rules = DoorRules(direct_unlock=frozenset({"UDIRECT"}), approvers=frozenset({"S0SECURITY"}))
    unlocker, stranger = Person("UUNLOCKER"), Person("USTRANGER")
    assert may_change_timed_unlock(rules, unlocker, "UUNLOCKER")
    assert may_change_timed_unlock(rules, Person("UDIRECT"), "UUNLOCKER")
    assert may_change_timed_unlock(rules, MEMBER, "UUNLOCKER")  # an approver, through S0SECURITY
    assert not may_change_timed_unlock(rules, stranger, "UUNLOCKER")
    assert not may_change_timed_unlock(rules, ADMIN, "UUNLOCKER")  # the policy names who, admins included
    assert may_change_timed_unlock(DoorRules(), ADMIN, "UUNLOCKER")  # no policy: admins unlock and approve
    assert not may_change_timed_unlock(DoorRules(), stranger, "UUNLOCKER")
