"""Two lockbot instances on one PostgreSQL database: one decision, one unlock, and a dead instance's
action taken over by the other."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator

import pytest

from tests.botprocess import BotProcess
from tests.conftest import MEMBER, Workspace, bot_env, buttons
from tests.databases import fresh_database
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack, Message

APPROVER = "U0APPROV01"
POLICY = '[defaults]\napprovers = ["U0APPROV01"]\n'

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def instances(
    slack: FakeSlack, seam: SeamFake, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[BotProcess, BotProcess]]:
    slack.add_user(APPROVER)
    tmp = tmp_path_factory.mktemp("instances")
    (tmp / "lockbot.toml").write_text(POLICY)
    with fresh_database("postgresql", tmp) as url:
        env = bot_env(slack, seam, tmp) | {"DATABASE_URL": url, "LOCKBOT_ACTION_TIMEOUT": "30"}
        first = BotProcess(env, cwd=tmp).start()
        second = BotProcess(env, cwd=tmp).start()
        yield first, second
        first.close()
        second.close()


@pytest.fixture
def pair(instances: tuple[BotProcess, BotProcess], slack: FakeSlack, seam: SeamFake) -> tuple[Workspace, Workspace]:
    seam.reset()
    seam.configure(action_delay_ms=300, confirmed_by_device=True)
    return Workspace(instances[0], slack, seam), Workspace(instances[1], slack, seam)


def request_via(workspace: Workspace, channel: str) -> tuple[Message, str]:
    workspace.ephemeral(workspace.command("/unlock", "front door", user=MEMBER, channel=channel))
    message = workspace.request_message(channel)
    return message, buttons(message)["unlock_approve"]


def test_clicks_spread_over_two_instances_unlock_once(pair: tuple[Workspace, Workspace], channel: str) -> None:
    first, _ = pair
    message, request_id = request_via(first, channel)

    def click(index: int) -> str:
        workspace = pair[index % 2]
        sent = workspace.click("unlock_approve", request_id, user=APPROVER, channel=channel, message_ts=message.ts)
        return workspace.ephemeral(sent).text

    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        replies = list(pool.map(click, range(10)))

    assert sum(reply.startswith("You approved") for reply in replies) == 1
    first.slack.wait_for(
        lambda: (r := first.slack.replies(channel, message.ts)) and r[-1].text.startswith("Done:"), 15, "the unlock"
    )
    assert first.seam is not None
    assert first.seam.calls()["/locks/unlock_door"] == 1


def test_an_action_of_a_dead_instance_is_finished_by_the_other(pair: tuple[Workspace, Workspace], channel: str) -> None:
    first, second = pair
    assert first.seam is not None
    first.seam.configure(action_delay_ms=5000)
    message, request_id = request_via(first, channel)
    first.click("unlock_approve", request_id, user=APPROVER, channel=channel, message_ts=message.ts)
    pending = first.slack.wait_for(
        lambda: next((r for r in first.slack.replies(channel, message.ts) if r.text.startswith("Pending:")), None),
        what="the pending unlock",
    )

    first.bot.kill()  # the instance following the attempt dies; the other keeps running
    try:
        done = first.slack.wait_for(lambda: pending.text.startswith("Done:") and pending, 40, "the other to finish it")
    finally:
        first.bot.start()

    assert done.text == "Done: Front Door unlocked."
    assert first.seam.calls()["/locks/unlock_door"] == 1
    assert any("took over 1 actions" in line for line in second.bot.logs)
