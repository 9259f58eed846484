"""App Home's listeners: the Home published when opened, and its Unlock and Ask-to-unlock buttons.

Home has no channel, so no ephemeral answer: a press that does nothing is answered in a small modal
where the person is looking (a DM would land out of sight, in the Messages tab).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.door_service import ActionStarted, AskHowLong, DoorService, HomeUnlock, HomeUnlockReady
from bot.homes import HomePage, Homes
from bot.replies import Problem, ProblemReason
from bot.slack.commands import submitted_text
from bot.slack.messages.home import (
    DOOR_REQUEST,
    DOOR_UNLOCK,
    HOME_UNLOCK,
    HOME_UNLOCK_DURATION,
    HOME_UNLOCK_REASON,
    render_home,
    render_home_answer,
    render_home_asking,
    render_home_unlock_modal,
)
from bot.slack.messages.primitives import SlackMessage
from bot.slack.messages.replies import render_notice, render_problem
from bot.slack.messages.requests import render_request_filed
from bot.unlock_requests import RequestFiled

__all__ = ["HomeTab", "SlackHomePublisher"]

log = logging.getLogger(__name__)

_NO_SUCH_DOOR = render_notice(
    "Seam lists no such door (any more), so nothing was done. Your Home shows the doors there are now."
)
_DOORS_NOT_CONFIGURED = render_notice(
    "Doors are not configured: lockbot has no Seam API key (SEAM_API_KEY). Ask the person who runs lockbot."
)
_WENT_WRONG = Problem(ProblemReason.DOORS_UNAVAILABLE, detail="something went wrong on lockbot's side")
_SLACK_FAILURES = (SlackClientError, aiohttp.ClientError, TimeoutError)
# Problems with how long: said under the duration field, so the person can correct it there.
_DURATION_PROBLEMS = frozenset(
    {ProblemReason.UNLOCK_TOO_LONG, ProblemReason.UNLOCK_TOO_SHORT, ProblemReason.UNLOCK_TIME_UNUSABLE}
)


class SlackHomePublisher:
    """Implements `bot.homes.HomePublisher` with `views.publish`."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def publish(self, page: HomePage) -> bool:
        try:
            await self._client.views_publish(user_id=page.user_id, view=render_home(page))
        except SlackClientError as exc:
            log.warning("could not publish the Home of %s: %s", page.user_id, exc)
            return False
        return True


def _answer(result: HomeUnlock | None) -> SlackMessage | None:
    """What to tell the person about a press's result; None: the action's own messages say it."""
    if result is None:
        return _NO_SUCH_DOOR
    if isinstance(result, ActionStarted | AskHowLong):
        return None
    if isinstance(result, RequestFiled):
        return render_request_filed(result)
    return render_problem(result)


class HomeTab:
    """`app_home_opened`, and the `door_unlock` and `door_request` buttons with their modal.

    Only a button's value (a device id) or a modal's private_metadata (the same) is trusted; the
    policy is checked again at every press and every submission."""

    def __init__(self, homes: Homes, doors: DoorService | None) -> None:
        self._homes = homes
        self._doors = doors
        self._starting: set[asyncio.Task[None]] = set()  # unlocks submitted, being started after their ack

    def register(self, app: AsyncApp) -> None:
        app.event("app_home_opened")(self.opened)
        app.action(DOOR_UNLOCK)(self.unlock_pressed)
        app.action(DOOR_REQUEST)(self.request_pressed)
        app.view(HOME_UNLOCK)(self.unlock_submitted)

    async def opened(self, event: dict[str, Any]) -> None:
        if event.get("tab") != "home" or not event.get("user"):
            return  # the Messages tab, or not an event Slack sends
        try:
            await self._homes.opened(str(event["user"]))
        except Exception:
            log.exception("could not show the Home of %s", event.get("user"))

    async def unlock_pressed(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await self._pressed(ack, body, action, client, asking=False)

    async def request_pressed(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await self._pressed(ack, body, action, client, asking=True)

    async def _pressed(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, *, asking: bool
    ) -> None:
        await ack()
        user, trigger_id = str(body["user"]["id"]), str(body.get("trigger_id") or "")
        if self._doors is None:
            await self._show(client, trigger_id, render_home_answer(_DOORS_NOT_CONFIGURED))
            return
        try:
            result = await self._doors.home_unlock(user, str(action.get("value") or ""), asking=asking)
        except Exception:
            log.exception("an unlock pressed on Home failed")
            result = _WENT_WRONG
        if isinstance(result, AskHowLong):
            await self._show(client, trigger_id, render_home_unlock_modal(result))
            return
        answer = _answer(result)
        if answer is not None:
            await self._show(client, trigger_id, render_home_answer(answer))

    async def unlock_submitted(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """Checked before the acknowledgement (a field's problem is said under it, in the answer), started
        after it: Slack waits only 3 s for a submission's answer, and an unlock or a request posts to
        Slack and asks Seam first. A slow start must not look failed to a person who would submit again."""
        user, device_id = str(body["user"]["id"]), str(view.get("private_metadata") or "")
        duration, reason = submitted_text(view, HOME_UNLOCK_DURATION), submitted_text(view, HOME_UNLOCK_REASON)
        if self._doors is None:
            await ack(response_action="update", view=render_home_answer(_DOORS_NOT_CONFIGURED))
            return
        try:
            checked = await self._doors.check_home_unlock(user, device_id, duration=duration, reason=reason)
        except Exception:
            log.exception("an unlock submitted on Home could not be checked")
            checked = _WENT_WRONG
        if isinstance(checked, HomeUnlockReady):
            if checked.direct:
                await ack()  # the action's own messages say how it goes
            else:
                await ack(response_action="update", view=render_home_answer(render_home_asking(checked.lock.name)))
            self._start(client, checked)
            return
        if isinstance(checked, Problem) and checked.reason in _DURATION_PROBLEMS:
            await ack(response_action="errors", errors={HOME_UNLOCK_DURATION: render_problem(checked).text})
            return
        if isinstance(checked, Problem) and checked.reason is ProblemReason.REASON_REQUIRED:
            await ack(response_action="errors", errors={HOME_UNLOCK_REASON: "This door needs a reason to unlock it."})
            return
        answer = _answer(checked)
        if answer is None:
            await ack()
            return
        await ack(response_action="update", view=render_home_answer(answer))

    def _start(self, client: AsyncWebClient, ready: HomeUnlockReady) -> None:
        """Start a checked unlock (or request) after the acknowledgement, held until it is done."""
        task = asyncio.create_task(self._started(client, ready), name=f"home-unlock-{ready.lock.device_id}")
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def _started(self, client: AsyncWebClient, ready: HomeUnlockReady) -> None:
        assert self._doors is not None
        try:
            result: HomeUnlock = await self._doors.start_home_unlock(ready)
        except Exception:
            log.exception("an unlock submitted on Home failed")
            result = _WENT_WRONG
        answer = _answer(result)
        if answer is None:
            return
        # The modal has been answered already: the person hears the rest by DM.
        try:
            await client.chat_postMessage(channel=ready.user_id, **answer.as_kwargs())
        except _SLACK_FAILURES as exc:
            log.warning("could not tell %s by DM how their Home unlock went (%s)", ready.user_id, type(exc).__name__)

    @staticmethod
    async def _show(client: AsyncWebClient, trigger_id: str, view: dict[str, Any]) -> None:
        try:
            await client.views_open(trigger_id=trigger_id, view=view)
        except SlackClientError as exc:
            log.warning("could not open a modal on Home: %s", exc)
