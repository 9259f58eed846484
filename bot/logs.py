"""Logging that never prints a secret: plain lines, or one JSON object per line (`LOG_FORMAT=json`).

Every line, lockbot's and every library's (aiohttp, bolt, slack_sdk, SQLAlchemy, asyncio, warnings,
an uncaught exception), goes through the root logger's one handler, so both forms and the filters
apply to all of them. A line logged while an action or an unlock request is being worked on carries
its id (`about_action`, `about_request`: context variables, inherited by the tasks started within).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from types import TracebackType

from aiohttp.http_exceptions import HttpProcessingError
from pydantic import SecretStr

from bot.config import LogSettings

__all__ = [
    "DATABASE_LOGGERS",
    "JsonLines",
    "LogContext",
    "OneLineForUnreadableHttp",
    "SecretRedactor",
    "about_action",
    "about_request",
    "configure_logging",
]

_action_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("lockbot_action_id", default=None)
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("lockbot_request_id", default=None)
# A request id comes from a button's value: whatever a signed payload carries is cut to this.
_ID_LIMIT = 64


@contextlib.contextmanager
def about_action(action_id: str) -> Iterator[None]:
    """Lines logged within (and in tasks started within) carry `action_id`."""
    token = _action_id.set(action_id[:_ID_LIMIT])
    try:
        yield
    finally:
        _action_id.reset(token)


@contextlib.contextmanager
def about_request(request_id: str) -> Iterator[None]:
    """Lines logged within (and in tasks started within) carry `request_id`."""
    token = _request_id.set(request_id[:_ID_LIMIT])
    try:
        yield
    finally:
        _request_id.reset(token)


class LogContext(logging.Filter):
    """Puts the action and request being worked on into each record (`action_id`, `request_id`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, variable in (("action_id", _action_id), ("request_id", _request_id)):
            if getattr(record, name, None) is None:
                setattr(record, name, variable.get())
        return True


class JsonLines(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the action and request
    ids when there are any, and a traceback as one field. Newlines stay inside the JSON strings."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("action_id", "request_id"):
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


DATABASE_LOGGERS = ("sqlalchemy", "aiosqlite", "asyncpg")


class SecretRedactor(logging.Filter):
    """Replaces any configured secret that reaches a log line, whoever logged it."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [secret for secret in secrets if len(secret) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self._redact(record.getMessage()), None
        if record.exc_info:
            # Tracebacks quote values too: format it now, redacted, in place of the raw one.
            record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "[redacted]")
        return text


class OneLineForUnreadableHttp(logging.Filter):
    """An HTTP request the server cannot even parse (an oversized header, a malformed request line)
    is anyone's to send: one short line naming the kind of failure, never a traceback or its bytes."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg, record.args = "refused an HTTP request that could not be parsed (%s)", (type(error).__name__,)
            record.exc_info, record.exc_text, record.levelno, record.levelname = None, None, logging.INFO, "INFO"
        return True


def _secrets(settings: LogSettings) -> list[str]:
    values = (getattr(settings, name) for name in type(settings).model_fields)
    return [value.get_secret_value() for value in values if isinstance(value, SecretStr)]


def _log_uncaught(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, traceback)
        return
    logging.getLogger("bot").critical("lockbot stopped on an uncaught error", exc_info=(kind, error, traceback))


def configure_logging(settings: LogSettings) -> None:
    """Send every log line to standard error in the form `settings` asks for, secrets redacted.

    Called once with the log settings alone (so even "cannot start" is in that form), then again
    with all the settings, whose secrets it then knows."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonLines())
        # Python's own warnings and an uncaught error would otherwise be written to stderr as they are.
        logging.captureWarnings(True)
        sys.excepthook = _log_uncaught
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(SecretRedactor(_secrets(settings)))
    handler.addFilter(LogContext())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    parse_errors = logging.getLogger("aiohttp.server")
    if not any(isinstance(known, OneLineForUnreadableHttp) for known in parse_errors.filters):
        parse_errors.addFilter(OneLineForUnreadableHttp())
    # These log request headers (tokens) or every request at DEBUG/INFO.
    for noisy in ("slack_sdk", "httpx", "httpcore", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # The database drivers and SQLAlchemy log statements with their values (a slot's lock key) and rows
    # at DEBUG/INFO: never, at any LOG_LEVEL.
    for database in DATABASE_LOGGERS:
        logging.getLogger(database).setLevel(max(logging.WARNING, root.level))
