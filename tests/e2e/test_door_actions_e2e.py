"""/lock, /unlock and /doors end to end: signed requests to the running bot, Seam's fake, fake Slack."""

from __future__ import annotations

import concurrent.futures

from tests.conftest import ADMIN, MEMBER, OWNER, Workspace


def lock_calls(workspace: Workspace) -> int:
    assert workspace.seam is not None
    return workspace.seam.calls().get("/locks/lock_door", 0)


def unlock_calls(workspace: Workspace) -> int:
    assert workspace.seam is not None
    return workspace.seam.calls().get("/locks/unlock_door", 0)


def test_lock_shows_working_pending_then_locked_in_one_thread(workspace: Workspace, channel: str) -> None:
    sent = workspace.command("/lock", "Front Door", user=MEMBER, channel=channel)

    assert sent.response.status_code == 200
    assert sent.response.text == ""  # the channel messages say everything
    parent, status = workspace.finished_action(sent)
    assert parent.thread_ts is None
    assert status.thread_ts == parent.ts
    assert [text.split(":")[0] for text in status.history] == ["Working", "Pending", "Done"]
    assert status.text == "Done: Front Door locked."
    assert parent.text.startswith("Front Door locked.")
    assert f"<@{MEMBER}>" in parent.text
    assert len(workspace.slack.replies(channel, parent.ts)) == 1  # edited in place, never re-posted
    assert lock_calls(workspace) == 1
    assert workspace.seam is not None
    assert workspace.seam.lock_state("lock_1")["locked"] is True


def test_admin_unlocks_directly(workspace: Workspace, channel: str) -> None:
    sent = workspace.command("/unlock", "front door courier at reception", user=ADMIN, channel=channel)

    parent, status = workspace.finished_action(sent)
    assert status.text == "Done: Front Door unlocked."
    assert parent.text.startswith("Front Door unlocked.")
    assert "courier at reception" in parent.text
    assert unlock_calls(workspace) == 1
    assert workspace.seam is not None
    assert workspace.seam.lock_state("lock_1")["locked"] is False


def test_owner_unlocks_directly(workspace: Workspace, channel: str) -> None:
    sent = workspace.command("/unlock", "back door", user=OWNER, channel=channel)

    _, status = workspace.finished_action(sent)
    assert status.text == "Done: Back Door unlocked."


def test_unlock_success_not_confirmed_by_the_device_says_so(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    workspace.seam.configure(confirmed_by_device=False)

    sent = workspace.command("/unlock", "Back Door", user=ADMIN, channel=channel)

    parent, status = workspace.finished_action(sent)
    assert status.text.startswith("Done: Back Door unlocked")
    assert "unconfirmed by the device" in status.text
    assert "unconfirmed by the device" in parent.text


def test_offline_lock_fails_with_plain_words(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    workspace.seam.set_device("lock_3", online=False)
    try:
        sent = workspace.command("/unlock", "garage door", user=ADMIN, channel=channel)
        parent, status = workspace.finished_action(sent)
    finally:
        workspace.seam.set_device("lock_3", online=True)

    assert status.text == "Failed: Could not unlock Garage Door: the lock is offline."
    assert parent.text.startswith("Could not unlock Garage Door: the lock is offline.")


def test_attempt_pending_past_the_deadline_is_not_confirmed(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    workspace.seam.configure(action_delay_ms=60_000)

    sent = workspace.command("/lock", "back door", channel=channel)

    parent, status = workspace.finished_action(sent, timeout=20)
    assert status.text.startswith("Not confirmed: Locking Back Door not confirmed")
    assert "not confirmed" in parent.text
    assert "locked." not in parent.text  # never reported as a success


def test_quick_attempt_is_seen_at_the_first_question(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    workspace.seam.configure(action_delay_ms=0)  # the fake's own behaviour: done as soon as asked

    sent = workspace.command("/lock", "garden", channel=channel)

    parent, status = workspace.finished_action(sent)
    assert status.text == "Done: Garden Gate locked."
    assert parent.text.startswith("Garden Gate locked.")
    calls = workspace.seam.calls()
    assert calls.get("/action_attempts/list", 0) + calls.get("/action_attempts/get", 0) == 1


def test_door_by_prefix_case_and_device_id(workspace: Workspace, channel: str) -> None:
    by_prefix = workspace.command("/lock", "FRO", channel=channel)
    parent, _ = workspace.finished_action(by_prefix)
    assert parent.text.startswith("Front Door locked.")

    by_id = workspace.command("/lock", "lock_2", channel=channel)
    parent, _ = workspace.finished_action(by_id)
    assert parent.text.startswith("Back Door locked.")


def test_unknown_door_lists_the_doors_and_touches_nothing(workspace: Workspace, channel: str) -> None:
    sent = workspace.command("/lock", "cellar", channel=channel)

    reply = workspace.ephemeral(sent)
    assert reply.body["response_type"] == "ephemeral"
    assert "cellar" in reply.text
    for name in ("Front Door", "Back Door", "Garage Door", "Garden Gate"):
        assert name in reply.text
    assert workspace.slack.channel_messages(channel) == []
    assert lock_calls(workspace) == 0


def test_ambiguous_door_lists_the_matches(workspace: Workspace, channel: str) -> None:
    sent = workspace.command("/unlock", "gar", user=ADMIN, channel=channel)

    reply = workspace.ephemeral(sent)
    assert "Garage Door" in reply.text
    assert "Garden Gate" in reply.text
    assert "Front Door" not in reply.text
    assert workspace.slack.channel_messages(channel) == []
    assert unlock_calls(workspace) == 0


def test_no_argument_or_help_prints_usage_in_the_ack(workspace: Workspace, channel: str) -> None:
    for command, text in (("/lock", ""), ("/unlock", "help"), ("/doors", "help"), ("/lock", "  ")):
        sent = workspace.command(command, text, channel=channel)
        assert sent.response.status_code == 200
        body = sent.response.json()
        assert body["text"].startswith(f"Usage: `{command}")
    assert workspace.slack.channel_messages(channel) == []
    assert lock_calls(workspace) == 0


def test_member_who_may_not_unlock_directly_files_a_request_instead(workspace: Workspace, channel: str) -> None:
    sent = workspace.command("/unlock", "front door", user=MEMBER, channel=channel)

    reply = workspace.ephemeral(sent)
    assert "You may not unlock Front Door directly, so I've asked a workspace admin or owner" in reply.text
    request = workspace.request_message(channel)
    assert f"<@{MEMBER}> asks to unlock Front Door" in request.text
    assert unlock_calls(workspace) == 0


def test_doors_lists_state_and_what_each_user_may_do(workspace: Workspace, channel: str) -> None:
    assert workspace.seam is not None
    workspace.seam.set_device("lock_2", locked=False)
    workspace.seam.set_device("lock_3", online=False)
    try:
        admin_view = workspace.ephemeral(workspace.command("/doors", user=ADMIN, channel=channel)).text
        member_view = workspace.ephemeral(workspace.command("/doors", user=MEMBER, channel=channel)).text
    finally:
        workspace.seam.set_device("lock_2", locked=True)
        workspace.seam.set_device("lock_3", online=True)

    assert "Back Door — unlocked, online — you can lock and unlock" in admin_view
    assert "Garage Door — locked, offline — you can lock and unlock" in admin_view
    assert "Front Door — locked, online — you can lock and request an unlock from an approver" in member_view
    assert workspace.slack.channel_messages(channel) == []


def test_bot_not_in_channel_says_so_and_does_nothing(workspace: Workspace, channel: str) -> None:
    workspace.slack.channels_without_bot.add(channel)

    sent = workspace.command("/lock", "front door", channel=channel)

    reply = workspace.ephemeral(sent)
    assert "not in this channel" in reply.text
    assert lock_calls(workspace) == 0


def test_many_concurrent_actions_each_get_their_own_thread(workspace: Workspace) -> None:
    channels = [f"CBURST{i:04d}" for i in range(24)]
    doors = ["front door", "back door", "garage door", "garden gate"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        sent = list(pool.map(lambda i: workspace.command("/lock", doors[i % 4], channel=channels[i]), range(24)))

    assert all(s.response.status_code == 200 for s in sent)
    for item in sent:
        parent, status = workspace.finished_action(item)
        assert status.text.startswith("Done:")
        assert "locked." in parent.text
    assert lock_calls(workspace) == 24
    assert workspace.seam is not None
    calls = workspace.seam.calls()
    # One batched question covers every pending attempt: far fewer polls than actions.
    polls = calls.get("/action_attempts/list", 0) + calls.get("/action_attempts/get", 0)
    assert polls < 24


def test_a_profile_slack_cannot_give_is_a_plain_answer_and_no_action(workspace: Workspace, channel: str) -> None:
    sent = workspace.command("/unlock", "front door", user="U0GHOST01", channel=channel)

    reply = workspace.ephemeral(sent)
    assert reply.text == "Could not look up your Slack profile to check what you may do; try again shortly."
    assert workspace.slack.channel_messages(channel) == []
    assert unlock_calls(workspace) == 0
