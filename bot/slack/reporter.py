"""Shows actions and requests in Slack: messages posted, edited in place, and direct messages."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Generic, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts import AlertNotPosted
from bot.break_glass import EmergencyUnlock
from bot.model import (
    ActionThread,
    ActionView,
    CannotReport,
    Relock,
    ReminderHistory,
    UnlockedAlert,
    UnlockRequest,
    utcnow,
)
from bot.reminders import Reminder, ReminderPost
from bot.seam_events import DoorNotice
from bot.slack.messages.actions import render_action_parent, render_action_status
from bot.slack.messages.emergencies import render_emergency_direct_message, render_emergency_notice
from bot.slack.messages.notices import (
    render_door_notice,
    render_outcome_notice,
    render_unlocked_alert,
    render_unlocked_alert_locked,
)
from bot.slack.messages.primitives import SlackMessage
from bot.slack.messages.relocks import (
    render_relock_failed,
    render_relock_gave_up,
    render_relock_locked_on_retry,
    render_relock_retrying,
    render_relock_settled,
)
from bot.slack.messages.reminders import render_reminder
from bot.slack.messages.requests import render_request, render_requester_message
from bot.slack.messages.slots import render_slot_parent, render_slot_status
from bot.slack.owed import OwedSlackMessages, is_lasting
from bot.slack.retries import certainly_not_taken
from bot.slots import SlotView

__all__ = [
    "Attach",
    "SlackAlertBoard",
    "SlackEmergencyAlarm",
    "SlackNoticeBoard",
    "SlackRelockMessenger",
    "SlackReminderMessenger",
    "SlackRequestMessenger",
    "ThreadReporter",
    "action_reporter",
    "slot_reporter",
]

_V = TypeVar("_V")

# Before a message is rendered: the value with what it shows looked up (a request's reminder history).
Attach = Callable[[_V], Awaitable[_V]]


async def _as_is(value: _V) -> _V:
    return value


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
        _CANNOT_POST.get(code, f"I couldn't post in this channel (Slack said {code}), so I did nothing."),
        slack_error=code,
    )


class _SlackMessages:
    """Posting and editing, with Slack's failures turned into return values. With `owed`, a final
    edit Slack does not take is kept and settled later, as is the delete of a replaced message."""

    def __init__(self, client: AsyncWebClient, owed: OwedSlackMessages | None = None) -> None:
        self._client = client
        self._owed = owed

    async def _post(self, channel: str, message: SlackMessage, *, thread_ts: str | None = None) -> tuple[str, str]:
        """(channel, ts) of the posted message; raises CannotReport."""
        try:
            posted = await self._client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message.as_kwargs())
        except _SLACK_FAILURES as exc:
            code = _error_code(exc)
            log.warning("could not post in %s: %s", channel, code)
            raise _cannot_post(code) from None
        return str(posted["channel"]), str(posted["ts"])

    async def _update(self, channel: str, ts: str, message: SlackMessage, *, final: bool = False) -> bool:
        """Edit the message; a `final` edit Slack does not take now is owed, to be made later."""
        failure = await self._edit(channel, ts, message)
        if failure is not None and final:
            await self._owe_edit(channel, ts, message, failure)
        return failure is None

    async def _edit(self, channel: str, ts: str, message: SlackMessage) -> Exception | None:
        at = utcnow()
        try:
            await self._client.chat_update(channel=channel, ts=ts, **message.as_kwargs())
        except _SLACK_FAILURES as exc:
            log.warning("chat.update %s/%s failed: %s", channel, ts, _error_code(exc))
            return exc
        if self._owed is not None:
            await self._owed.edited(channel, ts, at)
        return None

    async def _owe_edit(self, channel: str, ts: str, message: SlackMessage, failure: Exception) -> None:
        if self._owed is not None and not is_lasting(failure):
            await self._owed.owe_edit(channel, ts, message)

    async def _delete(self, channel: str, ts: str) -> None:
        try:
            await self._client.chat_delete(channel=channel, ts=ts)
        except _SLACK_FAILURES as exc:
            log.warning("could not delete %s/%s: %s", channel, ts, _error_code(exc))

    async def _direct_message(self, user_id: str, message: SlackMessage, *, or_in: tuple[str, str] | None) -> None:
        """DM the user; if Slack refuses (the app's Messages tab is off, say), reply to them in the
        thread `or_in` (channel, ts) instead. Logged once, whichever way it went."""
        try:
            await self._client.chat_postMessage(channel=user_id, **message.as_kwargs())
        except _SLACK_FAILURES as exc:
            refused = _error_code(exc)
        else:
            return
        if or_in is None:
            log.warning("could not message %s directly (%s)", user_id, refused)
            return
        channel, thread_ts = or_in
        try:
            await self._client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, **_mentioning(user_id, message).as_kwargs()
            )
        except _SLACK_FAILURES as exc:
            log.warning(
                "could not message %s directly (%s), nor in the thread %s/%s (%s)",
                user_id,
                refused,
                channel,
                thread_ts,
                _error_code(exc),
            )
        else:
            log.warning("could not message %s directly (%s): told them in %s/%s", user_id, refused, channel, thread_ts)


def _mentioning(user_id: str, message: SlackMessage) -> SlackMessage:
    """The message addressed to the user in a shared thread: the same words, with their mention first."""
    mention = f"<@{user_id}>"
    blocks = list(message.blocks)
    first = blocks[0] if blocks else None
    if first is not None and first.get("type") == "section" and first["text"].get("type") == "mrkdwn":
        blocks[0] = {**first, "text": {**first["text"], "text": f"{mention} {first['text']['text']}"}}
    else:
        blocks.insert(0, {"type": "section", "text": {"type": "mrkdwn", "text": mention}})
    return SlackMessage(text=f"{mention} {message.text}", blocks=blocks)


class ThreadReporter(_SlackMessages, Generic[_V]):
    """Shows something that resolves over time: a parent message, and a status message in its
    thread edited as it goes; the parent shows the final outcome too."""

    def __init__(
        self,
        client: AsyncWebClient,
        render_parent: Callable[[_V], SlackMessage],
        render_status: Callable[[_V], SlackMessage],
        is_final: Callable[[_V], bool],
        owed: OwedSlackMessages | None = None,
        attach: Attach[_V] = _as_is,
    ) -> None:
        super().__init__(client, owed)
        self._render_parent = render_parent
        self._render_status = render_status
        self._is_final = is_final
        self._attach = attach

    async def open(self, channel: str, view: _V) -> ActionThread:
        channel, parent_ts = await self._post(channel, self._render_parent(await self._attach(view)))
        try:
            _, status_ts = await self._post(channel, self._render_status(view), thread_ts=parent_ts)
        except CannotReport:
            # Nothing will be done, so no message may stay behind saying it is being done.
            await self._delete(channel, parent_ts)
            raise
        return ActionThread(channel=channel, parent_ts=parent_ts, status_ts=status_ts)

    async def open_in_thread(self, channel: str, parent_ts: str, view: _V) -> ActionThread:
        channel, status_ts = await self._post(channel, self._render_status(view), thread_ts=parent_ts)
        await self._update(channel, parent_ts, self._render_parent(await self._attach(view)))
        return ActionThread(channel=channel, parent_ts=parent_ts, status_ts=status_ts)

    async def show(self, thread: ActionThread, view: _V) -> ActionThread:
        final = self._is_final(view)
        updated = await self._update_status(thread, self._render_status(view), final=final)
        if final:
            # After the status message: that is what the person who asked is watching.
            await self._update(
                thread.channel, thread.parent_ts, self._render_parent(await self._attach(view)), final=True
            )
        return updated

    async def _update_status(self, thread: ActionThread, message: SlackMessage, *, final: bool) -> ActionThread:
        failure = await self._edit(thread.channel, thread.status_ts, message)
        if failure is None:
            return thread
        # The status message is gone or cannot be edited: say it again in the thread, then in the channel.
        for thread_ts in (thread.parent_ts, None):
            try:
                _, status_ts = await self._post(thread.channel, message, thread_ts=thread_ts)
            except CannotReport:
                continue
            if self._owed is not None and not is_lasting(failure):
                # Still there, saying what is no longer true: it goes once Slack lets it.
                await self._owed.owe_delete(thread.channel, thread.status_ts)
            return replace(thread, status_ts=status_ts)
        if final:
            await self._owe_edit(thread.channel, thread.status_ts, message, failure)
        return thread


def action_reporter(
    client: AsyncWebClient, owed: OwedSlackMessages | None = None, attach: Attach[ActionView] = _as_is
) -> ThreadReporter[ActionView]:
    """Implements `bot.actions.ActionReporter`. `attach`: what an approved request's parent shows besides
    (`bot.reminders.ReminderHistories.attach_to_action`)."""
    return ThreadReporter(
        client, render_action_parent, render_action_status, lambda view: view.state.final, owed, attach
    )


def slot_reporter(client: AsyncWebClient, owed: OwedSlackMessages | None = None) -> ThreadReporter[SlotView]:
    """Implements `bot.slots.SlotReporter`."""
    return ThreadReporter(client, render_slot_parent, render_slot_status, lambda view: view.state.final, owed)


class SlackRequestMessenger(_SlackMessages):
    """Implements `bot.unlock_requests.RequestMessenger`. `attach`: what a request's message shows
    besides, looked up before it is edited (`bot.reminders.ReminderHistories.attach`)."""

    def __init__(
        self, client: AsyncWebClient, owed: OwedSlackMessages | None = None, attach: Attach[UnlockRequest] = _as_is
    ) -> None:
        super().__init__(client, owed)
        self._attach = attach

    async def post(self, request: UnlockRequest, approvers: frozenset[str] | None) -> str:
        _, ts = await self._post(request.channel, render_request(request, approvers))
        return ts

    async def show(self, request: UnlockRequest) -> None:
        if request.message_ts is not None:
            shown = render_request(await self._attach(request), None)
            await self._update(request.channel, request.message_ts, shown, final=True)

    async def tell_requester(self, request: UnlockRequest, outcome: ActionView | None) -> None:
        thread = (request.channel, request.message_ts) if request.message_ts is not None else None
        await self._direct_message(request.requester, render_requester_message(request, outcome), or_in=thread)


class SlackReminderMessenger(SlackRequestMessenger):
    """Implements `bot.reminders.ReminderMessenger`."""

    async def remind(self, reminder: Reminder) -> ReminderPost:
        request = reminder.request
        try:
            await self._client.chat_postMessage(
                channel=request.channel, thread_ts=request.message_ts, **render_reminder(reminder).as_kwargs()
            )
        except _SLACK_FAILURES as exc:
            log.warning("could not post a reminder in %s/%s: %s", request.channel, request.message_ts, _error_code(exc))
            return ReminderPost.FAILED_FOR_GOOD if is_lasting(exc) else ReminderPost.FAILED_FOR_NOW
        return ReminderPost.POSTED

    async def show_reminded(self, request: UnlockRequest, history: ReminderHistory) -> None:
        if request.message_ts is not None:
            message = render_request(replace(request, reminded=history), history.approvers)
            await self._update(request.channel, request.message_ts, message)


class SlackNoticeBoard(_SlackMessages):
    """Implements `bot.seam_events.NoticeBoard`. A 429 is waited out by the client's retry handler."""

    async def post_notice(self, channel: str, notice: DoorNotice) -> None:
        await self._post_quietly(channel, render_door_notice(notice))

    async def post_outcome(
        self, channel: str, view: ActionView, approved_by: str | None, lock_device_id: str | None = None
    ) -> None:
        await self._post_quietly(channel, render_outcome_notice(view, approved_by, lock_device_id))

    async def _post_quietly(self, channel: str, message: SlackMessage) -> None:
        try:
            await self._post(channel, message)
        except CannotReport as exc:
            log.warning("could not post a notice in %s: %s", channel, exc.user_message)


class SlackRelockMessenger(_SlackMessages):
    """Implements `bot.relocks.RelockMessenger`. `attach`: as `action_reporter`'s, for the unlock's parent."""

    def __init__(
        self, client: AsyncWebClient, owed: OwedSlackMessages | None = None, attach: Attach[ActionView] = _as_is
    ) -> None:
        super().__init__(client, owed)
        self._attach = attach

    async def settled(self, relock: Relock, parent: ActionView) -> None:
        await self._post_or_log(relock.channel, render_relock_settled(relock), thread_ts=relock.parent_ts)
        shown = render_action_parent(await self._attach(parent))
        await self._update(relock.channel, relock.parent_ts, shown, final=True)

    async def unlock_ended(self, thread: ActionThread, unlock: ActionView) -> None:
        await self._update(thread.channel, thread.status_ts, render_action_status(unlock), final=True)

    async def failed(
        self, relock: Relock, outcome: ActionView, notify_channel: str | None, *, retry_in: timedelta | None = None
    ) -> None:
        await self._post_or_log(
            relock.channel,
            render_relock_failed(relock, outcome, mentioning=relock.unlocked_by, retry_in=retry_in),
            thread_ts=relock.parent_ts,
        )
        told = render_relock_failed(relock, outcome, retry_in=retry_in)
        await self._direct_message(relock.unlocked_by, told, or_in=None)
        if notify_channel is not None and notify_channel != relock.channel:
            await self._post_or_log(notify_channel, told)

    async def retrying(self, relock: Relock, outcome: ActionView, *, retry_in: timedelta, tries: int) -> None:
        message = render_relock_retrying(relock, outcome, retry_in=retry_in, tries=tries)
        if relock.status_ts is None or not await self._update(relock.channel, relock.status_ts, message):
            log.info("relock of %s: its status message could not be edited; saying it in the thread", relock.device_id)
            await self._post_or_log(relock.channel, message, thread_ts=relock.parent_ts)

    async def locked_on_retry(self, relock: Relock, outcome: ActionView, *, tries: int) -> None:
        await self._post_or_log(
            relock.channel, render_relock_locked_on_retry(relock, outcome, tries=tries), thread_ts=relock.parent_ts
        )

    async def gave_up(self, relock: Relock, notify_channel: str | None) -> None:
        await self._post_or_log(
            relock.channel, render_relock_gave_up(relock, mentioning=relock.unlocked_by), thread_ts=relock.parent_ts
        )
        await self._direct_message(relock.unlocked_by, render_relock_gave_up(relock), or_in=None)
        if notify_channel is not None and notify_channel != relock.channel:
            await self._post_or_log(notify_channel, render_relock_gave_up(relock))

    async def _post_or_log(self, channel: str, message: SlackMessage, *, thread_ts: str | None = None) -> None:
        try:
            await self._post(channel, message, thread_ts=thread_ts)
        except CannotReport as exc:
            log.warning("could not post about a relock in %s: %s", channel, exc.user_message)


class SlackEmergencyAlarm(_SlackMessages):
    """Implements `bot.break_glass.EmergencyAlarm`: the notices first, then each approver directly."""

    async def sound(self, unlock: EmergencyUnlock, channels: Sequence[str], recipients: Sequence[str]) -> None:
        notice = render_emergency_notice(unlock)
        for channel in channels:
            try:
                await self._post(channel, notice)
            except CannotReport as exc:
                log.warning("could not post an emergency notice in %s: %s", channel, exc.user_message)
        told = render_emergency_direct_message(unlock)
        for user_id in recipients:
            await self._direct_message(user_id, told, or_in=None)


class SlackAlertBoard(_SlackMessages):
    """Implements `bot.alerts.AlertBoard`: the alert posted once; its final edit owed if Slack does not take it."""

    async def post_alert(self, alert: UnlockedAlert, unlocked_for: timedelta) -> str | AlertNotPosted:
        message = render_unlocked_alert(alert, unlocked_for)
        try:
            posted = await self._client.chat_postMessage(channel=alert.channel, **message.as_kwargs())
        except _SLACK_FAILURES as exc:
            log.warning("could not post the unlocked alert in %s: %s", alert.channel, _error_code(exc))
            return AlertNotPosted.NOT_TAKEN if certainly_not_taken(exc) else AlertNotPosted.UNCERTAIN
        return str(posted["ts"])

    async def withdraw(self, alert: UnlockedAlert, notice_ts: str) -> None:
        await self._delete(alert.channel, notice_ts)

    async def show_locked(self, alert: UnlockedAlert) -> None:
        if alert.notice_ts is not None:
            await self._update(alert.channel, alert.notice_ts, render_unlocked_alert_locked(alert), final=True)
