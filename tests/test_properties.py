"""Property-based tests: no input makes an exception escape from parsing, the policy file, or a command."""

from __future__ import annotations

import asyncio
import logging
import socket
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.app import Lockbot, open_lockbot
from bot.config import ConfigError, Settings
from bot.doors import DoorAmbiguous, DoorFound, DoorUnknown, match_door, match_door_and_reason
from bot.durations import LockUntilError, parse_duration, parse_lock_until, split_leading_duration
from bot.policy_file import load_policy
from bot.seam import Lock
from tests.botprocess import BOT_TOKEN, SIGNING_SECRET, signed_headers
from tests.fakes.slack_api import FakeSlack

LOCKS = [
    Lock(device_id="lock_1", display_name="Front Door"),
    Lock(device_id="lock_2", display_name="Back Door"),
    Lock(device_id="lock_3", display_name="Garage Door"),
    Lock(device_id="lock_4", display_name="Garden Gate"),
    Lock(device_id="lock_5", display_name="“Quoted” Room"),
]
NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
ZONES = st.sampled_from([None, "UTC", "America/New_York", "Asia/Kathmandu", "Pacific/Chatham", "Not/AZone", ""])
# Text people type, with the characters that matter to the parsers over-represented.
TYPED = st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from(list(" \t\"'“”:+-.hmsTZ0123456789")), max_size=60
)


@given(TYPED)
def test_door_matching_never_raises_and_finds_only_real_doors(text: str) -> None:
    for result in (match_door(text, LOCKS), match_door_and_reason(text, LOCKS)):
        assert isinstance(result, DoorFound | DoorAmbiguous | DoorUnknown)
        if isinstance(result, DoorFound):
            assert result.lock in LOCKS
        if isinstance(result, DoorAmbiguous):
            assert len(result.matches) > 1


@given(TYPED)
def test_durations_parse_to_something_positive_or_say_why(text: str) -> None:
    try:
        duration = parse_duration(text)
    except ValueError as exc:
        assert "duration" in str(exc)
    else:
        assert duration > timedelta(0)


@given(st.integers(min_value=0, max_value=10**30), st.sampled_from(["h", "m", "s"]))
def test_any_number_of_hours_minutes_or_seconds_parses_or_says_why(count: int, unit: str) -> None:
    try:
        duration = parse_duration(f"{count}{unit}")
    except ValueError as exc:
        assert "duration" in str(exc)
    else:
        assert duration > timedelta(0)


# What /slot lock takes besides free text: a time of day (past or still to come today in the zone),
# and durations of any size, up to past the end of the calendar.
UNTIL_CLOCK = st.builds(
    lambda word, hour, minute, sep: f"{word} {hour}{sep}{minute:02d}",
    st.sampled_from(["until", "UNTIL", "until "]),
    st.integers(min_value=0, max_value=23),
    st.integers(min_value=0, max_value=59),
    st.sampled_from([":", ".", "h"]),
)
# Counts spread over every order of magnitude, so the ones past year 9999 come up too.
COUNTS = st.builds(lambda digit, zeros: digit * 10**zeros, st.integers(0, 9), st.integers(0, 15))
COUNTED = st.builds(lambda count, unit: f"{count}{unit}", COUNTS | st.integers(0, 10**15), st.sampled_from("hms"))


@given(st.one_of(TYPED, UNTIL_CLOCK, COUNTED), ZONES, st.integers(min_value=1, max_value=48))
@example("99999999h", None, 8)  # past year 9999 from now: the ones the strategy may miss in a run
@example("until 14:59", "UTC", 8)  # a minute before NOW
@example("until 09:00", "America/New_York", 8)
def test_lock_until_is_in_the_allowed_window_or_says_why(text: str, zone: str | None, hours: int) -> None:
    longest = timedelta(hours=hours)
    try:
        until = parse_lock_until(text, now=NOW, time_zone=zone, longest=longest)
    except LockUntilError as exc:
        assert exc.reason
    else:
        assert until.tzinfo is not None
        assert NOW < until <= NOW + longest


@given(st.one_of(TYPED, UNTIL_CLOCK, COUNTED, st.builds(" ".join, st.lists(TYPED | UNTIL_CLOCK | COUNTED, max_size=4))))
@example("for 30 min")
@example("until 25:00 then")
def test_a_leading_duration_is_split_off_whole_or_says_why(text: str) -> None:
    try:
        split = split_leading_duration(text)
    except LockUntilError as exc:
        assert exc.reason
        return
    if split is None:
        return
    words, rest = split
    # What was split off is one of the grammar's forms, and nothing of the text is lost but `for`.
    if words.lower().startswith("until"):
        assert len(words.split()) == 2  # until and a time of day
    else:
        assert len(words.split()) == 1  # 30s, 10m, 1h30m
        assert words[:1].isdigit()
    kept = f"{words} {rest}".casefold().split()
    typed = text.casefold().split()
    assert kept == (typed[1:] if typed[0] == "for" else typed)


KEYS = st.sampled_from(
    [
        "direct_unlock",
        "approvers",
        "approval_channel",
        "notify_channel",
        "request_ttl",
        "relock_after",
        "max_unlock",
        "colour",
        "ttl",
        "",
    ]
)
VALUES = st.one_of(
    st.lists(st.sampled_from(["U024BE7LH", "W1234567", "S0SECURITY", "*", "bob", "", "U"]), max_size=4),
    st.sampled_from(['"C0123456"', '"general"', '"15m"', '"1h30m"', '"0m"', '"8d"', "15", "true", "[]", '"G12AB"']),
)


@st.composite
def policy_files(draw: st.DrawFn) -> str:
    lines = []
    for table in draw(st.lists(st.sampled_from(["[defaults]", '[doors."Server Room"]', "[doors.lock_1]", "[other]"]))):
        lines.append(table)
        for key, value in draw(st.lists(st.tuples(KEYS, VALUES), max_size=4)):
            rendered = "[" + ", ".join(f'"{v}"' for v in value) + "]" if isinstance(value, list) else value
            lines.append(f"{key} = {rendered}")
    if draw(st.booleans()):
        lines.append(draw(st.text(max_size=20)))
    return "\n".join(lines)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150)
@given(policy_files())
def test_any_policy_file_loads_or_is_refused_with_a_line_and_reason(tmp_path: Path, text: str) -> None:
    path = tmp_path / "lockbot.toml"
    path.write_text(text, encoding="utf-8")
    try:
        load_policy(path)
    except ConfigError as exc:
        assert str(exc).startswith("lockbot cannot start: ")
        assert str(path) in str(exc)
    else:
        tomllib.loads(text)  # it only loads what is valid TOML


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def in_process(
    slack: FakeSlack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[asyncio.AbstractEventLoop, Lockbot]]:
    """lockbot in this process, with Seam and Overbooked refusing connections (each answer is fast)."""
    down = f"http://127.0.0.1:{_closed_port()}"
    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.api_url,
        seam_api_key="seam_key",
        seam_endpoint=down,
        overbooked_api_key="sk_key",
        overbooked_endpoint=down,
        database_url=f"sqlite:///{tmp_path_factory.mktemp('properties') / 'lockbot.db'}",
        _env_file=None,
    )
    loop = asyncio.new_event_loop()
    lockbot = loop.run_until_complete(open_lockbot(settings))
    yield loop, lockbot
    loop.run_until_complete(lockbot.aclose())
    loop.close()


COMMANDS = st.sampled_from(["/lock", "/unlock", "/doors", "/slot"])
SLOT_TEXT = st.builds(
    lambda verb, rest: f"{verb} {rest}", st.sampled_from(["lock", "unlock", "status", "LOCK", "open"]), TYPED
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=80, deadline=None)
@given(command=COMMANDS, text=st.one_of(TYPED, SLOT_TEXT))
def test_no_command_text_gets_a_500_or_an_escaping_exception(
    in_process: tuple[asyncio.AbstractEventLoop, Lockbot], slack: FakeSlack, command: str, text: str
) -> None:
    loop, lockbot = in_process
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    body = urlencode(
        {
            "command": command,
            "text": text,
            "user_id": "U0ADMIN001",
            "channel_id": "C0PROPERTY",
            "team_id": "T0000TEST",
            "response_url": slack.response_url("property"),
            "trigger_id": "1.t",
        }
    )

    async def dispatch() -> int:
        response = await lockbot.bolt.async_dispatch(AsyncBoltRequest(body=body, headers={**signed_headers(body)}))
        # Let the work after the acknowledgement finish before judging it.
        pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        if pending:
            await asyncio.wait(pending, timeout=10)
        return response.status

    try:
        status = loop.run_until_complete(dispatch())
    finally:
        logging.getLogger().removeHandler(errors)

    assert status == 200
    assert [record.getMessage() for record in errors.records] == []
