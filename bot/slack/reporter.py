"""Shows actions and requests in Slack: messages posted, edited in place, and direct messages."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Generic, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions import ActionThread, ActionView, CannotReport
from bot.records import UnlockRequest
from bot.seam_events import DoorNotice
from bot.slack.blocks import (
    SlackMessage,
    render_action_parent,
    render_action_status,
    render_door_notice,
    render_outcome_notice,
    render_request,
    render_requester_message,
    render_slot_parent,
    render_slot_status,
)
from bot.slots import SlotView

__all__ = ["SlackNoticeBoard", "SlackRequestMessenger", "ThreadReporter", "action_reporter", "slot_reporter"]

V = TypeVar("V")

log = logging.getLogger(__name__)

_INVITE = "Invite me with `/invite @lockbot`, or use the command in a DM with me."
_CANNOT_POST = {
    "not_in_channel": f"I'm not in this channel, so I did nothing. {_INVITE}",
    "channel_not_found": f"I can't post here, so I did nothing. {_INVITE}",
    "is_archived": "This channel is archived, so I can't post the outcome here; I did nothing.",
    "restricted_action": "I'm not allowed to post in this channel, so I did nothing.",
}


# Everything a Web API call can fail with: Slack's answer, or the network on the way.
_SLACK_FAILURES = (SlackClientError, aiohttp.ClientError, TimeoutError)


def _error_code(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "unknown_error"))
    return type(exc).__name__


def _cannot_post(code: str) -> CannotReport:
    return CannotReport(
        _CANNOT_POST.get(code, f"I couldn't post in this channel (Slack said {code}), so I did nothing.")
    )


class _SlackMessages:
    """Posting and editing, with Slack's failures turned into return values."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def _post(self, channel: str, message: SlackMessage, *, thread_ts: str | None = None) -> tuple[str, str]:
        """(channel, ts) of the posted message; raises CannotReport."""
        try:
            posted = await self._client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message.as_kwargs())
        except _SLACK_FAILURES as exc:
            code = _error_code(exc)
            log.warning("could not post in %s: %s", channel, code)
            raise _cannot_post(code) from None
        return str(posted["channel"]), str(posted["ts"])

    async def _update(self, channel: str, ts: str, message: SlackMessage) -> bool:
        try:
            await self._client.chat_update(channel=channel, ts=ts, **message.as_kwargs())
        except _SLACK_FAILURES as exc:
            log.warning("chat.update %s/%s failed: %s", channel, ts, _error_code(exc))
            return False
        return True

    async def _delete(self, channel: str, ts: str) -> None:
        try:
            await self._client.chat_delete(channel=channel, ts=ts)
        except _SLACK_FAILURES as exc:
            log.warning("could not delete %s/%s: %s", channel, ts, _error_code(exc))

    async def _direct_message(self, user_id: str, message: SlackMessage) -> None:
        try:
            await self._client.chat_postMessage(channel=user_id, **message.as_kwargs())
        except _SLACK_FAILURES as exc:
            log.warning("could not message %s directly: %s", user_id, _error_code(exc))


class ThreadReporter(_SlackMessages, Generic[V]):
    """Shows something that resolves over time: a parent message, and a status message in its
    thread edited as it goes; the parent shows the final outcome too."""

    def __init__(
        self,
        client: AsyncWebClient,
        render_parent: Callable[[V], SlackMessage],
        render_status: Callable[[V], SlackMessage],
        is_final: Callable[[V], bool],
    ) -> None:
        super().__init__(client)
        self._render_parent = render_parent
        self._render_status = render_status
        self._is_final = is_final

    async def open(self, channel: str, view: V) -> ActionThread:
        channel, parent_ts = await self._post(channel, self._render_parent(view))
        try:
            _, status_ts = await self._post(channel, self._render_status(view), thread_ts=parent_ts)
        except CannotReport:
            # Nothing will be done, so no message may stay behind saying it is being done.
            await self._delete(channel, parent_ts)
            raise
        return ActionThread(channel=channel, parent_ts=parent_ts, status_ts=status_ts)

    async def open_in_thread(self, channel: str, parent_ts: str, view: V) -> ActionThread:
        channel, status_ts = await self._post(channel, self._render_status(view), thread_ts=parent_ts)
        await self._update(channel, parent_ts, self._render_parent(view))
        return ActionThread(channel=channel, parent_ts=parent_ts, status_ts=status_ts)

    async def show(self, thread: ActionThread, view: V) -> ActionThread:
        updated = await self._update_status(thread, self._render_status(view))
        if self._is_final(view):
            # After the status message: that is what the person who asked is watching.
            await self._update(thread.channel, thread.parent_ts, self._render_parent(view))
        return updated

    async def _update_status(self, thread: ActionThread, message: SlackMessage) -> ActionThread:
        if await self._update(thread.channel, thread.status_ts, message):
            return thread
        # The status message is gone or cannot be edited: say it again in the thread, then in the channel.
        for thread_ts in (thread.parent_ts, None):
            try:
                _, status_ts = await self._post(thread.channel, message, thread_ts=thread_ts)
            except CannotReport:
                continue
            return replace(thread, status_ts=status_ts)
        return thread


def action_reporter(client: AsyncWebClient) -> ThreadReporter[ActionView]:
    """Implements `bot.actions.ActionReporter`."""
    return ThreadReporter(client, render_action_parent, render_action_status, lambda view: view.phase.final)


def slot_reporter(client: AsyncWebClient) -> ThreadReporter[SlotView]:
    """Implements `bot.slots.SlotReporter`."""
    return ThreadReporter(client, render_slot_parent, render_slot_status, lambda view: view.phase.final)


class SlackRequestMessenger(_SlackMessages):
    """Implements `bot.unlock_requests.RequestMessenger`."""

    async def post(self, request: UnlockRequest, approvers: frozenset[str] | None) -> str:
        _, ts = await self._post(request.channel, render_request(request, approvers))
        return ts

    async def show(self, request: UnlockRequest) -> None:
        if request.message_ts is not None:
            await self._update(request.channel, request.message_ts, render_request(request, None))

    async def tell_requester(self, request: UnlockRequest, outcome: ActionView | None) -> None:
        await self._direct_message(request.requester, render_requester_message(request, outcome))


class SlackNoticeBoard(_SlackMessages):
    """Implements `bot.seam_events.NoticeBoard`. A 429 is waited out by the client's retry handler."""

    async def post_notice(self, channel: str, notice: DoorNotice) -> None:
        await self._post_quietly(channel, render_door_notice(notice))

    async def post_outcome(self, channel: str, view: ActionView, approved_by: str | None) -> None:
        await self._post_quietly(channel, render_outcome_notice(view, approved_by))

    async def _post_quietly(self, channel: str, message: SlackMessage) -> None:
        try:
            await self._post(channel, message)
        except CannotReport as exc:
            log.warning("could not post a notice in %s: %s", channel, exc.user_message)
