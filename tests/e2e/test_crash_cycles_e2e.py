"""lockbot killed (SIGKILL) at random points of request -> approve -> unlock, 20 times, then restarted:
every approved unlock ends with a final message, none is sent twice, and the audit is whole."""

from __future__ import annotations

import csv
import io
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial

import pytest

from tests.botprocess import ROOT, BotProcess
from tests.conftest import MEMBER, Workspace, bot_env, buttons
from tests.databases import DATABASE_KINDS, fresh_database
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack, Message

APPROVER = "U0APPROV01"
CYCLES = 20
FINAL = ("Done:", "Failed:", "Not confirmed:")


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def crash_bot(
    request: pytest.FixtureRequest, slack: FakeSlack, seam: SeamFake, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    slack.add_user(APPROVER)
    tmp = tmp_path_factory.mktemp("crashes")
    (tmp / "lockbot.toml").write_text('[defaults]\napprovers = ["U0APPROV01"]\n')
    with fresh_database(request.param, tmp) as url:
        env = bot_env(slack, seam, tmp) | {
            "DATABASE_URL": url,
            "LOCKBOT_ACTION_LEASE": "3",
            "LOCKBOT_ACTION_TIMEOUT": "15",
        }
        process = BotProcess(env, cwd=tmp).start()
        yield process
        process.close()


def final_status(workspace: Workspace, message: Message) -> Message | None:
    replies = workspace.slack.replies(message.channel, message.ts)
    return replies[-1] if replies and replies[-1].text.startswith(FINAL) else None


def test_killed_at_random_points_every_unlock_ends_once_and_is_audited(
    crash_bot: BotProcess, slack: FakeSlack, seam: SeamFake
) -> None:
    workspace = Workspace(crash_bot, slack, seam)
    seam.reset()
    seam.configure(action_delay_ms=800, confirmed_by_device=True)
    sent_before = seam.calls().get("/locks/unlock_door", 0)
    attempts_before = len(seam.attempts())
    chance = random.Random(20261122)
    cycles: list[tuple[Message, str]] = []
    for cycle in range(CYCLES):
        channel = f"C0CRASH{cycle:03d}"
        workspace.ephemeral(workspace.command("/unlock", "front door", user=MEMBER, channel=channel))
        message = workspace.request_message(channel)
        request_id = buttons(message)["unlock_approve"]
        workspace.click("unlock_approve", request_id, user=APPROVER, channel=channel, message_ts=message.ts)
        # Somewhere between the decision, the call to Seam, and the attempt's end (800 ms later).
        pause_until = time.monotonic() + chance.uniform(0.0, 1.2)
        while time.monotonic() < pause_until:  # the clock is the condition: a random moment
            time.sleep(0.01)
        crash_bot.kill()
        crash_bot.start()
        if buttons(message):  # killed before the decision was written: the approver clicks again
            workspace.click("unlock_approve", request_id, user=APPROVER, channel=channel, message_ts=message.ts)
        cycles.append((message, request_id))

    for message, _ in cycles:
        # A taken-over action waits for the dead instance's lease (3 s) before it is finished.
        slack.wait_for(partial(final_status, workspace, message), 40, "a final status for every unlock")

    outcomes = [final_status(workspace, message) for message, _ in cycles]
    assert all(outcome is not None for outcome in outcomes)
    sent = seam.calls().get("/locks/unlock_door", 0) - sent_before
    made = len(seam.attempts()) - attempts_before
    assert sent <= CYCLES  # no unlock sent twice
    assert made == sent  # and Seam acted on each exactly once
    done = sum(1 for outcome in outcomes if outcome is not None and outcome.text.startswith("Done:"))
    assert done <= made
    assert done >= CYCLES // 2  # most unlocks survive a crash outright

    env = {**crash_bot.env, "PYTHONPATH": str(ROOT)}
    exported = subprocess.run(
        [sys.executable, "-m", "bot", "audit", "--since", "2000-01-01"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    for outcome, (message, request_id) in zip(outcomes, cycles, strict=True):
        assert outcome is not None
        assert f"Approved by <@{APPROVER}>" in message.text
        trail = [(row["event"], row["outcome"]) for row in rows if row["request_id"] == request_id]
        assert trail[:2] == [("request", "pending"), ("approve", "approved")], trail
        finals = [entry for entry in trail[2:] if entry[0] == "unlock"]
        assert len(finals) == 1, trail  # exactly one outcome per unlock
        expected = {"Done:": "succeeded", "Failed:": "failed", "Not confirmed:": "not_confirmed"}
        assert finals[0][1] == next(word for prefix, word in expected.items() if outcome.text.startswith(prefix))
