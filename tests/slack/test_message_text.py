"""Every message lockbot can post, with hostile values in every slot: escaped in `text` and every
block, within Slack's limits; dates converted to UTC; a not-confirmed outcome never invites a retry."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

import bot.slack.messages
from bot.break_glass import EMERGENCY_EVENT, EmergencyUnlock
from bot.door_service import AskHowLong, AuditView, DoorOverview, DoorStatus
from bot.doors import DoorAmbiguous, DoorUnknown
from bot.homes import HomeDoor, HomePage
from bot.model import (
    ActionKind,
    ActionProblem,
    ActionState,
    ActionThread,
    ActionView,
    AuditEntry,
    Relock,
    RelockState,
    ReminderHistory,
    RequestState,
    SlotLock,
    SlotLockState,
    TimedUnlockEnd,
    UnlockedAlert,
    UnlockedAlertState,
    UnlockEnding,
    UnlockRequest,
)
from bot.overbooked import OverbookedServerError, Slot
from bot.reminders import Reminder
from bot.replies import Problem, ProblemReason
from bot.seam import Lock, SeamServerError
from bot.seam_events import DoorNotice
from bot.slack.messages.actions import render_action_parent, render_action_status
from bot.slack.messages.doors import (
    render_ambiguous_door,
    render_audit,
    render_door_overview,
    render_unknown_door,
    render_usage,
)
from bot.slack.messages.emergencies import render_emergency_direct_message, render_emergency_notice
from bot.slack.messages.home import render_home, render_home_answer, render_home_asking, render_home_unlock_modal
from bot.slack.messages.notices import (
    render_door_notice,
    render_outcome_notice,
    render_unlocked_alert,
    render_unlocked_alert_locked,
)
from bot.slack.messages.outcomes import not_confirmed_reason
from bot.slack.messages.primitives import SlackMessage
from bot.slack.messages.relocks import (
    render_relock_failed,
    render_relock_gave_up,
    render_relock_locked_on_retry,
    render_relock_retrying,
    render_relock_settled,
    render_timed_unlock_reply,
)
from bot.slack.messages.reminders import render_reminder
from bot.slack.messages.replies import render_notice, render_problem
from bot.slack.messages.requests import (
    render_decision_reply,
    render_deny_reason_modal,
    render_refusal,
    render_request,
    render_request_filed,
    render_requester_message,
    unlock_confirm,
)
from bot.slack.messages.slots import (
    render_bad_slot_command,
    render_slot_parent,
    render_slot_ran_out,
    render_slot_status,
    render_slot_status_reply,
    render_slot_unlocked,
    render_slot_usage,
)
from bot.slack.text import bold, compose, value
from bot.slots import BadSlotCommand, SlotCommandFault, SlotStatus, SlotUnlocked, SlotView
from bot.timed_unlocks import (
    AlreadyEnded,
    AtTheLimit,
    ChangeRefusal,
    ChangeRefused,
    Extended,
    LockingNow,
    TimedUnlockChange,
    UnlockUnknown,
)
from bot.unlock_requests import AlreadyDecided, Decided, Decision, DecisionRefused, Refusal, RequestFiled, RequestGone
from tests.fakes.slack_api import over_limit, over_view_limit

EVIL = "Garage <!channel> <https://evil.example|Approve here> <@U0EVIL001> <#C0EVIL001> <!subteam^S0EVIL001> <!here> &"
FORBIDDEN = ("<!channel", "<!here", "<http", "<@U0EVIL", "<#C0EVIL", "<!subteam^S0EVIL")
LONG = EVIL * 100  # 10,000 characters and more
AT = datetime(2026, 11, 22, 17, 30, tzinfo=UTC)


def texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [str(node["text"])] if node.get("type") in ("mrkdwn", "plain_text") and "text" in node else []
        return own + [t for key, item in node.items() if not (own and key == "text") for t in texts(item)]
    if isinstance(node, list):
        return [t for item in node for t in texts(item)]
    return []


def assert_safe(message: SlackMessage) -> None:
    assert over_limit(message.as_kwargs()) is None
    for shown in [message.text, *texts(message.blocks)]:
        for raw in FORBIDDEN:
            assert raw not in shown, f"{raw!r} raw in {shown[:200]!r}"


def words(text: str | None) -> ActionProblem | None:
    """A problem as free words (as rows written before problems were typed hold it)."""
    return ActionProblem(ProblemReason.WORDS, detail=text) if text is not None else None


def action_views(door: str, text: str) -> Iterator[ActionView]:
    for kind in ActionKind:
        for state in ActionState:
            yield ActionView(
                kind, door, "U0REQUEST1", state, problem=words(text), attempt_id=text, reason=text, timeout_seconds=3
            )
        yield ActionView(kind, door, "U0REQUEST1", ActionState.NOT_CONFIRMED, reason=text)
        for state in (ActionState.SUCCEEDED, ActionState.NOT_CONFIRMED):
            yield ActionView(kind, door, "U0REQUEST1", state, reason=text, until=AT, confirmed_by_device=False)
            yield ActionView(kind, door, "U0REQUEST1", state, reason=text, until=AT, action_id="0f" * 16)
    # A lock that ends a timed unlock (its relock, a Lock now, an early lock), on the unlock's parent.
    for ending in UnlockEnding:
        end = TimedUnlockEnd(ending, "U0REQUEST1", AT, AT + timedelta(minutes=10), locked_by="U0LOCKER1", reason=text)
        for state in ActionState:
            yield ActionView(
                ActionKind.LOCK, door, "U0LOCKER1", state, problem=words(text), reason=text, attempt_id=text, ends=end
            )


def requests(door: str, text: str) -> Iterator[UnlockRequest]:
    pending = UnlockRequest(
        id="r1",
        device_id="lock_1",
        door=door,
        requester="U0REQUEST1",
        reason=text,
        origin_channel="C1",
        channel="C2",
        state=RequestState.PENDING,
        created_at=AT,
        expires_at=AT + timedelta(minutes=15),
    )
    yield pending
    decided = [
        replace(pending, state=state, decided_by="U0APPROV01", decided_at=AT, note=text)
        for state in (RequestState.APPROVED, RequestState.DENIED, RequestState.CANCELLED, RequestState.EXPIRED)
    ]
    yield from decided
    # Reminded, by hostile and many names: the line stays on the message in every state.
    reminded = ReminderHistory(MANY_APPROVERS, AT, MANY_APPROVERS, AT)
    for request in (pending, *decided):
        yield replace(request, reminded=reminded)


MANY_APPROVERS = frozenset({f"U0APPR{n:04d}" for n in range(200)} | {"S0GROUP01", "*", EVIL})
APPROVER_LISTS: list[frozenset[str] | None] = [
    None,
    frozenset(),
    frozenset({"*"}),
    frozenset({"U0APPROV01"}),
    MANY_APPROVERS,
]


def reminder_messages(door: str, text: str) -> Iterator[tuple[str, SlackMessage]]:
    pending = next(requests(door, text))
    for approvers in APPROVER_LISTS:
        for escalate_to in (frozenset(), frozenset({"S0SECURITY"}), MANY_APPROVERS):
            for escalating in (True, False):
                reminder = Reminder(pending, timedelta(minutes=10, seconds=4), approvers, escalate_to, escalating)
                yield "render_reminder", render_reminder(reminder)
            for escalated_at in (None, AT):
                history = ReminderHistory(approvers, AT, escalate_to, escalated_at)
                yield "render_request", render_request(replace(pending, reminded=history), approvers)


def locks(name: str, count: int) -> tuple[Lock, ...]:
    return tuple(Lock(device_id=f"lock_{n}", display_name=f"{name} {n}") for n in range(count))


def every_message(door: str, text: str) -> Iterator[tuple[str, SlackMessage]]:
    """(render function's name, message) for every render_* function, fed `door` and `text` everywhere."""
    for view in action_views(door, text):
        yield "render_action_parent", render_action_parent(view)
        yield "render_action_status", render_action_status(view)
        yield "render_outcome_notice", render_outcome_notice(view, "U0APPROV01")
        yield "render_outcome_notice", render_outcome_notice(view, None, "lock_1")
    for request in requests(door, text):
        approved = ActionView(
            ActionKind.UNLOCK, door, "U0REQUEST1", ActionState.FAILED, problem=words(text), request=request
        )
        yield "render_request", render_request(request, frozenset({"U0APPROV01", "S0GROUP01"}), approved)
        yield "render_action_parent", render_action_parent(approved)
        yield "render_requester_message", render_requester_message(request, approved)
        yield "render_request_filed", render_request_filed(RequestFiled(request, None))
        yield "render_decision_reply", render_decision_reply(AlreadyDecided(request), "U0APPROV01")
        for decision in Decision:
            yield "render_decision_reply", render_decision_reply(Decided(request, decision), "U0APPROV01")
    yield from reminder_messages(door, text)
    yield "render_decision_reply", render_decision_reply(RequestGone(), "U1")
    for refusal in Refusal:
        refused = DecisionRefused(refusal, user="U0REQUEST1", door=door)
        yield "render_decision_reply", render_decision_reply(refused, "U1")
        yield "render_refusal", render_refusal(refused)
    for reason in ProblemReason:
        problem = Problem(reason, detail=text, door=door, action="unlock", slot_id=text, user="U0LOCKER1")
        yield "render_problem", render_problem(problem)
    many = locks(door, 150)
    yield "render_unknown_door", render_unknown_door(DoorUnknown(text, many))
    yield "render_unknown_door", render_unknown_door(DoorUnknown(text, ()))
    yield "render_ambiguous_door", render_ambiguous_door(DoorAmbiguous(text, many))
    statuses = tuple(DoorStatus(lock, True, n % 2 == 0) for n, lock in enumerate(many))
    yield "render_door_overview", render_door_overview(DoorOverview(statuses))
    yield "render_door_overview", render_door_overview(DoorOverview(statuses[:3], prefix=text, total=150))
    yield "render_door_overview", render_door_overview(DoorOverview((), prefix=text, total=150))
    yield "render_door_overview", render_door_overview(DoorOverview(()))
    entries = tuple(
        AuditEntry(AT, actor, text, text, door=door, device_id="lock_1", attempt_id=text, detail=text)
        for actor in ("U0ADMIN001", "lockbot", text)
        for _ in range(7)
    )
    yield "render_audit", render_audit(AuditView(entries, door))
    emergencies = tuple(
        AuditEntry(AT, "U0ONCALL01", EMERGENCY_EVENT, "requested", door=door, device_id="lock_1", detail=text)
        for _ in range(30)
    )
    yield "render_audit", render_audit(AuditView(emergencies, None))
    yield "render_audit", render_audit(AuditView((), door))
    yield "render_notice", render_notice(compose("lockbot's own words about ", bold(door), value(text)))
    yield "render_usage", render_usage("/unlock")
    yield "render_usage", render_usage("/doors")
    yield "render_slot_usage", render_slot_usage(compose("“", value(text, 80), "” is not a /slot command."))
    for fault in SlotCommandFault:
        yield "render_bad_slot_command", render_bad_slot_command(BadSlotCommand(fault, text))
    for phase in ActionState:
        slot_view = SlotView("ROOM-1", "U0LOCKER1", phase, AT, problem=words(text))
        yield "render_slot_parent", render_slot_parent(slot_view)
        yield "render_slot_status", render_slot_status(slot_view)
    unlocked = SlotView("ROOM-1", "U0LOCKER1", ActionState.SUCCEEDED, AT, unlocked_by="U0APPROV01", unlocked_at=AT)
    yield "render_slot_status", render_slot_status(unlocked)
    slot = Slot(id=text, lockable=False, available=True, status=text, locked_until=AT, start_date=AT, end_date=AT)
    ours = SlotLock("l1", text, "key", "U0LOCKER1", "C1", AT, SlotLockState.LOCKED, AT, AT)
    for held in (ours, None):
        yield "render_slot_status_reply", render_slot_status_reply(SlotStatus(slot, held, AT - timedelta(1)))
    yield "render_slot_status_reply", render_slot_status_reply(SlotStatus(slot, None, AT + timedelta(1)))
    yield "render_slot_unlocked", render_slot_unlocked(SlotUnlocked(text, "U0LOCKER1"), "U0OTHER01")
    yield "render_slot_ran_out", render_slot_ran_out(text, AT)
    relock = Relock(text, "lock_1", door, "U0ADMIN001", "C1", "1.000001", AT, AT + timedelta(minutes=5))
    for settled_by in ("U0LOCKER1", None):
        yield "render_relock_settled", render_relock_settled(replace(relock, settled_by=settled_by))
        yield "render_relock_settled", render_relock_settled(replace(relock, settled_by=settled_by, tries=2))
    retried = replace(relock, tries=3, status_ts="1.000002")
    for view in action_views(door, text):
        yield "render_relock_failed", render_relock_failed(relock, view, mentioning="U0ADMIN001")
        yield "render_relock_failed", render_relock_failed(relock, view)
        yield "render_relock_failed", render_relock_failed(relock, view, retry_in=timedelta(seconds=30))
        yield "render_relock_retrying", render_relock_retrying(retried, view, retry_in=timedelta(minutes=2), tries=4)
        yield "render_relock_locked_on_retry", render_relock_locked_on_retry(retried, view, tries=4)
    yield "render_relock_gave_up", render_relock_gave_up(retried, mentioning="U0ADMIN001")
    yield "render_relock_gave_up", render_relock_gave_up(retried)
    for approvers in (frozenset({"U0APPROV01", "S0GROUP01", text}), None, frozenset({"*"}), frozenset()):
        unlock = EmergencyUnlock(
            door, "lock_1", "U0ONCALL01", text, timedelta(minutes=15), approvers, ActionThread(text, "1.0", "2.0"), AT
        )
        yield "render_emergency_notice", render_emergency_notice(unlock)
        yield "render_emergency_direct_message", render_emergency_direct_message(unlock)
    changes: list[TimedUnlockChange] = [
        LockingNow(relock),
        Extended(relock),
        Extended(relock, timedelta(hours=2)),
        AtTheLimit(relock, timedelta(minutes=90)),
        UnlockUnknown(),
        *(ChangeRefused(relock, reason) for reason in ChangeRefusal),
        *(
            AlreadyEnded(replace(relock, state=state, settled_by=by), lock)
            for state in RelockState
            for by in (None, text)
            for lock in (None, ActionState.SUCCEEDED, ActionState.FAILED)
        ),
    ]
    for change in changes:
        reply = render_timed_unlock_reply(change)
        if reply is not None:
            yield "render_timed_unlock_reply", reply
    for event in ("lock.unlocked", "lock.access_denied", "device.low_battery", text):
        for known in (True, False):
            notice = DoorNotice(event, door, text, AT, method=text, battery_level=0.1, known=known)
            yield "render_door_notice", render_door_notice(notice)
    alert = UnlockedAlert("a1", "lock_1", door, text, AT, AT + timedelta(minutes=30))
    for unlocked_for in (timedelta(seconds=10), timedelta(minutes=30), timedelta(days=400)):
        yield "render_unlocked_alert", render_unlocked_alert(alert, unlocked_for)
    for by, how in (("U0LOCKER1", None), (None, "keypad"), (None, "relock"), (None, None), (None, text), (text, text)):
        locked = replace(alert, state=UnlockedAlertState.LOCKED, locked_at=AT, locked_by=by, locked_how=how)
        yield "render_unlocked_alert_locked", render_unlocked_alert_locked(locked)


def every_view(door: str, text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(render function's name, view) for every renderer of a view (App Home, modals), fed hostile values."""
    relock = Relock(text, "lock_1", door, "U0ADMIN001", "C1", "1.000001", AT, AT + timedelta(minutes=5))
    request = next(requests(door, text))
    slot = SlotLock("l1", text, "key", "U0ADMIN001", "C1", AT, SlotLockState.LOCKED, AT, AT)
    for count in (0, 3, 150):
        doors = tuple(
            HomeDoor(
                replace(lock, device_id=f"{text}{n}", locked=(None, True, False)[n % 3], battery_level=n / 150),
                may_unlock=n % 2 == 0,
                unlocked_until=AT if n % 3 == 2 else None,
                relock_after=timedelta(minutes=5) if n % 4 else None,
            )
            for n, lock in enumerate(locks(door, count))
        )
        page = HomePage(
            "U0ADMIN001",
            doors,
            to_decide=(replace(request, unlock_for=timedelta(minutes=10)),) * (count // 10),
            timed_unlocks=(relock,) * (count // 20),
            slot_locks=(slot,) * count,
        )
        yield "render_home", render_home(page)
    for reason in ProblemReason:
        problem = Problem(reason, detail=text, door=door, action="unlock", slot_id=text, user="U0LOCKER1")
        yield "render_home", render_home(HomePage("U0ADMIN001", timed_unlocks=(relock,), problem=problem))
    for direct in (True, False):
        for after in (None, timedelta(minutes=5)):
            # A modal is only opened for a device id a button carried: Slack's buttons carry 2000 characters.
            ask = AskHowLong(Lock(device_id=text[:2000], display_name=door), direct, after)
            yield "render_home_unlock_modal", render_home_unlock_modal(ask)
    for _, message in every_message(door, text):
        yield "render_home_answer", render_home_answer(message)
        break
    yield "render_home_answer", render_home_answer(render_request_filed(RequestFiled(request, None)))
    yield "render_home_asking", render_home_answer(render_home_asking(door))


def assert_safe_view(view: dict[str, Any]) -> None:
    assert over_view_limit(view) is None
    for shown in texts(view["blocks"]):
        for raw in FORBIDDEN:
            assert raw not in shown, f"{raw!r} raw in {shown[:200]!r}"


MESSAGE_MODULES = [
    importlib.import_module(f"bot.slack.messages.{module.name}")
    for module in pkgutil.iter_modules(bot.slack.messages.__path__)
]
RENDERERS = {
    name
    for module in MESSAGE_MODULES
    for name in module.__all__
    if name.startswith("render_") and name != "render_deny_reason_modal"
}


@pytest.mark.parametrize(("door", "text"), [(EVIL, EVIL), (LONG, LONG), (EVIL, LONG), ("Front Door", EVIL)])
def test_no_message_carries_a_raw_hostile_value_or_breaks_a_limit(door: str, text: str) -> None:
    seen = set()
    for name, message in every_message(door, text):
        seen.add(name)
        assert_safe(message)
    for name, view in every_view(door, text):
        seen.add(name)
        assert_safe_view(view)
    assert seen == RENDERERS  # every message and view lockbot has is covered


def test_home_keeps_within_100_blocks_and_counts_the_doors_it_leaves_out() -> None:
    doors = tuple(HomeDoor(lock, may_unlock=True) for lock in locks(EVIL, 150))
    view = render_home(HomePage("U0ADMIN001", doors))
    shown = [block for block in view["blocks"] if block["type"] == "actions"]
    assert len(view["blocks"]) <= 100
    assert view["blocks"][-1]["elements"][0]["text"].startswith(f"…and {150 - len(shown)} more.")
    unlock = next(element for element in shown[0]["elements"] if element["action_id"] == "door_unlock")
    assert unlock["value"] == "lock_0"  # only the device id travels
    assert "&lt;!channel&gt;" in unlock["confirm"]["text"]["text"]


def test_a_hostile_value_is_shown_escaped_in_text_and_blocks_alike() -> None:
    view = ActionView(ActionKind.UNLOCK, EVIL, "U0REQUEST1", ActionState.SUCCEEDED)
    request = next(requests(EVIL, EVIL))
    for message in (render_action_status(view), render_request(request, None)):
        assert "Garage &lt;!channel&gt; &lt;https://evil.example|Approve here&gt;" in message.text
        assert "Garage &lt;!channel&gt; &lt;https://evil.example|Approve here&gt;" in " ".join(texts(message.blocks))


def test_lockbots_own_mentions_stay_mentions() -> None:
    request = next(requests(EVIL, "parcel"))
    message = render_request(request, frozenset({"U0APPROV01", "S0GROUP01"}))
    assert message.text.startswith("<@U0REQUEST1> asks to unlock Garage &lt;!channel&gt;")
    assert "<!subteam^S0GROUP01>" in message.text
    assert "<@U0APPROV01>" in message.text


def test_the_deny_reason_modal_carries_only_the_request_id() -> None:
    modal = render_deny_reason_modal("r1")
    assert modal["private_metadata"] == "r1"
    assert all(len(text) <= 3000 for text in texts(modal["blocks"]))


# -- dates (item 16) -------------------------------------------------------------------------------


def test_a_plain_date_is_converted_to_utc_before_it_is_labelled_utc() -> None:
    evening = datetime(2026, 11, 22, 22, 30, tzinfo=timezone(timedelta(hours=2)))

    message = render_slot_ran_out("ROOM-1", evening)

    assert "2026-11-22 20:30 UTC" in message.text
    assert "22:30 UTC" not in message.text
    assert f"<!date^{int(evening.timestamp())}^" in texts(message.blocks)[0]
    assert "|2026-11-22 20:30 UTC>" in texts(message.blocks)[0]  # Slack's own fallback too
    across_midnight = datetime(2026, 11, 23, 1, 0, tzinfo=timezone(timedelta(hours=5)))
    assert "2026-11-22 20:00 UTC" in render_slot_ran_out("ROOM-1", across_midnight).text


# -- not confirmed (item 15) -----------------------------------------------------------------------


def not_confirmed(problem: str | None) -> list[str]:
    view = ActionView(ActionKind.UNLOCK, "Front Door", "U1", ActionState.NOT_CONFIRMED, problem=words(problem))
    return [render_action_status(view).text, render_action_parent(view).text]


@pytest.mark.parametrize(
    "problem",
    [
        SeamServerError("HTTP 500").user_message,  # what the tracker keeps when every poll failed
        not_confirmed_reason(SeamServerError("HTTP 500").user_message),  # what lockbot now stores
        "Seam is busy right now (rate limited); try again in a minute",
        "lockbot was restarted while asking Seam, so it cannot tell; check the door",  # stored before this fix
        "lockbot was restarted while asking Seam, so it cannot tell whether Seam acted",
        None,
    ],
)
def test_a_not_confirmed_outcome_never_invites_a_retry_and_says_check_once(problem: str | None) -> None:
    for text in not_confirmed(problem):
        assert "try again" not in text.casefold()
        assert text.casefold().count("check the door") == 1
        assert "not confirmed" in text


def test_a_polling_failure_reads_plainly() -> None:
    status, _ = not_confirmed(not_confirmed_reason(SeamServerError("HTTP 500").user_message))
    assert status == (
        "Not confirmed: Unlocking Front Door not confirmed: Seam is having trouble right now. "
        "Check the door before relying on it."
    )


def test_a_slot_not_confirmed_never_invites_a_retry_of_the_lock() -> None:
    problem = OverbookedServerError("HTTP 500").user_message
    view = SlotView("ROOM-1", "U1", ActionState.NOT_CONFIRMED, AT, problem=words(problem))
    for message in (render_slot_status(view), render_slot_parent(view)):
        assert "try again" not in message.text.casefold()


@pytest.mark.parametrize("door", [EVIL, LONG, "Front Door", "&" * 10_000])
@pytest.mark.parametrize("unlock_for", [None, timedelta(hours=1, minutes=30)])
def test_the_approve_confirm_dialog_names_door_and_requester_within_slacks_limits(
    door: str, unlock_for: timedelta | None
) -> None:
    confirm = unlock_confirm(door, "U0REQUEST1", unlock_for).to_dict()  # slack_sdk checks the limits too

    assert len(confirm["title"]["text"]) <= 100
    assert len(confirm["text"]["text"]) <= 300
    assert len(confirm["confirm"]["text"]) <= 30
    assert len(confirm["deny"]["text"]) <= 30
    assert confirm["title"]["type"] == "plain_text"
    assert confirm["title"]["text"].startswith("Unlock ")
    assert confirm["text"]["text"].endswith("It unlocks at once.")
    if len(door) > 300:  # as much of a long name as fits, not a bare "…"
        assert len(confirm["text"]["text"]) > 250
    assert "<@U0REQUEST1>" in confirm["text"]["text"]
    for shown in texts(confirm):
        for raw in FORBIDDEN:
            assert raw not in shown
    if door == "Front Door":
        assert confirm["title"]["text"] == "Unlock Front Door?"
        assert "*Front Door*" in confirm["text"]["text"]
    if unlock_for is not None:
        assert "for 1 h 30 min" in confirm["text"]["text"]


@pytest.mark.parametrize("door", [EVIL, LONG, "Front Door", "&" * 10_000])
@pytest.mark.parametrize("may_unlock", [True, False])
def test_homes_unlock_and_ask_buttons_confirm_naming_the_door_and_the_viewer_within_slacks_limits(
    door: str, may_unlock: bool
) -> None:
    lock = Lock(device_id="lock_1", display_name=door)
    view = render_home(
        HomePage("U0VIEWER01", (HomeDoor(lock, may_unlock=may_unlock, relock_after=timedelta(minutes=5)),))
    )
    shown = {
        element["action_id"]: element
        for block in view["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    }
    pressed = shown["door_unlock" if may_unlock else "door_request"]
    confirm = pressed["confirm"]

    assert len(confirm["title"]["text"]) <= 100
    assert len(confirm["text"]["text"]) <= 300
    assert len(confirm["confirm"]["text"]) <= 30
    assert len(confirm["deny"]["text"]) <= 30
    assert "<@U0VIEWER01>" in confirm["text"]["text"]
    for text in texts(confirm):
        for raw in FORBIDDEN:
            assert raw not in text
    if len(door) > 300:  # as much of a long name as fits, not a bare "…"
        assert len(confirm["text"]["text"]) > 200
    if door == "Front Door":
        verb = "Unlock" if may_unlock else "Ask to unlock"
        assert confirm["title"]["text"] == f"{verb} Front Door?"
        assert f"{verb} *Front Door* for you (<@U0VIEWER01>)" in confirm["text"]["text"]
    if may_unlock:
        assert confirm["text"]["text"].endswith("It locks again after 5 min.")
    else:
        assert confirm["text"]["text"].endswith("Its approvers will be asked.")


def test_only_the_approve_button_of_a_request_asks_for_confirmation() -> None:
    request = next(requests("Front Door", "parcel"))
    message = render_request(request, frozenset({"U0APPROV01"}))
    rows = [block["elements"] for block in message.blocks if block["type"] == "actions"]
    shown = {element["action_id"]: element for row in rows for element in row}

    assert "Front Door" in shown["unlock_approve"]["confirm"]["title"]["text"]
    assert "<@U0REQUEST1>" in shown["unlock_approve"]["confirm"]["text"]["text"]
    assert "confirm" not in shown["unlock_deny"]
    assert "confirm" not in shown["unlock_cancel"]


def test_an_emergency_notice_mentions_every_approver_and_never_the_whole_workspace() -> None:
    thread = ActionThread("C0DOORS01", "1.0", "2.0")
    approvers = frozenset({"U0APPROV01", "S0GUARDS1"})
    unlock = EmergencyUnlock(
        "Front Door", "lock_1", "U0ONCALL01", "gas leak", timedelta(minutes=15), approvers, thread, AT
    )

    notice = render_emergency_notice(unlock)
    admins = render_emergency_notice(replace(unlock, approvers=None))
    everyone = render_emergency_notice(replace(unlock, approvers=frozenset({"*"})))

    assert notice.text.startswith(
        ":rotating_light: Emergency unlock: <@U0ONCALL01> used `--emergency` to unlock Front Door at once, "
        "without approval. Reason: gas leak. It locks again 15 min after it opens. Its outcome is in <#C0DOORS01>."
    )
    assert notice.text.endswith("Approvers: <!subteam^S0GUARDS1>, <@U0APPROV01>.")
    assert admins.text.endswith("Approvers: workspace admins.")
    assert everyone.text.endswith("Approvers: everyone.")
    for message in (admins, everyone):
        assert "<!" not in message.text.replace("<!date^", "")
        assert "<!" not in str(message.blocks).replace("<!date^", "")
    dm = render_emergency_direct_message(unlock)
    assert "You are told as an approver of Front Door." in dm.text


def test_the_audit_log_marks_an_emergency_unlock() -> None:
    entry = AuditEntry(AT, "U0ONCALL01", EMERGENCY_EVENT, "requested", door="Front Door", detail="gas leak")

    log = render_audit(AuditView((entry,), None))

    assert "EMERGENCY emergency_unlock · Front Door · requested · gas leak" in log.text
    assert ":rotating_light: *EMERGENCY*" in str(log.blocks)


def test_a_refused_unlock_names_the_door_and_how_to_ask_properly() -> None:
    needs = render_problem(Problem(ProblemReason.REASON_REQUIRED, door="Front Door"))
    not_listed = render_problem(Problem(ProblemReason.EMERGENCY_NOT_LISTED, door="Front Door"))
    no_reason = render_problem(Problem(ProblemReason.EMERGENCY_NEEDS_REASON, door="Front Door"))

    assert needs.text == (
        "Front Door needs a reason: `/unlock Front Door [for 10m] &lt;reason&gt;`. Nothing was unlocked."
    )
    assert not_listed.text == (
        "You are not on the emergency list for Front Door; nothing was unlocked. "
        "Use `/unlock Front Door &lt;reason&gt;` to ask an approver."
    )
    assert no_reason.text == (
        "An emergency unlock needs a reason: `/unlock Front Door --emergency &lt;reason&gt;`. Nothing was unlocked."
    )


# -- reminders (issue 14) --------------------------------------------------------------------------


def test_a_reminder_says_whom_it_concerns_and_what_to_do_in_one_message() -> None:
    pending = next(requests("Front Door", "parcel"))
    reminder = Reminder(
        pending, timedelta(minutes=10, seconds=4), frozenset({"U0APPROV01", "S0GUARDS01"}), frozenset(), False
    )

    message = render_reminder(reminder)

    assert message.text == (
        ":bell: <!subteam^S0GUARDS01>, <@U0APPROV01>: Front Door: <@U0REQUEST1> has been waiting 10 min for "
        "approval. Approve or deny above."
    )
    assert len(message.blocks) == 1


def test_an_escalation_mentions_escalate_to_and_the_approvers_once() -> None:
    pending = next(requests("Front Door", "parcel"))
    reminder = Reminder(pending, timedelta(seconds=20), frozenset({"U0APPROV01"}), frozenset({"S0SECURITY"}), True)

    text = render_reminder(reminder).text

    assert text.startswith(":rotating_light: <@U0APPROV01>, <!subteam^S0SECURITY>: Front Door: <@U0REQUEST1> has been")
    assert "waiting 20 s for approval. Approve or deny above. Escalated to <!subteam^S0SECURITY>" in text


def test_approvers_left_to_admins_or_everyone_are_named_never_pinged() -> None:
    pending = next(requests("Front Door", "parcel"))
    for approvers, words in ((None, "Workspace admins and owners: "), (frozenset({"*"}), "Anyone here: ")):
        text = render_reminder(Reminder(pending, timedelta(minutes=5), approvers, frozenset(), False)).text
        assert text.startswith(f":bell: {words}Front Door")
        assert "<!" not in text


def test_the_reminded_request_keeps_its_buttons_and_says_who_was_reminded_and_when() -> None:
    pending = next(requests("Front Door", "parcel"))
    approvers = frozenset({"U0APPROV01"})
    history = ReminderHistory(approvers, AT, frozenset({"S0SECURITY"}), AT - timedelta(minutes=5))

    message = render_request(replace(pending, reminded=history), approvers)

    plain = render_request(pending, approvers)
    assert message.blocks[:-2] == plain.blocks[:-1]
    assert message.blocks[-1] == plain.blocks[-1]  # the buttons, last
    assert message.text.endswith(
        "Reminded <@U0APPROV01> at 2026-11-22 17:30 UTC; escalated to <!subteam^S0SECURITY> at 2026-11-22 17:25 UTC."
    )
    line = texts(message.blocks[-2])[0]
    assert line.startswith(":bell: Reminded <@U0APPROV01> <!date^")


REMINDED = ReminderHistory(frozenset({"U0APPROV01"}), AT, frozenset({"S0SECURITY"}), AT + timedelta(minutes=5))
REMINDED_WORDS = (
    "Reminded <@U0APPROV01> at 2026-11-22 17:30 UTC; escalated to <!subteam^S0SECURITY> at 2026-11-22 17:35 UTC."
)


@pytest.mark.parametrize(
    "state", [RequestState.APPROVED, RequestState.DENIED, RequestState.CANCELLED, RequestState.EXPIRED]
)
def test_a_decided_cancelled_or_expired_request_keeps_who_was_reminded_and_when(state: RequestState) -> None:
    decided = next(request for request in requests("Front Door", "parcel") if request.state is state)

    message = render_request(replace(decided, reminded=REMINDED), None)

    assert message.text.endswith(REMINDED_WORDS)
    assert [block["type"] for block in message.blocks] == ["section", "context", "context"]  # no buttons
    assert texts(message.blocks[1])[0].startswith(  # the decision first, then the history
        {
            RequestState.APPROVED: ":white_check_mark: Approved",
            RequestState.DENIED: ":no_entry: Denied",
            RequestState.CANCELLED: ":heavy_multiplication_x: Cancelled",
            RequestState.EXPIRED: ":hourglass: Expired",
        }[state]
    )
    line = texts(message.blocks[2])[0]
    assert line.startswith(":bell: Reminded <@U0APPROV01> <!date^")
    assert "escalated to <!subteam^S0SECURITY> <!date^" in line
    assert render_request(decided, None).text.count("Reminded") == 0  # never reminded: no line


@pytest.mark.parametrize(
    "state", [ActionState.QUEUED, ActionState.REQUESTING, ActionState.SUCCEEDED, ActionState.FAILED]
)
def test_the_approved_requests_parent_keeps_the_history_as_its_unlock_runs_and_ends(state: ActionState) -> None:
    approved = next(request for request in requests("Front Door", "parcel") if request.state is RequestState.APPROVED)
    view = ActionView(
        ActionKind.UNLOCK, "Front Door", "U0REQUEST1", state, request=replace(approved, reminded=REMINDED)
    )

    parent = render_action_parent(view)

    assert REMINDED_WORDS.removesuffix(".") in parent.text
    shown = [line for block in parent.blocks for line in texts(block)]
    assert any(line.startswith(":bell: Reminded <@U0APPROV01>") for line in shown)
    end = TimedUnlockEnd(UnlockEnding.RELOCK, "U0REQUEST1", AT, AT, request=replace(approved, reminded=REMINDED))
    relocked = render_action_parent(ActionView(ActionKind.LOCK, "Front Door", "U0REQUEST1", state, ends=end))
    assert REMINDED_WORDS.removesuffix(".") in relocked.text


def test_a_hostile_or_huge_history_is_escaped_and_kept_within_slacks_limits() -> None:
    crowd = frozenset({EVIL, LONG, "*"} | {f"S0GRP{n:05d}" for n in range(5000)})
    for approvers in (crowd, None, frozenset({"*"})):
        history = ReminderHistory(approvers, AT, crowd, AT)
        for request in requests(LONG, LONG):
            message = render_request(replace(request, reminded=history), approvers)
            assert_safe(message)
            assert re.search(r"escalated to .*, and \d+ more ", message.text)


# -- timed unlocks: buttons, the parent's final words, the answers to a press -----------------------


def test_a_timed_unlocks_status_carries_lock_now_and_extend_with_only_the_unlock_id() -> None:
    view = ActionView(ActionKind.UNLOCK, "Front Door", "U1", ActionState.SUCCEEDED, until=AT, action_id="u1")
    shown = render_action_status(view)
    elements = [element for block in shown.blocks if block["type"] == "actions" for element in block["elements"]]
    assert [(e["action_id"], e["text"]["text"], e["value"]) for e in elements] == [
        ("relock_now", "Lock now", "u1"),
        ("unlock_extend", "+15 min", "u1"),
    ]
    for without in (replace(view, until=None), replace(view, state=ActionState.FAILED)):
        assert not [block for block in render_action_status(without).blocks if block["type"] == "actions"]


def test_the_parent_of_a_timed_unlock_ends_as_unlocked_from_to_locked_again() -> None:
    end = TimedUnlockEnd(UnlockEnding.RELOCK, "U0UNLOCKER", AT, AT + timedelta(minutes=10), reason=EVIL)
    locked = ActionView(ActionKind.LOCK, "Front Door", "U0UNLOCKER", ActionState.SUCCEEDED, ends=end)

    parent = render_action_parent(locked)

    assert parent.text.startswith("Front Door unlocked 17:30\u201317:40, locked again (UTC).")
    assert "<@U0UNLOCKER>" in parent.text
    blocks = " ".join(texts(parent.blocks))
    assert f"<!date^{int(AT.timestamp())}^{{time}}|17:30>\u2013<!date^" in blocks  # each token shows the time only
    assert "17:40>, locked again." in blocks  # the reader's own zone: no "(UTC)" there
    failed = render_action_parent(replace(locked, state=ActionState.FAILED, problem=words("the lock is offline")))
    assert failed.text.startswith("Could not lock Front Door again: the lock is offline. It may still be unlocked.")


def test_lock_now_says_who_locked_in_the_thread_and_on_the_parent() -> None:
    end = TimedUnlockEnd(UnlockEnding.LOCK_NOW, "U0UNLOCKER", AT, AT + timedelta(minutes=4), locked_by="U0PRESSER")
    view = ActionView(ActionKind.LOCK, "Front Door", "U0PRESSER", ActionState.SUCCEEDED, ends=end)

    assert render_action_status(view).text == "Done: Front Door locked by <@U0PRESSER> (Lock now)."
    assert "locked by <@U0PRESSER>" in render_action_parent(view).text


def test_a_relock_or_lock_now_the_lock_did_not_confirm_is_never_shown_as_locked_again() -> None:
    unconfirmed = "but the lock itself did not confirm it (unconfirmed by the device)."
    relocked = TimedUnlockEnd(UnlockEnding.RELOCK, "U0UNLOCKER", AT, AT + timedelta(minutes=10))
    relock = ActionView(ActionKind.LOCK, "Front Door", "U0UNLOCKER", ActionState.SUCCEEDED, ends=relocked)
    pressed = replace(relocked, ending=UnlockEnding.LOCK_NOW, locked_by="U0PRESSER")
    lock_now = replace(relock, requested_by="U0PRESSER", ends=pressed)
    # the unlock's own status, once ended: the unlock was confirmed, the lock that ended it was not
    unlock = ActionView(ActionKind.UNLOCK, "Front Door", "U0UNLOCKER", ActionState.SUCCEEDED, ends=relocked)

    for view in (relock, lock_now):
        assert unconfirmed not in render_action_parent(view).text
        shown = replace(view, confirmed_by_device=False)
        for message in (render_action_parent(shown), render_action_status(shown)):
            assert unconfirmed in message.text
            assert unconfirmed in " ".join(texts(message.blocks))
    assert render_action_status(replace(lock_now, confirmed_by_device=False)).text == (
        f"Done: Front Door locked by <@U0PRESSER> (Lock now), {unconfirmed}"
    )
    assert render_action_status(unlock).text.endswith(", locked again (UTC).")
    assert render_action_status(replace(unlock, ends=replace(relocked, lock_confirmed=False))).text.endswith(
        f", locked again (UTC), {unconfirmed}"
    )


def test_unlocked_until_reads_as_the_time_alone_in_text_and_blocks() -> None:
    until = AT + timedelta(minutes=10)  # 17:40 UTC
    token = f"<!date^{int(until.timestamp())}^{{time}}|17:40 UTC>"  # the reader's own 17:40, no date
    lock = Lock(device_id="lock_1", display_name="Front Door", locked=False, online=True)
    relock = Relock("u1", "lock_1", "Front Door", "U0UNLOCKER", "C1", "1.000001", AT, until)
    overview = render_door_overview(DoorOverview((DoorStatus(lock, True, True, unlocked_until=until),)))
    status = render_action_status(ActionView(ActionKind.UNLOCK, "Front Door", "U1", ActionState.SUCCEEDED, until=until))
    extended = render_timed_unlock_reply(Extended(relock))
    assert extended is not None
    home = render_home(HomePage("U0UNLOCKER", (HomeDoor(lock, True, unlocked_until=until),), timed_unlocks=(relock,)))

    assert "Front Door — unlocked until 17:40 UTC, online" in overview.text
    assert f"unlocked until {token}, online" in " ".join(texts(overview.blocks))
    assert status.text == "Done: Front Door unlocked until 17:40 UTC."
    assert f"Front Door unlocked until {token}." in " ".join(texts(status.blocks))
    assert extended.text == "Front Door stays unlocked until 17:40 UTC."
    shown = " ".join(texts(home["blocks"]))
    assert f"unlocked until {token}" in shown
    assert f"unlocked by you until {token}" in shown


def test_the_answers_to_a_press_say_plainly_why_nothing_was_done() -> None:
    relock = Relock("u1", "lock_1", "Front Door", "U0UNLOCKER", "C1", "1.000001", AT, AT + timedelta(minutes=5))

    def reply(change: TimedUnlockChange) -> str:
        message = render_timed_unlock_reply(change)
        assert message is not None
        return message.text

    assert reply(ChangeRefused(relock, ChangeRefusal.NOT_ALLOWED)) == (
        "Only <@U0UNLOCKER> (who unlocked it), an approver of Front Door, or someone who may unlock it directly "
        "can lock it now or keep it unlocked longer. Nothing was done."
    )
    assert "may be unlocked for at most 2 h from now (its max_unlock)" in reply(AtTheLimit(relock, timedelta(hours=2)))
    ran = reply(AlreadyEnded(replace(relock, state=RelockState.STARTED), ActionState.SUCCEEDED))
    assert "already ended: lockbot locked it again at 2026-11-22 17:35 UTC. Nothing was done." in ran
    failed = reply(AlreadyEnded(replace(relock, state=RelockState.STARTED), ActionState.FAILED))
    assert "That lock did not work, so it may still be unlocked: use `/lock`." in failed
    pressed = reply(AlreadyEnded(replace(relock, state=RelockState.STARTED, settled_by="U0P")))
    assert pressed.startswith("<@U0P> already pressed Lock now on Front Door")
    assert render_timed_unlock_reply(LockingNow(relock)) is None  # the thread says it


def test_an_approved_timed_unlock_keeps_its_request_message_when_locked_again() -> None:
    approved = replace(next(requests("Front Door", "parcel")), state=RequestState.APPROVED, decided_by="U0APPROV01")
    end = TimedUnlockEnd(UnlockEnding.RELOCK, "U0REQUEST1", AT, AT + timedelta(minutes=10), request=approved)
    locked = ActionView(ActionKind.LOCK, "Front Door", "U0REQUEST1", ActionState.SUCCEEDED, ends=end)

    parent = render_action_parent(locked)

    assert parent.text.startswith("<@U0REQUEST1> asks to unlock Front Door")
    assert parent.text.endswith("Front Door unlocked 17:30\u201317:40, locked again (UTC).")
