"""Two lockbot instances on one PostgreSQL database: one decision, one unlock, and a dead instance's
action taken over by the other."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator

import pytest

from tests.botprocess import BotProcess, new_response_id, signed_headers
from tests.conftest import ADMIN, MEMBER, CommandSent, Workspace, bot_env, buttons, wait_until
from tests.databases import fresh_database
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack, Message
from tests.seam_webhooks import SECRET, deliver, event

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
        env = bot_env(slack, seam, tmp) | {
            "DATABASE_URL": url,
            "LOCKBOT_ACTION_TIMEOUT": "30",
            "SEAM_WEBHOOK_SECRET": SECRET,
        }
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
        done = first.slack.wait_for(
            lambda: pending if pending.text.startswith("Done:") else None, 40, "the other to finish it"
        )
    finally:
        first.bot.start()

    assert done.text == "Done: Front Door unlocked."
    assert first.seam.calls()["/locks/unlock_door"] == 1
    assert any("took over 1 actions" in line for line in second.bot.logs)


def test_an_attempts_end_told_to_the_other_instance_finishes_it_at_once(
    pair: tuple[Workspace, Workspace], channel: str
) -> None:
    first, second = pair
    seam = first.seam
    assert seam is not None
    seam.configure(action_delay_ms=200)
    attempts_before = len(seam.attempts())
    sent = first.command("/lock", "back door", user=ADMIN, channel=channel)  # followed by the first
    _, status = first.action(sent)
    attempt = wait_until(
        lambda: next((a for a in seam.attempts()[attempts_before:] if a["completed_ms"]), None),
        5,
        "Seam to finish the attempt",
    )

    # Seam's webhook reaches the second instance, which does not follow the attempt.
    delivered = deliver(
        second,
        event("action_attempt.lock_door.succeeded", "lock_2", action_attempt_id=attempt["action_attempt_id"]),
    )

    assert delivered.status_code == 200
    first.slack.wait_for(lambda: status.text == "Done: Back Door locked.", 10, "the outcome")
    calls = seam.calls()
    assert calls.get("/action_attempts/get", 0) == 1  # the first asked at once, told by the second
    assert calls.get("/action_attempts/list", 0) == 0  # before its first poll (1 s in) was due


def signed_unlock(workspace: Workspace, channel: str) -> tuple[str, dict[str, str], str]:
    """A signed `/unlock Back Door` by an admin, not sent yet: its body, headers and response id."""
    response_id = new_response_id()
    body = workspace.bot.command_body(
        "/unlock", "back door", user=ADMIN, channel=channel, response_url=workspace.slack.response_url(response_id)
    )
    return body, signed_headers(body), response_id


def test_a_request_replayed_to_the_other_instance_does_nothing(pair: tuple[Workspace, Workspace], channel: str) -> None:
    first, second = pair
    assert first.seam is not None
    body, headers, response_id = signed_unlock(first, channel)
    sent_at = time.time()
    first.finished_action(CommandSent(first.bot.post_signed(body, headers=headers), response_id, channel, sent_at))

    replayed = second.bot.post_signed(body, headers=headers)

    assert replayed.status_code == 200
    assert replayed.content == b""
    # A lock run to its end on the second instance: the replay would have shown by then.
    second.finished_action(second.command("/lock", "garden gate", user=ADMIN, channel=channel))
    assert first.seam.calls()["/locks/unlock_door"] == 1
    assert len([m for m in first.slack.channel_messages(channel) if "Back Door" in m.text]) == 1


def test_one_request_sent_to_both_instances_at_once_runs_once(pair: tuple[Workspace, Workspace], channel: str) -> None:
    first, second = pair
    assert first.seam is not None
    seam = first.seam
    body, headers, _ = signed_unlock(first, channel)

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda w: w.bot.post_signed(body, headers=headers), [first, second]))

    assert [answer.status_code for answer in answers] == [200, 200]
    wait_until(lambda: seam.calls().get("/locks/unlock_door"), 10, "the unlock")
    second.finished_action(second.command("/lock", "garden gate", user=ADMIN, channel=channel))
    assert first.seam.calls()["/locks/unlock_door"] == 1


def test_timed_unlocks_on_two_instances_are_each_relocked_once(pair: tuple[Workspace, Workspace], channel: str) -> None:
    first, _ = pair
    assert first.seam is not None
    seam = first.seam
    # Admins unlock directly: a timed unlock of each door, through either instance, due within a second or two.
    doors = ["Front Door", "Back Door", "Garage Door", "Garden Gate"]
    parents = {}
    for n, door in enumerate(doors):
        sent = pair[n % 2].command("/unlock", f"{door} 10s", user=ADMIN, channel=channel)
        parents[door] = first.finished_action(sent)[0]

    def relocked(door: str) -> bool:
        replies = first.slack.replies(channel, parents[door].ts)
        return any(m.text == f"Done: {door} locked." for m in replies)

    first.slack.wait_for(lambda: all(relocked(door) for door in doors), 40, "every door locked again")
    assert seam.calls().get("/locks/lock_door", 0) == len(doors)  # both instances run the scheduler: once each
    assert seam.calls().get("/locks/unlock_door", 0) == len(doors)
