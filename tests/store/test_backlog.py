"""The backlog /metrics reads: undecided requests, relocks waiting, actions not at an outcome, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.model import ActionState, RequestState, UnlockRequest, new_id
from bot.store import Store
from bot.store.backlog import Backlog
from tests.databases import DATABASE_KINDS, fresh_database
from tests.store.test_relocks import NOW, add, lock_action, relock


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


def request() -> UnlockRequest:
    return UnlockRequest(
        new_id(),
        "lock_1",
        "Front Door",
        "U0MEMBER",
        "",
        "C0GENERAL",
        "C0GENERAL",
        RequestState.PENDING,
        NOW,
        NOW + timedelta(minutes=15),
    )


@pytest.mark.anyio
async def test_the_backlog_counts_only_what_is_still_waiting(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        assert await store.backlog() == Backlog(pending_requests=0, pending_relocks=0, actions_in_flight=0)
        await store.add_request(request())
        decided = request()
        await store.add_request(decided)
        await store.decide(decided.id, RequestState.DENIED, by="U0ADMIN", at=NOW)
        await add(store, relock())  # its unlock is at an outcome: not in flight
        in_flight = replace(lock_action(relock()), state=ActionState.QUEUED)
        await store.add_action(in_flight, owner="instance", lease_until=NOW + timedelta(seconds=30))

        assert await store.backlog() == Backlog(pending_requests=1, pending_relocks=1, actions_in_flight=1)
    finally:
        await store.close()
