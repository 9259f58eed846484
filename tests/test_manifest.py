"""manifest.yml: a valid Slack app manifest naming every command lockbot answers, at its route."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import yaml
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.app import open_lockbot
from bot.config import Settings
from bot.slack.commands import DoorCommands
from bot.slack.scopes import BOT_SCOPES
from bot.slack.slot_commands import SlotCommands
from tests.botprocess import BOT_TOKEN, SIGNING_SECRET, signed_headers
from tests.fakes.slack_api import FakeSlack

ROOT = Path(__file__).resolve().parent.parent


def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


async def answer_to(command: str, slack: FakeSlack, tmp_path: Path) -> tuple[int, str]:
    """How an app built from settings answers a signed `<command> help`, dispatched in-process."""
    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_api_url=slack.api_url,
        slack_signing_secret=SIGNING_SECRET,
        seam_api_key="k",
        database_url=f"sqlite:///{tmp_path / 'lockbot.db'}",
        _env_file=None,
    )
    body = urlencode({"command": command, "text": "help", "user_id": "U1", "channel_id": "C1", "team_id": "T1"})

    lockbot = await open_lockbot(settings)
    response = await lockbot.bolt.async_dispatch(AsyncBoltRequest(body=body, headers={**signed_headers(body)}))
    await lockbot.aclose()
    return response.status, response.body


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


@pytest.mark.anyio
async def test_the_app_answers_every_command_in_the_manifest(slack: FakeSlack, tmp_path: Path) -> None:
    in_manifest = {command["command"] for command in manifest()["features"]["slash_commands"]}
    assert in_manifest == set(DoorCommands.COMMANDS) | set(SlotCommands.COMMANDS)
    for command in in_manifest:
        status, body = await answer_to(command, slack, tmp_path)
        assert status == 200, command
        assert f"Usage: `{command}" in body.replace("\\u2019", "")


@pytest.mark.anyio
async def test_a_command_missing_from_the_app_would_be_caught(slack: FakeSlack, tmp_path: Path) -> None:
    status, _ = await answer_to("/not-a-lockbot-command", slack, tmp_path)
    assert status == 404


# The bot scopes each Web API method lockbot calls needs (Slack's method reference). chat:write.public
# comes with chat:write: an action's thread may go to a public channel lockbot was never invited to.
SCOPES_OF_METHOD = {
    "chat_postMessage": {"chat:write", "chat:write.public"},
    "chat_update": {"chat:write"},
    "chat_delete": {"chat:write"},
    "users_info": {"users:read"},
    "usergroups_users_list": {"usergroups:read"},
    "views_open": set(),  # needs a trigger_id, no scope
    "views_publish": set(),  # App Home: no scope (the Home tab must be on)
    "auth_test": set(),  # any token (python -m bot check)
    "apps_connections_open": set(),  # the app-level token's connections:write, not a bot scope (check)
}


def web_api_methods_called() -> set[str]:
    """Every Web API method the Slack edge calls on its client (`client.chat_update(...)`)."""
    called: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        called |= set(re.findall(r"\b_?client\.([a-z]+_[A-Za-z_]+)\(", path.read_text()))
    return called


def test_scopes_are_exactly_those_of_the_web_api_methods_lockbot_calls() -> None:
    called = web_api_methods_called()
    assert called, "no Web API call found: the scan is broken"
    assert called <= set(SCOPES_OF_METHOD), f"a method whose scope is not known here: {called - set(SCOPES_OF_METHOD)}"
    needed = {"commands"}.union(*(SCOPES_OF_METHOD[method] for method in called))
    assert set(manifest()["oauth_config"]["scopes"]["bot"]) == needed


def test_the_scopes_check_compares_with_are_the_manifests() -> None:
    # `python -m bot check` holds the token's scopes against BOT_SCOPES: one list, the manifest's.
    assert set(manifest()["oauth_config"]["scopes"]["bot"]) == BOT_SCOPES


def test_direct_messages_can_reach_requesters() -> None:
    # chat.postMessage to a user id is refused (messages_tab_disabled) unless the Messages tab is on.
    app_home = manifest()["features"]["app_home"]
    assert app_home["messages_tab_enabled"] is True
    # lockbot reads no direct messages: people cannot write into a tab nobody reads.
    assert app_home["messages_tab_read_only_enabled"] is True


def test_home_is_on_and_its_event_comes_to_the_events_route() -> None:
    data = manifest()
    assert data["features"]["app_home"]["home_tab_enabled"] is True
    events = data["settings"]["event_subscriptions"]
    assert urlsplit(events["request_url"]).path == "/slack/events"
    assert events["bot_events"] == ["app_home_opened"]  # the only event lockbot listens to


@pytest.mark.anyio
async def test_the_app_listens_to_every_bot_event_in_the_manifest(slack: FakeSlack, tmp_path: Path) -> None:
    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_api_url=slack.api_url,
        slack_signing_secret=SIGNING_SECRET,
        database_url=f"sqlite:///{tmp_path / 'lockbot.db'}",
        _env_file=None,
    )
    lockbot = await open_lockbot(settings)
    try:
        for event_type in manifest()["settings"]["event_subscriptions"]["bot_events"]:
            body = json.dumps(
                {
                    "type": "event_callback",
                    "team_id": "T1",
                    "api_app_id": "A1",
                    "event": {"type": event_type, "user": "U1", "tab": "messages", "event_ts": "1.2"},
                    "event_id": "Ev1",
                    "event_time": 1,
                }
            )
            response = await lockbot.bolt.async_dispatch(
                AsyncBoltRequest(body=body, headers={**signed_headers(body), "Content-Type": "application/json"})
            )
            assert response.status == 200, event_type  # bolt answers 404 to an event no listener takes
    finally:
        await lockbot.aclose()


def test_the_socket_mode_comment_counts_the_url_lines() -> None:
    text = (ROOT / "manifest.yml").read_text()
    url_lines = [line for line in text.splitlines() if re.match(r"\s*(url|request_url):", line)]
    commands = manifest()["features"]["slash_commands"]
    assert len(url_lines) == len(commands) + 2  # one per command, interactivity's and the events'

    comment = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    assert "remove every url and request_url line" in " ".join(comment.replace("#", " ").split())


# -- Slack's published app-manifest schema ----------------------------------------------------------
#
# The rules of Slack's schema (slackapi/manifest-schema, schemas/manifest.schema.1.0.0.json at commit
# 19557f58d932d71155ce85c581dc7c72637abe1c) for every part of a manifest lockbot's can hold, written
# down as the same JSON Schema keywords: field names (additionalProperties false), types, required
# fields, lengths, patterns. The parts lockbot has no use for (functions, workflows, datastores,
# shortcuts, unfurl domains…) are left out, so a manifest that grew one fails here until it is added.
_URL = {"type": "string", "pattern": r"^https?:\/\/"}
_STRINGS_50 = {"type": "array", "items": {"type": "string", "maxLength": 50}, "maxItems": 255}
MANIFEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["display_information"],
    "additionalProperties": False,
    "properties": {
        "display_information": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 35},
                "description": {"type": "string", "minLength": 1, "maxLength": 140},
                # Slack writes this pattern under "regex", which JSON Schema validators ignore: checked here.
                "background_color": {
                    "type": "string",
                    "minLength": 4,
                    "maxLength": 7,
                    "pattern": r"^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$",
                },
                "long_description": {"type": "string", "minLength": 175, "maxLength": 4000},
            },
        },
        "features": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "app_home": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "home_tab_enabled": {"type": "boolean"},
                        "messages_tab_enabled": {"type": "boolean"},
                        "messages_tab_read_only_enabled": {"type": "boolean"},
                    },
                },
                "bot_user": {
                    "type": "object",
                    "required": ["display_name"],
                    "additionalProperties": False,
                    "properties": {
                        "display_name": {"type": "string", "minLength": 1, "maxLength": 80},
                        "always_online": {"type": "boolean"},
                    },
                },
                "slash_commands": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 50,
                    "items": {
                        "type": "object",
                        "required": ["command", "description"],
                        "additionalProperties": False,
                        "properties": {
                            "command": {"type": "string", "minLength": 2, "maxLength": 32, "pattern": r"^\/"},
                            "url": {**_URL, "maxLength": 3000},
                            "description": {"type": "string", "minLength": 1, "maxLength": 2000},
                            "usage_hint": {"type": "string", "minLength": 1, "maxLength": 1000},
                            "should_escape": {"type": "boolean"},
                        },
                    },
                },
            },
        },
        "oauth_config": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "redirect_urls": {
                    "type": "array",
                    "uniqueItems": True,
                    "items": {"type": "string", "maxLength": 2500},
                    "maxItems": 1000,
                },
                "scopes": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"user": _STRINGS_50, "bot": _STRINGS_50},
                },
                "token_management_enabled": {"type": "boolean"},
            },
        },
        "settings": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "event_subscriptions": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "request_url": {**_URL, "maxLength": 3500},
                        "bot_events": {
                            "type": "array",
                            "items": {"type": "string", "maxLength": 50},
                            "maxItems": 100,
                            "uniqueItems": True,
                        },
                    },
                },
                "interactivity": {
                    "type": "object",
                    "required": ["is_enabled"],
                    "additionalProperties": False,
                    "properties": {
                        "is_enabled": {"type": "boolean"},
                        "request_url": {**_URL, "maxLength": 3500},
                        "message_menu_options_url": {**_URL, "maxLength": 3500},
                    },
                },
                "org_deploy_enabled": {"type": "boolean"},
                "socket_mode_enabled": {"type": "boolean"},
                "token_rotation_enabled": {"type": "boolean"},
            },
        },
    },
}

_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
}


def schema_violations(value: Any, schema: dict[str, Any], where: str = "manifest") -> list[str]:
    """What in `value` breaks `schema`: the JSON Schema keywords MANIFEST_SCHEMA uses, and no others."""
    expected = _TYPES[schema["type"]]
    if not isinstance(value, expected) or (schema["type"] == "integer" and isinstance(value, bool)):
        return [f"{where}: {type(value).__name__}, not {schema['type']}"]
    found: list[str] = []
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        found += [f"{where}: {name} is required" for name in schema.get("required", []) if name not in value]
        if schema.get("additionalProperties") is False:
            found += [f"{where}: {name} is not a field Slack knows" for name in value if name not in properties]
        for name, item in value.items():
            if name in properties:
                found += schema_violations(item, properties[name], f"{where}.{name}")
    if isinstance(value, str | list):
        if len(value) < schema.get("minLength", schema.get("minItems", 0)):
            found.append(f"{where}: shorter than Slack allows ({len(value)})")
        if len(value) > schema.get("maxLength", schema.get("maxItems", len(value))):
            found.append(f"{where}: longer than Slack allows ({len(value)})")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        found.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, list):
        if schema.get("uniqueItems") and len(set(map(repr, value))) != len(value):
            found.append(f"{where}: repeated items")
        for index, item in enumerate(value):
            found += schema_violations(item, schema["items"], f"{where}[{index}]")
    return found


def test_the_manifest_keeps_the_rules_of_slacks_manifest_schema() -> None:
    assert schema_violations(manifest(), MANIFEST_SCHEMA) == []


def test_the_schema_check_would_catch_what_slack_refuses() -> None:
    data = manifest()
    data["features"]["app_home"]["messages_tab"] = True  # a misspelt field
    data["display_information"]["long_description"] = "short"
    data["features"]["slash_commands"][0]["command"] = "lock"
    data["settings"]["interactivity"]["is_enabled"] = "yes"
    assert schema_violations(data, MANIFEST_SCHEMA) == [
        "manifest.display_information.long_description: shorter than Slack allows (5)",
        "manifest.features.app_home: messages_tab is not a field Slack knows",
        "manifest.features.slash_commands[0].command: 'lock' does not match ^\\/",
        "manifest.settings.interactivity.is_enabled: str, not boolean",
    ]
