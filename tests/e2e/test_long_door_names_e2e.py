"""A Seam lock with a very long name is locked, stored and audited like any other (PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.botprocess import BotProcess
from tests.conftest import ADMIN, Workspace, bot_env, wait_until
from tests.databases import fresh_database
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack

# Seam does not bound a device's name; PostgreSQL refused one longer than the 256 characters of a String(256).
LONG_NAME = "Warehouse " + "x" * 4990

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def long_named_seam() -> Iterator[SeamFake]:
    fake = SeamFake(locks=[LONG_NAME, "Front Door"], action_delay_ms=100).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def postgres_bot(
    slack: FakeSlack, long_named_seam: SeamFake, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    tmp = tmp_path_factory.mktemp("long-names")
    with fresh_database("postgresql", tmp) as url:
        process = BotProcess(bot_env(slack, long_named_seam, tmp) | {"DATABASE_URL": url}, cwd=tmp).start()
        yield process
        process.close()


def test_a_lock_named_with_5000_characters_can_be_locked(
    postgres_bot: BotProcess, slack: FakeSlack, long_named_seam: SeamFake, channel: str
) -> None:
    assert len(LONG_NAME) == 5000
    workspace = Workspace(postgres_bot, slack, long_named_seam)

    sent = workspace.command("/lock", LONG_NAME, user=ADMIN, channel=channel)

    _, status = workspace.action(sent, 15)
    wait_until(lambda: long_named_seam.calls().get("/locks/lock_door") == 1, 10, "Seam asked to lock")
    slack.wait_for(lambda: status.text.startswith(("Done:", "Failed:", "Not confirmed:")), 15, "the outcome")
    assert status.text.startswith("Done:")
    assert "Traceback" not in postgres_bot.log_text
