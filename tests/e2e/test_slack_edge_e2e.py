"""The Slack edge: signatures, health, and a Slack Web API that fails, rate limits or loses messages."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, quote, urlencode

import httpx
import pytest

from tests.botprocess import BOT_TOKEN, SIGNING_SECRET, BotProcess, signed_headers
from tests.conftest import ADMIN, MEMBER, CommandSent, Workspace, buttons, wait_until


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


# -- unsigned, stale and malformed requests ---------------------------------------------------------


def _post_raw(bot: BotProcess, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return bot.http.post(f"{bot.url}/slack/events", content=body, headers=headers)


def _lines_logged(bot: BotProcess, since: int) -> list[str]:
    """The log lines since `since`, once there is one: all a request logs is logged before its answer."""
    wait_until(lambda: len(bot.logs) > since, 5, "a log line")
    return bot.logs[since:]


def _refusals_logged(bot: BotProcess, since: int) -> list[str]:
    return wait_until(
        lambda: [line for line in bot.logs[since:] if "refused a Slack request" in line], 5, "the refusal in the log"
    )


def test_an_unsigned_megabyte_costs_one_short_log_line(workspace: Workspace, channel: str) -> None:
    body = "command=%2Flock&text=unsigned-body-marker" + "A" * 1_000_000
    before = len(workspace.bot.logs)

    response = workspace.bot.post_signed(body, headers=signed_headers(body, secret="not-the-signing-secret"))

    assert response.status_code == 401
    lines = _lines_logged(workspace.bot, before)
    assert all(len(line) < 200 for line in lines)
    assert "unsigned-body-marker" not in "\n".join(lines)
    assert "A" * 20 not in "\n".join(lines)
    assert len(_refusals_logged(workspace.bot, before)) == 1
    _assert_nothing_happened(workspace, channel)


def test_a_header_too_long_to_parse_costs_one_short_line_and_no_traceback(workspace: Workspace, channel: str) -> None:
    before = len(workspace.bot.logs)

    response = _post_raw(workspace.bot, b"payload=x", {"X-Junk": "header-marker" + "a" * 20_000})

    assert response.status_code == 400
    lines = _lines_logged(workspace.bot, before)
    assert len(lines) == 1
    assert len(lines[0]) < 200
    assert "could not be parsed" in lines[0]
    assert "header-marker" not in lines[0]
    assert "aaaa" not in lines[0]
    _assert_nothing_happened(workspace, channel)


def test_a_stale_genuine_request_is_refused_without_logging_what_it_carries(workspace: Workspace, channel: str) -> None:
    body = _lock_body(workspace, channel)
    fields = parse_qs(body)
    before = len(workspace.bot.logs)

    response = workspace.bot.post_signed(body, headers=signed_headers(body, timestamp=int(time.time()) - 6 * 60))

    assert response.status_code == 401
    lines = _lines_logged(workspace.bot, before)
    assert all(len(line) < 200 for line in lines)
    logged = "\n".join(lines)
    for value in (fields["response_url"][0], fields["trigger_id"][0], quote(fields["response_url"][0], safe="")):
        assert value not in logged
    assert len(_refusals_logged(workspace.bot, before)) == 1
    _assert_nothing_happened(workspace, channel)


def _wrongly_signed(body: bytes) -> dict[str, str]:
    return signed_headers(body.decode("utf-8", "replace"), secret="not-the-signing-secret")


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"payload=not-json", _wrongly_signed(b"payload=not-json")),
        (b"payload=%7B%22type%22%3A%22block_act", _wrongly_signed(b"payload=%7B%22type%22%3A%22block_act")),
        (b"payload=not-json", {**_wrongly_signed(b"payload=not-json"), "X-Slack-Request-Timestamp": "abc"}),
        (b"payload=not-json", {"Content-Type": "application/x-www-form-urlencoded"}),
        (b'{"type": "event_callback", "event": ', {"Content-Type": "application/json"}),
        (b"payload=\xff\xfe\xfd", _wrongly_signed(b"payload=")),
        (b"payload=not-json", {**_wrongly_signed(b"payload=not-json"), "X-Slack-Request-Timestamp": "9" * 400}),
    ],
    ids=[
        "payload-not-json",
        "truncated-json",
        "timestamp-abc",
        "no-headers",
        "json-no-headers",
        "not-utf8",
        "timestamp-no-float-holds",
    ],
)
def test_unsigned_junk_is_refused_with_401_and_no_traceback(
    workspace: Workspace, channel: str, body: bytes, headers: dict[str, str]
) -> None:
    before = len(workspace.bot.logs)

    response = _post_raw(workspace.bot, body, headers)

    assert response.status_code == 401
    lines = _lines_logged(workspace.bot, before)
    assert not any("Traceback" in line or "Error handling request" in line for line in lines)
    assert len(_refusals_logged(workspace.bot, before)) == 1
    _assert_nothing_happened(workspace, channel)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("payload=not-json", "application/x-www-form-urlencoded"),
        ("payload=%7B%22type%22%3A%22block_act", "application/x-www-form-urlencoded"),
        ('{"type": "event_callback", "event": ', "application/json"),
        ("[1, 2, 3]", "application/json"),
    ],
    ids=["payload-not-json", "truncated-json", "truncated-json-body", "json-list"],
)
def test_a_signed_request_that_does_not_parse_is_a_bad_request_not_a_crash(
    workspace: Workspace, body: str, content_type: str
) -> None:
    before = len(workspace.bot.logs)

    response = workspace.bot.post_signed(body, headers={**signed_headers(body), "Content-Type": content_type})

    assert response.status_code == 400
    lines = wait_until(
        lambda: [line for line in workspace.bot.logs[before:] if "could not be read" in line], 5, "the log line"
    )
    assert len(lines) == 1
    assert not any("Traceback" in line for line in workspace.bot.logs[before:])


def test_a_signed_payload_of_a_shape_slack_never_sends_is_a_bad_request_not_a_crash(workspace: Workspace) -> None:
    view = {"callback_id": "unlock_deny_reason", "private_metadata": "x", "state": "not an object"}
    body = urlencode({"payload": json.dumps({"type": "view_submission", "user": {"id": ADMIN}, "view": view})})
    before = len(workspace.bot.logs)

    response = workspace.bot.post_signed(body)

    assert response.status_code == 400
    lines = wait_until(
        lambda: [line for line in workspace.bot.logs[before:] if "could not be handled" in line], 5, "the log line"
    )
    assert len(lines) == 1
    assert len(lines[0]) < 200
    assert not any("Traceback" in line or " ERROR " in line for line in workspace.bot.logs[before:])


# -- replays ------------------------------------------------------------------------------------------


@pytest.fixture
def sent_requests(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, str]]]:
    """Every request the test sends to lockbot, as sent (body and signed headers), to replay them."""
    sent: list[tuple[str, dict[str, str]]] = []
    post = workspace.bot.post_signed

    def recording(body: str, *, headers: dict[str, str] | None = None, timeout: float = 10.0) -> httpx.Response:
        headers = dict(headers) if headers is not None else signed_headers(body)
        sent.append((body, headers))
        return post(body, headers=headers, timeout=timeout)

    monkeypatch.setattr(workspace.bot, "post_signed", recording)
    return sent


def _after_everything_before(workspace: Workspace, channel: str) -> None:
    """A lock run through to its end in `channel`: what lockbot was doing before it has shown by then."""
    workspace.finished_action(workspace.command("/lock", "garden gate", user=ADMIN, channel=channel))


def test_a_replayed_unlock_does_nothing(
    workspace: Workspace, channel: str, sent_requests: list[tuple[str, dict[str, str]]]
) -> None:
    assert workspace.seam is not None
    sent = workspace.command("/unlock", "back door", user=ADMIN, channel=channel)
    workspace.finished_action(sent)
    [(body, headers)] = sent_requests
    answers = len(workspace.slack.responses_for(sent.response_id))

    replayed = workspace.bot.post_signed(body, headers=headers)  # the very same bytes and headers

    assert replayed.status_code == 200
    assert replayed.content == b""
    _after_everything_before(workspace, channel)
    assert workspace.seam.calls()["/locks/unlock_door"] == 1
    assert len([m for m in workspace.slack.channel_messages(channel) if "Back Door" in m.text]) == 1
    assert len(workspace.slack.responses_for(sent.response_id)) == answers


def test_the_same_request_signed_again_later_does_nothing_either(
    workspace: Workspace, channel: str, sent_requests: list[tuple[str, dict[str, str]]]
) -> None:
    assert workspace.seam is not None
    workspace.finished_action(workspace.command("/unlock", "back door", user=ADMIN, channel=channel))
    [(body, _)] = sent_requests

    again = workspace.bot.post_signed(body, headers=signed_headers(body, timestamp=int(time.time()) + 2))

    assert again.status_code == 200
    _after_everything_before(workspace, channel)
    assert workspace.seam.calls()["/locks/unlock_door"] == 1


def test_a_replayed_button_click_does_nothing(
    workspace: Workspace, channel: str, sent_requests: list[tuple[str, dict[str, str]]]
) -> None:
    workspace.ephemeral(workspace.command("/unlock", "front door", user=MEMBER, channel=channel))
    message = workspace.request_message(channel)
    click: CommandSent = workspace.click(
        "unlock_approve", buttons(message)["unlock_approve"], user=ADMIN, channel=channel, message_ts=message.ts
    )
    assert workspace.ephemeral(click).text.startswith("You approved")
    workspace.slack.wait_for(
        lambda: (r := workspace.slack.replies(channel, message.ts)) and r[-1].text.startswith("Done:"), 15, "the unlock"
    )
    body, headers = sent_requests[-1]
    assert json.loads(parse_qs(body)["payload"][0])["type"] == "block_actions"

    replayed = workspace.bot.post_signed(body, headers=headers)

    assert replayed.status_code == 200
    assert replayed.content == b""
    _after_everything_before(workspace, channel)
    assert len(workspace.slack.responses_for(click.response_id)) == 1  # no "already approved": nothing ran
    assert workspace.seam is not None
    assert workspace.seam.calls()["/locks/unlock_door"] == 1


# -- Slack's writes are not repeated ----------------------------------------------------------------


def test_a_post_slack_took_but_answered_500_for_is_not_posted_again(workspace: Workspace, channel: str) -> None:
    workspace.slack.fail("chat.postMessage", status=500, applied=True)

    reply = workspace.ephemeral(workspace.command("/lock", "front door", channel=channel))

    assert "did nothing" in reply.text
    posts = [call for call in workspace.slack.calls_of("chat.postMessage") if call.params.get("channel") == channel]
    assert len(posts) == 1
    assert len(workspace.slack.channel_messages(channel)) == 1
    assert workspace.seam is not None
    assert "/locks/lock_door" not in workspace.seam.calls()
