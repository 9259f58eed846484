"""Every way Seam can fail, seen by a Slack user: plain words, nothing done twice, nothing lost."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.botprocess import BotProcess
from tests.conftest import ADMIN, MEMBER, Workspace, bot_env
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack

LOCKS = ["Front Door", "Back Door", "Garage Door", "Old Shed"]


@pytest.fixture(scope="module")
def seam() -> Iterator[SeamFake]:
    fake = SeamFake(locks=LOCKS, action_delay_ms=300).start()
    yield fake
    fake.stop()


def test_invalid_input_is_reported_and_not_retried(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    workspace.seam.fail("/locks/lock_door", status=400, message="device_id is malformed")

    parent, status = workspace.finished_action(workspace.command("/lock", "front door", channel=channel))

    assert status.text == "Failed: Could not lock Front Door: Seam did not accept the request: device_id is malformed."
    assert parent.text.startswith("Could not lock Front Door: Seam did not accept the request: device_id is malformed.")
    assert workspace.seam.calls()["/locks/lock_door"] == 1


def test_seams_reason_for_refusing_an_unlock_is_shown_escaped(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    hostile = "Door <!channel> is in privacy mode <https://evil.example|approve here> & stays shut"
    workspace.seam.fail("/locks/unlock_door", status=400, error_type="invalid_input", message=hostile)

    parent, status = workspace.finished_action(workspace.command("/unlock", "back door", user=ADMIN, channel=channel))

    shown = "Door &lt;!channel&gt; is in privacy mode &lt;https://evil.example|approve here&gt; &amp; stays shut"
    assert status.text == f"Failed: Could not unlock Back Door: Seam did not accept the request: {shown}."
    for message in (parent, status):
        assert shown in message.text
        assert shown in str(message.blocks)
        assert "<!channel>" not in message.text + str(message.blocks)
        assert "<https://evil.example" not in message.text + str(message.blocks)
    assert workspace.seam.calls()["/locks/unlock_door"] == 1


def test_unauthorized_names_the_api_key(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    workspace.seam.fail("/locks/unlock_door", status=401)

    _, status = workspace.finished_action(workspace.command("/unlock", "back door", user=ADMIN, channel=channel))

    assert "Could not unlock Back Door: the Seam API key is invalid" in status.text
    assert workspace.seam.calls()["/locks/unlock_door"] == 1


def test_device_removed_from_seam_is_device_not_found(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    first = workspace.command("/lock", "old shed", channel=channel)
    workspace.finished_action(first)  # lockbot now knows the door
    workspace.seam.remove_device(workspace.seam.device_id("Old Shed"))

    _, status = workspace.finished_action(workspace.command("/lock", "old shed", channel=channel))

    assert status.text == (
        "Failed: Could not lock Old Shed: the device was not found (it may have been removed from Seam)."
    )


def test_rate_limited_write_with_long_retry_after_is_not_waited_out(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    before = len(workspace.seam.attempts())
    workspace.seam.fail("/locks/lock_door", status=429, retry_after=60)

    _, status = workspace.finished_action(workspace.command("/lock", "front door", channel=channel))

    assert "Could not lock Front Door: Seam is busy right now (rate limited)" in status.text
    assert workspace.seam.calls()["/locks/lock_door"] == 1
    assert len(workspace.seam.attempts()) == before


def test_rate_limited_write_is_retried_after_retry_after_and_runs_once(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    before = len(workspace.seam.attempts())
    workspace.seam.fail("/locks/lock_door", status=429, retry_after=1)

    _, status = workspace.finished_action(workspace.command("/lock", "back door", channel=channel))

    assert status.text == "Done: Back Door locked."
    assert workspace.seam.calls()["/locks/lock_door"] == 2  # refused once, then accepted
    assert len(workspace.seam.attempts()) == before + 1  # the door was moved once


def test_server_error_on_a_write_is_reported_not_retried(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    workspace.seam.fail("/locks/unlock_door", status=503)

    _, status = workspace.finished_action(workspace.command("/unlock", "front door", user=ADMIN, channel=channel))

    assert "Could not unlock Front Door: Seam is having trouble right now" in status.text
    assert workspace.seam.calls()["/locks/unlock_door"] == 1


@pytest.mark.parametrize("status", [500, 502, 504])
def test_server_error_that_may_follow_the_work_is_not_confirmed_never_failed(
    workspace: Workspace, channel: str, status: int
) -> None:
    assert workspace.seam is not None
    workspace.seam.fail("/locks/unlock_door", status=status)

    _, status_message = workspace.finished_action(
        workspace.command("/unlock", "front door", user=ADMIN, channel=channel)
    )

    assert status_message.text.startswith(
        f"Not confirmed: Unlocking Front Door not confirmed: Seam answered with a server error (HTTP {status}), "
        "so lockbot cannot tell whether it unlocked the door"
    )
    assert workspace.seam.calls()["/locks/unlock_door"] == 1


def test_timeout_on_a_write_is_not_confirmed_and_never_retried(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    workspace.seam.fail("/locks/lock_door", delay_ms=2500)  # the bot gives Seam 1 s

    _, status = workspace.finished_action(workspace.command("/lock", "garage door", channel=channel))

    assert status.text.startswith("Not confirmed: Locking Garage Door not confirmed: Seam did not answer in time")
    assert "cannot tell whether it locked the door" in status.text
    assert workspace.seam.calls()["/locks/lock_door"] == 1


def test_failed_door_listing_is_retried(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    workspace.seam.fail("/locks/list", status=502)

    reply = workspace.ephemeral(workspace.command("/doors", user=MEMBER, channel=channel))

    assert "Front Door — locked, online" in reply.text
    assert workspace.seam.calls()["/locks/list"] == 2


def test_failed_polls_are_retried_until_the_outcome_is_known(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    workspace.seam.fail("/action_attempts/list", status=503, count=2)

    parent, status = workspace.finished_action(workspace.command("/lock", "front door", channel=channel))

    assert status.text == "Done: Front Door locked."
    assert parent.text.startswith("Front Door locked.")


def test_slow_door_listing_still_acknowledges_at_once(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    workspace.seam.fail("/locks/list", delay_ms=5000)

    sent = workspace.command("/doors", channel=channel)

    assert sent.response.status_code == 200
    assert workspace.slack.responses_for(sent.response_id) == []  # acknowledged while Seam is still silent
    reply = workspace.ephemeral(sent, timeout=15)
    assert "Front Door" in reply.text  # the timed-out read was retried


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_connection_refused_is_reported_plainly(slack: FakeSlack, tmp_path: Path, channel: str) -> None:
    env = bot_env(slack, None, tmp_path) | {
        "SEAM_API_KEY": "seam_testkey_fixture",
        "SEAM_ENDPOINT": f"http://127.0.0.1:{_closed_port()}",
    }
    bot = BotProcess(env, cwd=tmp_path).start()
    try:
        workspace = Workspace(bot, slack, None)
        lock = workspace.ephemeral(workspace.command("/lock", "front door", channel=channel))
        doors = workspace.ephemeral(workspace.command("/doors", channel=channel))
    finally:
        bot.close()

    assert lock.text == "Could not look up the doors: lockbot could not reach Seam."
    assert doors.text == "Could not list the doors: lockbot could not reach Seam."
    assert slack.channel_messages(channel) == []
    assert "Traceback" not in lock.text + doors.text


def test_wrong_api_key_is_reported_plainly(slack: FakeSlack, seam: SeamFake, tmp_path: Path, channel: str) -> None:
    env = bot_env(slack, seam, tmp_path) | {"SEAM_API_KEY": "seam_wrong_key"}
    bot = BotProcess(env, cwd=tmp_path).start()
    try:
        reply = Workspace(bot, slack, seam).ephemeral(
            Workspace(bot, slack, seam).command("/lock", "front door", channel=channel)
        )
    finally:
        bot.close()

    assert reply.text.startswith("Could not look up the doors: the Seam API key is invalid")
    assert "seam_wrong_key" not in bot.log_text


def test_without_a_seam_key_doors_are_not_configured_but_the_bot_runs(
    slack: FakeSlack, tmp_path: Path, channel: str
) -> None:
    bot = BotProcess(bot_env(slack, None, tmp_path), cwd=tmp_path).start()
    try:
        health = bot.http.get(f"{bot.url}/healthz").json()
        workspace = Workspace(bot, slack, None)
        reply = workspace.ephemeral(workspace.command("/lock", "front door", channel=channel))
    finally:
        bot.close()

    assert health["doors"] is False
    assert reply.text.startswith("Doors are not configured")
