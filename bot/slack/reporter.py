"""Shows actions in Slack: a parent message in the channel and a status message in its thread."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions import ActionPhase, ActionThread, ActionView, CannotReport
from bot.slack.blocks import SlackMessage, render_action_parent, render_action_status

__all__ = ["SlackActionReporter"]

log = logging.getLogger(__name__)

_INVITE = "Invite me with `/invite @lockbot`, or use the command in a DM with me."
_CANNOT_POST = {
    "not_in_channel": f"I'm not in this channel, so I did nothing. {_INVITE}",
    "channel_not_found": f"I can't post here, so I did nothing. {_INVITE}",
    "is_archived": "This channel is archived, so I can't post the outcome here; I did nothing.",
    "restricted_action": "I'm not allowed to post in this channel, so I did nothing.",
}


def _error_code(exc: SlackClientError) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "unknown_error"))
    return type(exc).__name__


class SlackActionReporter:
    """Implements `bot.actions.ActionReporter` with chat.postMessage and chat.update."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def open(self, channel: str, view: ActionView) -> ActionThread:
        try:
            parent = await self._client.chat_postMessage(
                channel=channel, **render_action_parent(view).as_kwargs()
            )
            parent_ts = str(parent["ts"])
            status = await self._client.chat_postMessage(
                channel=channel, thread_ts=parent_ts, **render_action_status(view).as_kwargs()
            )
        except SlackClientError as exc:
            code = _error_code(exc)
            log.warning("could not announce an action in %s: %s", channel, code)
            raise CannotReport(
                _CANNOT_POST.get(
                    code, f"I couldn't post in this channel (Slack said {code}), so I did nothing."
                )
            ) from None
        return ActionThread(channel=str(parent["channel"]), parent_ts=parent_ts, status_ts=str(status["ts"]))

    async def show(self, thread: ActionThread, view: ActionView) -> ActionThread:
        status = render_action_status(view)
        if view.phase in (ActionPhase.WORKING, ActionPhase.PENDING):
            return await self._update_status(thread, status)
        # The outcome: both messages at once, so neither waits for the other.
        updated, _ = await asyncio.gather(
            self._update_status(thread, status),
            self._update(thread.channel, thread.parent_ts, render_action_parent(view)),
        )
        return updated

    async def _update_status(self, thread: ActionThread, message: SlackMessage) -> ActionThread:
        if await self._update(thread.channel, thread.status_ts, message):
            return thread
        # The status message is gone or cannot be edited: say it again in the thread, then in the channel.
        for thread_ts in (thread.parent_ts, None):
            try:
                posted = await self._client.chat_postMessage(
                    channel=thread.channel, thread_ts=thread_ts, **message.as_kwargs()
                )
            except SlackClientError as exc:
                log.warning("could not re-post status in %s: %s", thread.channel, _error_code(exc))
                continue
            return replace(thread, status_ts=str(posted["ts"]))
        return thread

    async def _update(self, channel: str, ts: str, message: SlackMessage) -> bool:
        try:
            await self._client.chat_update(channel=channel, ts=ts, **message.as_kwargs())
        except SlackClientError as exc:
            log.warning("chat.update %s/%s failed: %s", channel, ts, _error_code(exc))
            return False
        return True
