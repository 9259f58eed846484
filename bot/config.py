"""lockbot's settings: typed classes read from the environment and `.env`, every problem named at once.

`Settings` is everything `python -m bot serve` reads; the operator commands read only their part
(`DatabaseSettings` for `audit`, `SeamSettings` for `seam-webhook`). The policy file is
`bot.policy_file`.
"""

from __future__ import annotations

import binascii
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.durations import parse_duration

__all__ = [
    "ConfigError",
    "DatabaseSettings",
    "LogSettings",
    "SeamSettings",
    "Settings",
    "load_console_settings",
    "load_database_settings",
    "load_log_settings",
    "load_seam_settings",
    "load_settings",
]


class ConfigError(Exception):
    """The settings cannot start lockbot; the message names every problem."""


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value


def _check_svix_secret(secret: str) -> None:
    """Refuse exactly the secrets svix refuses, and say why without showing the secret.

    svix takes the secret with or without its `whsec_` prefix, padded or not, so any form Seam
    shows will do; only what it cannot turn into a key stops lockbot.
    """
    # Imported here: svix (7 MiB) is loaded only by a lockbot that takes Seam's webhooks.
    from svix.webhooks import Webhook  # noqa: PLC0415

    try:
        Webhook(secret)
    except binascii.Error:
        raise ValueError(
            "is not a Svix secret: its base64 is cut short (copy the whole secret Seam shows, whsec_ and all)"
        ) from None
    except ValueError:
        # The only other ValueError svix raises here: a character outside ASCII.
        raise ValueError(
            "is not a Svix secret: it has a character that is not base64 (copy the secret Seam shows, whsec_ and all)"
        ) from None
    except Exception:  # svix's EmptyWebhookSecretError, its only other refusal
        raise ValueError(
            "is not a Svix secret: it holds no key (copy the whole secret Seam shows, whsec_ and all)"
        ) from None


def _relock_retries(value: str) -> tuple[timedelta, ...]:
    if value.strip().lower() == "none":
        return ()
    retries = tuple(parse_duration(part.strip()) for part in value.split(","))
    if len(retries) > 10:
        raise ValueError("at most 10 retries")
    return retries


class _FromEnvironment(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        case_sensitive=False,
    )


class _SeamEndpoint(_FromEnvironment):
    """Where Seam is: the Seam setting both `Settings` and `SeamSettings` read, with one default and one check."""

    seam_endpoint: str = "https://connect.getseam.com"

    @field_validator("seam_endpoint")
    @classmethod
    def _seam_endpoint_is_url(cls, value: str) -> str:
        return _check_http_url(value)


class DatabaseSettings(_FromEnvironment):
    """The database alone: all that the operator commands (`python -m bot audit`) need."""

    database_url: str = "sqlite:///lockbot.db"

    @field_validator("database_url")
    @classmethod
    def _database_url_scheme(cls, value: str) -> str:
        scheme = value.split(":", 1)[0].split("+", 1)[0]
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(f"must start with sqlite:/// or postgresql://, got a {scheme!r} URL")
        return value


class LogSettings(_FromEnvironment):
    """How lockbot logs: read first and alone, so that even the line saying it cannot start is in that form."""

    log_level: str = "INFO"
    log_format: str = "plain"  # "json": one JSON object per line, for a log collector

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str) -> str:
        shape = value.lower()
        if shape not in ("plain", "json"):
            raise ValueError("must be plain or json")
        return shape


class SeamSettings(_SeamEndpoint):
    """Seam alone: all that `python -m bot seam-webhook create` needs, the API key required."""

    seam_api_key: SecretStr


class Settings(DatabaseSettings, _SeamEndpoint, LogSettings):
    """Everything lockbot reads from its environment. Nothing else reads the environment."""

    slack_bot_token: SecretStr
    # Defined before the signing secret: its validator needs to know the mode.
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = Field(default=None, validate_default=True)
    slack_api_url: str = "https://slack.com/api/"

    seam_api_key: SecretStr | None = None  # doors are off without it
    seam_webhook_secret: SecretStr | None = None

    overbooked_api_key: SecretStr | None = None
    overbooked_endpoint: str = "https://api.overbooked.io"

    lockbot_policy: Path | None = None
    port: int = Field(default=3000, ge=0, le=65535)
    lockbot_host: str = "0.0.0.0"  # noqa: S104 - a web dyno must listen on every interface

    # Beyond SPEC: tuning with safe defaults.
    lockbot_action_timeout: float = Field(default=20.0, gt=0, le=3600)
    lockbot_seam_timeout: float = Field(default=10.0, gt=0, le=120)
    lockbot_action_lease: float = Field(default=10.0, ge=1, le=600)
    lockbot_overbooked_timeout: float = Field(default=10.0, gt=0, le=120)
    lockbot_slot_max_lock: str = "24h"
    lockbot_metrics_token: SecretStr | None = None  # GET /metrics then needs "Authorization: Bearer <token>"
    # After a relock fails: how long until each next try, comma-separated; "none" for no retries.
    lockbot_relock_retries: str = "30s,2m,5m"

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @field_validator("slack_signing_secret")
    @classmethod
    def _signing_secret_in_http_mode(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        socket_mode = info.data.get("slack_app_token") is not None
        if value is None and not socket_mode:
            raise ValueError("is required in HTTP mode (when SLACK_APP_TOKEN is not set)")
        return value

    @field_validator("seam_webhook_secret")
    @classmethod
    def _webhook_secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _check_svix_secret(value.get_secret_value())
        return value

    @field_validator("slack_api_url", "overbooked_endpoint")
    @classmethod
    def _endpoint_is_url(cls, value: str) -> str:
        return _check_http_url(value)

    @field_validator("slack_api_url")
    @classmethod
    def _slack_api_url_ends_with_slash(cls, value: str) -> str:
        # slack_sdk joins method names onto the base URL as-is.
        return value if value.endswith("/") else value + "/"

    @field_validator("lockbot_slot_max_lock")
    @classmethod
    def _slot_max_lock_is_a_duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("lockbot_relock_retries")
    @classmethod
    def _relock_retries_are_durations(cls, value: str) -> str:
        _relock_retries(value)
        return value

    @property
    def relock_retries(self) -> tuple[timedelta, ...]:
        """How long after each failed relock the next try starts."""
        return _relock_retries(self.lockbot_relock_retries)

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def doors_enabled(self) -> bool:
        return self.seam_api_key is not None

    @property
    def slots_enabled(self) -> bool:
        return self.overbooked_api_key is not None


def _describe(error: dict[str, Any]) -> str:
    name = str(error["loc"][0]).upper() if error["loc"] else "settings"
    if error["type"] == "missing":
        return f"{name} is required"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] in ("int_parsing", "float_parsing"):
        return f"{name} must be a number"
    return f"{name} {message}" if message[:1].islower() else f"{name}: {message}"


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, or raise ConfigError naming every bad one (never their values)."""
    return _load(Settings, overrides)


def load_console_settings(slack_api_url: str) -> Settings:
    """The settings of `python -m bot console`: as lockbot's, but Slack is the console's stand-in on
    `slack_api_url`, so no Slack token or secret is read (nor Seam's webhook secret: no webhook
    reaches a console)."""
    return _load(
        Settings,
        {
            "slack_bot_token": "xoxb-console",
            "slack_app_token": None,
            "slack_signing_secret": secrets.token_hex(16),
            "slack_api_url": slack_api_url,
            "seam_webhook_secret": None,
        },
    )


def load_database_settings() -> DatabaseSettings:
    return _load(DatabaseSettings, {})


def load_log_settings() -> LogSettings:
    return _load(LogSettings, {})


def load_seam_settings() -> SeamSettings:
    return _load(SeamSettings, {})


_S = TypeVar("_S", bound=BaseSettings)


def _load(kind: type[_S], overrides: dict[str, Any]) -> _S:
    try:
        return kind(**overrides)
    except ValidationError as exc:
        problems = [_describe(dict(error)) for error in exc.errors(include_input=False)]
        raise ConfigError("lockbot cannot start: " + "; ".join(problems)) from None
