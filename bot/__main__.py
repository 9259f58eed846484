"""`python -m bot`: start lockbot (HTTP, or Socket Mode when SLACK_APP_TOKEN is set).

`python -m bot check` asks every service whether this deployment is ready, changing nothing.
`python -m bot audit --since DATE` writes the audit log as CSV to standard output.
`python -m bot console [--user U…] [--admin]` runs lockbot in a terminal, without Slack.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import gc
import logging
import signal
import sys
from datetime import UTC, date, datetime
from typing import TextIO

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.app import open_lockbot
from bot.checks import exit_status, run_checks
from bot.config import (
    ConfigError,
    SeamSettings,
    Settings,
    load_database_settings,
    load_log_settings,
    load_seam_settings,
    load_settings,
)
from bot.console.session import CONSOLE_USER, run_console
from bot.logs import configure_logging
from bot.model import AuditEntry
from bot.policy import Policy
from bot.policy_file import load_policy, policy_path
from bot.seam import SeamClient, SeamError
from bot.seam_events import EVENT_TYPES
from bot.store import Store

log = logging.getLogger("bot")

AUDIT_COLUMNS = ("at", "actor", "event", "door", "device_id", "outcome", "attempt_id", "request_id", "detail")


async def serve(settings: Settings) -> None:
    lockbot = await open_lockbot(settings)
    await lockbot.warn_of_policy_doors_without_lock()
    # Everything made so far (modules, the app) lives as long as the process: kept out of the
    # collector's view, a full collection no longer walks it and stalls every request for ~90 ms.
    gc.collect()
    gc.freeze()
    runner = web.AppRunner(lockbot.web_application(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.lockbot_host, settings.port)
    await site.start()
    addresses = [f"{host}:{port}" for host, port, *_ in (runner.addresses or [])]
    mode = "socket mode" if settings.socket_mode else "HTTP mode"
    log.info("lockbot listening on %s (%s)", ", ".join(addresses), mode)
    await lockbot.start_background_work()

    socket_handler = None
    if settings.slack_app_token is not None:
        socket_handler = AsyncSocketModeHandler(
            lockbot.bolt, settings.slack_app_token.get_secret_value(), web_client=lockbot.slack
        )
        await socket_handler.connect_async()  # type: ignore[no-untyped-call]

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    log.info("lockbot stopping")
    if socket_handler is not None:
        with contextlib.suppress(Exception):
            await socket_handler.close_async()  # type: ignore[no-untyped-call]
    await runner.cleanup()
    await lockbot.aclose()


async def check(settings: Settings, out: TextIO) -> int:
    """One line per check; non-zero when any failed. A bad policy file raises ConfigError, as at start."""
    path = policy_path(settings)
    policy = load_policy(path) if path is not None else Policy()
    checks = await run_checks(settings, policy, path)
    for found in checks:
        print(found.line(), file=out, flush=True)
    return exit_status(checks)


def _day(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-01 or 2026-11-01T09:00") from None
    if isinstance(parsed, date) and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _csv_detail(entry: AuditEntry) -> str | None:
    """The detail, then the problem's stable code and data (`seam_refused detail="…"`), for grep and scripts."""
    problem = entry.problem.plain() if entry.problem is not None else None
    return "; ".join(part for part in (entry.detail, problem) if part) or None


async def export_audit(database_url: str, since: datetime, until: datetime | None, out: TextIO) -> int:
    store = await Store.open(database_url)
    try:
        entries = await store.audit_entries(since=since, until=until)
    finally:
        await store.close()
    writer = csv.writer(out)
    writer.writerow(AUDIT_COLUMNS)
    for entry in entries:
        values = [_csv_detail(entry) if column == "detail" else getattr(entry, column) for column in AUDIT_COLUMNS]
        writer.writerow([value.isoformat() if isinstance(value, datetime) else (value or "") for value in values])
    return len(entries)


async def create_seam_webhook(settings: SeamSettings, url: str, out: TextIO) -> None:
    seam = SeamClient(api_key=settings.seam_api_key.get_secret_value(), endpoint=settings.seam_endpoint)
    try:
        webhook = await seam.create_webhook(url, EVENT_TYPES)
    finally:
        await seam.aclose()
    print(f"Seam webhook {webhook.get('webhook_id', '')} created for {url}", file=out)
    print(f"events: {', '.join(EVENT_TYPES)}", file=out)
    print("Set this in lockbot's environment (it is shown only now):", file=out)
    print(f"SEAM_WEBHOOK_SECRET={webhook['secret']}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="lockbot: doors and slots from Slack")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="start lockbot (the default)")
    commands.add_parser("check", help="ask Slack, Seam, Overbooked and the database whether all is ready")
    audit = commands.add_parser("audit", help="write the audit log as CSV to standard output")
    audit.add_argument("--since", type=_day, required=True, help="first day (or time) to include, UTC")
    audit.add_argument("--until", type=_day, default=None, help="first day (or time) not to include, UTC")
    seam_webhook = commands.add_parser("seam-webhook", help="manage the Seam webhook")
    seam_webhook.add_argument("action", choices=["create"])
    seam_webhook.add_argument("--url", required=True, help="public URL of POST /webhooks/seam")
    console = commands.add_parser("console", help="lockbot in a terminal, without Slack")
    console.add_argument(
        "--user", default=CONSOLE_USER, help=f"who is typing, a Slack user id (default {CONSOLE_USER})"
    )
    console.add_argument("--admin", action="store_true", help="that user is a workspace admin")
    args = parser.parse_args(argv)
    logs_as_json = False
    try:
        if args.command == "console":
            try:
                return asyncio.run(run_console(args.user, admin=args.admin, stdin=sys.stdin, stdout=sys.stdout))
            except KeyboardInterrupt:
                return 130
        if args.command == "seam-webhook":
            try:
                asyncio.run(create_seam_webhook(load_seam_settings(), args.url, sys.stdout))
            except SeamError as exc:
                detail = f" ({exc.detail})" if exc.detail else ""
                print(f"Could not create the Seam webhook: {exc.user_message}{detail}.", file=sys.stderr)
                return 1
            return 0
        if args.command == "audit":
            database = load_database_settings()
            asyncio.run(export_audit(database.database_url, args.since, args.until, sys.stdout))
            return 0
        # The log settings first and alone: even the line saying lockbot cannot start is in their form.
        log_settings = load_log_settings()
        configure_logging(log_settings)
        logs_as_json = log_settings.log_format == "json"
        settings = load_settings()
        configure_logging(settings)
        if args.command == "check":
            return asyncio.run(check(settings, sys.stdout))
        asyncio.run(serve(settings))
    except ConfigError as exc:
        if logs_as_json:
            log.error("%s", exc)
        else:
            print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
