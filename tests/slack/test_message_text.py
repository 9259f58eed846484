"""Every message lockbot can post, with hostile values in every slot: escaped in `text` and every
block, within Slack's limits; dates converted to UTC; a not-confirmed outcome never invites a retry."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

import bot.slack.messages
from bot.door_service import AuditView, DoorOverview, DoorStatus
from bot.doors import DoorAmbiguous, DoorUnknown
from bot.model import (
    ActionKind,
    ActionProblem,
    ActionState,
    ActionView,
    AuditEntry,
    Relock,
    RequestState,
    SlotLock,
    SlotLockState,
    UnlockRequest,
)
from bot.overbooked import OverbookedServerError, Slot
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
from bot.slack.messages.notices import render_door_notice, render_outcome_notice
from bot.slack.messages.outcomes import not_confirmed_reason
from bot.slack.messages.primitives import SlackMessage
from bot.slack.messages.relocks import (
    render_relock_failed,
    render_relock_gave_up,
    render_relock_locked_on_retry,
    render_relock_retrying,
    render_relock_settled,
)
from bot.slack.messages.replies import render_notice, render_problem
from bot.slack.messages.requests import (
    render_decision_reply,
    render_deny_reason_modal,
    render_refusal,
    render_request,
    render_request_filed,
    render_requester_message,
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
from bot.unlock_requests import AlreadyDecided, Decided, Decision, DecisionRefused, Refusal, RequestFiled, RequestGone
from tests.fakes.slack_api import over_limit

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
    for state in (RequestState.APPROVED, RequestState.DENIED, RequestState.CANCELLED, RequestState.EXPIRED):
        yield replace(pending, state=state, decided_by="U0APPROV01", decided_at=AT, note=text)


def locks(name: str, count: int) -> tuple[Lock, ...]:
    return tuple(Lock(device_id=f"lock_{n}", display_name=f"{name} {n}") for n in range(count))


def every_message(door: str, text: str) -> Iterator[tuple[str, SlackMessage]]:
    """(render function's name, message) for every render_* function, fed `door` and `text` everywhere."""
    for view in action_views(door, text):
        yield "render_action_parent", render_action_parent(view)
        yield "render_action_status", render_action_status(view)
        yield "render_outcome_notice", render_outcome_notice(view, "U0APPROV01")
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
    for event in ("lock.unlocked", "lock.access_denied", "device.low_battery", text):
        for known in (True, False):
            notice = DoorNotice(event, door, text, AT, method=text, battery_level=0.1, known=known)
            yield "render_door_notice", render_door_notice(notice)


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
    assert seen == RENDERERS  # every message lockbot has is covered


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
