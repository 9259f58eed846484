"""The policy file (lockbot.toml): its TOML model, checked at start, and where a mistake in it is.

A bad file stops lockbot with a `ConfigError` naming the file, the line and the reason, as a bad
setting does; the rules it holds become a `bot.policy.Policy`.
"""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, field_validator

from bot.config import ConfigError, Settings
from bot.durations import SHORTEST_UNLOCK, parse_duration
from bot.policy import EVERYONE, DoorRules, Policy

__all__ = ["load_policy", "policy_path"]

_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_GROUP = re.compile(r"^S[A-Z0-9]{2,}$")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_MAX_REQUEST_TTL = timedelta(days=7)
_LONGEST_UNLOCK = timedelta(days=7)


def _member_id(value: str) -> str:
    if value == EVERYONE or _USER.match(value) or _GROUP.match(value):
        return value
    raise ValueError(f'{value!r} is not a Slack user id (U…, W…), user group id (S…) or "*"')


def _channel_id(value: str) -> str:
    if _CHANNEL.match(value):
        return value
    raise ValueError(f"{value!r} is not a Slack channel id (C…, G…)")


_MemberId = Annotated[str, AfterValidator(_member_id)]
_ChannelId = Annotated[str, AfterValidator(_channel_id)]


class _RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    direct_unlock: list[_MemberId] | None = None
    approvers: list[_MemberId] | None = None
    approval_channel: _ChannelId | None = None
    notify_channel: _ChannelId | None = None
    request_ttl: str | None = None
    relock_after: str | None = None
    max_unlock: str | None = None
    alert_unlocked_after: str | None = None
    remind_after: str | None = None
    escalate_after: str | None = None
    escalate_to: list[_MemberId] | None = None
    reason_required: bool | None = None
    emergency: list[_MemberId] | None = None

    @field_validator("request_ttl")
    @classmethod
    def _ttl_is_a_duration(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) > _MAX_REQUEST_TTL:
            raise ValueError(f"{value!r} is longer than 7 days")
        return value

    @field_validator("alert_unlocked_after", "remind_after", "escalate_after")
    @classmethod
    def _wait_is_a_duration(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) > _MAX_REQUEST_TTL:
            raise ValueError(f"{value!r} is longer than 7 days")
        if value is not None and parse_duration(value) < SHORTEST_UNLOCK:
            raise ValueError(f"{value!r} is shorter than 10 seconds")
        return value

    @field_validator("relock_after", "max_unlock")
    @classmethod
    def _unlock_is_a_duration(cls, value: str | None) -> str | None:
        if value is None:
            return value
        duration = parse_duration(value)
        if duration > _LONGEST_UNLOCK:
            raise ValueError(f"{value!r} is longer than 7 days")
        if duration < SHORTEST_UNLOCK:
            raise ValueError(f"{value!r} is shorter than 10 seconds")
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
            relock_after=parse_duration(given["relock_after"]) if "relock_after" in given else base.relock_after,
            max_unlock=parse_duration(given["max_unlock"]) if "max_unlock" in given else base.max_unlock,
            alert_unlocked_after=_duration_or(given, "alert_unlocked_after", base.alert_unlocked_after),
            remind_after=_duration_or(given, "remind_after", base.remind_after),
            escalate_after=_duration_or(given, "escalate_after", base.escalate_after),
            escalate_to=frozenset(given["escalate_to"] or ()) if "escalate_to" in given else base.escalate_to,
            reason_required=bool(given.get("reason_required", base.reason_required)),
            emergency=frozenset(given["emergency"] or ()) if "emergency" in given else base.emergency,
        )


def _duration_or(given: dict[str, object], key: str, base: timedelta | None) -> timedelta | None:
    if key not in given:
        return base
    value = given[key]
    return parse_duration(value) if isinstance(value, str) else None


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
    tables: list[tuple[tuple[str, ...], _RulesFile, DoorRules]] = [
        (("defaults",), parsed.defaults, defaults),
        *((("doors", name), table, table.over(defaults)) for name, table in parsed.doors.items()),
    ]
    for place, table, rules in tables:
        mistake = _mistake(table, rules)
        if mistake is not None:
            key, reason = mistake
            line = _line_of(source, (*place, key) if key in table.model_fields_set else place)
            where = f"{path} line {line}" if line else str(path)
            raise ConfigError(f"lockbot cannot start: {where}: {'.'.join(place)}: {reason}")
    return Policy(defaults=defaults, doors=doors)


def _mistake(table: _RulesFile, rules: DoorRules) -> tuple[str, str] | None:
    """(the key to point at, why) when a table's rules, defaults applied, cannot mean what they say."""
    given = table.model_fields_set
    # A relock later than anyone may unlock for could never be used.
    if rules.relock_after is not None and rules.relock_after > rules.max_unlock:
        return ("relock_after" if "relock_after" in given else "max_unlock"), "relock_after is longer than max_unlock"
    # An escalation to nobody would silently never happen. A door that writes `escalate_to = []`
    # under an escalate_after it inherits means it: that is how one door opts out of escalating.
    # An escalate_after at or before remind_after is no mistake: the escalation comes alone, before
    # the first reminder, or as the first reminder ("page security if nobody answers in 5 minutes").
    if rules.escalate_after is not None and not rules.escalate_to:
        if "escalate_to" in given and "escalate_after" not in given:
            return None
        return "escalate_after" if "escalate_after" in given else "escalate_to", "escalate_after needs escalate_to"
    return None


def policy_path(settings: Settings) -> Path | None:
    """LOCKBOT_POLICY, else lockbot.toml where lockbot runs, if it exists."""
    if settings.lockbot_policy is not None:
        return settings.lockbot_policy
    default = Path("lockbot.toml")
    return default if default.exists() else None
