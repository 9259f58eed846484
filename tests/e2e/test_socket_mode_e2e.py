"""Socket Mode: with SLACK_APP_TOKEN set, lockbot takes commands over Slack's WebSocket instead of HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.botprocess import BotProcess, new_response_id
from tests.conftest import MEMBER, bot_env
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack


@pytest.fixture(scope="module")
def socket_bot(slack: FakeSlack, seam: SeamFake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    tmp = tmp_path_factory.mktemp("socket")
    env = bot_env(slack, seam, tmp) | {"SLACK_APP_TOKEN": slack.app_token, "SLACK_SIGNING_SECRET": ""}
    process = BotProcess(env, cwd=tmp).start()
    yield process
    process.close()


def slash_command(command: str, text: str, channel: str, response_id: str, slack: FakeSlack) -> dict[str, object]:
    return {
        "envelope_id": str(uuid.uuid4()),
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "token": "legacy",
            "team_id": "T0000TEST",
            "channel_id": channel,
            "user_id": MEMBER,
            "command": command,
            "text": text,
            "api_app_id": "A0000TEST",
            "response_url": slack.response_url(response_id),
            "trigger_id": "1.trigger",
        },
    }


def test_a_command_over_the_socket_is_acknowledged_and_locks_the_door(
    socket_bot: BotProcess, slack: FakeSlack, seam: SeamFake, channel: str
) -> None:
    envelope = slash_command("/lock", "front door", channel, new_response_id(), slack)

    slack.push_envelope(envelope)

    slack.wait_for(
        lambda: any(ack["envelope_id"] == envelope["envelope_id"] for ack in slack.socket_acks),
        what="the ack",
    )
    parent = slack.wait_for(lambda: slack.channel_messages(channel), what="the action")[0]
    slack.wait_for(lambda: parent.text.startswith("Front Door locked."), 15, "the outcome")
    assert slack.replies(channel, parent.ts)[-1].text == "Done: Front Door locked."


def test_usage_comes_back_in_the_socket_ack(socket_bot: BotProcess, slack: FakeSlack, channel: str) -> None:
    envelope = slash_command("/unlock", "", channel, new_response_id(), slack)

    slack.push_envelope(envelope)

    ack = slack.wait_for(
        lambda: next((a for a in slack.socket_acks if a["envelope_id"] == envelope["envelope_id"]), None),
        what="the ack",
    )
    assert ack["payload"]["text"].startswith("Usage: `/unlock")


def test_in_socket_mode_there_is_no_http_events_route(socket_bot: BotProcess) -> None:
    assert socket_bot.http.get(f"{socket_bot.url}/healthz").status_code == 200
    assert socket_bot.http.post(f"{socket_bot.url}/slack/events", content=b"x").status_code in (404, 405)


def test_home_opened_over_the_socket_publishes_the_home(socket_bot: BotProcess, slack: FakeSlack) -> None:
    slack.homes.pop(MEMBER, None)
    envelope = {
        "envelope_id": str(uuid.uuid4()),
        "type": "events_api",
        "accepts_response_payload": False,
        "payload": {
            "token": "legacy",
            "team_id": "T0000TEST",
            "api_app_id": "A0000TEST",
            "type": "event_callback",
            "event_id": "Ev0SOCKET1",
            "event_time": 1,
            "event": {"type": "app_home_opened", "user": MEMBER, "tab": "home", "event_ts": "1.000001"},
        },
    }

    slack.push_envelope(envelope)

    view = slack.wait_for(lambda: slack.home_of(MEMBER), what="the member's Home")
    assert any("*Front Door* —" in str(block.get("text")) for block in view["blocks"])
    assert any(ack["envelope_id"] == envelope["envelope_id"] for ack in slack.socket_acks)
