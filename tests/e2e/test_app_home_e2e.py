"""App Home end to end: each person's Home, its buttons and modal, decisions from Home, and Homes
published again after a change, over real sockets."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from bot.store import Store
from tests.botprocess import BotProcess
from tests.conftest import ADMIN, LOCKS, MEMBER, Workspace, bot_env, buttons, wait_until
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack, Message

APPROVER = "U0HAPPROV1"
RECENT = "U0HRECENT1"
LONG_AGO = "U0HOLDER01"
RATED = "U0HRATED01"
APPROVALS = "C0HOMEAPPR"
MANY = [f"Room {number:03d}" for number in range(90)]

# Front Door relocks by itself; Garage Door has no relock_after, so an unlock from Home asks how long.
POLICY = """
[defaults]
approvers = ["U0HAPPROV1"]
approval_channel = "C0HOMEAPPR"

[doors."Front Door"]
relock_after = "5m"

[doors."Garden Gate"]
relock_after = "5m"
reason_required = true
"""


@pytest.fixture(scope="module")
def seam() -> Iterator[SeamFake]:
    fake = SeamFake(locks=LOCKS + MANY, action_delay_ms=300).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def bot(slack: FakeSlack, seam: SeamFake, database: Path) -> Iterator[BotProcess]:
    for user in (APPROVER, RECENT, LONG_AGO, RATED):
        slack.add_user(user)
    (database / "lockbot.toml").write_text(POLICY)
    # Seam's timeout long enough for a test to hold an unlock call for seconds and still see it through.
    env = bot_env(slack, seam, database, LOCKBOT_SEAM_TIMEOUT="10", LOCKBOT_ACTION_TIMEOUT="15")
    process = BotProcess(env, cwd=database).start()
    yield process
    process.close()


def home(workspace: Workspace, user: str, *, after: int = 0) -> dict[str, Any]:
    """The person's Home once it has been published more than `after` times."""
    return workspace.slack.wait_for(
        lambda: workspace.slack.home_of(user) if len(workspace.slack.homes.get(user, [])) > after else None,
        what=f"the Home of {user}",
    )


def opened_home(workspace: Workspace, user: str) -> dict[str, Any]:
    before = len(workspace.slack.homes.get(user, []))
    assert workspace.open_home(user).status_code == 200
    return home(workspace, user, after=before)


def home_buttons(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [element for block in view["blocks"] if block["type"] == "actions" for element in block["elements"]]


def door_line(view: dict[str, Any], door: str) -> str:
    return str(
        next(
            block["text"]["text"]
            for block in view["blocks"]
            if block["type"] == "section"
            and block["text"]["text"].startswith((":lock:", ":unlock:", ":grey_question:"))
            and f"*{door}* —" in block["text"]["text"]
        )
    )


def door_buttons(view: dict[str, Any], device_id: str) -> dict[str, dict[str, Any]]:
    return {element["action_id"]: element for element in home_buttons(view) if element["value"] == device_id}


def latest_home_with(workspace: Workspace, user: str, *, having: str = "", lacking: str = "") -> dict[str, Any] | None:
    """The person's latest Home if it shows `having` and not `lacking` (in its JSON)."""
    view = workspace.slack.home_of(user)
    if view is None:
        return None
    shown = json.dumps(view)
    return view if having in shown and not (lacking and lacking in shown) else None


def new_modal(workspace: Workspace, before: int) -> dict[str, Any]:
    return workspace.slack.wait_for(lambda: workspace.slack.views[before:], what="a modal")[0]


def modal_text(view: dict[str, Any]) -> str:
    return " ".join(block["text"]["text"] for block in view["blocks"] if block["type"] == "section")


def test_a_members_home_shows_the_doors_and_asks_instead_of_unlocking(workspace: Workspace) -> None:
    assert workspace.seam is not None
    front = workspace.seam.device_id("Front Door")
    workspace.seam.set_device(front, battery_level=0.48)
    workspace.seam.set_device(workspace.seam.device_id("Back Door"), online=False)
    view = opened_home(workspace, MEMBER)
    assert view["type"] == "home"
    assert door_line(view, "Front Door").endswith("locked · online · battery 48%")
    assert "offline" in door_line(view, "Back Door")
    front_buttons = door_buttons(view, front)
    assert set(front_buttons) == {"door_lock", "door_request"}  # a member may not unlock directly
    assert all(button["action_id"] != "door_unlock" for button in home_buttons(view))
    assert "Requests waiting" not in json.dumps(view)  # a member approves nothing


def test_an_admins_home_offers_unlock_with_a_confirm_naming_the_door_and_the_requester(workspace: Workspace) -> None:
    assert workspace.seam is not None
    view = opened_home(workspace, ADMIN)
    front = door_buttons(view, workspace.seam.device_id("Front Door"))
    assert set(front) == {"door_lock", "door_unlock"}
    confirm = front["door_unlock"]["confirm"]
    assert confirm["title"]["text"] == "Unlock Front Door?"
    assert f"*Front Door* for you (<@{ADMIN}>)" in confirm["text"]["text"]
    assert "locks again after 5 min" in confirm["text"]["text"]


def test_a_members_ask_to_unlock_carries_a_confirm_naming_the_door_and_the_requester(workspace: Workspace) -> None:
    assert workspace.seam is not None
    view = opened_home(workspace, MEMBER)
    confirm = door_buttons(view, workspace.seam.device_id("Front Door"))["door_request"]["confirm"]
    assert confirm["title"]["text"] == "Ask to unlock Front Door?"
    assert f"Ask to unlock *Front Door* for you (<@{MEMBER}>)?" in confirm["text"]["text"]


def test_many_doors_stay_within_100_blocks_and_say_how_to_find_the_rest(workspace: Workspace) -> None:
    view = opened_home(workspace, MEMBER)
    assert len(view["blocks"]) <= 100
    shown = [button for button in home_buttons(view) if button["action_id"] == "door_lock"]
    hidden = len(LOCKS) + len(MANY) - len(shown)
    assert hidden > 0
    last = view["blocks"][-1]
    assert last["type"] == "context"
    assert last["elements"][0]["text"].startswith(f"…and {hidden} more. Type `/doors &lt;prefix&gt;`")


def test_home_opened_on_the_messages_tab_publishes_nothing(workspace: Workspace) -> None:
    workspace.slack.homes.pop(RECENT, None)
    assert workspace.open_home(RECENT, tab="messages").status_code == 200
    opened_home(workspace, MEMBER)  # a later event is handled: the earlier one had its chance
    assert workspace.slack.home_of(RECENT) is None


def test_an_approver_approves_from_home_and_the_channel_message_and_thread_show_it(
    workspace: Workspace, channel: str
) -> None:
    workspace.ephemeral(workspace.command("/unlock", "garden gate parcel at reception", user=MEMBER, channel=channel))
    message = workspace.request_message(APPROVALS)
    request_id = buttons(message)["unlock_approve"]
    view = opened_home(workspace, APPROVER)
    on_home = {button["action_id"]: button["value"] for button in home_buttons(view) if button["value"] == request_id}
    assert on_home == {"unlock_approve": request_id, "unlock_deny": request_id}
    assert "parcel at reception" in json.dumps(view)

    assert workspace.press_on_home("unlock_approve", request_id, user=APPROVER).status_code == 200

    def approved() -> Message | None:
        current = workspace.slack.messages[(message.channel, message.ts)]
        return current if "Approved by <@U0HAPPROV1>" in current.text else None

    workspace.slack.wait_for(approved, what="the request message to say who approved")
    workspace.slack.wait_for(
        lambda: any(reply.text.startswith("Done:") for reply in workspace.slack.replies(message.channel, message.ts)),
        timeout=15,
        what="the unlock's status in the request's thread",
    )
    told = workspace.slack.wait_for(
        lambda: [m for m in workspace.direct_messages(APPROVER) if m.text.startswith("You approved")],
        what="the approver told by DM (Home has no ephemeral answer)",
    )
    assert "Garden Gate" in told[0].text
    # The Home is published again without the decided request.
    republished = workspace.slack.wait_for(
        lambda: latest_home_with(workspace, APPROVER, lacking=request_id),
        timeout=15,
        what="the approver's Home without the decided request",
    )
    assert republished["type"] == "home"


def test_the_request_modal_files_a_request_like_unlock_does(workspace: Workspace) -> None:
    assert workspace.seam is not None
    back = workspace.seam.device_id("Back Door")
    before = len(workspace.slack.views)
    assert workspace.press_on_home("door_request", back, user=MEMBER).status_code == 200
    modal = new_modal(workspace, before)
    assert modal["private_metadata"] == back
    assert "You may not unlock *Back Door* directly" in modal_text(modal)

    refused = workspace.submit_view(
        modal, user=MEMBER, values={"duration": {"duration": {"value": "for a while"}}, "reason": {"reason": {}}}
    )
    assert refused.status_code == 200
    answer = refused.json()
    assert answer["response_action"] == "errors"
    assert "not a duration like 30s, 10m" in answer["errors"]["duration"]

    filed = workspace.submit_view(
        modal,
        user=MEMBER,
        values={"duration": {"duration": {"value": "10m"}}, "reason": {"reason": {"value": "courier <!channel>"}}},
    )
    assert filed.json()["response_action"] == "update"
    assert "Asking the approvers of *Back Door*" in json.dumps(filed.json()["view"])
    dm = "D" + MEMBER[1:]
    told = workspace.slack.wait_for(
        lambda: [m for m in workspace.slack.channel_messages(dm) if "I've asked" in m.text and "Back Door" in m.text],
        what="the member told by DM that the approvers were asked",
    )
    assert len(told) == 1

    def request() -> Message | None:
        found = [m for m in workspace.slack.channel_messages(APPROVALS) if "Back Door" in m.history[0]]
        return found[-1] if found else None

    message = workspace.slack.wait_for(request, what="the request in the approval channel")
    assert "asks to unlock Back Door for 10 min" in message.text
    assert "courier &lt;!channel&gt;" in message.text


def test_a_door_that_needs_a_reason_asks_for_one_on_home_and_unlocks_nothing_without(workspace: Workspace) -> None:
    assert workspace.seam is not None
    gate = workspace.seam.device_id("Garden Gate")
    unlocks_before = workspace.seam.calls().get("/locks/unlock_door", 0)
    before = len(workspace.slack.views)
    assert workspace.press_on_home("door_unlock", gate, user=ADMIN).status_code == 200
    modal = new_modal(workspace, before)
    reason_block = next(block for block in modal["blocks"] if block.get("block_id") == "reason")
    assert reason_block.get("optional", False) is False

    refused = workspace.submit_view(
        modal, user=ADMIN, values={"duration": {"duration": {"value": "10m"}}, "reason": {"reason": {"value": "  "}}}
    )
    assert refused.json()["response_action"] == "errors"
    assert "needs a reason" in refused.json()["errors"]["reason"]
    assert workspace.seam.calls().get("/locks/unlock_door", 0) == unlocks_before


def test_unlock_from_home_unlocks_with_the_doors_relock(workspace: Workspace) -> None:
    seam = workspace.seam
    assert seam is not None
    front = seam.device_id("Front Door")
    opened_home(workspace, ADMIN)
    assert workspace.press_on_home("door_unlock", front, user=ADMIN).status_code == 200
    dm = "D" + ADMIN[1:]

    def done() -> Message | None:
        for parent in workspace.slack.channel_messages(dm):
            replies = workspace.slack.replies(dm, parent.ts)
            if "Front Door" in parent.text and replies and replies[-1].text.startswith("Done:"):
                return replies[-1]
        return None

    status = workspace.slack.wait_for(done, timeout=15, what="the unlock's thread in the admin's DM")
    assert "until" in status.text
    wait_until(lambda: seam.lock_state(front)["locked"] is False, what="Front Door unlocked")
    republished = workspace.slack.wait_for(
        lambda: latest_home_with(workspace, ADMIN, having="Your timed unlocks"),
        timeout=15,
        what="the admin's Home with the timed unlock",
    )
    assert "unlocked until" in door_line(republished, "Front Door")
    timed = {button["action_id"] for button in home_buttons(republished) if button["action_id"] != "door_lock"}
    assert {"relock_now", "unlock_extend"} <= timed
    workspace.command("/lock", "front door", user=ADMIN)
    wait_until(lambda: seam.lock_state(front)["locked"] is True, timeout=15, what="Front Door locked")


def _until(line: str) -> int | None:
    """The "unlocked until" time a Home line shows, as the timestamp of its Slack date token."""
    found = re.search(r"until <!date\^(\d+)\^", line)
    return int(found.group(1)) if found else None


def _extend_button(view: dict[str, Any], door: str) -> str | None:
    """The unlock id the +15 min button of the person's timed unlock of `door` carries."""
    blocks = view["blocks"]
    for block, following in itertools.pairwise(blocks):
        if block["type"] == "section" and block["text"]["text"].startswith(f":hourglass_flowing_sand: *{door}* —"):
            return next(str(e["value"]) for e in following["elements"] if e["action_id"] == "unlock_extend")
    return None


def test_plus_15_min_republishes_the_homes_with_the_new_time(workspace: Workspace, channel: str) -> None:
    seam = workspace.seam
    assert seam is not None
    back = seam.device_id("Back Door")
    seam.set_device(back, online=True)  # another test takes it offline
    opened_home(workspace, ADMIN)
    opened_home(workspace, RECENT)
    workspace.finished_action(workspace.command("/unlock", "back door for 10m", user=ADMIN, channel=channel))
    shown: dict[str, Any] = workspace.slack.wait_for(
        lambda: latest_home_with(workspace, ADMIN, having=":hourglass_flowing_sand: *Back Door*"),
        timeout=15,
        what="the admin's Home with the timed unlock of Back Door",
    )
    first = _until(door_line(shown, "Back Door"))
    unlock_id = _extend_button(shown, "Back Door")
    assert first is not None
    assert unlock_id is not None

    assert workspace.press_on_home("unlock_extend", unlock_id, user=ADMIN).status_code == 200

    def extended_on_home(user: str) -> dict[str, Any] | None:
        view = workspace.slack.home_of(user)
        return view if view is not None and _until(door_line(view, "Back Door")) == first + 15 * 60 else None

    for user in (ADMIN, RECENT):  # the presser's Home, and another opened within the hour
        workspace.slack.wait_for(
            partial(extended_on_home, user), timeout=15, what=f"{user}'s Home showing Back Door 15 min longer"
        )
    workspace.finished_action(workspace.command("/lock", "back door", user=ADMIN, channel=channel))
    wait_until(lambda: seam.lock_state(back)["locked"] is True, timeout=15, what="Back Door locked")


def test_a_submitted_unlock_is_answered_before_seam_answers_and_unlocks_once(workspace: Workspace) -> None:
    seam = workspace.seam
    assert seam is not None
    garage = seam.device_id("Garage Door")
    seam.set_device(garage, online=True)
    unlocks_before = seam.calls().get("/locks/unlock_door", 0)
    attempts_before = {attempt["action_attempt_id"] for attempt in seam.attempts()}
    before = len(workspace.slack.views)
    assert workspace.press_on_home("door_unlock", garage, user=ADMIN).status_code == 200
    modal = new_modal(workspace, before)
    seam.fail("/locks/unlock_door", delay_ms=5000)  # Seam holds the unlock call this long

    submitted = workspace.submit_view(
        modal, user=ADMIN, values={"duration": {"duration": {"value": "10m"}}, "reason": {"reason": {}}}
    )

    assert submitted.status_code == 200
    assert submitted.content in (b"", b"{}") or "errors" not in submitted.json()
    # Answered while Seam still held the call: no unlock attempt of Garage Door exists yet.
    new = [attempt for attempt in seam.attempts() if attempt["action_attempt_id"] not in attempts_before]
    assert not [attempt for attempt in new if attempt["action_type"] == "UNLOCK_DOOR"]
    wait_until(lambda: seam.lock_state(garage)["locked"] is False, timeout=20, what="Garage Door unlocked")
    unlocked = [
        attempt
        for attempt in seam.attempts()
        if attempt["action_attempt_id"] not in attempts_before and attempt["action_type"] == "UNLOCK_DOOR"
    ]
    assert len(unlocked) == 1
    assert seam.calls().get("/locks/unlock_door", 0) == unlocks_before + 1
    workspace.command("/lock", "garage door", user=ADMIN)
    wait_until(lambda: seam.lock_state(garage)["locked"] is True, timeout=15, what="Garage Door locked")


def test_unlock_from_home_of_a_door_without_relock_after_asks_how_long(workspace: Workspace) -> None:
    assert workspace.seam is not None
    garage = workspace.seam.device_id("Garage Door")
    before = len(workspace.slack.views)
    workspace.press_on_home("door_unlock", garage, user=ADMIN)
    modal = new_modal(workspace, before)
    assert modal["private_metadata"] == garage
    duration = next(block for block in modal["blocks"] if block.get("block_id") == "duration")
    assert duration.get("optional") is not True  # a direct unlock from Home always ends


def test_a_forged_device_id_does_nothing_and_says_so(workspace: Workspace) -> None:
    assert workspace.seam is not None
    unlocks = workspace.seam.calls().get("/locks/unlock_door", 0)
    before = len(workspace.slack.views)
    for action in ("door_unlock", "door_request"):
        assert workspace.press_on_home(action, "lock_forged_<!channel>", user=ADMIN).status_code == 200
    answers = workspace.slack.wait_for(
        lambda: workspace.slack.views[before:] if len(workspace.slack.views) >= before + 2 else None,
        what="an answer to each press",
    )
    assert all("Seam lists no such door" in modal_text(answer) for answer in answers)
    assert workspace.seam.calls().get("/locks/unlock_door", 0) == unlocks


def _remember_opening(database: Path, user: str, at: datetime) -> None:
    async def remember() -> None:
        store = await Store.open(f"sqlite:///{database / 'lockbot.db'}")
        try:
            await store.home_opened(user, at)
        finally:
            await store.close()

    asyncio.run(remember())


def test_a_change_republishes_a_recently_opened_home_and_not_one_opened_two_hours_ago(
    workspace: Workspace, database: Path, channel: str
) -> None:
    opened_home(workspace, RECENT)
    published = len(workspace.slack.homes[RECENT])
    _remember_opening(database, LONG_AGO, datetime.now(UTC) - timedelta(hours=2))
    workspace.finished_action(workspace.command("/lock", "garden gate", user=MEMBER, channel=channel))
    home(workspace, RECENT, after=published)
    assert workspace.slack.home_of(LONG_AGO) is None


def test_a_burst_of_changes_republishes_once(workspace: Workspace, channel: str) -> None:
    opened_home(workspace, RECENT)
    published = len(workspace.slack.homes[RECENT])
    started = time.monotonic()
    for door in ("back door", "garage door", "garden gate"):
        workspace.command("/lock", door, user=MEMBER, channel=channel)
    home(workspace, RECENT, after=published)
    # Three actions ending within the settle time make one publish, or two if they straddle it.
    assert len(workspace.slack.homes[RECENT]) - published <= 2, time.monotonic() - started


def test_a_rate_limited_publish_waits_out_retry_after(workspace: Workspace) -> None:
    workspace.slack.fail("views.publish", status=429, retry_after=1, where=lambda params: params["user_id"] == RATED)
    started = time.monotonic()
    opened_home(workspace, RATED)
    assert time.monotonic() - started >= 1.0
    calls = [call for call in workspace.slack.calls_of("views.publish") if call.params["user_id"] == RATED]
    assert [call.error for call in calls] == ["ratelimited", None]
    assert calls[1].at - calls[0].at >= 1.0


def test_deny_from_home_and_a_refused_press_are_answered_by_dm(workspace: Workspace, channel: str) -> None:
    workspace.ephemeral(workspace.command("/unlock", "garage door for 10m tools", user=MEMBER, channel=channel))
    message = workspace.request_message(APPROVALS)
    request_id = buttons(message)["unlock_approve"]

    workspace.press_on_home("unlock_approve", request_id, user=MEMBER)
    refused = workspace.slack.wait_for(
        lambda: [m for m in workspace.direct_messages(MEMBER) if m.text == "You can't approve your own request."],
        what="the requester told by DM that they cannot approve their own request",
    )
    assert refused

    workspace.press_on_home("unlock_deny", request_id, user=APPROVER)
    denied = workspace.slack.wait_for(
        lambda: [m for m in workspace.direct_messages(APPROVER) if m.text.startswith("You denied")],
        what="the denier told by DM",
    )
    assert buttons(denied[-1]) == {"unlock_deny_reason": request_id}  # a reason can still be added from there
    workspace.slack.wait_for(
        lambda: "Denied by <@U0HAPPROV1>" in workspace.slack.messages[(message.channel, message.ts)].text,
        what="the request message to say who denied",
    )
