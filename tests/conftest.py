"""Fixtures: the fake Slack Web API, Seam's own fake, and lockbot running as a real process."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
import pytest

from tests.botprocess import BOT_TOKEN, BotProcess, new_response_id, signed_headers
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack, Message, Response

ADMIN = "U0ADMIN001"
OWNER = "U0OWNER001"
MEMBER = "U0MEMBER01"
LOCKS = ["Front Door", "Back Door", "Garage Door", "Garden Gate"]

T = TypeVar("T")

FINAL_STATUS_PREFIXES = ("Done:", "Failed:", "Not confirmed:")

_channels = itertools.count(1)
_events = itertools.count(1)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """`@pytest.mark.anyio` tests run on asyncio, the loop lockbot runs on (anyio's plugin, no extra dependency)."""
    return "asyncio"


@pytest.fixture(scope="session")
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(BOT_TOKEN).start()
    fake.add_user(ADMIN, is_admin=True)
    fake.add_user(OWNER, is_owner=True)
    fake.add_user(MEMBER)
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def _no_leftover_slack_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "slack" in request.fixturenames:
        fake: FakeSlack = request.getfixturevalue("slack")
        fake._faults.clear()
        fake.channels_without_bot.clear()


@pytest.fixture(scope="module")
def seam() -> Iterator[SeamFake]:
    fake = SeamFake(locks=LOCKS, action_delay_ms=300).start()
    yield fake
    fake.stop()


@pytest.fixture
def channel() -> str:
    """A channel of the test's own, so its messages are only its own."""
    return f"C{next(_channels):08d}"


@dataclass
class CommandSent:
    response: httpx.Response
    response_id: str
    channel: str
    sent_at: float


class Workspace:
    """A Slack workspace with lockbot installed: send commands, read what lockbot posted."""

    def __init__(self, bot: BotProcess, slack: FakeSlack, seam: SeamFake | None) -> None:
        self.bot, self.slack, self.seam = bot, slack, seam

    def command(self, command: str, text: str = "", *, user: str = MEMBER, channel: str = "C0GENERAL") -> CommandSent:
        response_id = new_response_id()
        body = self.bot.command_body(
            command, text, user=user, channel=channel, response_url=self.slack.response_url(response_id)
        )
        sent_at = time.time()
        response = self.bot.post_signed(body)
        return CommandSent(response, response_id, channel, sent_at)

    def click(self, action_id: str, request_id: str, *, user: str, channel: str, message_ts: str) -> CommandSent:
        """Click a button on a message, as Slack sends it: a signed block_actions payload."""
        response_id = new_response_id()
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": "T0000TEST"},
            "api_app_id": "A0000TEST",
            "token": "legacy-verification-token",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
            "trigger_id": f"{time.time():.0f}.trigger",
            "team": {"id": "T0000TEST", "domain": "lockbot-test"},
            "channel": {"id": channel, "name": "approvals"},
            "message": {"type": "message", "ts": message_ts, "text": ""},
            "response_url": self.slack.response_url(response_id),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "unlock_request",
                    "value": request_id,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        body = urlencode({"payload": json.dumps(payload)})
        sent_at = time.time()
        return CommandSent(self.bot.post_signed(body), response_id, channel, sent_at)

    def open_home(self, user: str, *, tab: str = "home") -> httpx.Response:
        """The person opens lockbot's Home (or Messages) tab: Slack's signed `app_home_opened` event."""
        body = json.dumps(
            {
                "token": "legacy-verification-token",
                "team_id": "T0000TEST",
                "api_app_id": "A0000TEST",
                "type": "event_callback",
                "event_id": f"Ev{next(_events):08d}",
                "event_time": int(time.time()),
                "event": {
                    "type": "app_home_opened",
                    "user": user,
                    "channel": "D" + user[1:],
                    "tab": tab,
                    "event_ts": f"{time.time():.6f}",
                },
            }
        )
        return self.bot.post_signed(body, headers={**signed_headers(body), "Content-Type": "application/json"})

    def press_on_home(self, action_id: str, value: str, *, user: str) -> httpx.Response:
        """Press a button on the person's Home, as Slack sends it: no channel, no message, no response_url."""
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": "T0000TEST"},
            "api_app_id": "A0000TEST",
            "token": "legacy-verification-token",
            "container": {"type": "view", "view_id": "VHOME0001"},
            "trigger_id": f"{time.time():.0f}.{next(_events)}.trigger",
            "team": {"id": "T0000TEST", "domain": "lockbot-test"},
            "view": {"id": "VHOME0001", "type": "home", "team_id": "T0000TEST", "blocks": [], "hash": "1.home"},
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "home",
                    "value": value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return self.bot.post_signed(urlencode({"payload": json.dumps(payload)}))

    def submit_view(self, view: dict[str, Any], *, user: str, values: dict[str, dict[str, Any]]) -> httpx.Response:
        """Submit a modal, as Slack sends it: a signed view_submission payload."""
        payload = {
            "type": "view_submission",
            "team": {"id": "T0000TEST", "domain": "lockbot-test"},
            "user": {"id": user, "username": user.lower(), "team_id": "T0000TEST"},
            "api_app_id": "A0000TEST",
            "token": "legacy-verification-token",
            "trigger_id": f"{time.time():.0f}.trigger",
            "view": {
                **view,
                "id": "V00000001",
                "team_id": "T0000TEST",
                "state": {"values": values},
                "hash": "1.hash",
            },
        }
        return self.bot.post_signed(urlencode({"payload": json.dumps(payload)}))

    def request_message(self, channel: str, timeout: float = 10.0) -> Message:
        """The newest unlock request message in a channel."""

        def posted() -> Message | None:
            requests = [m for m in self.slack.channel_messages(channel) if "asks to unlock" in m.history[0]]
            return requests[-1] if requests else None

        return self.slack.wait_for(posted, timeout, "an unlock request message")

    def direct_messages(self, user: str) -> list[Message]:
        return self.slack.channel_messages("D" + user[1:])

    def ephemeral(self, sent: CommandSent, timeout: float = 10.0) -> Response:
        """The answer lockbot sent to the command's response_url."""
        responses = self.slack.wait_for(
            lambda: self.slack.responses_for(sent.response_id), timeout, "an ephemeral reply"
        )
        return responses[0]

    def action(self, sent: CommandSent, timeout: float = 10.0) -> tuple[Message, Message]:
        """The parent message of the action the command started, and its status message."""

        def posted() -> tuple[Message, Message] | None:
            for parent in self.slack.channel_messages(sent.channel):
                replies = self.slack.replies(sent.channel, parent.ts)
                if parent.posted_at >= sent.sent_at and replies:
                    return parent, replies[0]
            return None

        return self.slack.wait_for(posted, timeout, "an action's parent and status messages")

    def finished_action(self, sent: CommandSent, timeout: float = 15.0) -> tuple[Message, Message]:
        """The action's messages once the status message shows a final outcome."""
        parent, _status = self.action(sent, timeout)

        def final() -> tuple[Message, Message] | None:
            replies = self.slack.replies(sent.channel, parent.ts)
            latest = replies[-1]
            if latest.text.startswith(FINAL_STATUS_PREFIXES) and len(parent.history) > 1:
                return parent, latest
            return None

        return self.slack.wait_for(final, timeout, "the action's final outcome")


def bot_env(slack: FakeSlack, seam: SeamFake | None, tmp: Path, **extra: str) -> dict[str, str]:
    env = {
        "SLACK_API_URL": slack.api_url,
        "DATABASE_URL": f"sqlite:///{tmp / 'lockbot.db'}",
        "LOCKBOT_ACTION_TIMEOUT": "3",
        "LOCKBOT_SEAM_TIMEOUT": "1",
        "LOG_LEVEL": "INFO",
    }
    if seam is not None:
        env |= {"SEAM_API_KEY": seam.api_key, "SEAM_ENDPOINT": seam.url}
    return env | extra


@pytest.fixture(scope="module")
def bot(slack: FakeSlack, seam: SeamFake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    tmp = tmp_path_factory.mktemp("bot")
    process = BotProcess(bot_env(slack, seam, tmp), cwd=tmp).start()
    yield process
    process.close()


@pytest.fixture
def workspace(bot: BotProcess, slack: FakeSlack, seam: SeamFake) -> Workspace:
    seam.reset()
    seam.configure(action_delay_ms=300, confirmed_by_device=True)
    return Workspace(bot, slack, seam)


def buttons(message: Message) -> dict[str, str]:
    """action_id -> value of the buttons a message shows now."""
    return {
        element["action_id"]: element["value"]
        for block in message.blocks
        if block.get("type") == "actions"
        for element in block["elements"]
    }


def wait_until(condition: Callable[[], T | None], timeout: float = 10.0, what: str = "condition") -> T:
    """For state in another process (Seam's fake): re-check often until true, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
