"""The database: migrations match the tables, and every decision is one conditional write."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from bot import db
from bot.db import MIGRATIONS, MigrationFailed, create_engine, head_revision, metadata, migrate
from bot.model import (
    ActionKind,
    ActionRecord,
    ActionState,
    ActionThread,
    AuditEntry,
    OwedSlackMessage,
    RequestState,
    UnlockRequest,
    new_id,
)
from bot.store import Store
from tests.databases import DATABASE_KINDS, fresh_database


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.mark.anyio
async def test_migrations_create_exactly_the_tables_lockbot_uses(database_url: str) -> None:
    def differences(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))

    engine = create_engine(database_url)
    await migrate(engine)
    await migrate(engine)  # a second start changes nothing
    async with engine.connect() as connection:
        found = await connection.run_sync(differences)
    await engine.dispose()
    assert found == []


@pytest.mark.anyio
async def test_an_action_stored_before_the_state_column_was_renamed_reads_back_after_it(database_url: str) -> None:
    from alembic import command  # noqa: PLC0415 - only this test drives Alembic by revision

    def upgrade_to(revision: str) -> Callable[[Connection], None]:
        def run(connection: Connection) -> None:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

        return run

    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(upgrade_to("0006"))
        await connection.execute(
            text(
                "INSERT INTO actions (id, kind, device_id, door, requested_by, reason, channel, phase, "
                "created_at, updated_at) VALUES ('a1', 'unlock', 'lock_1', 'Front Door', 'U1', '', 'C1', "
                "'pending', :at, :at)"
            ),
            {"at": now.replace(tzinfo=None)},
        )
    async with engine.begin() as connection:
        await connection.run_sync(upgrade_to("head"))  # the rename (0007), and every migration since
    store = Store(engine)
    try:
        [action] = await store.unfinished_actions()
    finally:
        await store.close()

    assert (action.id, action.kind, action.state, action.created_at) == (
        "a1",
        ActionKind.UNLOCK,
        ActionState.PENDING,
        now,
    )


def pending_request(now: datetime, ttl: timedelta = timedelta(minutes=5)) -> UnlockRequest:
    return UnlockRequest(
        id=new_id(),
        device_id="lock_1",
        door="Front Door",
        requester="U1",
        reason="",
        origin_channel="C1",
        channel="C1",
        state=RequestState.PENDING,
        created_at=now,
        expires_at=now + ttl,
    )


@pytest.mark.anyio
async def test_the_first_decision_wins_and_an_approval_stores_its_action(database_url: str) -> None:
    store = await Store.open(database_url)
    now = datetime.now(UTC)
    request = pending_request(now)
    await store.add_request(request)
    action = ActionRecord(
        id=new_id(),
        kind=ActionKind.UNLOCK,
        device_id="lock_1",
        door="Front Door",
        requested_by="U1",
        reason="",
        channel="C1",
        state=ActionState.QUEUED,
        created_at=now,
        updated_at=now,
        request_id=request.id,
    )
    results = await asyncio.gather(
        store.decide(request.id, RequestState.APPROVED, by="U2", at=now, then_run=action),
        store.decide(request.id, RequestState.DENIED, by="U3", at=now),
        store.decide(request.id, RequestState.APPROVED, by="U4", at=now, then_run=action),
    )
    winners = [result for result in results if result is not None]
    assert len(winners) == 1
    assert (await store.request(request.id)) == winners[0]
    if winners[0].state is RequestState.APPROVED:
        assert [a.id for a in await store.unfinished_actions()] == [action.id]
    else:
        assert await store.unfinished_actions() == []
    await store.close()


@pytest.mark.anyio
async def test_an_action_is_sent_by_one_holder_only_and_its_outcome_never_overwritten(database_url: str) -> None:
    store = await Store.open(database_url)
    now = datetime.now(UTC)
    action = ActionRecord(
        id=new_id(),
        kind=ActionKind.LOCK,
        device_id="lock_1",
        door="Front Door",
        requested_by="U1",
        reason="",
        channel="C1",
        state=ActionState.QUEUED,
        created_at=now,
        updated_at=now,
    )
    await store.add_action(action, owner="me", lease_until=now + timedelta(seconds=10))
    thread = ActionThread("C1", "1.1", "1.2")
    assert await store.remember_thread(action, now, thread, owner="another") is None
    shown = await store.remember_thread(action, now, thread, owner="me")
    assert shown is not None
    assert shown.thread == thread
    sending = await store.mark_requesting(shown, now, owner="me", parent_ts="1.1", status_ts="1.2")
    assert sending is not None
    assert sending.state is ActionState.REQUESTING
    assert await store.mark_requesting(shown, now, owner="me", parent_ts="1.1", status_ts="1.2") is None
    pending = await store.mark_pending(sending, now, "att_1", owner="me")
    assert pending is not None
    assert pending.attempt_id == "att_1"

    def outcome(state: ActionState) -> Awaitable[ActionRecord | None]:
        entry = AuditEntry(at=now, actor="U1", event="lock", outcome=str(state))
        return store.finish(
            pending,
            now,
            state,
            audit=entry,
            problem=None,
            status_ts="1.2",
            attempt_id="att_1",
            confirmed_by_device=True,
        )

    assert (await outcome(ActionState.SUCCEEDED)) is not None
    assert await outcome(ActionState.NOT_CONFIRMED) is None
    assert await store.unfinished_actions() == []
    assert [entry.outcome for entry in await store.audit_entries()] == ["succeeded"]  # audited once, with it
    assert await store.action_by_attempt("att_1") == replace(
        pending, state=ActionState.SUCCEEDED, confirmed_by_device=True
    )
    await store.close()


@pytest.mark.anyio
async def test_an_expired_request_cannot_be_decided_and_expires_once(database_url: str) -> None:
    store = await Store.open(database_url)
    then = datetime.now(UTC) - timedelta(minutes=10)
    request = pending_request(then)
    await store.add_request(request)
    now = datetime.now(UTC)
    assert await store.decide(request.id, RequestState.APPROVED, by="U2", at=now) is None
    first, second = await asyncio.gather(store.expire_due(now), store.expire_due(now))
    assert len(first) + len(second) == 1
    expired = await store.request(request.id)
    assert expired is not None
    assert expired.state is RequestState.EXPIRED
    await store.close()


def test_the_newest_migration_is_read_from_the_files_as_alembic_reads_it() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_lockbot_migrates_a_new_database_without_loading_alembic_itself(tmp_path: Path) -> None:
    # A fresh interpreter, as `python -m bot` is: Alembic runs in its child process only.
    program = f"""
import asyncio, sys
from bot.db import create_engine, head_revision, migrate, schema_revision

async def go():
    engine = create_engine("sqlite:///{tmp_path / "new.db"}")
    assert await schema_revision(engine) is None
    await migrate(engine)
    assert await schema_revision(engine) == head_revision()
    await migrate(engine)  # up to date: nothing to do
    await engine.dispose()

asyncio.run(go())
print(sorted(name for name in sys.modules if name.split(".")[0] in ("alembic", "mako")))
"""
    ran = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True)
    assert ran.stdout.strip() == "[]"


@pytest.mark.anyio
async def test_a_migration_that_does_not_finish_in_time_stops_lockbot_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "MIGRATION_TIMEOUT_SECONDS", 0.01)  # the child cannot even start in that time

    engine = create_engine(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        with pytest.raises(MigrationFailed, match=r"applying migrations took over 0\.01 s"):
            await migrate(engine)
    finally:
        await engine.dispose()


@pytest.mark.anyio
async def test_a_slack_request_is_taken_once_by_any_number_of_racing_instances(database_url: str) -> None:
    first, second = await Store.open(database_url), await Store.open(database_url)
    now = datetime.now(UTC)
    until = now + timedelta(minutes=5)
    taken = await asyncio.gather(
        *(store.first_sighting("a" * 64, until=until, now=now) for store in [first, second] * 5)
    )
    assert sorted(taken) == [False] * 9 + [True]
    assert await second.first_sighting("b" * 64, until=until, now=now)
    assert not await first.first_sighting("b" * 64, until=until, now=now + timedelta(minutes=4))
    await first.close()
    await second.close()


def owed(channel: str, ts: str, at: datetime, message: str | None = '{"text": "Done"}') -> OwedSlackMessage:
    return OwedSlackMessage(channel=channel, ts=ts, owe_id=new_id(), message=message, attempts=1, due_at=at, owed_at=at)


@pytest.mark.anyio
async def test_what_is_owed_to_slack_is_claimed_once_and_settled_only_for_its_own_debt(database_url: str) -> None:
    first, second = await Store.open(database_url), await Store.open(database_url)  # two instances
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    older = owed("C1", "1.1", now)
    await first.owe_slack_message(older)
    newer = replace(older, owe_id=new_id(), message='{"text": "Done, newer"}', owed_at=now + timedelta(seconds=1))
    await second.owe_slack_message(newer)  # the latest rendering replaces the earlier one
    await first.owe_slack_message(owed("C1", "2.2", now + timedelta(seconds=5)))  # not due yet
    await first.owe_slack_message(owed("C2", "3.3", now, message=None))  # a delete

    claims = await asyncio.gather(
        first.claim_owed_slack_messages(now, now + timedelta(seconds=30)),
        second.claim_owed_slack_messages(now, now + timedelta(seconds=30)),
    )
    claimed = sorted((item for claim in claims for item in claim), key=lambda item: item.ts)
    assert [(item.ts, item.message) for item in claimed] == [("1.1", '{"text": "Done, newer"}'), ("3.3", None)]
    assert await first.claim_owed_slack_messages(now, now + timedelta(seconds=30)) == []  # held by its claimer

    await first.settle_owed_slack_message(older)  # an earlier debt's settling leaves the newer one
    await first.postpone_owed_slack_message(claimed[0], now + timedelta(seconds=2))
    assert await first.next_owed_slack_message() == now  # the claimed delete is owed until it is settled
    again = await second.claim_owed_slack_messages(now + timedelta(seconds=2), now + timedelta(seconds=40))
    assert [(item.ts, item.attempts) for item in again] == [("1.1", 2)]
    await second.settle_owed_slack_message(again[0])

    await first.forget_owed_slack_message("C1", "2.2", owed_before=now + timedelta(seconds=6))
    await first.forget_owed_slack_message("C2", "3.3", owed_before=now - timedelta(seconds=1))  # owed after
    later = await first.claim_owed_slack_messages(now + timedelta(minutes=5), now + timedelta(minutes=6))
    assert [item.ts for item in later] == ["3.3"]
    await first.close()
    await second.close()


@pytest.mark.anyio
async def test_a_slack_request_is_forgotten_once_no_copy_of_it_can_pass_the_signature_check(database_url: str) -> None:
    store = await Store.open(database_url)
    now = datetime.now(UTC)
    assert await store.first_sighting("c" * 64, until=now + timedelta(minutes=5), now=now)
    later = now + timedelta(minutes=5, seconds=1)
    assert await store.first_sighting("c" * 64, until=later + timedelta(minutes=5), now=later)
    assert not await store.first_sighting("c" * 64, until=later + timedelta(minutes=5), now=later)
    await store.close()
