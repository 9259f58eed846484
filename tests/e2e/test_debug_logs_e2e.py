"""At LOG_LEVEL=DEBUG too, no slot lock key reaches the log: not from lockbot, SQLAlchemy or a driver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.botprocess import BotProcess
from tests.conftest import MEMBER, Workspace, bot_env
from tests.databases import DATABASE_KINDS, fresh_database
from tests.fakes.overbooked_api import FakeOverbooked
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack

API_KEY = "sk_test_lockbot_overbooked_debug_key"


@pytest.fixture(scope="module")
def overbooked() -> Iterator[FakeOverbooked]:
    fake = FakeOverbooked(API_KEY).start()
    yield fake
    fake.stop()


@pytest.fixture(params=DATABASE_KINDS)
def debug_bot(
    request: pytest.FixtureRequest, slack: FakeSlack, seam: SeamFake, overbooked: FakeOverbooked, tmp_path: Path
) -> Iterator[BotProcess]:
    with fresh_database(request.param, tmp_path) as url:
        env = bot_env(slack, seam, tmp_path) | {
            "DATABASE_URL": url,
            "LOG_LEVEL": "DEBUG",
            "OVERBOOKED_API_KEY": API_KEY,
            "OVERBOOKED_ENDPOINT": overbooked.url,
        }
        process = BotProcess(env, cwd=tmp_path).start()
        yield process
        process.close()


def test_a_slot_lock_key_is_in_no_log_line_at_debug(
    debug_bot: BotProcess, slack: FakeSlack, overbooked: FakeOverbooked, channel: str
) -> None:
    workspace = Workspace(debug_bot, slack, None)
    slot_id = str(overbooked.add_slot()["id"])

    sent = workspace.command("/slot", f"lock {slot_id} 30m", user=MEMBER, channel=channel)
    _, status = workspace.action(sent)
    slack.wait_for(lambda: status.text.startswith("Done:"), 15, "the slot locked")
    key = overbooked.lock_key_of(slot_id)
    assert key is not None
    workspace.ephemeral(workspace.command("/slot", f"status {slot_id}", user=MEMBER, channel=channel))
    workspace.ephemeral(workspace.command("/slot", f"unlock {slot_id}", user=MEMBER, channel=channel))
    assert overbooked.lock_key_of(slot_id) is None  # unlocked with the key read back from the database
    workspace.finished_action(workspace.command("/lock", "front door", channel=channel))  # the log has caught up

    logs = debug_bot.log_text
    assert " DEBUG " in logs  # the bot did log at DEBUG
    assert key not in logs
