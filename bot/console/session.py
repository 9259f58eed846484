"""`python -m bot console`: lockbot in a terminal, without Slack.

lockbot is built as `python -m bot` builds it (same services, policy, database, Seam and
Overbooked); only Slack is the console's stand-in (`bot.console.standin`). A typed command goes to
lockbot's bolt app as Slack's slash command would, a button's number as Slack's click would.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_bolt.request.async_request import AsyncBoltRequest

from bot.app import Lockbot, open_lockbot
from bot.config import ConfigError, Settings, load_console_settings
from bot.console.render import input_blocks
from bot.console.standin import CONSOLE_CHANNEL, SlackStandIn
from bot.logs import configure_logging

__all__ = ["CONSOLE_USER", "Console", "local_time_zone", "run_console"]

log = logging.getLogger(__name__)

CONSOLE_USER = "UCONSOLE"
_COMMANDS = ("/doors", "/lock", "/unlock", "/slot")
# After the last action ended, Slack calls (an outcome's notice) that follow within this are waited for.
_QUIET_SECONDS = 0.3
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")

_HELP = """\
Commands, as in Slack:
  /doors [prefix]                 every door, locked or unlocked
  /unlock <door> [10m] [reason]   unlock it (or ask to)
  /lock <door>                    lock it
  /doors log [door]               the audit log (approvers)
  /slot lock|unlock|status <slot_id> …
And the console's own:
  <number>                        press that button ([1] Approve: type 1)
  as <user id> [admin]            type as someone else from now on (to approve a request, say)
  help                            this text
  quit, or Ctrl-D                 end, once the actions under way have ended"""


def local_time_zone() -> tuple[tzinfo, str]:
    """This machine's time zone and its IANA name (what Slack's users.info gives as `tz`)."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        candidates.append(str(Path("/etc/localtime").resolve()).partition("zoneinfo/")[2])
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    for name in candidates:
        if not name:
            continue
        try:
            return ZoneInfo(name), name
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return UTC, "UTC"


class Console:
    """One console session: the stand-in Slack, lockbot, and what the typist does."""

    def __init__(self, lockbot: Lockbot, slack: SlackStandIn, *, user_id: str, out: Callable[[str], None]) -> None:
        self._lockbot = lockbot
        self._slack = slack
        self._user_id = user_id
        # Who has typed so far: lockbot caches what users.info said of them, so it stays true.
        self._known = {user_id: user_id in slack.admins}
        self._out = out
        self._response_ids = itertools.count(1)
        self._started_at = datetime.now(UTC)

    async def handle(self, line: str) -> bool:
        """Do what one typed line asks; False when it asks to end."""
        typed = line.strip()
        if self._slack.dialog is not None:
            await self._answer_dialog(self._slack.dialog, typed)
            return True
        if not typed or typed.startswith("#"):
            return True
        if typed.casefold() in ("quit", "exit"):
            return False
        if typed.casefold() in ("help", "?", "/help"):
            self._out(_HELP)
            return True
        if typed.casefold().startswith("as "):
            self._become(typed.split()[1:])
            return True
        if typed.isascii() and typed.isdigit():
            await self._press(int(typed))
            return True
        if not typed.startswith("/"):
            self._out(f"Not a command: {_shown(typed)}. Type /doors, /unlock <door>, a button's number, or help.")
            return True
        command, *text = typed.split(maxsplit=1)
        command = command.casefold()
        if command not in _COMMANDS:
            self._out(f"Unknown command {_shown(command)}. lockbot knows {', '.join(_COMMANDS)}; help says more.")
            return True
        await self._command(command, text[0] if text else "")
        return True

    def _become(self, words: list[str]) -> None:
        admin = words[1:] == ["admin"]
        if not words or not _USER_ID.match(words[0]) or (len(words) > 1 and not admin):
            self._out("Say who: as U0ALICE01, or as U0ALICE01 admin for a workspace admin.")
            return
        user_id = words[0]
        if self._known.get(user_id, admin) != admin:
            was = "an admin" if self._known[user_id] else "not an admin"
            self._out(f"@{user_id} is {was} in this session; take another user id to be otherwise.")
            return
        self._known[user_id] = admin
        if admin:
            self._slack.admins = self._slack.admins | {user_id}
        self._user_id = user_id
        self._out(f"You are @{user_id} now ({'a workspace admin' if admin else 'not an admin'}).")

    async def _command(self, command: str, text: str) -> None:
        fields = {
            "token": "console",
            "team_id": "T0CONSOLE",
            "team_domain": "console",
            "channel_id": CONSOLE_CHANNEL,
            "channel_name": "console",
            "user_id": self._user_id,
            "user_name": self._user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0CONSOLE",
            "is_enterprise_install": "false",
            "response_url": self._response_url(),
            "trigger_id": f"{time.time():.0f}.console",
        }
        await self._dispatch(urlencode(fields))

    async def _press(self, number: int) -> None:
        button = self._slack.pressable(number)
        if button is None:
            self._out(f"There is no button [{number}] now (its message may have changed).")
            return
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": self._user_id, "username": self._user_id.lower(), "team_id": "T0CONSOLE"},
            "api_app_id": "A0CONSOLE",
            "token": "console",
            "container": {
                "type": "message",
                "message_ts": button.message_ts,
                "channel_id": button.channel,
                "is_ephemeral": button.ephemeral,
            },
            "trigger_id": f"{time.time():.0f}.console",
            "team": {"id": "T0CONSOLE", "domain": "console"},
            "channel": {"id": button.channel, "name": "console"},
            "message": {"type": "message", "ts": button.message_ts, "text": ""},
            "response_url": self._response_url(),
            "actions": [
                {
                    "action_id": button.action_id,
                    "block_id": button.block_id,
                    "value": button.value,
                    "type": "button",
                    "text": {"type": "plain_text", "text": button.label},
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        self._out(f"(pressed [{number}] {button.label})")
        await self._dispatch(urlencode({"payload": json.dumps(payload)}))

    async def _answer_dialog(self, view: dict[str, Any], typed: str) -> None:
        """Submit the open modal with `typed` in its (first) input, or close it on an empty line."""
        if not typed:
            self._slack.dialog = None
            self._out("(dialog closed)")
            return
        inputs = input_blocks(view)
        element = inputs[0].get("element") or {}
        values = {
            str(inputs[0].get("block_id") or ""): {
                str(element.get("action_id") or ""): {"type": str(element.get("type") or ""), "value": typed}
            }
        }
        payload = {
            "type": "view_submission",
            "team": {"id": "T0CONSOLE", "domain": "console"},
            "user": {"id": self._user_id, "username": self._user_id.lower(), "team_id": "T0CONSOLE"},
            "api_app_id": "A0CONSOLE",
            "token": "console",
            "trigger_id": f"{time.time():.0f}.console",
            "view": {**view, "id": "V0CONSOLE", "team_id": "T0CONSOLE", "state": {"values": values}, "hash": "1.hash"},
        }
        answer = await self._dispatch(urlencode({"payload": json.dumps(payload)}))
        errors = answer.get("errors") if answer.get("response_action") == "errors" else None
        if isinstance(errors, dict) and errors:
            shown = "; ".join(str(error) for error in errors.values())
            self._out(f"[dialog] {_shown(shown)[1:-1]} Type the answer again, or an empty line to close the dialog.")
            return
        self._slack.dialog = None
        self._out("(dialog sent)")

    def _response_url(self) -> str:
        return self._slack.response_url(str(next(self._response_ids)))

    async def _dispatch(self, body: str) -> dict[str, Any]:
        """Hand the request to lockbot's bolt app; a message in its answer is shown; the answer."""
        request = AsyncBoltRequest(body=body, headers={"content-type": ["application/x-www-form-urlencoded"]})
        try:
            response = await self._lockbot.bolt.async_dispatch(request)
        except Exception:
            log.exception("the console's request could not be handled")
            self._out("Something went wrong on lockbot's side (the log says what).")
            return {}
        if response.status == 404:
            self._out("lockbot has nothing that answers this.")
            return {}
        if not response.body:
            return {}
        try:
            answer = json.loads(response.body)
        except ValueError:
            answer = {"text": response.body}
        if not isinstance(answer, dict):
            return {}
        if answer.get("text") or answer.get("blocks"):
            self._slack.show_ephemeral(answer)
        return answer

    async def settle(self, deadline_seconds: float) -> int:
        """Wait for the actions this session started to end; how many were still running at the deadline."""
        deadline = time.monotonic() + deadline_seconds
        while True:
            running = [
                action
                for action in await self._lockbot.store.unfinished_actions()
                if action.created_at >= self._started_at
            ]
            quiet = time.monotonic() - self._slack.last_call >= _QUIET_SECONDS
            if (not running and quiet) or time.monotonic() >= deadline:
                return len(running)
            await asyncio.sleep(0.05)


def _shown(typed: str) -> str:
    cut = typed if len(typed) <= 80 else typed[:79] + "…"
    return "“" + "".join(c if c.isprintable() else "?" for c in cut) + "”"


async def _lines(stdin: TextIO, prompt: Callable[[], None] | None) -> AsyncIterator[str]:
    """The typed lines, until the end of input. Read on a daemon thread: a Ctrl-C must not wait for
    a line that is never typed (an executor's thread would hold the exit until Enter)."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        for line in iter(stdin.readline, ""):
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, "")

    threading.Thread(target=read, name="console-stdin", daemon=True).start()
    while True:
        if prompt is not None:
            prompt()
        line = await lines.get()
        if not line:
            return
        yield line


async def run_console(user_id: str, *, admin: bool, stdin: TextIO, stdout: TextIO) -> int:
    """The console session; its exit status."""

    def out(text: str) -> None:
        print(text, file=stdout, flush=True)

    def prompt() -> None:
        print("> ", end="", file=stdout, flush=True)

    # Piped input gets no prompt and no greeting: only what lockbot says.
    interactive = prompt if stdin.isatty() else None

    if not _USER_ID.match(user_id):
        print(f"--user must be a Slack user id like {CONSOLE_USER} or U024BE7LH", file=sys.stderr)
        return 2
    zone, zone_name = local_time_zone()
    admins = frozenset({user_id} if admin else ())
    slack = await SlackStandIn(admins=admins, zone=zone, zone_name=zone_name, out=out).start()
    try:
        try:
            settings = load_console_settings(slack.api_url)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 2
        _configure_logging(settings)
        try:
            lockbot = await open_lockbot(settings, process_before_response=True)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 2
        if lockbot.store.shared:
            # It is one more instance: it takes over stalled actions and runs relocks and expiries, and
            # their messages would come here instead of Slack.
            print(
                "Note: the console works as one more lockbot instance on this database; give it a database "
                "of its own unless lockbot is not running on this one.",
                file=sys.stderr,
            )
        try:
            await lockbot.start_background_work()
            return await _session(lockbot, slack, settings, user_id, admin, stdin, out, interactive)
        finally:
            await lockbot.aclose()
    finally:
        await slack.aclose()


async def _session(
    lockbot: Lockbot,
    slack: SlackStandIn,
    settings: Settings,
    user_id: str,
    admin: bool,
    stdin: TextIO,
    out: Callable[[str], None],
    prompt: Callable[[], None] | None,
) -> int:
    console = Console(lockbot, slack, user_id=user_id, out=out)
    if prompt is not None:
        role = "a workspace admin" if admin else "not an admin"
        out(f"lockbot console: you are @{user_id} ({role}) in #console. Type /doors, help, or Ctrl-D to end.")
    async for line in _lines(stdin, prompt):
        if not await console.handle(line):
            break
    still_running = await console.settle(settings.lockbot_action_timeout + 5)
    if still_running:
        out(f"Stopped waiting for {still_running} action(s); lockbot follows them up at its next start.")
    return 0


def _configure_logging(settings: Settings) -> None:
    """As lockbot logs, but only warnings unless LOG_LEVEL asks for more: the console's output is its messages."""
    if "log_level" not in settings.model_fields_set:
        settings = settings.model_copy(update={"log_level": "WARNING"})
    configure_logging(settings)
