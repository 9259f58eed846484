"""bot/console/render.py: Block Kit as terminal lines, with Slack's markup read and hostile values left inert."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.console.render import message_lines, readable
from bot.slack.messages.primitives import actions, button, context, section
from tests.slack.test_message_text import EVIL, every_message

BERLIN = ZoneInfo("Europe/Berlin")
# Slack shows these as a ping or a link; the console must show none of them as such.
PINGS = ("@channel", "@here", "@everyone", "Approve here (https://evil.example)", "@S0EVIL001")


def test_mentions_channels_and_broadcasts_read_as_slack_shows_them() -> None:
    shown = readable(
        "<@U0ADMIN001> in <#C0CONSOLE> and <#C0OTHER|ops>, <!subteam^S0GROUP01>, <!here>",
        zone=UTC,
        channel_names={"C0CONSOLE": "console"},
    )
    assert shown == "@U0ADMIN001 in #console and #ops, @S0GROUP01, @here"


def test_a_date_reads_in_the_readers_time_zone() -> None:
    moment = datetime(2026, 11, 22, 16, 30, tzinfo=UTC)
    token = f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|2026-11-22 16:30 UTC>"
    assert readable(f"expires {token}", zone=BERLIN) == "expires 2026-11-22 at 17:30 CET"
    assert readable(f"expires {token}", zone=UTC) == "expires 2026-11-22 at 16:30 UTC"


def test_a_date_slack_could_not_read_shows_its_fallback() -> None:
    assert readable("<!date^soon^{time}|at 17:30 UTC>", zone=UTC) == "at 17:30 UTC"


def test_links_show_their_label_and_where_they_go() -> None:
    assert readable("see <https://docs.seam.co|the docs> or <https://example.com>", zone=UTC) == (
        "see the docs (https://docs.seam.co) or https://example.com"
    )


def test_escaped_values_read_as_typed_and_are_never_markup() -> None:
    # A door named "Garage <!channel> <https://evil.example|Approve here> &lt;" as lockbot escapes it.
    escaped = "Garage &lt;!channel&gt; &lt;https://evil.example|Approve here&gt; &amp;lt;"
    assert readable(escaped, zone=UTC) == "Garage <!channel> <https://evil.example|Approve here> &lt;"


def test_bold_marks_go_but_a_star_inside_a_value_stays() -> None:
    assert readable("*Front Door* unlocked", zone=UTC) == "Front Door unlocked"
    assert readable("Door 2*3*4 and *a*b", zone=UTC) == "Door 2*3*4 and *a*b"


def test_emoji_codes_become_emoji_and_unknown_ones_stay() -> None:
    assert readable(":lock: locked :no_such_emoji:", zone=UTC) == "🔒 locked :no_such_emoji:"


@pytest.mark.parametrize("control", ["\x1b[2J\x1b[31m", "\x07", "\x9b31m", "\x7f", "\r"])
def test_control_characters_cannot_drive_the_terminal(control: str) -> None:
    blocks = [
        section(f"Door {control}x".replace("<", "")),
        actions("b", button("approve", f"Ok{control}", "r1")),
    ]
    lines = message_lines(f"Door {control}", blocks, zone=UTC, number=lambda element: 1)
    assert all(character.isprintable() for line in lines for character in line)
    assert lines[-1].startswith("[1] Ok?")


def test_buttons_are_numbered_as_told_and_a_missing_number_says_so() -> None:
    blocks = [
        section("*@U1* asks"),
        actions(
            "unlock_request",
            button("unlock_approve", "Approve", "r1"),
            button("unlock_deny", "Deny", "r1"),
            button("unlock_cancel", "Cancel", "r1"),
        ),
    ]
    numbers = {"unlock_approve": 1, "unlock_deny": 2}
    lines = message_lines("", blocks, zone=UTC, number=lambda element: numbers.get(element["action_id"]))
    assert lines == ["@U1 asks", "[1] Approve  [2] Deny  [-] Cancel"]


def test_context_elements_share_a_line_and_a_multiline_section_keeps_its_lines() -> None:
    lines = message_lines("", [section("one\ntwo"), context("a", "b")], zone=UTC)
    assert lines == ["one", "two", "a  b"]


def test_without_blocks_the_text_is_shown() -> None:
    assert message_lines("<@U1> &lt;b&gt;", [], zone=UTC) == ["@U1 <b>"]


@pytest.mark.parametrize(
    "blocks",
    [
        ["not a block"],
        [{"type": "section"}],
        [{"type": "section", "text": "no object"}],
        [{"type": "actions", "elements": [{"type": "button"}, "junk", {"type": "static_select"}]}],
        [{"type": "context", "elements": [None]}],
        [{"type": "video", "title": {"type": "plain_text", "text": "x"}}],
    ],
)
def test_shapes_slack_would_refuse_do_not_break_the_console(blocks: list[Any]) -> None:
    lines = message_lines("fallback", blocks, zone=UTC)
    assert all(isinstance(line, str) for line in lines)


def test_every_message_with_hostile_values_pings_nobody_and_links_nowhere() -> None:
    hostile = EVIL + " \x1b]0;owned\x07"
    for name, message in every_message(hostile, hostile):
        lines = message_lines(message.text, message.blocks, zone=BERLIN, number=lambda element: 7)
        shown = "\n".join(lines)
        for ping in PINGS:
            assert ping not in shown, f"{name}: {ping!r} in {shown[:300]!r}"
        assert all(character.isprintable() for line in lines for character in line), name
        if "Garage" in message.text:
            # What was typed reads as typed (the first, uncut part of it at least).
            assert "Garage <!channel> <https" in shown, f"{name}: {shown[:300]!r}"
