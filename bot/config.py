"""lockbot's settings: one typed class read from the environment and `.env`."""

from __future__ import annotations

import binascii
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.durations import parse_duration
from bot.policy import EVERYONE, DoorRules, Policy

__all__ = [
    "ConfigError",
    "DatabaseSettings",
    "SeamSettings",
    "Settings",
    "load_database_settings",
    "load_policy",
    "load_seam_settings",
    "load_settings",
    "parse_duration",
    "policy_path",
]


class ConfigError(Exception):
    """The settings cannot start lockbot; the message names every problem."""


def _check_http_url(value: str, name: str) -> str:
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


class DatabaseSettings(BaseSettings):
    """The database alone: all that the operator commands (`python -m bot audit`) need."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        case_sensitive=False,
    )

    database_url: str = "sqlite:///lockbot.db"

    @field_validator("database_url")
    @classmethod
    def _database_url_scheme(cls, value: str) -> str:
        scheme = value.split(":", 1)[0].split("+", 1)[0]
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(f"must start with sqlite:/// or postgresql://, got a {scheme!r} URL")
        return value


class SeamSettings(BaseSettings):
    """Seam alone: all that `python -m bot seam-webhook create` needs."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", env_ignore_empty=True, extra="ignore")

    seam_api_key: SecretStr
    seam_endpoint: str = "https://connect.getseam.com"

    @field_validator("seam_endpoint")
    @classmethod
    def _endpoint_is_url(cls, value: str) -> str:
        return _check_http_url(value, "seam_endpoint")


class Settings(DatabaseSettings):
    """Everything lockbot reads from its environment. Nothing else reads the environment."""

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

    lockbot_policy: Path | None = None
    port: int = Field(default=3000, ge=0, le=65535)
    lockbot_host: str = "0.0.0.0"  # noqa: S104 - a web dyno must listen on every interface

    # Beyond SPEC: tuning with safe defaults.
    lockbot_action_timeout: float = Field(default=20.0, gt=0, le=3600)
    lockbot_seam_timeout: float = Field(default=10.0, gt=0, le=120)
    lockbot_action_lease: float = Field(default=10.0, ge=1, le=600)
    lockbot_overbooked_timeout: float = Field(default=10.0, gt=0, le=120)
    lockbot_slot_max_lock: str = "24h"
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
        if value is not None:
            _check_svix_secret(value.get_secret_value())
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

    @field_validator("lockbot_slot_max_lock")
    @classmethod
    def _slot_max_lock_is_a_duration(cls, value: str) -> str:
        parse_duration(value)
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
    return _load(Settings, overrides)


def load_database_settings() -> DatabaseSettings:
    return _load(DatabaseSettings, {})


def load_seam_settings() -> SeamSettings:
    return _load(SeamSettings, {})


_S = TypeVar("_S", bound=BaseSettings)


def _load(kind: type[_S], overrides: dict[str, Any]) -> _S:
    try:
        return kind(**overrides)
    except ValidationError as exc:
        problems = [_describe(dict(error)) for error in exc.errors(include_input=False)]
        raise ConfigError("lockbot cannot start: " + "; ".join(problems)) from None


# -- the policy file -------------------------------------------------------------------------

_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_GROUP = re.compile(r"^S[A-Z0-9]{2,}$")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_MAX_REQUEST_TTL = timedelta(days=7)


def _member_id(value: str) -> str:
    if value == EVERYONE or _USER.match(value) or _GROUP.match(value):
        return value
    raise ValueError(f'{value!r} is not a Slack user id (U…, W…), user group id (S…) or "*"')


def _channel_id(value: str) -> str:
    if _CHANNEL.match(value):
        return value
    raise ValueError(f"{value!r} is not a Slack channel id (C…, G…)")


MemberId = Annotated[str, AfterValidator(_member_id)]
ChannelId = Annotated[str, AfterValidator(_channel_id)]


class _RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    direct_unlock: list[MemberId] | None = None
    approvers: list[MemberId] | None = None
    approval_channel: ChannelId | None = None
    notify_channel: ChannelId | None = None
    request_ttl: str | None = None

    @field_validator("request_ttl")
    @classmethod
    def _ttl_is_a_duration(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) > _MAX_REQUEST_TTL:
            raise ValueError(f"{value!r} is longer than 7 days")
        return value

    def over(self, base: DoorRules) -> DoorRules:
        """These rules, with `base` for every key left out."""
        given = self.model_dump(exclude_unset=True)
        return DoorRules(
            direct_unlock=frozenset(given["direct_unlock"]) if "direct_unlock" in given else base.direct_unlock,
            approvers=frozenset(given["approvers"]) if "approvers" in given else base.approvers,
            approval_channel=given.get("approval_channel", base.approval_channel),
            notify_channel=given.get("notify_channel", base.notify_channel),
            request_ttl=parse_duration(given["request_ttl"]) if "request_ttl" in given else base.request_ttl,
        )


class _PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: _RulesFile = _RulesFile()
    doors: dict[str, _RulesFile] = {}


def _line_of(source: str, location: tuple[str | int, ...]) -> int | None:
    """The line of `source` a validation error's location points at, as well as TOML allows."""
    lines = source.splitlines()
    table: tuple[str, ...] = ()
    wanted_table = (
        tuple(str(part) for part in location[:2])
        if location[:1] == ("doors",)
        else tuple(str(part) for part in location[:1])
    )
    key = str(location[len(wanted_table)]) if len(location) > len(wanted_table) else None
    table_line = None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        header = re.match(r"^\[([^\[\]]+)\]", stripped)
        if header:
            table = tuple(
                part.strip().strip('"').strip("'") for part in re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', header.group(1))
            )
            if table == wanted_table:
                table_line = number
            continue
        if table == wanted_table and key is not None and re.match(rf"^\"?{re.escape(key)}\"?\s*=", stripped):
            return number
    if table_line is None and len(location) == 1:
        # An unknown top-level table: find its header.
        for number, line in enumerate(lines, start=1):
            if re.match(rf"^\[\s*\"?{re.escape(str(location[0]))}", line.strip()):
                return number
    return table_line


def _toml_problem(path: Path, source: str, message: str) -> str:
    """`path line N: reason` from tomllib's `reason (at line N, column M)`."""
    found = re.match(r"^(?P<reason>.*) \(at line (?P<line>\d+), column \d+\)$", message)
    if found:
        return f"{path} line {found['line']}: {found['reason']}"
    if message.endswith("(at end of document)"):
        return f"{path} line {max(1, len(source.splitlines()))}: {message.removesuffix(' (at end of document)')}"
    return f"{path}: {message}"


def load_policy(path: Path) -> Policy:
    """Read and check the policy file; raise ConfigError naming the file, line and reason."""
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"lockbot cannot start: cannot read the policy file {path}: {exc.strerror}") from None
    try:
        raw = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"lockbot cannot start: {_toml_problem(path, source, str(exc))}") from None
    try:
        parsed = _PolicyFile.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False):
            location = tuple(error["loc"])
            line = _line_of(source, location)
            where = f"{path} line {line}" if line else str(path)
            what = ".".join(str(part) for part in location)
            reason = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                reason = f"unknown key {str(location[-1])!r}"
            problems.append(f"{where}: {what}: {reason}")
        raise ConfigError("lockbot cannot start: " + "; ".join(problems)) from None
    defaults = parsed.defaults.over(DoorRules())
    doors = {name.casefold(): rules.over(defaults) for name, rules in parsed.doors.items()}
    return Policy(defaults=defaults, doors=doors)


def policy_path(settings: Settings) -> Path | None:
    """LOCKBOT_POLICY, else lockbot.toml where lockbot runs, if it exists."""
    if settings.lockbot_policy is not None:
        return settings.lockbot_policy
    default = Path("lockbot.toml")
    return default if default.exists() else None
