"""lockbot killed (SIGKILL) exactly while Seam holds its unlock_door request: after the restart the
unlock is never sent again, and it is reported not confirmed, never as failed or to be asked again."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.botprocess import BotProcess
from tests.conftest import ADMIN, MEMBER, Workspace, bot_env, buttons, wait_until
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack, Message

APPROVER = "U0APPROV01"
HELD_MS = 6000  # Seam answers unlock_door this late: lockbot is killed long before


@pytest.fixture(scope="module")
def bot(slack: FakeSlack, seam: SeamFake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    slack.add_user(APPROVER)
    tmp = tmp_path_factory.mktemp("kill-while-sending")
    (tmp / "lockbot.toml").write_text(f'[defaults]\napprovers = ["{APPROVER}"]\n')
    env = bot_env(slack, seam, tmp) | {"LOCKBOT_ACTION_LEASE": "2", "LOCKBOT_ACTION_TIMEOUT": "15"}
    process = BotProcess(env, cwd=tmp).start()
    yield process
    process.close()


def unlocks_sent(seam: SeamFake) -> int:
    return seam.calls().get("/locks/unlock_door", 0)


def final_status(workspace: Workspace, parent: Message) -> Message:
    def final() -> Message | None:
        replies = workspace.slack.replies(parent.channel, parent.ts)
        done = [m for m in replies if m.text.startswith(("Done:", "Failed:", "Not confirmed:"))]
        return done[-1] if done else None

    # The restarted instance takes the action over once the dead one's lease (2 s) has run out.
    return workspace.slack.wait_for(final, 30, "the action's final status after the restart")


def direct_unlock(workspace: Workspace, channel: str) -> Message:
    sent = workspace.command("/unlock", "back door", user=ADMIN, channel=channel)
    parent, _ = workspace.action(sent)
    return parent


def approved_unlock(workspace: Workspace, channel: str) -> Message:
    reply = workspace.ephemeral(workspace.command("/unlock", "back door", user=MEMBER, channel=channel))
    assert "so I've asked" in reply.text
    message = workspace.request_message(channel)
    sent = workspace.click(
        "unlock_approve", buttons(message)["unlock_approve"], user=APPROVER, channel=channel, message_ts=message.ts
    )
    assert sent.response.status_code == 200
    return message


@pytest.mark.parametrize("start", [direct_unlock, approved_unlock], ids=["direct", "approved"])
def test_killed_while_seam_holds_the_unlock_it_is_not_sent_again_and_not_confirmed(
    bot: BotProcess, slack: FakeSlack, seam: SeamFake, channel: str, start: Callable[[Workspace, str], Message]
) -> None:
    workspace = Workspace(bot, slack, seam)
    seam.reset()
    seam.configure(action_delay_ms=300, confirmed_by_device=True)
    seam.fail("/locks/unlock_door", delay_ms=HELD_MS)  # answered normally, but only after HELD_MS

    parent = start(workspace, channel)
    wait_until(lambda: unlocks_sent(seam) == 1, 10, "unlock_door to reach Seam")  # and be held there
    bot.kill()
    bot.start()

    status = final_status(workspace, parent)
    assert status.text.startswith("Not confirmed:"), status.text
    workspace.slack.wait_for(lambda: "not confirmed" in parent.text.casefold(), 10, "the parent's outcome")
    words = (status.text + " " + parent.text).casefold()
    for retry_words in ("failed", "ask again", "try again"):
        assert retry_words not in words
    # A resend would have come when the action was taken over, before its outcome: none came.
    assert unlocks_sent(seam) == 1
