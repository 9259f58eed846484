"""Block Kit builders: pure, plain-text fallback equal to the blocks, user text escaped."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.door_service import DoorOverview, DoorStatus
from bot.doors import DoorAmbiguous, DoorUnknown
from bot.model import ActionKind, ActionProblem, ActionState, ActionView, ProblemReason
from bot.seam import Lock
from bot.slack.messages.actions import render_action_parent, render_action_status
from bot.slack.messages.doors import render_ambiguous_door, render_door_overview, render_unknown_door, render_usage
from bot.slack.messages.primitives import SlackMessage


def block_text(message: SlackMessage) -> str:
    def texts(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["text"]] if node.get("type") == "mrkdwn" else []
            return found + [t for value in node.values() for t in texts(value)]
        if isinstance(node, list):
            return [t for item in node for t in texts(item)]
        return []

    joined = " ".join(texts(message.blocks))
    joined = re.sub(r":[a-z_]+: ", "", joined)  # emoji
    return " ".join(joined.replace("*", "").split())


OFFLINE = ActionProblem(ProblemReason.ATTEMPT_FAILED, error_type="device_offline")


def view(state: ActionState, **kwargs: Any) -> ActionView:
    return ActionView(ActionKind.UNLOCK, "Front Door", "U1", state, **kwargs)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (view(ActionState.QUEUED), "Unlocking Front Door…"),
        (view(ActionState.SUCCEEDED), "Front Door unlocked."),
        (
            view(ActionState.FAILED, problem=OFFLINE),
            "Could not unlock Front Door: the lock is offline.",
        ),
        (view(ActionState.SUCCEEDED, confirmed_by_device=False), "unconfirmed by the device"),
        (view(ActionState.NOT_CONFIRMED, timeout_seconds=20), "Unlocking Front Door not confirmed"),
    ],
)
def test_parent_says_the_outcome_plainly(given: ActionView, expected: str) -> None:
    message = render_action_parent(given)
    assert expected in message.text
    assert expected in block_text(message)


def words(text: str) -> set[str]:
    return set(re.findall(r"[\w<@>`']+", text.replace("*", "")))


@pytest.mark.parametrize("state", list(ActionState))
def test_every_message_text_says_what_its_blocks_say(state: ActionState) -> None:
    given = view(state, problem=OFFLINE, reason="parcel", timeout_seconds=20, attempt_id="aa1")
    for message in (render_action_parent(given), render_action_status(given)):
        assert message.text
        assert words(message.text) <= words(block_text(message))


def test_status_labels() -> None:
    assert render_action_status(view(ActionState.PENDING)).text.startswith("Pending: ")
    assert render_action_status(view(ActionState.SUCCEEDED)).text == "Done: Front Door unlocked."
    assert render_action_status(
        view(ActionState.FAILED, problem=ActionProblem(ProblemReason.SEAM_REFUSED, detail="p"))
    ).text.startswith("Failed: ")
    assert render_action_status(view(ActionState.NOT_CONFIRMED)).text.startswith("Not confirmed: ")


def test_text_from_people_and_apis_cannot_inject_mentions_or_links() -> None:
    hostile = ActionView(
        ActionKind.LOCK,
        "<!channel> Door",
        "U1",
        ActionState.FAILED,
        problem=ActionProblem(ProblemReason.SEAM_REFUSED, detail="<https://x|y>"),
        reason="<!here>",
    )
    message = render_action_parent(hostile)
    rendered = str(message.blocks)
    assert "<!channel>" not in rendered
    assert "<!here>" not in rendered
    assert "<https://x|y>" not in rendered
    assert "&lt;!channel&gt; Door" in rendered


def test_unknown_and_ambiguous_doors_list_names() -> None:
    locks = (Lock(device_id="a", display_name="Back Door"), Lock(device_id="b", display_name="Front Door"))
    unknown = render_unknown_door(DoorUnknown("cellar", locks))
    assert unknown.text == "I don't know a door called “cellar”. The doors are: Back Door, Front Door."
    ambiguous = render_ambiguous_door(DoorAmbiguous("d", locks))
    assert "Back Door, Front Door" in ambiguous.text


def test_usage() -> None:
    usage = render_usage("/unlock")
    # The placeholder is escaped: a raw `<door>` is Slack markup, not text.
    shown = "`/unlock &lt;door&gt; [for 30s|10m|1h30m|until 17:30] [reason]`"
    assert usage.text.startswith(f"Usage: {shown}")
    assert shown in usage.blocks[0]["text"]["text"]


def test_a_long_door_list_fits_slack_limits() -> None:
    doors = tuple(
        DoorStatus(Lock(device_id=f"d{i}", display_name=f"Door number {i:03d}"), True, False) for i in range(300)
    )
    message = render_door_overview(DoorOverview(doors))
    assert len(message.blocks) <= 50
    assert all(len(block["text"]["text"]) <= 3000 for block in message.blocks)
    assert block_text(message).count("Door number") == 300
