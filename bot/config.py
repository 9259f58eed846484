"""lockbot's settings: one typed class read from the environment and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ConfigError", "Settings", "load_settings"]


class ConfigError(Exception):
    """The settings cannot start lockbot; the message names every problem."""


def _check_http_url(value: str, name: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value


class Settings(BaseSettings):
    """Everything lockbot reads from its environment. Nothing else reads the environment."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        case_sensitive=False,
    )

    slack_bot_token: SecretStr
    # Defined before the signing secret: its validator needs to know the mode.
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = Field(default=None, validate_default=True)
    slack_api_url: str = "https://slack.com/api/"

    seam_api_key: SecretStr | None = None
    seam_endpoint: str = "https://connect.getseam.com"
    seam_webhook_secret: SecretStr | None = None

    overbooked_api_key: SecretStr | None = None
    overbooked_endpoint: str = "https://api.overbooked.io"

    database_url: str = "sqlite:///lockbot.db"
    lockbot_policy: Path | None = None
    port: int = Field(default=3000, ge=0, le=65535)
    lockbot_host: str = "0.0.0.0"  # noqa: S104 - a web dyno must listen on every interface

    # Beyond SPEC: tuning with safe defaults.
    lockbot_action_timeout: float = Field(default=20.0, gt=0, le=3600)
    lockbot_seam_timeout: float = Field(default=10.0, gt=0, le=120)
    log_level: str = "INFO"

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
        if value is not None and not value.get_secret_value().startswith("whsec_"):
            raise ValueError("must be a Svix secret starting with whsec_")
        return value

    @field_validator("slack_api_url", "seam_endpoint", "overbooked_endpoint")
    @classmethod
    def _endpoint_is_url(cls, value: str, info: ValidationInfo) -> str:
        return _check_http_url(value, str(info.field_name))

    @field_validator("slack_api_url")
    @classmethod
    def _slack_api_url_ends_with_slash(cls, value: str) -> str:
        # slack_sdk joins method names onto the base URL as-is.
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _database_url_scheme(cls, value: str) -> str:
        scheme = value.split(":", 1)[0].split("+", 1)[0]
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(f"must start with sqlite:/// or postgresql://, got a {scheme!r} URL")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

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
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = [_describe(dict(error)) for error in exc.errors(include_input=False)]
        raise ConfigError("lockbot cannot start: " + "; ".join(problems)) from None
