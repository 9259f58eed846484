"""Slack's signature and timestamp are checked before the body is read; a signed body is parsed after."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from bot.slack.verification import (
    SIGNATURE_WINDOW_SECONDS,
    Refused,
    SlackRequestVerifier,
    Unreadable,
    bolt_request,
    is_ssl_check,
)
from tests.botprocess import SIGNING_SECRET, signed_headers

NOW = 1_800_000_000
BODY = "command=%2Flock&text=front+door&trigger_id=1.trigger"


def verifier() -> SlackRequestVerifier:
    return SlackRequestVerifier(SIGNING_SECRET, clock=lambda: NOW)


def test_a_signed_fresh_request_is_verified() -> None:
    verified = verifier().verify(BODY.encode(), signed_headers(BODY, timestamp=NOW - 10))

    assert verified.body == BODY
    assert verified.timestamp == NOW - 10


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "no signature"),
        ({"X-Slack-Request-Timestamp": str(NOW)}, "no signature"),
        ({**signed_headers(BODY, timestamp=NOW), "X-Slack-Request-Timestamp": "abc"}, "malformed timestamp"),
        # A number no float can hold: refused before it is compared with the clock (it overflowed into a 500).
        ({**signed_headers(BODY, timestamp=NOW), "X-Slack-Request-Timestamp": "9" * 400}, "malformed timestamp"),
        ({**signed_headers(BODY, timestamp=NOW), "X-Slack-Request-Timestamp": f"+{NOW}"}, "malformed timestamp"),
        ({**signed_headers(BODY, timestamp=NOW), "X-Slack-Request-Timestamp": f" {NOW}"}, "malformed timestamp"),
        (signed_headers(BODY, timestamp=NOW - SIGNATURE_WINDOW_SECONDS - 1), "stale timestamp"),
        (signed_headers(BODY, timestamp=NOW + SIGNATURE_WINDOW_SECONDS + 1), "stale timestamp"),
        (signed_headers(BODY, timestamp=NOW, secret="not-the-signing-secret"), "bad signature"),
        (signed_headers(BODY.replace("front", "back"), timestamp=NOW), "bad signature"),
    ],
)
def test_what_is_refused_says_why_in_a_few_words(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(Refused, match=f"^{reason}$"):
        verifier().verify(BODY.encode(), headers)


def test_a_body_that_is_not_utf8_is_refused_not_decoded() -> None:
    with pytest.raises(Refused, match=r"^body is not UTF-8$"):
        verifier().verify(b"payload=\xff\xfe", signed_headers("payload=", timestamp=NOW))


def test_the_same_body_signed_again_has_the_same_digest() -> None:
    first = verifier().verify(BODY.encode(), signed_headers(BODY, timestamp=NOW - 100))
    again = verifier().verify(BODY.encode(), signed_headers(BODY, timestamp=NOW))
    other = verifier().verify(b"command=%2Fdoors", signed_headers("command=%2Fdoors", timestamp=NOW))

    assert first.digest == again.digest != other.digest


def test_a_request_is_remembered_as_long_as_a_copy_could_pass_the_timestamp_check() -> None:
    behind = verifier().verify(BODY.encode(), signed_headers(BODY, timestamp=NOW - 200))
    ahead = verifier().verify(BODY.encode(), signed_headers(BODY, timestamp=NOW + 200))

    assert behind.remembered_until(NOW) == NOW + SIGNATURE_WINDOW_SECONDS
    assert ahead.remembered_until(NOW) == NOW + 200 + SIGNATURE_WINDOW_SECONDS


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("payload=not-json", "application/x-www-form-urlencoded"),
        ('payload={"type": "block_act', "application/x-www-form-urlencoded"),
        ('{"type": "event_callback", "event": ', "application/json"),
        ("[1, 2]", "application/json"),
    ],
)
def test_a_signed_body_that_is_not_a_slack_payload_is_unreadable(body: str, content_type: str) -> None:
    headers = {**signed_headers(body, timestamp=NOW), "Content-Type": content_type}
    verified = verifier().verify(body.encode(), headers)

    with pytest.raises(Unreadable):
        bolt_request(verified, "", headers)


def test_a_signed_command_is_read_as_bolt_reads_it() -> None:
    headers = signed_headers(BODY, timestamp=NOW)

    request = bolt_request(verifier().verify(BODY.encode(), headers), "", headers)

    assert request.body["command"] == "/lock"
    assert request.headers["x-slack-request-timestamp"] == [str(NOW)]


def test_a_command_whose_text_says_payload_is_still_read_as_a_command() -> None:
    body = "command=%2Funlock&text=front+door+payload+delivery&user_id=U0MEMBER01&team_id=T0TEAM0001"
    headers = signed_headers(body, timestamp=NOW)

    request = bolt_request(verifier().verify(body.encode(), headers), "", headers)

    assert request.body["command"] == "/unlock"
    assert request.body["text"] == "front door payload delivery"
    assert request.context.user_id == "U0MEMBER01"
    assert request.context.team_id == "T0TEAM0001"


def test_an_interactive_payload_is_still_read_as_one() -> None:
    body = "payload=" + quote('{"type": "block_actions", "user": {"id": "U0MEMBER01"}, "team": {"id": "T0TEAM0001"}}')
    headers = signed_headers(body, timestamp=NOW)

    request = bolt_request(verifier().verify(body.encode(), headers), "", headers)

    assert request.body["type"] == "block_actions"
    assert request.context.user_id == "U0MEMBER01"


def test_slacks_ssl_check_is_recognised_only_in_a_small_body() -> None:
    assert is_ssl_check(b"ssl_check=1&token=legacy")
    assert not is_ssl_check(b"ssl_check=0")
    assert not is_ssl_check(b"ssl_check=1&text=" + b"x" * 1000)
