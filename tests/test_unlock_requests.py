"""Unlock request decisions alone, with an in-memory Slack side and a real SQLite store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.model import ActionView, Lock, RequestState, UnlockRequest
from bot.policy import DoorRules, Person, Policy
from bot.store import Store
from bot.unlock_requests import Decided, Decision, DecisionRefused, Refusal, RequestFiled, UnlockRequests

# Seam's display name differs from the lock's own name; the policy names the door by the latter.
SERVER_ROOM = Lock(device_id="lock_9", display_name="Server Room 2F", device_name="Server Room")
POLICY = Policy(
    defaults=DoorRules(approvers=frozenset({"U0DEFAULT1"})),
    doors={"server room": DoorRules(approvers=frozenset({"U0SECURE01"}))},
)


class People:
    async def person(self, user_id: str) -> Person:
        return Person(user_id)

    async def time_zone(self, user_id: str) -> str | None:
        return None


class Messenger:
    def __init__(self) -> None:
        self.told: list[UnlockRequest] = []
        self.shown: list[UnlockRequest] = []

    async def post(self, request: UnlockRequest, approvers: frozenset[str] | None) -> str:
        return "1700000000.000100"

    async def show(self, request: UnlockRequest) -> None:
        self.shown.append(request)

    async def tell_requester(self, request: UnlockRequest, outcome: ActionView | None) -> None:
        self.told.append(request)


class Actions:
    lease = timedelta(seconds=10)

    def __init__(self) -> None:
        self.started: list[Any] = []

    def on_final(self, listener: Any) -> None:
        pass

    def start_approved(self, record: Any, request: UnlockRequest) -> None:
        self.started.append(record)


@pytest.mark.anyio
async def test_decisions_use_the_rules_of_every_name_seam_gives_the_lock(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'lockbot.db'}")
    actions = Actions()

    async def lock_named(device_id: str) -> Lock | None:
        return SERVER_ROOM if device_id == SERVER_ROOM.device_id else None

    requests = UnlockRequests(store, POLICY, People(), actions, Messenger(), lock_named)  # type: ignore[arg-type]
    filed = await requests.file(SERVER_ROOM, "U0MEMBER01", "C1", "")
    assert isinstance(filed, RequestFiled)
    assert filed.approvers == frozenset({"U0SECURE01"})

    by_default_approver = await requests.decide(filed.request.id, "U0DEFAULT1", Decision.APPROVE)
    assert isinstance(by_default_approver, DecisionRefused)
    assert actions.started == []

    by_door_approver = await requests.decide(filed.request.id, "U0SECURE01", Decision.APPROVE)
    assert isinstance(by_door_approver, Decided)
    assert by_door_approver.request.state is RequestState.APPROVED
    assert len(actions.started) == 1
    await store.close()


@pytest.mark.anyio
async def test_a_denial_reason_is_given_once_and_only_by_the_denier(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'lockbot.db'}")
    messenger = Messenger()

    async def lock_named(device_id: str) -> Lock | None:
        return SERVER_ROOM

    requests = UnlockRequests(store, POLICY, People(), Actions(), messenger, lock_named)  # type: ignore[arg-type]
    filed = await requests.file(SERVER_ROOM, "U0MEMBER01", "C1", "")
    assert isinstance(filed, RequestFiled)
    await requests.decide(filed.request.id, "U0SECURE01", Decision.DENY)

    assert isinstance(await requests.explain_denial(filed.request.id, "U0DEFAULT1", "no"), DecisionRefused)
    explained = await requests.explain_denial(filed.request.id, "U0SECURE01", "  maintenance   today ")
    assert isinstance(explained, UnlockRequest)
    assert explained.note == "maintenance today"
    again = await requests.explain_denial(filed.request.id, "U0SECURE01", "changed my mind")
    assert again == DecisionRefused(Refusal.REASON_ALREADY_GIVEN)
    assert [r.note for r in messenger.told] == [None, "maintenance today"]
    await store.close()


async def always_server_room(device_id: str) -> Lock | None:
    return SERVER_ROOM


@dataclass
class Desk:
    """Unlock requests on a fresh database, with a clock the test moves."""

    store: Store
    requests: UnlockRequests
    actions: Actions
    messenger: Messenger
    now: list[datetime]


async def open_desk(database: Path) -> Desk:
    store = await Store.open(f"sqlite:///{database}")
    actions, messenger, now = Actions(), Messenger(), [datetime.now(UTC)]
    requests = UnlockRequests(
        store,
        POLICY,
        People(),
        actions,  # type: ignore[arg-type]
        messenger,
        always_server_room,
        clock=lambda: now[0],
    )
    return Desk(store, requests, actions, messenger, now)


async def filed_without_its_message(desk: Desk) -> UnlockRequest:
    filed = await desk.requests.file(SERVER_ROOM, "U0MEMBER01", "C0APPROVE1", "")
    assert isinstance(filed, RequestFiled)
    # As if lockbot had stopped between posting the message and storing where it is.
    await desk.store.set_request_message(filed.request.id, filed.request.channel, None)  # type: ignore[arg-type]
    return filed.request


@pytest.mark.anyio
async def test_a_request_whose_message_was_never_stored_is_found_through_the_click_and_audited_with_its_decision(
    tmp_path: Path,
) -> None:
    desk = await open_desk(tmp_path / "lockbot.db")
    request = await filed_without_its_message(desk)
    elsewhere = await desk.requests.decide(
        request.id, "U0SECURE01", Decision.APPROVE, clicked_in=("C0ELSEWHERE", "1700000000.000999")
    )
    assert isinstance(elsewhere, Decided)  # decided all the same, but another channel's ts is not taken
    assert desk.actions.started[0].parent_ts is None
    await desk.store.close()

    desk = await open_desk(tmp_path / "second.db")
    request = await filed_without_its_message(desk)
    decided = await desk.requests.decide(
        request.id, "U0SECURE01", Decision.APPROVE, clicked_in=("C0APPROVE1", "1700000000.000777")
    )
    assert isinstance(decided, Decided)
    assert decided.request.message_ts == "1700000000.000777"
    assert desk.actions.started[0].parent_ts == "1700000000.000777"  # the approved unlock runs in its thread
    trail = [(entry.event, entry.outcome) for entry in await desk.store.audit_entries()]
    assert ("approve", "approved") in trail
    await desk.store.close()


@pytest.mark.anyio
async def test_a_denial_or_expiry_a_stop_cut_short_is_shown_and_told_once_later(tmp_path: Path) -> None:
    desk = await open_desk(tmp_path / "lockbot.db")
    denied = await desk.requests.file(SERVER_ROOM, "U0MEMBER01", "C1", "")
    expiring = await desk.requests.file(SERVER_ROOM, "U0MEMBER02", "C1", "")
    assert isinstance(denied, RequestFiled)
    assert isinstance(expiring, RequestFiled)
    # Decided and stored, and then lockbot stopped before showing either (the store alone, as a stop leaves it).
    assert await desk.store.decide(
        denied.request.id, RequestState.DENIED, by="U0SECURE01", at=desk.now[0], owes_announcement=True
    )
    assert await desk.store.expire_due(expiring.request.expires_at)

    assert await desk.requests.announce_owed() == 0  # fresh: a live instance may be showing them right now
    desk.now[0] = expiring.request.expires_at + timedelta(minutes=1)
    assert await desk.requests.announce_owed() == 2
    assert await desk.requests.announce_owed() == 0  # once
    await desk.store.close()
    messenger = desk.messenger

    assert sorted(r.state for r in messenger.shown) == [RequestState.DENIED, RequestState.EXPIRED]
    assert sorted(r.requester for r in messenger.told) == ["U0MEMBER01", "U0MEMBER02"]


@pytest.mark.anyio
async def test_a_decision_shown_at_once_is_not_shown_again(tmp_path: Path) -> None:
    desk = await open_desk(tmp_path / "lockbot.db")
    filed = await desk.requests.file(SERVER_ROOM, "U0MEMBER01", "C1", "")
    assert isinstance(filed, RequestFiled)
    assert isinstance(await desk.requests.decide(filed.request.id, "U0SECURE01", Decision.DENY), Decided)
    desk.now[0] += timedelta(hours=1)
    assert await desk.requests.announce_owed() == 0
    await desk.store.close()
    messenger = desk.messenger

    assert len(messenger.shown) == 1
    assert len(messenger.told) == 1


class StoppedHere(Exception):
    """lockbot stopping at this point."""


@pytest.mark.anyio
async def test_a_stop_right_after_the_request_message_is_stored_leaves_its_first_reminder_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'lockbot.db'}")
    now = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    reminding = Policy(DoorRules(approvers=frozenset({"U0SECURE01"}), remind_after=timedelta(minutes=5)))
    requests = UnlockRequests(
        store,
        reminding,
        People(),
        Actions(),  # type: ignore[arg-type]
        Messenger(),
        always_server_room,
        clock=lambda: now,
    )

    async def stop(*args: object, **kwargs: object) -> None:
        raise StoppedHere

    monkeypatch.setattr(store, "audit", stop)  # the next write after the message's
    with pytest.raises(StoppedHere):
        await requests.file(SERVER_ROOM, "U0MEMBER01", "C0APPROVE1", "")

    [pending] = await store.pending_requests()
    assert pending.message_ts == "1700000000.000100"
    reminder = await store.reminder_of(pending.id)
    assert reminder is not None
    assert reminder.due_at == now + timedelta(minutes=5)
    await store.close()
