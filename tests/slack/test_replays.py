"""ReplayGuard: who decides whether a Slack request was taken already, and what is kept."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from bot.slack.replays import ReplayGuard

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
UNTIL = NOW + timedelta(minutes=5)


class RecordingStore:
    def __init__(self, *, kept: dict[str, datetime] | None = None, failures: int = 0) -> None:
        self.kept: dict[str, datetime] = dict(kept or {})
        self.asked: list[str] = []
        self.saves: list[dict[str, datetime]] = []
        self.failures = failures

    async def first_sighting(self, digest: str, *, until: datetime, now: datetime) -> bool:
        self.asked.append(digest)
        await asyncio.sleep(0)  # another request may come in meanwhile, as over a real connection
        if digest in self.kept and self.kept[digest] > now:
            return False
        self.kept[digest] = until
        return True

    async def remember_slack_requests(self, seen: Mapping[str, datetime], *, now: datetime) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database away")
        self.saves.append(dict(seen))
        self.kept.update(seen)

    async def slack_requests_seen(self, now: datetime) -> dict[str, datetime]:
        return {digest: until for digest, until in self.kept.items() if until > now}


@pytest.mark.anyio
async def test_unshared_the_first_copy_wins_without_asking_the_database() -> None:
    store = RecordingStore()
    seen = ReplayGuard(store, shared=False, clock=lambda: NOW)
    first, second = await asyncio.gather(seen.first_sighting("a", until=UNTIL), seen.first_sighting("a", until=UNTIL))
    assert sorted([first, second]) == [False, True]
    assert store.asked == []
    assert await seen.save()
    assert store.saves == [{"a": UNTIL}]


@pytest.mark.anyio
async def test_unshared_what_was_kept_before_a_restart_is_still_refused() -> None:
    store = RecordingStore(kept={"old": UNTIL, "gone": NOW - timedelta(seconds=1)})
    seen = ReplayGuard(store, shared=False, clock=lambda: NOW)
    assert await seen.load() == 1
    assert not await seen.first_sighting("old", until=UNTIL)
    assert await seen.first_sighting("gone", until=UNTIL)


@pytest.mark.anyio
async def test_a_request_is_taken_again_once_its_window_has_passed() -> None:
    clock = [NOW]
    seen = ReplayGuard(RecordingStore(), shared=False, clock=lambda: clock[0])
    assert await seen.first_sighting("a", until=UNTIL)
    clock[0] = UNTIL + timedelta(seconds=1)
    assert await seen.first_sighting("a", until=clock[0] + timedelta(minutes=5))


@pytest.mark.anyio
async def test_unsaved_requests_stay_unsaved_until_the_database_takes_them() -> None:
    store = RecordingStore(failures=1)
    seen = ReplayGuard(store, shared=False, clock=lambda: NOW)
    await seen.first_sighting("a", until=UNTIL)
    assert not await seen.save()
    await seen.first_sighting("b", until=UNTIL)
    assert await seen.save()
    assert store.saves == [{"a": UNTIL, "b": UNTIL}]


@pytest.mark.anyio
async def test_shared_the_database_decides_and_a_known_copy_is_refused_without_asking_again() -> None:
    store = RecordingStore(kept={"taken-elsewhere": UNTIL})
    seen = ReplayGuard(store, shared=True, clock=lambda: NOW)
    assert not await seen.first_sighting("taken-elsewhere", until=UNTIL)
    assert await seen.first_sighting("new", until=UNTIL)
    assert not await seen.first_sighting("new", until=UNTIL)
    assert store.asked == ["taken-elsewhere", "new"]
    assert await seen.save()
    assert store.saves == []  # on a shared database every sighting was written as it was decided
