"""Logging that never prints a secret."""

from __future__ import annotations

import logging
import sys

from aiohttp.http_exceptions import HttpProcessingError
from pydantic import SecretStr

from bot.config import Settings

__all__ = ["DATABASE_LOGGERS", "OneLineForUnreadableHttp", "SecretRedactor", "configure_logging"]

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


def _secrets(settings: Settings) -> list[str]:
    values = (getattr(settings, name) for name in type(settings).model_fields)
    return [value.get_secret_value() for value in values if isinstance(value, SecretStr)]


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(SecretRedactor(_secrets(settings)))
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
