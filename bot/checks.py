"""`python -m bot check`: is this deployment ready? Each service is asked, and nothing is changed.

One line per check: ok, FAIL with what to do about it, or warn (a half left unconfigured on
purpose, which SPEC lets run). Only reads are made: Slack's `auth.test` (and, in Socket Mode,
`apps.connections.open`, which hands out a WebSocket URL that nobody then opens), Seam's lock list,
one page of Overbooked's slots, and the database's schema version plus a write rolled back. No
lock moves, no message is posted, no migration is applied.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.db import check_writable, head_revision, inspection_engine, schema_revision
from bot.doors import closest_lock_name
from bot.model import Lock
from bot.overbooked import OverbookedError, OverbookedUnauthorized, SlotClient
from bot.policy import Policy
from bot.seam import SeamClient, SeamError, SeamUnauthorized
from bot.slack.scopes import BOT_SCOPES

__all__ = [
    "Check",
    "CheckStatus",
    "check_database",
    "check_overbooked",
    "check_seam",
    "check_slack",
    "describe_doors_without_lock",
    "exit_status",
    "policy_doors_check",
    "run_checks",
]

_SLACK_TIMEOUT_SECONDS = 10.0


class CheckStatus(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    """One check's outcome: what was checked, what was found, and what to do when it failed."""

    subject: str
    status: CheckStatus
    found: str
    fix: str | None = None

    def line(self) -> str:
        fix = f" -> {self.fix}" if self.fix else ""
        return f"{self.status:<4} {self.subject}: {self.found}{fix}"


def exit_status(checks: Sequence[Check]) -> int:
    """Non-zero when any check failed; a warning (a half not configured) is not a failure."""
    return 1 if any(check.status is CheckStatus.FAIL for check in checks) else 0


async def run_checks(settings: Settings, policy: Policy, policy_file: Path | None) -> list[Check]:
    """Every check, the services asked at once; in a fixed order."""
    found = [_settings_check(settings), _policy_check(policy, policy_file)]
    slack, seam, overbooked, database = await asyncio.gather(
        check_slack(settings), check_seam(settings, policy), check_overbooked(settings), check_database(settings)
    )
    return [*found, *slack, *seam, *overbooked, *database]


def _settings_check(settings: Settings) -> Check:
    mode = "Socket Mode" if settings.socket_mode else "HTTP mode"
    return Check("settings", CheckStatus.OK, f"read ({mode})")


def _policy_check(policy: Policy, policy_file: Path | None) -> Check:
    if policy_file is None:
        return Check("policy", CheckStatus.OK, "no policy file: the defaults (admins and owners unlock and approve)")
    return Check("policy", CheckStatus.OK, f"{policy_file} read, {len(policy.doors)} doors named")


# -- Slack --------------------------------------------------------------------------------------


def _header(headers: Mapping[str, object], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return None


async def check_slack(settings: Settings) -> list[Check]:
    """The bot token (`auth.test`), the scopes it really has, and in Socket Mode the app token."""
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=int(_SLACK_TIMEOUT_SECONDS),
    )
    try:
        answer = await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        if error == "ratelimited":
            return [Check("Slack", CheckStatus.FAIL, "Slack is rate limiting lockbot", "run the check again shortly")]
        return [
            Check(
                "Slack",
                CheckStatus.FAIL,
                f"the bot token was refused ({error or 'no reason given'})",
                "set SLACK_BOT_TOKEN to the app's Bot User OAuth Token (xoxb-…, OAuth & Permissions)",
            )
        ]
    except Exception as exc:
        return [_unreachable("Slack", exc, "SLACK_API_URL")]
    checks = [Check("Slack", CheckStatus.OK, f"token accepted (bot {answer.get('user')} in {answer.get('team')})")]
    checks.append(_scopes_check(_header(answer.headers, "x-oauth-scopes")))
    if settings.slack_app_token is not None:
        checks.append(await _app_token_check(settings))
    return checks


def _scopes_check(header: str | None) -> Check:
    if header is None:
        return Check(
            "Slack scopes",
            CheckStatus.FAIL,
            "Slack did not say which scopes the token has (no x-oauth-scopes header)",
            "check SLACK_API_URL points at Slack's Web API",
        )
    has = {scope.strip() for scope in header.split(",") if scope.strip()}
    missing = sorted(BOT_SCOPES - has)
    if missing:
        return Check(
            "Slack scopes",
            CheckStatus.FAIL,
            f"the token lacks {', '.join(missing)}",
            "add them to the bot token scopes (as manifest.yml lists them), reinstall the app, and copy the new token",
        )
    needed = ", ".join(sorted(BOT_SCOPES))
    return Check("Slack scopes", CheckStatus.OK, f"the token has every scope lockbot needs ({needed})")


async def _app_token_check(settings: Settings) -> Check:
    # apps.connections.open only hands out a WebSocket URL, good for a short while: nobody opens it,
    # so no running instance's connection is touched and none is added. It is the one call that
    # proves the app token (accepted, with connections:write) without changing anything.
    assert settings.slack_app_token is not None
    app_token = settings.slack_app_token.get_secret_value()
    client = AsyncWebClient(token=app_token, base_url=settings.slack_api_url, timeout=int(_SLACK_TIMEOUT_SECONDS))
    try:
        await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        return Check(
            "Slack app token",
            CheckStatus.FAIL,
            f"the app-level token was refused ({error or 'no reason given'})",
            "set SLACK_APP_TOKEN to an app-level token (xapp-…) with the connections:write scope",
        )
    except Exception as exc:
        return _unreachable("Slack app token", exc, "SLACK_API_URL")
    return Check("Slack app token", CheckStatus.OK, "accepted for Socket Mode")


# -- Seam ---------------------------------------------------------------------------------------


async def check_seam(settings: Settings, policy: Policy) -> list[Check]:
    """The key and the locks it sees, and every door the policy names being one of them."""
    if settings.seam_api_key is None:
        checks = [Check("Seam", CheckStatus.WARN, "not configured (SEAM_API_KEY is not set): door commands say so")]
        if policy.doors:
            checks.append(Check("policy doors", CheckStatus.WARN, "not checked: Seam is not configured"))
        return checks
    seam = SeamClient(
        api_key=settings.seam_api_key.get_secret_value(),
        endpoint=settings.seam_endpoint,
        timeout=settings.lockbot_seam_timeout,
    )
    try:
        locks = await seam.list_locks()
    except SeamUnauthorized:
        return [
            Check(
                "Seam",
                CheckStatus.FAIL,
                "the API key was refused",
                "set SEAM_API_KEY to an API key of the Seam workspace that holds the locks",
            )
        ]
    except SeamError as exc:
        return [Check("Seam", CheckStatus.FAIL, exc.user_message, f"check SEAM_ENDPOINT ({settings.seam_endpoint})")]
    finally:
        await seam.aclose()
    checks = [Check("Seam", CheckStatus.OK, f"key accepted, {len(locks)} locks")]
    if policy.doors:
        checks.append(policy_doors_check(policy, locks))
    return checks


def policy_doors_check(policy: Policy, locks: Sequence[Lock]) -> Check:
    """Whether every `[doors."…"]` of the policy is a Seam lock's name or device id."""
    missing = policy.doors_without_lock(locks)
    if not missing:
        return Check("policy doors", CheckStatus.OK, f"each of the {len(policy.doors)} doors named is a Seam lock")
    return Check(
        "policy doors",
        CheckStatus.FAIL,
        describe_doors_without_lock(missing, locks),
        'correct the [doors."…"] names in the policy file: a door that is no lock gets the defaults',
    )


def describe_doors_without_lock(missing: Sequence[str], locks: Sequence[Lock]) -> str:
    """`"server rom" is not a Seam lock (did you mean "Server Room"?)`, for each door named."""
    described = []
    for door in missing:
        closest = closest_lock_name(door, locks)
        hint = f' (did you mean "{closest}"?)' if closest else ""
        described.append(f'"{door}"{hint}')
    verb = "is" if len(missing) == 1 else "are"
    return f"{', '.join(described)} {verb} not the name or device id of a Seam lock"


# -- Overbooked ---------------------------------------------------------------------------------


async def check_overbooked(settings: Settings) -> list[Check]:
    """The key, by reading one page of one slot (`GET /slots`)."""
    if settings.overbooked_api_key is None:
        return [Check("Overbooked", CheckStatus.WARN, "not configured (OVERBOOKED_API_KEY is not set): /slot says so")]
    overbooked = SlotClient(
        api_key=settings.overbooked_api_key.get_secret_value(),
        endpoint=settings.overbooked_endpoint,
        timeout=settings.lockbot_overbooked_timeout,
    )
    try:
        await overbooked.list_slots(limit=1)
    except OverbookedUnauthorized:
        return [
            Check(
                "Overbooked",
                CheckStatus.FAIL,
                "the API key was refused",
                "set OVERBOOKED_API_KEY to a secret key (sk_…) of the Overbooked environment",
            )
        ]
    except OverbookedError as exc:
        return [
            Check(
                "Overbooked",
                CheckStatus.FAIL,
                exc.user_message,
                f"check OVERBOOKED_ENDPOINT ({settings.overbooked_endpoint})",
            )
        ]
    finally:
        await overbooked.aclose()
    return [Check("Overbooked", CheckStatus.OK, "key accepted")]


# -- the database -------------------------------------------------------------------------------


async def check_database(settings: Settings) -> list[Check]:
    """Reachable, migrated to the newest migration, and writable (a write rolled back)."""
    url = make_url(settings.database_url)
    # A plain SQLite path is created by connecting; a `file:…?uri=true` one says its own mode.
    plain_file = url.get_backend_name() == "sqlite" and url.database != ":memory:" and "uri" not in url.query
    sqlite_file = url.database if plain_file else None
    if sqlite_file and not await asyncio.to_thread(Path(sqlite_file).exists):
        # Connecting would create it: a check never does.
        return [
            Check(
                "database",
                CheckStatus.FAIL,
                f"the SQLite file {url.database} does not exist",
                "fix DATABASE_URL, or start lockbot once (python -m bot) to create it",
            )
        ]
    engine = inspection_engine(settings.database_url)
    try:
        return await _database_checks(engine)
    finally:
        await engine.dispose()


async def _database_checks(engine: AsyncEngine) -> list[Check]:
    try:
        current = await schema_revision(engine)
    except Exception as exc:
        # The driver's message may quote the URL, password included: only the kind of failure.
        return [
            Check(
                "database",
                CheckStatus.FAIL,
                f"cannot connect ({type(exc).__name__})",
                "check DATABASE_URL, and that the database server is up and lets lockbot in",
            )
        ]
    head = head_revision()
    if current != head:
        return [
            Check(
                "database",
                CheckStatus.FAIL,
                f"reachable, but not migrated (at {current or 'nothing'}, lockbot needs {head})",
                "start lockbot (python -m bot), which applies the migrations at start",
            )
        ]
    try:
        await check_writable(engine)
    except Exception as exc:
        return [
            Check(
                "database",
                CheckStatus.FAIL,
                f"reachable and migrated ({head}), but not writable ({type(exc).__name__})",
                "give lockbot's database user (or the SQLite file and its directory) write access",
            )
        ]
    return [Check("database", CheckStatus.OK, f"reachable ({engine.dialect.name}), migrated ({head}), writable")]


def _unreachable(subject: str, error: Exception, setting: str) -> Check:
    return Check(
        subject, CheckStatus.FAIL, f"could not be reached ({type(error).__name__})", f"check {setting} and the network"
    )
