"""The Slack edge: signatures, health, and a Slack Web API that fails, rate limits or loses messages."""

from __future__ import annotations

import time

from tests.botprocess import BOT_TOKEN, SIGNING_SECRET, signed_headers
from tests.conftest import ADMIN, MEMBER, Workspace


def _lock_body(workspace: Workspace, channel: str) -> str:
    return workspace.bot.command_body(
        "/lock",
        "front door",
        user=MEMBER,
        channel=channel,
        response_url=workspace.slack.response_url("forged"),
    )


def _assert_nothing_happened(workspace: Workspace, channel: str) -> None:
    assert workspace.slack.channel_messages(channel) == []
    assert workspace.slack.responses_for("forged") == []
    assert workspace.seam is not None
    assert workspace.seam.calls() == {}


def test_health_check(workspace: Workspace) -> None:
    response = workspace.bot.http.get(f"{workspace.bot.url}/healthz")

    assert response.status_code == 200
    assert response.json() == {"ok": True, "doors": True, "slots": False}


def test_bad_signature_is_refused_with_401_and_changes_nothing(workspace: Workspace, channel: str) -> None:
    body = _lock_body(workspace, channel)
    headers = signed_headers(body, secret="not-the-signing-secret")

    response = workspace.bot.post_signed(body, headers=headers)

    assert response.status_code == 401
    _assert_nothing_happened(workspace, channel)


def test_tampered_body_is_refused(workspace: Workspace, channel: str) -> None:
    body = _lock_body(workspace, channel)
    headers = signed_headers(body)

    response = workspace.bot.post_signed(body.replace("front+door", "back+door"), headers=headers)

    assert response.status_code == 401
    _assert_nothing_happened(workspace, channel)


def test_stale_signature_is_refused_even_when_correct(workspace: Workspace, channel: str) -> None:
    body = _lock_body(workspace, channel)
    headers = signed_headers(body, timestamp=int(time.time()) - 6 * 60)

    response = workspace.bot.post_signed(body, headers=headers)

    assert response.status_code == 401
    _assert_nothing_happened(workspace, channel)


def test_missing_signature_headers_are_refused(workspace: Workspace, channel: str) -> None:
    body = _lock_body(workspace, channel)

    response = workspace.bot.post_signed(body, headers={"Content-Type": "application/x-www-form-urlencoded"})

    assert response.status_code == 401
    _assert_nothing_happened(workspace, channel)


def test_status_message_gone_before_the_outcome_is_posted_again_in_the_thread(
    workspace: Workspace, channel: str
) -> None:
    assert workspace.seam is not None
    workspace.seam.configure(action_delay_ms=1500)
    sent = workspace.command("/lock", "back door", channel=channel)
    parent, status = workspace.action(sent)
    workspace.slack.wait_for(lambda: status.text.startswith("Pending"), what="the pending status")
    workspace.slack.delete_message(channel, status.ts)  # someone deleted it

    def reposted() -> bool:
        replies = workspace.slack.replies(channel, parent.ts)
        return bool(replies) and replies[-1].text == "Done: Back Door locked."

    workspace.slack.wait_for(reposted, 15, "the outcome posted again")
    updates = workspace.slack.calls_of("chat.update")
    assert any(call.error == "message_not_found" for call in updates)
    workspace.slack.wait_for(lambda: parent.text.startswith("Back Door locked."), what="the parent's outcome")


def test_failing_chat_update_falls_back_to_a_new_status_message(workspace: Workspace, channel: str) -> None:
    workspace.slack.fail("chat.update", error="cant_update_message", times=1)

    sent = workspace.command("/lock", "front door", channel=channel)

    parent, status = workspace.action(sent)

    def new_status_message() -> bool:
        replies = workspace.slack.replies(channel, parent.ts)
        return any(m.ts != status.ts and m.text == "Done: Front Door locked." for m in replies)

    workspace.slack.wait_for(new_status_message, 15, "the outcome in a new status message in the thread")
    workspace.slack.wait_for(lambda: parent.text.startswith("Front Door locked."), what="the parent's outcome")
    [failed] = [call for call in workspace.slack.calls_of("chat.update") if call.error == "cant_update_message"]
    assert failed.params["ts"] == status.ts  # the status message could not be edited...
    reposts = [
        call
        for call in workspace.slack.calls_of("chat.postMessage")
        if call.params.get("thread_ts") == parent.ts and call.at >= failed.at
    ]
    assert reposts  # ...so it was said again in the thread


def test_rate_limited_chat_update_is_retried_after_retry_after(workspace: Workspace, channel: str) -> None:
    workspace.slack.fail("chat.update", status=429, retry_after=1, times=2)

    sent = workspace.command("/unlock", "front door", user=ADMIN, channel=channel)

    parent, status = workspace.finished_action(sent)
    assert status.text == "Done: Front Door unlocked."
    assert parent.text.startswith("Front Door unlocked.")
    assert len(workspace.slack.replies(channel, parent.ts)) == 1  # retried in place, not re-posted
    limited = [call for call in workspace.slack.calls_of("chat.update") if call.error == "ratelimited"]
    assert len(limited) == 2


def test_slack_server_error_on_update_is_retried(workspace: Workspace, channel: str) -> None:
    workspace.slack.fail("chat.update", status=503, times=1)

    parent, status = workspace.finished_action(workspace.command("/lock", "garden gate", channel=channel))

    assert status.text == "Done: Garden Gate locked."
    assert len(workspace.slack.replies(channel, parent.ts)) == 1


def test_cannot_post_the_action_means_the_door_is_not_touched(workspace: Workspace, channel: str) -> None:
    workspace.slack.fail("chat.postMessage", error="is_archived", times=1)

    sent = workspace.command("/lock", "front door", channel=channel)

    reply = workspace.ephemeral(sent)
    assert "archived" in reply.text
    assert "did nothing" in reply.text
    assert workspace.seam is not None
    assert "/locks/lock_door" not in workspace.seam.calls()


def test_a_status_that_cannot_be_posted_leaves_no_parent_behind_and_the_door_untouched(
    workspace: Workspace, channel: str
) -> None:
    workspace.slack.fail("chat.postMessage", error="msg_too_long", after=1)  # the parent posts, its status not

    reply = workspace.ephemeral(workspace.command("/lock", "front door", channel=channel))

    assert "did nothing" in reply.text
    assert workspace.slack.calls_of("chat.delete")
    assert workspace.slack.channel_messages(channel) == []
    assert workspace.seam is not None
    assert "/locks/lock_door" not in workspace.seam.calls()


def test_no_secret_ever_reaches_the_logs(workspace: Workspace, channel: str) -> None:
    workspace.finished_action(workspace.command("/lock", "front door", channel=channel))
    workspace.bot.post_signed("command=%2Flock", headers=signed_headers("x", secret="wrong"))

    logs = workspace.bot.log_text
    assert logs  # the bot did log
    assert workspace.seam is not None
    for secret in (BOT_TOKEN, SIGNING_SECRET, workspace.seam.api_key):
        assert secret not in logs


def test_without_a_webhook_secret_the_seam_webhook_route_says_so(workspace: Workspace) -> None:
    response = workspace.bot.http.post(f"{workspace.bot.url}/webhooks/seam", content=b"{}")

    assert response.status_code == 404
    assert response.json() == {"ok": False, "error": "Seam webhooks are not configured"}
