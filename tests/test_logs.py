"""bot/logs.py: JSON lines with the action and request being worked on, secrets redacted in both forms."""

from __future__ import annotations

import asyncio
import json
import logging
import sys

import pytest
from aiohttp.http_exceptions import BadHttpMessage

from bot.logs import JsonLines, LogContext, OneLineForUnreadableHttp, SecretRedactor, about_action, about_request


def record(message: str, *args: object, exc_info: bool = False, name: str = "bot.test") -> logging.LogRecord:
    return logging.LogRecord(
        name, logging.WARNING, __file__, 1, message, args or None, sys.exc_info() if exc_info else None
    )


def as_json(entry: logging.LogRecord, secrets: list[str] | None = None) -> dict[str, object]:
    # As logging runs them: the logger's filter (aiohttp.server's one line), then the handler's.
    for kept in (OneLineForUnreadableHttp(), SecretRedactor(secrets or []), LogContext()):
        kept.filter(entry)
    line = JsonLines().format(entry)
    assert "\n" not in line
    parsed = json.loads(line)
    assert isinstance(parsed, dict)
    return parsed


def test_a_line_is_one_object_with_time_level_logger_and_message() -> None:
    line = as_json(record("lock %s: attempt %s", "front_door", "aa1\nbb2"))

    assert line["message"] == "lock front_door: attempt aa1\nbb2"
    assert line["level"] == "WARNING"
    assert line["logger"] == "bot.test"
    assert str(line["time"]).endswith("+00:00")
    assert "action_id" not in line
    assert "request_id" not in line


def test_a_traceback_is_one_field_and_redacted() -> None:
    try:
        raise RuntimeError("token xoxb-secret-token leaked")
    except RuntimeError:
        entry = record("it failed", exc_info=True)

    line = as_json(entry, ["xoxb-secret-token"])

    assert line["message"] == "it failed"
    assert "Traceback (most recent call last)" in str(line["exception"])
    assert "RuntimeError: token [redacted] leaked" in str(line["exception"])
    assert "xoxb-secret-token" not in json.dumps(line)


def test_lines_within_an_action_or_a_request_name_it() -> None:
    with about_request("r" * 100), about_action("act123"):
        inside = as_json(record("inside"))
    outside = as_json(record("outside"))

    assert inside["action_id"] == "act123"
    assert inside["request_id"] == "r" * 64  # a value from a payload is cut short
    assert "action_id" not in outside
    assert "request_id" not in outside


@pytest.mark.anyio
async def test_tasks_started_within_an_action_carry_it() -> None:
    async def logged() -> dict[str, object]:
        await asyncio.sleep(0)
        return as_json(record("in a task"))

    with about_action("act456"):
        task = asyncio.create_task(logged())
    assert (await task)["action_id"] == "act456"


def test_the_one_line_filter_still_shortens_unparsable_http_in_json() -> None:
    try:
        raise BadHttpMessage("junk")
    except BadHttpMessage:
        entry = record("Error handling request", exc_info=True, name="aiohttp.server")

    line = as_json(entry)

    assert line["message"] == "refused an HTTP request that could not be parsed (BadHttpMessage)"
    assert line["level"] == "INFO"
    assert "exception" not in line
