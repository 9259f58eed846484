"""App Home's refreshes on SQLite and PostgreSQL: a change marks the recent Homes once, a burst joins
one mark, each mark is published by one instance only, and publishes are paced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.homes import RECENT_HOME, HomePage, Homes, PublishPace
from bot.policy import Person, Policy
from bot.store import Store
from tests.databases import DATABASE_KINDS, fresh_database

NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    yield opened
    await opened.close()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class Everyone:
    async def person(self, user_id: str) -> Person:
        return Person(user_id)

    async def time_zone(self, user_id: str) -> str | None:
        return None


class Recorded:
    def __init__(self) -> None:
        self.pages: list[HomePage] = []

    async def publish(self, page: HomePage) -> bool:
        self.pages.append(page)
        return True


def homes(store: Store, clock: Clock, publisher: Recorded) -> Homes:
    return Homes(store, None, Everyone(), Policy(), publisher, clock=clock, pace=PublishPace(burst=1000))


@pytest.mark.anyio
async def test_a_change_marks_only_the_homes_opened_in_the_last_hour(store: Store) -> None:
    await store.home_opened("U0RECENT", NOW - timedelta(minutes=59))
    await store.home_opened("U0OLD", NOW - timedelta(hours=2))
    assert await store.homes_changed(NOW, opened_since=NOW - RECENT_HOME) == 1
    assert await store.due_home_refreshes(NOW, limit=10) == [("U0RECENT", NOW)]
    # A second change before the publish joins the first: nothing more is marked.
    assert await store.homes_changed(NOW + timedelta(seconds=1), opened_since=NOW - RECENT_HOME) == 0
    assert await store.take_home_refresh("U0RECENT", NOW) is True
    assert await store.take_home_refresh("U0RECENT", NOW) is False  # taken once
    assert await store.due_home_refreshes(NOW + timedelta(hours=1), limit=10) == []
    assert await store.forget_home_openings(NOW - RECENT_HOME) == 1  # the old one
    assert await store.home_opened_at("U0OLD") is None
    assert await store.home_opened_at("U0RECENT") == NOW - timedelta(minutes=59)


@pytest.mark.anyio
async def test_opening_again_clears_what_was_owed(store: Store) -> None:
    await store.home_opened("U0A", NOW)
    await store.homes_changed(NOW, opened_since=NOW - RECENT_HOME)
    await store.home_opened("U0A", NOW + timedelta(seconds=1))  # published on opening: nothing owed
    assert await store.due_home_refreshes(NOW + timedelta(hours=1), limit=10) == []
    assert await store.home_opened_at("U0A") == NOW + timedelta(seconds=1)


@pytest.mark.anyio
async def test_a_change_is_published_once_settled_and_by_one_of_two_instances(database_url: str) -> None:
    first_store, second_store = await Store.open(database_url), await Store.open(database_url)
    clock = Clock()
    first_published, second_published = Recorded(), Recorded()
    first, second = homes(first_store, clock, first_published), homes(second_store, clock, second_published)
    try:
        for user in ("U0A", "U0B", "U0C"):
            await first.opened(user)
        assert len(first_published.pages) == 3  # each opening publishes at once
        await second.changed()
        await first.changed()  # a burst: one mark
        assert await first.run_due() == 0  # not settled yet
        clock.now += timedelta(seconds=2)
        await asyncio.gather(first.run_due(), second.run_due())
        republished = sorted(page.user_id for page in first_published.pages[3:] + second_published.pages)
        assert republished == ["U0A", "U0B", "U0C"]
        assert await first.run_due() == 0
        assert await second.run_due() == 0
    finally:
        await first_store.close()
        await second_store.close()


@pytest.mark.anyio
async def test_publishes_are_paced_after_the_burst() -> None:
    ticks = [0.0]
    pace = PublishPace(per_minute=60, burst=2, clock=lambda: ticks[0])
    await pace.wait_turn()
    await pace.wait_turn()
    waited = asyncio.create_task(pace.wait_turn())
    await asyncio.sleep(0.05)
    assert not waited.done()  # the burst is spent: the next waits its second
    ticks[0] = 1.0
    await asyncio.wait_for(waited, 2)
