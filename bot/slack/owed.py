"""What is still owed to Slack: final edits and deletes it did not take, settled when it answers again.

A final edit of a message (an action's parent, a request's decision) or the delete of a status
message that was replaced can fail while Slack is down or failing. The message would then say
"Unlocking…" for good. Such an edit is stored (`OwedMessageStore`), tried again with backoff by a
background loop on whichever instance claims it first, and at start, so a restart settles it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.model import OwedSlackMessage, new_id, utcnow
from bot.slack.messages.primitives import SlackMessage

__all__ = ["OwedMessageStore", "OwedSlackMessages", "is_lasting"]

log = logging.getLogger(__name__)

# After this many tries a debt is given up (about 20 minutes of backoff).
_MAX_ATTEMPTS = 12
_FIRST_RETRY_SECONDS = 1.0
_LONGEST_RETRY_SECONDS = 300.0
# How long an instance holds a debt it is settling; another may take it after that.
_CLAIM = timedelta(seconds=30)
# The longest the loop sleeps without looking again (another instance may have added one).
_IDLE_SECONDS = 30.0

# Slack's answers that no retry changes: the debt is dropped. Anything else (a 5xx, a 429, the
# network, Slack's internal errors) is worth another try.
_LASTING = frozenset(
    {
        "message_not_found",
        "cant_update_message",
        "cant_delete_message",
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "edit_window_closed",
        "invalid_blocks",
        "msg_too_long",
        "no_text",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "missing_scope",
    }
)
_SLACK_FAILURES = (SlackClientError, aiohttp.ClientError, TimeoutError)


def is_lasting(exc: Exception) -> bool:
    """Whether Slack's refusal will be the same however often the call is made again."""
    if isinstance(exc, SlackApiError) and exc.response.status_code < 500:
        return str(exc.response.get("error", "")) in _LASTING
    return False


class OwedMessageStore(Protocol):
    """Where debts to Slack are kept (implemented by `bot.store.Store`)."""

    async def owe_slack_message(self, owed: OwedSlackMessage) -> None: ...

    async def claim_owed_slack_messages(self, now: datetime, claim_until: datetime) -> list[OwedSlackMessage]: ...

    async def settle_owed_slack_message(self, owed: OwedSlackMessage) -> None: ...

    async def postpone_owed_slack_message(self, owed: OwedSlackMessage, due_at: datetime) -> None: ...

    async def forget_owed_slack_message(self, channel: str, ts: str, *, owed_before: datetime) -> None: ...

    async def next_owed_slack_message(self) -> datetime | None: ...


def _retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(_LONGEST_RETRY_SECONDS, _FIRST_RETRY_SECONDS * 2**attempts))


class OwedSlackMessages:
    """Keeps and settles what Slack still owes lockbot's messages."""

    def __init__(
        self, client: AsyncWebClient, store: OwedMessageStore, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._client = client
        self._store = store
        self._clock = clock
        self._added = asyncio.Event()
        # Messages this instance owes something: a later live edit of one makes its debt stale.
        self._owed_here: set[tuple[str, str]] = set()

    async def owe_edit(self, channel: str, ts: str, message: SlackMessage) -> None:
        """The message must end up reading `message`; never raises."""
        await self._owe(channel, ts, json.dumps(message.as_kwargs()))

    async def owe_delete(self, channel: str, ts: str) -> None:
        """The message must go; never raises."""
        await self._owe(channel, ts, None)

    async def _owe(self, channel: str, ts: str, message: str | None) -> None:
        now = self._clock()
        owed = OwedSlackMessage(
            channel=channel,
            ts=ts,
            owe_id=new_id(),
            message=message,
            attempts=1,  # the live call that failed
            due_at=now + _retry_delay(0),
            owed_at=now,
        )
        try:
            await self._store.owe_slack_message(owed)
        except Exception:
            log.exception("could not remember the %s owed to %s/%s", "edit" if message else "delete", channel, ts)
            return
        self._owed_here.add((channel, ts))
        self._added.set()

    async def edited(self, channel: str, ts: str, at: datetime) -> None:
        """A live edit of the message, made at `at`, went through: what was owed to it before is stale."""
        if (channel, ts) not in self._owed_here:
            return
        self._owed_here.discard((channel, ts))
        try:
            await self._store.forget_owed_slack_message(channel, ts, owed_before=at)
        except Exception:
            log.exception("could not forget the edit owed to %s/%s", channel, ts)

    async def settle_due(self) -> int:
        """Try every debt due now that no other instance holds; returns how many were settled."""
        now = self._clock()
        settled = 0
        for owed in await self._store.claim_owed_slack_messages(now, now + _CLAIM):
            try:
                await self._apply(owed)
            except _SLACK_FAILURES as exc:
                if is_lasting(exc) or owed.attempts + 1 >= _MAX_ATTEMPTS:
                    log.warning(
                        "giving up the %s owed to %s/%s after %d tries: %s",
                        "edit" if owed.message is not None else "delete",
                        owed.channel,
                        owed.ts,
                        owed.attempts + 1,
                        _error_code(exc),
                    )
                    await self._store.settle_owed_slack_message(owed)
                else:
                    await self._store.postpone_owed_slack_message(owed, self._clock() + _retry_delay(owed.attempts))
                continue
            await self._store.settle_owed_slack_message(owed)
            self._owed_here.discard((owed.channel, owed.ts))
            log.info(
                "made the %s owed to %s/%s since %s",
                "edit" if owed.message is not None else "delete",
                owed.channel,
                owed.ts,
                owed.owed_at.isoformat(),
            )
            settled += 1
        return settled

    async def _apply(self, owed: OwedSlackMessage) -> None:
        if owed.message is None:
            await self._client.chat_delete(channel=owed.channel, ts=owed.ts)
            return
        message = json.loads(owed.message)
        await self._client.chat_update(channel=owed.channel, ts=owed.ts, **message)

    async def run(self) -> None:
        """Until cancelled: settle debts as they come due (from the start: a restart settles them too)."""
        while True:
            self._added.clear()
            wait = _IDLE_SECONDS
            try:
                await self.settle_due()
                due = await self._store.next_owed_slack_message()
            except Exception:
                log.exception("settling what is owed to Slack failed; trying again shortly")
                due = None
                wait = _FIRST_RETRY_SECONDS * 5
            if due is not None:
                wait = min(wait, max(0.25, (due - self._clock()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._added.wait(), wait)


def _error_code(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "unknown_error"))
    return type(exc).__name__
