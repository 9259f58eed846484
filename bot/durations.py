"""Durations and times as people type them. Pure functions, no clock of their own."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "SHORTEST_UNLOCK",
    "LockUntilError",
    "parse_duration",
    "parse_lock_until",
    "split_leading_duration",
    "spoken_duration",
    "spoken_elapsed",
]

SHORTEST_UNLOCK = timedelta(seconds=10)  # a door unlocked for less could not even be walked through

_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")
_CLOCK = re.compile(r"^(?P<h>[01]?\d|2[0-3])[:.h](?P<m>[0-5]\d)$")


def parse_duration(text: str) -> timedelta:
    """`15m`, `2h`, `1h30m`, `90s` as a positive timedelta."""
    found = _DURATION.match(text.strip().lower())
    if not text.strip() or found is None or not any(found.groupdict().values()):
        raise ValueError(f"{text!r} is not a duration like 15m, 2h, 1h30m or 90s")
    parts = {unit: int(value or 0) for unit, value in found.groupdict().items()}
    try:
        duration = timedelta(hours=parts["h"], minutes=parts["m"], seconds=parts["s"])
    except OverflowError:
        raise ValueError(f"{text!r} is longer than any duration lockbot can use") from None
    if duration <= timedelta(0):
        raise ValueError(f"{text!r} is not a positive duration")
    return duration


class LockUntilError(Exception):
    """Why the time cannot be used, in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse_lock_until(text: str, *, now: datetime, time_zone: str | None, longest: timedelta) -> datetime:
    """When a slot lock should end, in UTC: `30m`, `2h`, `1h30m`, `until 17:30` (in the person's
    time zone, today), or ISO 8601 with an offset. Raises LockUntilError for a malformed time, one
    not in the future, or one further away than `longest`."""
    words = text.strip()
    if not words:
        raise LockUntilError("say until when: 30m, 2h, 1h30m, until 17:30, or an ISO 8601 time with an offset")
    until: datetime
    if words.lower().startswith("until"):
        clock = _CLOCK.match(words[5:].strip())
        if clock is None:
            raise LockUntilError(f"“{words}” is not a time of day like until 17:30")
        zone = _zone(time_zone)
        local_now = now.astimezone(zone)
        wall = time(int(clock["h"]), int(clock["m"]))
        until = datetime.combine(local_now.date(), wall, tzinfo=zone)
        if until <= local_now:
            raise LockUntilError(f"{wall:%H:%M} has already passed today in your time zone ({zone.key})")
    elif _DURATION.match(words.lower()):
        try:
            duration = parse_duration(words)
        except ValueError as exc:
            raise LockUntilError(str(exc)) from None
        if duration > longest:  # before adding: `now + 99999999h` is past year 9999
            raise LockUntilError(f"that is further away than the longest lock allowed ({_spoken(longest)})")
        until = now + duration
    else:
        try:
            until = datetime.fromisoformat(words)
        except ValueError:
            raise LockUntilError(f"“{words}” is not 30m, 2h, 1h30m, until 17:30, or an ISO 8601 time") from None
        if until.tzinfo is None:
            raise LockUntilError(f"“{words}” has no UTC offset; add one, like 2026-11-22T17:30+01:00")
        if until <= now:
            raise LockUntilError(f"“{words}” is in the past")
    if until - now > longest:
        raise LockUntilError(f"that is further away than the longest lock allowed ({_spoken(longest)})")
    return until.astimezone(UTC)


def split_leading_duration(text: str) -> tuple[str, str] | None:
    """How long, at the start of what follows a door (`/unlock front door for 10m courier`):
    `[for] 30s|10m|1h30m` or `[for] until 17:30`, as (those words without `for`, the rest).

    None when the text does not start with one (all of it is then the reason). Raises
    LockUntilError when it plainly meant to say how long but said it wrong (`for 30 min`,
    `until 5pm`): a door must not stay unlocked for good because a duration was mistyped.
    """
    words = text.split()
    typed_for = bool(words) and words[0].casefold() == "for"
    if typed_for:
        words = words[1:]
    if not words:
        if typed_for:
            raise LockUntilError("say for how long: 30s, 10m, 1h30m or until 17:30")
        return None
    first = words[0].lower()
    if first == "until":
        if len(words) < 2 or _CLOCK.match(words[1]) is None:
            shown = " ".join(words[:2])
            raise LockUntilError(f"“{shown}” is not a time of day like until 17:30")
        return f"until {words[1]}", " ".join(words[2:])
    found = _DURATION.match(first)
    if found is not None and any(found.groupdict().values()):
        return words[0], " ".join(words[1:])
    if typed_for and first[:1].isdigit():
        raise LockUntilError(f"“{' '.join(words[:2])}” is not a duration like 30s, 10m or 1h30m")
    return None


def spoken_duration(duration: timedelta) -> str:
    """`2 h 30 min`, `45 s`: a duration as people say it."""
    hours, rest = divmod(int(duration.total_seconds()), 3600)
    minutes, seconds = divmod(rest, 60)
    parts = (f"{hours} h" if hours else "", f"{minutes} min" if minutes else "", f"{seconds} s" if seconds else "")
    return " ".join(part for part in parts if part) or "0 s"


def spoken_elapsed(elapsed: timedelta) -> str:
    """How long something has lasted, in whole minutes once past one: "30 min", not "30 min 1 s"
    (measured a little late, by a tick or a slow API)."""
    if elapsed >= timedelta(minutes=1):
        return spoken_duration(timedelta(minutes=elapsed // timedelta(minutes=1)))
    return spoken_duration(elapsed)


def _spoken(duration: timedelta) -> str:
    hours, rest = divmod(int(duration.total_seconds()), 3600)
    minutes = rest // 60
    return " ".join(part for part in (f"{hours} h" if hours else "", f"{minutes} min" if minutes else "") if part) or (
        f"{int(duration.total_seconds())} s"
    )
