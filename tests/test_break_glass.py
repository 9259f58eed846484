"""Break-glass alone: the flag as typed, how long it lasts, who is told, and the checks before any unlock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from bot.break_glass import (
    EMERGENCY_EVENT,
    EMERGENCY_UNLOCK_FOR,
    BreakGlass,
    EmergencyUnlock,
    approvers_to_tell,
    emergency_unlock_for,
    split_emergency_flag,
)
from bot.model import ActionKind, ActionThread, AuditEntry, CannotReport, Lock
from bot.policy import DoorRules, PeopleUnavailable, Person, Policy
from bot.replies import Problem, ProblemReason

AT = datetime(2026, 11, 22, 17, 30, tzinfo=UTC)
FRONT = Lock(device_id="lock_1", display_name="Front Door")
ONCALL, ONCALL_GROUP, APPROVER, GUARD = "U0ONCALL01", "S0ONCALL01", "U0APPROV01", "U0GUARD001"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("front door --emergency gas leak", "front door gas leak"),
        ("front door gas leak --emergency", "front door gas leak"),
        ("--emergency front door gas leak", "front door gas leak"),
        ("front door --EMERGENCY gas leak", "front door gas leak"),
        ("front door —emergency gas leak", "front door gas leak"),  # a Slack client's dash for `--`
        ("front door –emergency gas leak", "front door gas leak"),  # noqa: RUF001 - the en dash Slack may send
        ("front door --emergency", "front door"),
    ],
)
def test_the_flag_is_found_as_a_word_anywhere_and_taken_out(typed: str, expected: str) -> None:
    assert split_emergency_flag(typed) == (expected, True)


@pytest.mark.parametrize(
    "typed",
    ["front door gas leak", "front door --emergency-exit jammed", "front door pre--emergency", "front door emergency"],
)
def test_without_the_flag_as_a_word_the_text_is_left_as_typed(typed: str) -> None:
    assert split_emergency_flag(typed) == (typed, False)


@pytest.mark.parametrize(
    ("rules", "asked", "expected"),
    [
        (DoorRules(), None, EMERGENCY_UNLOCK_FOR),
        (DoorRules(relock_after=timedelta(minutes=5)), timedelta(minutes=5), timedelta(minutes=5)),
        (DoorRules(max_unlock=timedelta(minutes=10)), None, timedelta(minutes=10)),
        (DoorRules(max_unlock=timedelta(minutes=30)), timedelta(minutes=20), timedelta(minutes=20)),
        (DoorRules(max_unlock=timedelta(minutes=30)), timedelta(hours=1), timedelta(minutes=30)),
    ],
)
def test_an_emergency_unlock_lasts_as_asked_or_15_min_never_past_max_unlock(
    rules: DoorRules, asked: timedelta | None, expected: timedelta
) -> None:
    assert emergency_unlock_for(rules, asked) == expected


class Groups:
    def __init__(self, members: dict[str, frozenset[str]]) -> None:
        self._members = members

    async def members(self, group: str) -> frozenset[str]:
        if group not in self._members:
            raise PeopleUnavailable(group)
        return self._members[group]


@pytest.mark.anyio
async def test_approver_users_and_the_members_of_approver_groups_are_told_but_not_the_breaker() -> None:
    groups = Groups({"S0GUARDS01": frozenset({GUARD, ONCALL})})

    told = await approvers_to_tell(frozenset({APPROVER, "S0GUARDS01", "S0UNKNOWN1"}), groups, besides=ONCALL)

    assert told == [APPROVER, GUARD]  # the unlisted group is told by its mention in the notices


@pytest.mark.anyio
@pytest.mark.parametrize("approvers", [None, frozenset({"*"}), frozenset()])
async def test_admins_or_everyone_as_approvers_are_not_messaged_one_by_one(approvers: frozenset[str] | None) -> None:
    assert await approvers_to_tell(approvers, Groups({}), besides=ONCALL) == []


@dataclass
class Runs:
    cannot_report: bool = False
    runs: list[tuple[ActionKind, str, str, timedelta | None]] = field(default_factory=list)

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
        if self.cannot_report:
            raise CannotReport("I'm not in this channel, so I did nothing.")
        self.runs.append((kind, lock.device_id, reason, unlock_for))
        return ActionThread(channel, "1.000100", "1.000200")


@dataclass
class Audit:
    entries: list[AuditEntry] = field(default_factory=list)

    async def audit(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


@dataclass
class Alarm:
    sounded: list[tuple[EmergencyUnlock, Sequence[str], Sequence[str]]] = field(default_factory=list)

    async def sound(self, unlock: EmergencyUnlock, channels: Sequence[str], recipients: Sequence[str]) -> None:
        self.sounded.append((unlock, channels, recipients))


class People:
    async def person(self, user_id: str) -> Person:
        return Person(user_id, groups=frozenset({ONCALL_GROUP}) if user_id == ONCALL else frozenset())

    async def time_zone(self, user_id: str) -> str | None:
        return None


@dataclass
class Desk:
    glass: BreakGlass
    runs: Runs
    audit: Audit
    alarm: Alarm


def desk(rules: DoorRules, runs: Runs | None = None) -> Desk:
    runs, audit, alarm = runs or Runs(), Audit(), Alarm()
    groups = Groups({"S0GUARDS01": frozenset({GUARD})})
    glass = BreakGlass(Policy(defaults=rules), People(), groups, runs, audit, alarm, clock=lambda: AT)
    return Desk(glass, runs, audit, alarm)


RULES = DoorRules(
    approvers=frozenset({APPROVER, "S0GUARDS01"}),
    approval_channel="C0APPROVE1",
    notify_channel="C0NOTIFY01",
    relock_after=timedelta(minutes=5),
    emergency=frozenset({ONCALL_GROUP}),
)


@pytest.mark.anyio
async def test_someone_on_the_list_unlocks_at_once_is_audited_and_every_approver_alerted() -> None:
    on = desk(RULES)

    started = await on.glass.unlock(FRONT, ONCALL, "C0HALL0001", "gas leak", timedelta(minutes=5))

    assert started == ActionThread("C0HALL0001", "1.000100", "1.000200")
    assert on.runs.runs == [(ActionKind.UNLOCK, "lock_1", "gas leak", timedelta(minutes=5))]
    assert [(e.event, e.actor, e.outcome, e.detail) for e in on.audit.entries] == [
        (EMERGENCY_EVENT, ONCALL, "requested", "gas leak")
    ]
    [(unlock, channels, recipients)] = on.alarm.sounded
    assert channels == ["C0APPROVE1", "C0NOTIFY01"]
    assert recipients == [APPROVER, GUARD]
    assert (unlock.door, unlock.by, unlock.reason) == ("Front Door", ONCALL, "gas leak")
    assert unlock.approvers == RULES.approvers


@pytest.mark.anyio
async def test_without_an_approval_channel_the_notice_goes_where_it_was_typed_once() -> None:
    on = desk(DoorRules(emergency=frozenset({ONCALL})))

    await on.glass.unlock(FRONT, ONCALL, "C0HALL0001", "gas leak", None)

    [(unlock, channels, recipients)] = on.alarm.sounded
    assert channels == ["C0HALL0001"]
    assert recipients == []  # approvers are the workspace admins: named, not pinged one by one
    assert unlock.unlock_for == EMERGENCY_UNLOCK_FOR


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("user", "reason", "refused"),
    [
        (APPROVER, "gas leak", ProblemReason.EMERGENCY_NOT_LISTED),  # an approver, but not on the list
        (APPROVER, "", ProblemReason.EMERGENCY_NOT_LISTED),
        (ONCALL, "", ProblemReason.EMERGENCY_NEEDS_REASON),
        (ONCALL, "   ", ProblemReason.EMERGENCY_NEEDS_REASON),
    ],
)
async def test_off_the_list_or_without_a_reason_nothing_is_unlocked_audited_or_alarmed(
    user: str, reason: str, refused: ProblemReason
) -> None:
    on = desk(RULES)

    answer = await on.glass.unlock(FRONT, user, "C0HALL0001", reason, None)

    assert answer == Problem(refused, door="Front Door")
    assert on.runs.runs == []
    assert on.audit.entries == []
    assert on.alarm.sounded == []


@pytest.mark.anyio
async def test_nobody_breaks_glass_by_default_not_even_an_admin() -> None:
    on = desk(DoorRules())

    class Admins(People):
        async def person(self, user_id: str) -> Person:
            return Person(user_id, is_admin=True, is_owner=True)

    glass = BreakGlass(Policy(), Admins(), Groups({}), on.runs, on.audit, on.alarm)
    answer = await glass.unlock(FRONT, "U0ADMIN001", "C1", "gas leak", None)

    assert answer == Problem(ProblemReason.EMERGENCY_NOT_LISTED, door="Front Door")
    assert on.runs.runs == []


@pytest.mark.anyio
async def test_an_emergency_that_cannot_be_shown_is_not_sent_nor_alarmed_but_stays_on_record() -> None:
    on = desk(RULES, Runs(cannot_report=True))

    answer = await on.glass.unlock(FRONT, ONCALL, "C0HALL0001", "gas leak", None)

    assert answer == Problem(ProblemReason.NOT_ANNOUNCED, detail="I'm not in this channel, so I did nothing.")
    assert [e.outcome for e in on.audit.entries] == ["requested", "not_sent"]
    assert on.alarm.sounded == []
