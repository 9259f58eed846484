"""Timed unlocks end to end: `/unlock <door> [for] <duration>`, refusals, and the relock that follows."""

from __future__ import annotations

from tests.conftest import ADMIN, Workspace


def unlock_calls(workspace: Workspace) -> int:
    assert workspace.seam is not None
    return workspace.seam.calls().get("/locks/unlock_door", 0)


def test_an_unlock_longer_than_max_unlock_is_refused_naming_the_limit(workspace: Workspace, channel: str) -> None:
    sent = workspace.command("/unlock", "back door for 13h courier", user=ADMIN, channel=channel)

    reply = workspace.ephemeral(sent)
    assert reply.text == "Back Door may be unlocked for at most 12 h; nothing was unlocked. Ask for less time."
    assert workspace.slack.channel_messages(channel) == []
    assert unlock_calls(workspace) == 0


def test_a_duration_past_the_calendar_is_too_long_not_an_error(workspace: Workspace, channel: str) -> None:
    sent = workspace.command("/unlock", "back door 99999999999h", user=ADMIN, channel=channel)

    assert "may be unlocked for at most 12 h" in workspace.ephemeral(sent).text
    assert unlock_calls(workspace) == 0


def test_a_mistyped_or_too_short_duration_unlocks_nothing(workspace: Workspace, channel: str) -> None:
    mistyped = workspace.command("/unlock", "back door for 30 min", user=ADMIN, channel=channel)
    too_short = workspace.command("/unlock", "back door 5s", user=ADMIN, channel=channel)

    assert workspace.ephemeral(mistyped).text.startswith(
        "Nothing was unlocked: “30 min” is not a duration like 30s, 10m or 1h30m."
    )
    assert workspace.ephemeral(too_short).text == "The shortest timed unlock is 10 s; nothing was unlocked."
    assert workspace.slack.channel_messages(channel) == []
    assert unlock_calls(workspace) == 0


def test_the_duration_is_not_part_of_the_reason(workspace: Workspace, channel: str) -> None:
    sent = workspace.command("/unlock", "front door for 1h courier at reception", user=ADMIN, channel=channel)

    parent, status = workspace.finished_action(sent)
    assert status.text.startswith("Done: Front Door unlocked")
    assert "courier at reception" in parent.text
    assert "1h" not in parent.text
