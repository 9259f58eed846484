"""A Slack request replayed after lockbot restarted (SQLite, one instance) still does nothing.

On SQLite lockbot decides about replays in memory, at once, and keeps what it took in the
database behind the acknowledgement: a restart, even a kill -9 once the request is kept, forgets
nothing a copy of which could still pass the signature check.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.botprocess import BotProcess, new_response_id, signed_headers
from tests.conftest import ADMIN, Workspace, bot_env, wait_until
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("replays-across-restarts")


@pytest.fixture(scope="module")
def bot(slack: FakeSlack, seam: SeamFake, database: Path) -> Iterator[BotProcess]:
    process = BotProcess(bot_env(slack, seam, database), cwd=database).start()
    yield process
    process.close()


def _kept(database: Path) -> int:
    with sqlite3.connect(database / "lockbot.db") as connection:
        return int(connection.execute("SELECT count(*) FROM seen_slack_requests").fetchone()[0])


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGKILL"])
def test_a_request_replayed_after_a_restart_does_nothing(
    workspace: Workspace, channel: str, database: Path, stop: str
) -> None:
    assert workspace.seam is not None
    seam = workspace.seam
    body = workspace.bot.command_body(
        "/unlock",
        "back door",
        user=ADMIN,
        channel=channel,
        response_url=workspace.slack.response_url(new_response_id()),
    )
    headers = signed_headers(body)
    kept_before = _kept(database)
    assert workspace.bot.post_signed(body, headers=headers).status_code == 200
    wait_until(lambda: seam.calls().get("/locks/unlock_door", 0) == 1, 10, "the unlock")
    if stop == "SIGKILL":
        # Kept behind the acknowledgement, moments later: only then is a kill -9 safe to replay after.
        wait_until(lambda: _kept(database) > kept_before, 10, "the request kept in the database")
        workspace.bot.kill()
    else:
        workspace.bot.stop()
    workspace.bot.start()

    replayed = workspace.bot.post_signed(body, headers=headers)

    assert replayed.status_code == 200
    assert replayed.content == b""
    fresh = workspace.command("/lock", "garden gate", user=ADMIN, channel=channel)
    workspace.finished_action(fresh)  # whatever the replay might have started has shown by now
    assert workspace.seam.calls().get("/locks/unlock_door", 0) == 1
