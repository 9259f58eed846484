"""When a slot lock ends, as people type it: refusals are reasons, never exceptions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.durations import LockUntilError, parse_lock_until, split_leading_duration, spoken_duration, spoken_elapsed

NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)  # 10:00 in New York, 00:00 the next day in Tokyo
LONGEST = timedelta(hours=8)


@pytest.mark.parametrize("text", ["99999999h", "999999999999m", "9999999999999s", "9999999h59m"])
def test_a_duration_past_the_end_of_the_calendar_is_too_long_not_an_error(text: str) -> None:
    with pytest.raises(LockUntilError) as refused:
        parse_lock_until(text, now=NOW, time_zone="UTC", longest=LONGEST)

    assert refused.value.reason == "that is further away than the longest lock allowed (8 h)"


def test_a_duration_within_the_longest_lock_is_added_to_now() -> None:
    assert parse_lock_until("8h", now=NOW, time_zone=None, longest=LONGEST) == NOW + LONGEST


@pytest.mark.parametrize(("zone", "clock"), [("America/New_York", "09:59"), ("UTC", "14:00"), ("UTC", "15:00")])
def test_until_a_time_already_past_today_is_refused(zone: str, clock: str) -> None:
    with pytest.raises(LockUntilError) as refused:
        parse_lock_until(f"until {clock}", now=NOW, time_zone=zone, longest=LONGEST)

    assert refused.value.reason == f"{clock} has already passed today in your time zone ({zone})"


@pytest.mark.parametrize(
    ("zone", "clock", "expected"),
    [
        ("America/New_York", "10:01", datetime(2026, 11, 22, 15, 1, tzinfo=UTC)),
        ("UTC", "17:30", datetime(2026, 11, 22, 17, 30, tzinfo=UTC)),
        ("Asia/Tokyo", "07:45", datetime(2026, 11, 22, 22, 45, tzinfo=UTC)),
    ],
)
def test_until_a_time_later_today_is_in_the_persons_zone(zone: str, clock: str, expected: datetime) -> None:
    assert parse_lock_until(f"until {clock}", now=NOW, time_zone=zone, longest=LONGEST) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10s", ("10s", "")),
        ("for 10m courier at reception", ("10m", "courier at reception")),
        ("1h30m", ("1h30m", "")),
        ("FOR 1H", ("1H", "")),
        ("until 17:30 cleaners", ("until 17:30", "cleaners")),
        ("for until 9:05", ("until 9:05", "")),
        ("courier at reception", None),
        ("for the courier", None),
        ("2 guests arriving", None),
        ("", None),
    ],
)
def test_a_leading_duration_is_split_from_the_reason(text: str, expected: tuple[str, str] | None) -> None:
    assert split_leading_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("for 30 min", "“30 min” is not a duration like 30s, 10m or 1h30m"),
        ("until 5pm", "“until 5pm” is not a time of day like until 17:30"),
        ("until", "“until” is not a time of day like until 17:30"),
        ("for", "say for how long: 30s, 10m, 1h30m or until 17:30"),
    ],
)
def test_a_mistyped_duration_is_refused_rather_than_read_as_a_reason(text: str, reason: str) -> None:
    with pytest.raises(LockUntilError) as refused:
        split_leading_duration(text)

    assert refused.value.reason == reason


@pytest.mark.parametrize(
    ("duration", "words"),
    [
        (timedelta(seconds=10), "10 s"),
        (timedelta(hours=2), "2 h"),
        (timedelta(minutes=90, seconds=5), "1 h 30 min 5 s"),
    ],
)
def test_spoken_durations(duration: timedelta, words: str) -> None:
    assert spoken_duration(duration) == words


@pytest.mark.parametrize(
    ("elapsed", "words"),
    [
        (timedelta(seconds=59), "59 s"),
        (timedelta(minutes=1), "1 min"),
        (timedelta(minutes=30, seconds=1), "30 min"),
        (timedelta(minutes=90, seconds=59), "1 h 30 min"),
    ],
)
def test_how_long_something_has_lasted_is_said_in_whole_minutes_past_one(elapsed: timedelta, words: str) -> None:
    assert spoken_elapsed(elapsed) == words
