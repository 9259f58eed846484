"""The problem of an action or a slot lock: a typed value, stored as JSON, worded only at the Slack edge.

Rows written before problems were typed hold free text: it reads back, and shows, as it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.__main__ import _csv_detail
from bot.db import actions
from bot.door_service import AuditView
from bot.model import (
    ActionKind,
    ActionProblem,
    ActionRecord,
    ActionState,
    ActionView,
    AuditEntry,
    ProblemReason,
)
from bot.slack.messages.actions import render_action_parent, render_action_status
from bot.slack.messages.doors import render_audit
from bot.slack.messages.outcomes import problem_words
from bot.slack.messages.slots import render_slot_parent, render_slot_status
from bot.slots import SlotView
from bot.store import Store
from tests.databases import DATABASE_KINDS, fresh_database

AT = datetime(2026, 11, 22, 17, 30, tzinfo=UTC)
EVIL = "Garage <!channel> <https://evil.example|Approve here> <@U0EVIL001> <!here> &"
FORBIDDEN = ("<!channel", "<!here", "<http", "<@U0EVIL")
NOT_ALLOWED = "I'm not allowed to post in this channel, so I did nothing."


# The words each problem showed when services wrote them as sentences: kept word for word.
WORDS = [
    (ActionProblem(ProblemReason.NOT_SENT_INTERRUPTED), "lockbot was interrupted before sending it; nothing was done"),
    (ActionProblem(ProblemReason.REQUEST_MESSAGE_MISSING), "the request's message is missing"),
    (
        ActionProblem(ProblemReason.STATUS_NOT_POSTED, detail=NOT_ALLOWED),
        f"lockbot could not post its status: {NOT_ALLOWED}",
    ),
    (
        ActionProblem(ProblemReason.NOT_ANNOUNCED, detail=NOT_ALLOWED),
        NOT_ALLOWED,
    ),
    (
        ActionProblem(ProblemReason.RESTARTED_TOO_LONG_AGO),
        "lockbot was restarted before sending it, and too long ago to send it now; ask again",
    ),
    (
        ActionProblem(ProblemReason.RESTARTED_WHILE_ASKING),
        "lockbot was restarted while asking Seam, so it cannot tell whether Seam acted",
    ),
    (
        ActionProblem(ProblemReason.SEAM_REFUSED, detail="Seam did not accept the request: device is busy"),
        "Seam did not accept the request: device is busy",
    ),
    (
        ActionProblem(ProblemReason.SEAM_OUTCOME_UNKNOWN, detail="Seam is having trouble right now", status=500),
        "Seam answered with a server error (HTTP 500), so lockbot cannot tell whether it unlocked the door",
    ),
    (
        ActionProblem(ProblemReason.SEAM_OUTCOME_UNKNOWN, detail="Seam did not answer in time"),
        "Seam did not answer in time, so lockbot cannot tell whether it unlocked the door",
    ),
    (ActionProblem(ProblemReason.ATTEMPT_FAILED, error_type="device_offline"), "the lock is offline"),
    (ActionProblem(ProblemReason.ATTEMPT_FAILED, error_type="hub_disconnected"), "the lock's hub is offline"),
    (ActionProblem(ProblemReason.ATTEMPT_FAILED, error_type="jammed", detail="Bolt jammed."), "Bolt jammed"),
    (ActionProblem(ProblemReason.ATTEMPT_FAILED, error_type="jammed"), "the lock reported an error (jammed)"),
    (ActionProblem(ProblemReason.ATTEMPT_FAILED), "the lock reported an error"),
    (
        ActionProblem(ProblemReason.ATTEMPT_UNREADABLE, detail="Seam is having trouble right now; try again shortly"),
        "Seam is having trouble right now; try again shortly",
    ),
    (ActionProblem(ProblemReason.ATTEMPT_NOT_ASKED), "lockbot could not ask Seam"),
    (
        ActionProblem(ProblemReason.OVERBOOKED_REFUSED, detail="the slot is already locked", error_type="E045"),
        "the slot is already locked",
    ),
    (
        ActionProblem(ProblemReason.OVERBOOKED_OUTCOME_UNKNOWN, detail="Overbooked is having trouble", status=502),
        "Overbooked answered with a server error (HTTP 502)",
    ),
    (
        ActionProblem(ProblemReason.OVERBOOKED_OUTCOME_UNKNOWN, detail="Overbooked did not answer in time"),
        "Overbooked did not answer in time",
    ),
    (ActionProblem(ProblemReason.RESTARTED_BEFORE_ANSWER), "lockbot restarted before Overbooked answered"),
    (
        ActionProblem(ProblemReason.RESTARTED_NOT_LOCKED),
        "lockbot restarted before Overbooked answered, and the slot is not locked",
    ),
    (
        ActionProblem(ProblemReason.NEVER_CONFIRMED),
        "Overbooked never confirmed it, and the slot later turned out not to be locked by lockbot",
    ),
    (
        ActionProblem(ProblemReason.UNEXPECTED_WHILE_ASKING),
        "lockbot ran into an unexpected error while asking Overbooked",
    ),
    (
        ActionProblem(ProblemReason.UNEXPECTED_BEFORE_ASKING),
        "lockbot ran into an unexpected error before asking Overbooked",
    ),
    (ActionProblem(ProblemReason.WORDS, detail="the lock is offline"), "the lock is offline"),
]


@pytest.mark.parametrize(("problem", "words"), WORDS)
def test_each_problem_reads_as_it_did_when_services_wrote_it(problem: ActionProblem, words: str) -> None:
    assert problem_words(problem, ActionKind.UNLOCK) == words


@pytest.mark.parametrize(("problem", "words"), WORDS)
def test_a_problem_is_stored_as_json_and_reads_back_the_same(problem: ActionProblem, words: str) -> None:
    stored = problem.stored()
    assert stored.startswith('{"')
    assert ActionProblem.from_stored(stored) == problem
    assert problem.plain().startswith(str(problem.reason)) or problem.reason is ProblemReason.WORDS


@pytest.mark.parametrize(
    "text",
    ["the lock is offline", "", "{not json", '{"reason": "from_a_newer_lockbot"}', "[1, 2]", '"a string"'],
)
def test_free_text_from_before_reads_as_its_words(text: str) -> None:
    assert ActionProblem.from_stored(text) == ActionProblem(ProblemReason.WORDS, detail=text)


def test_the_plain_form_is_the_code_then_its_data() -> None:
    problem = ActionProblem(ProblemReason.ATTEMPT_FAILED, detail='Bolt "jammed"', error_type="jammed")
    assert problem.plain() == 'attempt_failed detail="Bolt \\"jammed\\"" error_type="jammed"'
    assert ActionProblem(ProblemReason.NEVER_CONFIRMED).plain() == "never_confirmed"
    assert ActionProblem(ProblemReason.WORDS, detail="old words").plain() == "old words"


def test_a_typed_problem_and_the_same_words_stored_before_show_the_same() -> None:
    def shown(problem: ActionProblem, state: ActionState) -> list[str]:
        view = ActionView(ActionKind.UNLOCK, "Garage Door", "U1", state, problem=problem, timeout_seconds=20)
        return [render_action_status(view).text, render_action_parent(view).text]

    for problem, words in WORDS:
        for state in (ActionState.FAILED, ActionState.NOT_CONFIRMED):
            assert shown(problem, state) == shown(ActionProblem(ProblemReason.WORDS, detail=words), state)
    offline = shown(ActionProblem(ProblemReason.ATTEMPT_FAILED, error_type="device_offline"), ActionState.FAILED)
    assert "Could not unlock Garage Door: the lock is offline." in offline[0]


def test_a_slot_lock_not_confirmed_after_a_server_error_never_invites_a_retry() -> None:
    problem = ActionProblem(
        ProblemReason.OVERBOOKED_OUTCOME_UNKNOWN,
        detail="Overbooked is having trouble right now; try again shortly",
        status=500,
    )
    view = SlotView("ROOM-1", "U1", ActionState.NOT_CONFIRMED, AT, problem=problem)
    for message in (render_slot_status(view), render_slot_parent(view)):
        assert "Overbooked answered with a server error (HTTP 500)" in message.text
        assert "try again" not in message.text.casefold()


def hostile_problems() -> Iterator[ActionProblem]:
    for reason in ProblemReason:
        yield ActionProblem(reason, detail=EVIL, error_type=EVIL, status=500)


def test_an_apis_words_in_a_problem_cannot_inject_mentions_or_links() -> None:
    for problem in hostile_problems():
        for state in (ActionState.FAILED, ActionState.NOT_CONFIRMED):
            view = ActionView(ActionKind.LOCK, "Door", "U1", state, problem=problem)
            slot = SlotView("ROOM-1", "U1", state, AT, problem=problem)
            messages = [render_action_parent(view), render_action_status(view)]
            messages += [render_slot_parent(slot), render_slot_status(slot)]
            for message in messages:
                for shown in (message.text, str(message.blocks)):
                    for raw in FORBIDDEN:
                        assert raw not in shown


def test_the_audit_log_shows_a_problem_in_words_and_exports_its_code() -> None:
    problem = ActionProblem(ProblemReason.ATTEMPT_FAILED, error_type="device_offline")
    typed = AuditEntry(AT, "U1", "unlock", "failed", door="Garage Door", detail="parcel", problem=problem)
    older = AuditEntry(AT, "U1", "unlock", "failed", door="Garage Door", detail="parcel; the lock is offline")
    slot = AuditEntry(
        AT,
        "U1",
        "slot_lock",
        "not_confirmed",
        detail="slot ROOM-1 until 2026-11-22T19:30:00+00:00",
        problem=ActionProblem(ProblemReason.RESTARTED_BEFORE_ANSWER),
    )

    shown = render_audit(AuditView((typed, older, slot), None)).text

    assert shown.count("parcel; the lock is offline") == 2  # typed, and as it was written before
    assert "slot ROOM-1 until 2026-11-22T19:30:00+00:00; lockbot restarted before Overbooked answered" in shown
    assert _csv_detail(typed) == 'parcel; attempt_failed error_type="device_offline"'
    assert _csv_detail(older) == "parcel; the lock is offline"
    assert _csv_detail(AuditEntry(AT, "U1", "lock", "failed", problem=problem)) == (
        'attempt_failed error_type="device_offline"'
    )
    assert _csv_detail(AuditEntry(AT, "U1", "lock", "succeeded")) is None
    for problem in hostile_problems():
        entry = AuditEntry(AT, "U1", "unlock", "failed", detail=EVIL, problem=problem)
        for text in (render_audit(AuditView((entry,), None)).text, str(render_audit(AuditView((entry,), None)).blocks)):
            for raw in FORBIDDEN:
                assert raw not in text


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


def test_the_store_keeps_a_problem_typed_and_reads_free_text_from_before(database_url: str) -> None:
    problem = ActionProblem(ProblemReason.SEAM_REFUSED, detail="Seam did not accept the request", status=400)

    async def go() -> None:
        store = await Store.open(database_url)
        try:
            now = datetime.now(UTC)
            records = []
            for attempt_id in ("att_typed", "att_old"):
                record = ActionRecord(
                    id=attempt_id,
                    kind=ActionKind.UNLOCK,
                    device_id="lock_1",
                    door="Garage Door",
                    requested_by="U1",
                    reason="",
                    channel="C1",
                    state=ActionState.QUEUED,
                    created_at=now,
                    updated_at=now,
                    attempt_id=attempt_id,
                )
                await store.add_action(record, owner="me", lease_until=now + timedelta(minutes=1))
                records.append(record)
            audit = AuditEntry(at=now, actor="U1", event="unlock", outcome="failed", problem=problem)
            finished = await store.finish(
                records[0],
                now,
                ActionState.FAILED,
                audit=audit,
                problem=problem,
                status_ts=None,
                attempt_id="att_typed",
                confirmed_by_device=None,
            )
            assert finished is not None
            assert (await store.action_by_attempt("att_typed")) == finished
            assert finished.problem == problem
            [entry] = await store.audit_entries()
            assert entry.problem == problem

            # A row written before problems were typed: its free text reads back as words.
            async with store._db.transaction() as connection:
                await connection.execute(
                    update(actions).where(actions.c.id == "att_old").values(problem="the lock is offline")
                )
            old = await store.action_by_attempt("att_old")
            assert old is not None
            assert old.problem == ActionProblem(ProblemReason.WORDS, detail="the lock is offline")
        finally:
            await store.close()

    asyncio.run(go())
