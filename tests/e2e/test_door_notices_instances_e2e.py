"""Two lockbot instances on one PostgreSQL database: a door left unlocked is alerted once, however
many instances hear of its unlock and run the alert ticks."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.botprocess import BotProcess
from tests.conftest import MEMBER, Workspace, bot_env, buttons, wait_until
from tests.databases import fresh_database
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack, Message
from tests.seam_webhooks import SECRET, deliver, event

NOTIFY = "C0NOTIFY03"
POLICY = f'[defaults]\nnotify_channel = "{NOTIFY}"\nalert_unlocked_after = "10s"\n'

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pair(slack: FakeSlack, seam: SeamFake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Workspace]]:
    tmp = tmp_path_factory.mktemp("alert-instances")
    (tmp / "lockbot.toml").write_text(POLICY)
    with fresh_database("postgresql", tmp) as url:
        env = bot_env(slack, seam, tmp) | {"DATABASE_URL": url, "SEAM_WEBHOOK_SECRET": SECRET}
        first = BotProcess(env, cwd=tmp).start()
        second = BotProcess(env, cwd=tmp).start()
        yield [Workspace(first, slack, seam), Workspace(second, slack, seam)]
        first.close()
        second.close()


def alerts(workspace: Workspace) -> list[Message]:
    return [m for m in workspace.slack.channel_messages(NOTIFY) if m.history[0].startswith(":warning: Back Door has")]


def test_an_unlock_heard_by_both_instances_is_alerted_once_and_its_lock_edits_it(pair: list[Workspace]) -> None:
    first, second = pair
    seam = first.seam
    assert seam is not None
    seam.set_device("lock_2", locked=False)
    # Seam's event reaches one instance; the same unlock, heard again, reaches the other.
    deliver(first, event("lock.unlocked", "lock_2", method="keycode"))
    deliver(second, event("lock.unlocked", "lock_2", method="keycode"))
    unlocked_at = time.monotonic()

    alert = first.slack.wait_for(lambda: alerts(first), 25, "the alert")[0]
    wait_until(lambda: time.monotonic() > unlocked_at + 14, 20, "both instances to tick past the due time")
    assert len(alerts(first)) == 1

    second.click("door_lock", buttons(alert)["door_lock"], user=MEMBER, channel=NOTIFY, message_ts=alert.ts)

    first.slack.wait_for(lambda: len(alert.history) > 1, 15, "the alert to be edited")
    assert alert.text.startswith(f":lock: Back Door was locked by <@{MEMBER}> at ")
    assert seam.calls().get("/locks/lock_door", 0) == 1
