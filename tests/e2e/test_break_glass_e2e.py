"""Break-glass and reason_required end to end: lockbot as a real process, over real sockets, with
Seam's fake and the fake Slack. `/unlock <door> --emergency <reason>` unlocks at once for the
emergency list, locks again after the door's relock_after, alarms every approver and is audited;
for anyone else it unlocks nothing. A door with reason_required files nothing without a reason."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.botprocess import ROOT, BotProcess
from tests.conftest import ADMIN, MEMBER, Workspace, bot_env
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack, Message

APPROVER = "U0APPROV01"
GUARD = "U0GUARD001"  # an approver through the guards' user group
ONCALL = "U0ONCALL01"  # on the emergency list through the on-call user group
GUARDS, ONCALL_GROUP = "S0GUARDS01", "S0ONCALL01"
APPROVALS, NOTIFY = "C0APPROVE1", "C0NOTIFY01"

POLICY = f"""
[defaults]
approvers = ["{APPROVER}", "{GUARDS}"]
emergency = ["{ONCALL_GROUP}"]
notify_channel = "{NOTIFY}"

[doors."Front Door"]
approval_channel = "{APPROVALS}"
relock_after = "10s"

[doors."Back Door"]
reason_required = true
"""


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("break_glass")


@pytest.fixture(scope="module")
def bot(slack: FakeSlack, seam: SeamFake, database: Path) -> Iterator[BotProcess]:
    for user in (APPROVER, GUARD, ONCALL):
        slack.add_user(user)
    slack.usergroups[GUARDS] = [GUARD]
    slack.usergroups[ONCALL_GROUP] = [ONCALL]
    (database / "lockbot.toml").write_text(POLICY)
    process = BotProcess(bot_env(slack, seam, database), cwd=database).start()
    yield process
    process.close()


def calls(workspace: Workspace, path: str) -> int:
    assert workspace.seam is not None
    return workspace.seam.calls().get(path, 0)


def posted_since(workspace: Workspace, channel: str, since: float) -> list[Message]:
    return [m for m in workspace.slack.channel_messages(channel) if m.posted_at >= since]


def notice_in(workspace: Workspace, channel: str, since: float) -> Callable[[], Message | None]:
    def found() -> Message | None:
        return next((m for m in posted_since(workspace, channel, since) if "Emergency unlock" in m.text), None)

    return found


def dms_since(workspace: Workspace, user: str, before: int) -> Callable[[], list[Message]]:
    return lambda: workspace.direct_messages(user)[before:]


# reason_required


@pytest.mark.parametrize("user", [MEMBER, ADMIN])  # one who would ask, one who unlocks directly
def test_reason_required_refuses_an_unlock_without_a_reason_and_files_nothing(
    workspace: Workspace, channel: str, user: str
) -> None:
    sent = workspace.command("/unlock", "back door", user=user, channel=channel)

    reply = workspace.ephemeral(sent)

    assert reply.text == (
        "Back Door needs a reason: `/unlock Back Door [for 10m] &lt;reason&gt;`. Nothing was unlocked."
    )
    # The answer comes after a request would have been posted: nothing was, here or anywhere.
    assert workspace.slack.channel_messages(channel) == []
    assert [m for m in workspace.slack.messages.values() if m.posted_at >= sent.sent_at] == []
    assert calls(workspace, "/locks/unlock_door") == 0


def test_reason_required_files_the_request_once_a_reason_is_given(workspace: Workspace, channel: str) -> None:
    reply = workspace.ephemeral(workspace.command("/unlock", "back door parcel", user=MEMBER, channel=channel))

    assert "so I've asked" in reply.text
    assert "Reason: parcel" in workspace.request_message(channel).text


# the approve button's confirm dialog


def test_the_approve_button_asks_to_confirm_naming_the_door_and_the_requester(
    workspace: Workspace, channel: str
) -> None:
    workspace.ephemeral(workspace.command("/unlock", "garage door for 10m parcel", user=MEMBER, channel=channel))
    message = workspace.request_message(channel)

    elements = {e["action_id"]: e for b in message.blocks if b["type"] == "actions" for e in b["elements"]}
    confirm = elements["unlock_approve"]["confirm"]

    assert confirm["title"] == {"type": "plain_text", "text": "Unlock Garage Door?"}
    assert confirm["text"]["text"] == (
        f"Approve <@{MEMBER}>'s request to unlock *Garage Door* for 10 min? It unlocks at once."
    )
    assert "confirm" not in elements["unlock_deny"]


# break-glass


def test_break_glass_unlocks_once_relocks_alarms_every_approver_and_is_audited(
    workspace: Workspace, channel: str, database: Path
) -> None:
    dms_before = {user: len(workspace.direct_messages(user)) for user in (APPROVER, GUARD, ONCALL)}
    sent = workspace.command("/unlock", "front door --emergency gas leak in the hall", user=ONCALL, channel=channel)

    parent, status = workspace.finished_action(sent)
    unlocked_at = time.monotonic()

    assert re.fullmatch(r"Done: Front Door unlocked until \d\d:\d\d UTC\.", status.text)
    assert "gas leak in the hall" in parent.text
    assert calls(workspace, "/locks/unlock_door") == 1
    assert workspace.slack.responses_for(sent.response_id) == []  # no approval asked, no refusal

    # The loud notice, in the door's approval channel and in notify_channel, mentioning every approver.
    for where in (APPROVALS, NOTIFY):
        notice = workspace.slack.wait_for(notice_in(workspace, where, sent.sent_at), 10, f"the notice in {where}")
        assert f"<@{ONCALL}> used `--emergency` to unlock Front Door at once, without approval." in notice.text
        assert f"It locks again 10 s after it opens. Its outcome is in <#{channel}>." in notice.text
        assert "Reason: gas leak in the hall." in notice.text
        assert f"<@{APPROVER}>" in notice.text
        assert f"<!subteam^{GUARDS}>" in notice.text
    # Each approver told directly, a group's members too; not the one who broke the glass.
    for approver in (APPROVER, GUARD):
        dms = workspace.slack.wait_for(dms_since(workspace, approver, dms_before[approver]), 10, f"a DM to {approver}")
        assert len(dms) == 1
        assert "You are told as an approver of Front Door." in dms[0].text
    assert len(workspace.direct_messages(ONCALL)) == dms_before[ONCALL]

    # Locked again after the door's relock_after (10 s), in the unlock's thread, once.
    relocked = workspace.slack.wait_for(
        lambda: next((m for m in workspace.slack.replies(channel, parent.ts) if "Front Door locked" in m.text), None),
        30,
        "the relock in the unlock's thread",
    )
    assert relocked.text == "Done: Front Door locked."
    assert time.monotonic() - unlocked_at >= 9
    assert calls(workspace, "/locks/lock_door") == 1
    assert calls(workspace, "/locks/unlock_door") == 1

    # Audited as an emergency: in /doors log, and in the CSV export.
    log = workspace.ephemeral(workspace.command("/doors", "log front door", user=APPROVER, channel=channel))
    assert "EMERGENCY emergency_unlock · Front Door · requested · gas leak in the hall" in log.text
    assert ":rotating_light: *EMERGENCY*" in str(log.body["blocks"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SEAM_"))}
    env |= {"DATABASE_URL": f"sqlite:///{database / 'lockbot.db'}", "PYTHONPATH": str(ROOT)}
    exported = subprocess.run(
        [sys.executable, "-m", "bot", "audit", "--since", datetime.now(UTC).date().isoformat()],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    emergencies = [row for row in rows if row["event"] == "emergency_unlock"]
    assert [(row["actor"], row["door"], row["outcome"], row["detail"]) for row in emergencies] == [
        (ONCALL, "Front Door", "requested", "gas leak in the hall")
    ]


@pytest.mark.parametrize("user", [MEMBER, ADMIN, APPROVER])  # an admin or an approver is not on the list either
def test_break_glass_by_someone_not_on_the_list_unlocks_nothing(workspace: Workspace, channel: str, user: str) -> None:
    sent = workspace.command("/unlock", "front door --emergency gas leak", user=user, channel=channel)

    reply = workspace.ephemeral(sent)

    assert reply.text == (
        "You are not on the emergency list for Front Door; nothing was unlocked. "
        "Use `/unlock Front Door &lt;reason&gt;` to ask an approver."
    )
    assert calls(workspace, "/locks/unlock_door") == 0
    assert [m for m in workspace.slack.messages.values() if m.posted_at >= sent.sent_at] == []


def test_break_glass_without_a_reason_is_refused_with_the_usage(workspace: Workspace, channel: str) -> None:
    sent = workspace.command("/unlock", "front door --emergency", user=ONCALL, channel=channel)

    reply = workspace.ephemeral(sent)

    assert reply.text == (
        "An emergency unlock needs a reason: `/unlock Front Door --emergency &lt;reason&gt;`. Nothing was unlocked."
    )
    assert calls(workspace, "/locks/unlock_door") == 0
    assert [m for m in workspace.slack.messages.values() if m.posted_at >= sent.sent_at] == []
