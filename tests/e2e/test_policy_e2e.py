"""A policy file with each door's own rules, end to end: who unlocks which door directly, who reads
whose audit entries, who may unlock someone else's slot, and the slot lock key kept out of sight."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.botprocess import ROOT, BotProcess
from tests.conftest import ADMIN, MEMBER, Workspace, bot_env
from tests.fakes.overbooked_api import FakeOverbooked
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack, Message

APPROVER = "U0APPROV01"  # approves every door but the lab
LAB_APPROVER = "U0LABAPPR1"  # approves the lab only
OPENER = "U0OPENER01"  # in the user group that may unlock the lab directly
OPENERS = "S0OPENERS1"
API_KEY = "sk_test_lockbot_overbooked_key"

POLICY = f"""
[defaults]                     # admins and owners unlock directly; requests go to the approver
approvers = ["{APPROVER}"]

[doors."Server Room"]          # nobody unlocks it directly, not even an admin
direct_unlock = []

[doors."Lab Door"]
direct_unlock = ["{OPENERS}"]
approvers = ["{LAB_APPROVER}"]
"""


@pytest.fixture(scope="module")
def seam() -> Iterator[SeamFake]:
    fake = SeamFake(locks=["Front Door", "Server Room", "Lab Door"], action_delay_ms=300).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def overbooked() -> Iterator[FakeOverbooked]:
    fake = FakeOverbooked(API_KEY).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("policy")


@pytest.fixture(scope="module")
def bot(slack: FakeSlack, seam: SeamFake, overbooked: FakeOverbooked, database: Path) -> Iterator[BotProcess]:
    for user in (APPROVER, LAB_APPROVER, OPENER):
        slack.add_user(user)
    slack.usergroups[OPENERS] = [OPENER]
    (database / "lockbot.toml").write_text(POLICY)
    env = bot_env(slack, seam, database) | {
        "OVERBOOKED_API_KEY": API_KEY,
        "OVERBOOKED_ENDPOINT": overbooked.url,
        "LOCKBOT_OVERBOOKED_TIMEOUT": "1",
    }
    process = BotProcess(env, cwd=database).start()
    yield process
    process.close()


@pytest.fixture
def workspace(bot: BotProcess, slack: FakeSlack, seam: SeamFake, overbooked: FakeOverbooked) -> Workspace:
    seam.reset()
    seam.configure(action_delay_ms=300, confirmed_by_device=True)
    overbooked.reset()
    return Workspace(bot, slack, seam)


def unlocks_sent(workspace: Workspace) -> int:
    assert workspace.seam is not None
    return workspace.seam.calls().get("/locks/unlock_door", 0)


def unlocked_directly(workspace: Workspace, door: str, user: str, channel: str) -> Message:
    _, status = workspace.finished_action(workspace.command("/unlock", door, user=user, channel=channel))
    return status


def asked_for(workspace: Workspace, door: str, user: str, channel: str) -> str:
    return workspace.ephemeral(workspace.command("/unlock", door, user=user, channel=channel)).text


# 21: a door's own direct_unlock decides /unlock for that door.


def test_an_admin_unlocks_a_door_without_its_own_rules_directly(workspace: Workspace, channel: str) -> None:
    status = unlocked_directly(workspace, "front door", ADMIN, channel)

    assert status.text == "Done: Front Door unlocked."
    assert unlocks_sent(workspace) == 1


def test_an_admin_files_a_request_for_a_door_nobody_unlocks_directly(workspace: Workspace, channel: str) -> None:
    reply = asked_for(workspace, "server room", ADMIN, channel)

    assert "so I've asked" in reply
    message = workspace.request_message(channel)
    assert f"<@{ADMIN}> asks to unlock Server Room" in message.text
    assert f"<@{APPROVER}>" in message.text
    assert unlocks_sent(workspace) == 0


def test_a_member_of_the_listed_user_group_unlocks_directly(workspace: Workspace, channel: str) -> None:
    status = unlocked_directly(workspace, "lab door", OPENER, channel)

    assert status.text == "Done: Lab Door unlocked."
    assert unlocks_sent(workspace) == 1


def test_an_admin_outside_the_listed_user_group_files_a_request(workspace: Workspace, channel: str) -> None:
    reply = asked_for(workspace, "lab door", ADMIN, channel)

    assert "so I've asked" in reply
    message = workspace.request_message(channel)
    assert f"<@{LAB_APPROVER}>" in message.text  # the lab's own approver, not the default one
    assert f"<@{APPROVER}>" not in message.text
    assert unlocks_sent(workspace) == 0


# 23: an approver of one door reads only that door's entries.


def test_an_approver_of_one_door_reads_only_that_doors_entries(workspace: Workspace, channel: str) -> None:
    for door in ("front door", "lab door", "server room"):
        workspace.finished_action(workspace.command("/lock", door, user=MEMBER, channel=channel))

    theirs = workspace.ephemeral(workspace.command("/doors", "log", user=LAB_APPROVER, channel=channel)).text
    everyone = workspace.ephemeral(workspace.command("/doors", "log", user=APPROVER, channel=channel)).text
    other_door = workspace.ephemeral(workspace.command("/doors", "log front door", user=LAB_APPROVER, channel=channel))

    assert "Lab Door" in theirs
    assert "Front Door" not in theirs
    assert "Server Room" not in theirs
    assert "Front Door" in everyone
    assert "Server Room" in everyone
    assert "Lab Door" not in everyone  # the default approver does not approve the lab
    assert other_door.text == "Only approvers can read the audit log."


# 24: a workspace admin who is not an approver cannot unlock someone else's slot.


def locked_slot(workspace: Workspace, overbooked: FakeOverbooked, channel: str) -> str:
    slot_id = str(overbooked.add_slot()["id"])
    parent, _ = workspace.action(workspace.command("/slot", f"lock {slot_id} 2h", user=MEMBER, channel=channel))
    workspace.slack.wait_for(lambda: parent.text.startswith(f"Slot {slot_id} locked until"), 15, "the slot locked")
    return slot_id


def test_an_admin_who_is_not_an_approver_may_not_unlock_someone_elses_slot(
    workspace: Workspace, overbooked: FakeOverbooked, channel: str
) -> None:
    slot_id = locked_slot(workspace, overbooked, channel)

    refused = workspace.ephemeral(workspace.command("/slot", f"unlock {slot_id}", user=ADMIN, channel=channel))
    assert refused.text == f"Only <@{MEMBER}>, who locked slot `{slot_id}`, or an approver can unlock it early."
    assert overbooked.calls_to("/unlock") == []
    assert overbooked.is_locked(slot_id)

    allowed = workspace.ephemeral(workspace.command("/slot", f"unlock {slot_id}", user=LAB_APPROVER, channel=channel))
    assert allowed.text == f"Unlocked <@{MEMBER}>'s lock on slot `{slot_id}`."


# 22: the slot lock key is in no reply, no /doors log line and no exported row.


def test_the_slot_lock_key_is_in_no_reply_log_line_or_export(
    workspace: Workspace, overbooked: FakeOverbooked, channel: str, database: Path
) -> None:
    slot_id = locked_slot(workspace, overbooked, channel)
    key = overbooked.lock_key_of(slot_id)
    assert key is not None
    overbooked.fail("unlock", code="E013", status=400)

    failed = workspace.ephemeral(workspace.command("/slot", f"unlock {slot_id}", user=MEMBER, channel=channel))
    unlocked = workspace.ephemeral(workspace.command("/slot", f"unlock {slot_id}", user=MEMBER, channel=channel))
    status = workspace.ephemeral(workspace.command("/slot", f"status {slot_id}", user=MEMBER, channel=channel))
    log = workspace.ephemeral(workspace.command("/doors", "log", user=APPROVER, channel=channel))

    assert failed.text.startswith(f"Could not unlock slot `{slot_id}`: ")
    assert unlocked.text == f"Unlocked your lock on slot `{slot_id}`."
    assert overbooked.calls_to("/unlock")[-1].json == {"lock_key": key}  # the key was used...
    assert f"slot_unlock · failed · slot {slot_id}" in log.text
    shown: list[object] = [failed.body, unlocked.body, status.body, log.body]
    shown += [(m.history, m.blocks) for m in workspace.slack.messages.values()]
    shown += [call.params for call in workspace.slack.calls]
    assert key not in str(shown)  # ...and never shown

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SEAM_", "OVERBOOKED_"))}
    env |= {"DATABASE_URL": f"sqlite:///{database / 'lockbot.db'}", "PYTHONPATH": str(ROOT)}
    today = datetime.now(UTC).date().isoformat()
    exported = subprocess.run(
        [sys.executable, "-m", "bot", "audit", "--since", today],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    ours = [row for row in rows if slot_id in str(row)]
    assert {row["outcome"] for row in ours if row["event"] == "slot_unlock"} == {"failed", "unlocked"}
    assert key not in exported.stdout
    assert key not in exported.stderr
