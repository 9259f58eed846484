"""manifest.yml: a valid Slack app manifest naming every command lockbot answers, at its route."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import yaml
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.app import open_lockbot
from bot.config import Settings
from bot.slack.commands import DoorCommands
from bot.slack.slot_commands import SlotCommands
from tests.botprocess import BOT_TOKEN, SIGNING_SECRET, signed_headers
from tests.fakes.slack_api import FakeSlack

ROOT = Path(__file__).resolve().parent.parent


def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def answer_to(command: str, slack: FakeSlack, tmp_path: Path) -> tuple[int, str]:
    """How an app built from settings answers a signed `<command> help`, dispatched in-process."""
    settings = Settings(
        slack_bot_token=BOT_TOKEN,  # type: ignore[arg-type]
        slack_api_url=slack.api_url,
        slack_signing_secret=SIGNING_SECRET,  # type: ignore[arg-type]
        seam_api_key="k",  # type: ignore[arg-type]
        database_url=f"sqlite:///{tmp_path / 'lockbot.db'}",
        _env_file=None,  # type: ignore[call-arg]
    )
    body = urlencode({"command": command, "text": "help", "user_id": "U1", "channel_id": "C1", "team_id": "T1"})

    async def dispatch() -> tuple[int, str]:
        lockbot = await open_lockbot(settings)
        response = await lockbot.bolt.async_dispatch(AsyncBoltRequest(body=body, headers=signed_headers(body)))
        await lockbot.aclose()
        return response.status, response.body

    return asyncio.run(dispatch())


def test_required_sections() -> None:
    data = manifest()
    assert data["display_information"]["name"] == "lockbot"
    assert data["features"]["bot_user"]["display_name"]
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert "commands" in data["oauth_config"]["scopes"]["bot"]


def test_every_slash_command_goes_to_the_events_route() -> None:
    commands = manifest()["features"]["slash_commands"]
    for command in commands:
        assert urlsplit(command["url"]).path == "/slack/events"
        assert len(command["description"]) <= 100
        assert command["command"].startswith("/")
    assert urlsplit(manifest()["settings"]["interactivity"]["request_url"]).path == "/slack/events"


def test_the_app_answers_every_command_in_the_manifest(slack: FakeSlack, tmp_path: Path) -> None:
    in_manifest = {command["command"] for command in manifest()["features"]["slash_commands"]}
    assert in_manifest == set(DoorCommands.COMMANDS) | set(SlotCommands.COMMANDS)
    for command in in_manifest:
        status, body = answer_to(command, slack, tmp_path)
        assert status == 200, command
        assert f"Usage: `{command}" in body.replace("\\u2019", "")


def test_a_command_missing_from_the_app_would_be_caught(slack: FakeSlack, tmp_path: Path) -> None:
    status, _ = answer_to("/not-a-lockbot-command", slack, tmp_path)
    assert status == 404


def test_scopes_cover_the_web_api_methods_lockbot_calls() -> None:
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    assert {"chat:write", "users:read", "usergroups:read", "commands"} <= scopes
