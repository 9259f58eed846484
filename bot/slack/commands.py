"""Slash command listeners: acknowledge, parse, hand to a service, render. Nothing more."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.door_service import ActionStarted, AuditView, CommandResult, DoorOverview, DoorService
from bot.doors import DoorAmbiguous, DoorUnknown
from bot.slack.messages.doors import (
    render_ambiguous_door,
    render_audit,
    render_door_overview,
    render_unknown_door,
    render_usage,
)
from bot.slack.messages.primitives import SlackMessage
from bot.slack.messages.replies import render_notice, render_problem
from bot.slack.messages.requests import render_request_filed
from bot.unlock_requests import RequestFiled

__all__ = [
    "DoorCommands",
    "Listener",
    "answer",
    "answer_press",
    "answering_errors",
    "render_command_result",
    "submitted_text",
]

log = logging.getLogger(__name__)

_DOORS_NOT_CONFIGURED = render_notice(
    "Doors are not configured: lockbot has no Seam API key (SEAM_API_KEY). Ask the person who runs lockbot."
)
_SOMETHING_WENT_WRONG = render_notice(
    "Something went wrong on lockbot's side. Check this channel for the outcome before trying again."
)

Listener = Callable[..., Awaitable[None]]


def _wants_usage(text: str) -> bool:
    return text.strip().casefold() in ("", "help", "-h", "--help", "?")


def render_command_result(result: CommandResult) -> SlackMessage | None:
    """The ephemeral answer to the person who typed the command, if any."""
    if isinstance(result, ActionStarted):
        return None  # the action's own messages say everything
    if isinstance(result, DoorUnknown):
        return render_unknown_door(result)
    if isinstance(result, DoorAmbiguous):
        return render_ambiguous_door(result)
    if isinstance(result, RequestFiled):
        return render_request_filed(result)
    return render_problem(result)


async def answer(respond: AsyncRespond, message: SlackMessage, **options: Any) -> bool:
    """Send an ephemeral answer to the command's response_url; Slack's refusal is logged, not dropped."""
    response = await respond(response_type="ephemeral", **options, **message.as_kwargs())
    status, body = getattr(response, "status_code", None), getattr(response, "body", "")
    if status != 200:
        log.warning("Slack refused an answer at the response_url (HTTP %s): %.200s", status, body)
        return False
    return True


async def answer_press(
    body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, presser: str, message: SlackMessage
) -> None:
    """Answer a button press ephemerally where it was pressed; a press on App Home has no response_url
    and no channel to be ephemeral in, so the presser hears it by DM (where its buttons still work)."""
    if body.get("response_url") or body.get("response_urls"):
        await answer(respond, message, replace_original=False)
        return
    try:
        await client.chat_postMessage(channel=presser, **message.as_kwargs())
    except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("could not answer %s's press by DM (%s)", presser, type(exc).__name__)


def submitted_text(view: dict[str, Any], input_id: str) -> str:
    """What was typed into a modal's input (its block and action share `input_id`); "" if the
    submission does not have the shape Slack gives it."""
    found: Any = view
    for key in ("state", "values", input_id, input_id, "value"):
        found = found.get(key) if isinstance(found, dict) else None
    return str(found or "").strip()


def answering_errors(listener: Listener) -> Listener:
    """After the ack, an unexpected error is logged and the user told plainly, never shown a trace."""

    @functools.wraps(listener)
    async def guarded(*, respond: AsyncRespond, **kwargs: Any) -> None:
        try:
            await listener(respond=respond, **kwargs)
        except Exception:
            log.exception("%s failed", listener.__name__)
            try:
                await answer(respond, _SOMETHING_WENT_WRONG)
            except Exception:
                log.exception("could not tell the user about the failure")

    return guarded


class DoorCommands:
    """/lock, /unlock and /doors."""

    COMMANDS = ("/lock", "/unlock", "/doors")

    def __init__(self, service: DoorService | None) -> None:
        self._service = service

    def register(self, app: AsyncApp) -> None:
        app.command("/lock")(answering_errors(self.lock))
        app.command("/unlock")(answering_errors(self.unlock))
        app.command("/doors")(answering_errors(self.doors))

    async def lock(self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        text = str(command.get("text") or "")
        if _wants_usage(text):
            await ack(**render_usage("/lock").as_kwargs())
            return
        await ack()
        if self._service is None:
            await answer(respond, _DOORS_NOT_CONFIGURED)
            return
        result = await self._service.lock(command["user_id"], command["channel_id"], text)
        await self._answer(respond, result)

    async def unlock(self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        text = str(command.get("text") or "")
        if _wants_usage(text):
            await ack(**render_usage("/unlock").as_kwargs())
            return
        await ack()
        if self._service is None:
            await answer(respond, _DOORS_NOT_CONFIGURED)
            return
        result = await self._service.unlock(command["user_id"], command["channel_id"], text)
        await self._answer(respond, result)

    async def doors(self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        text = str(command.get("text") or "")
        if text.strip().casefold() in ("help", "-h", "--help", "?"):
            await ack(**render_usage("/doors").as_kwargs())
            return
        await ack()
        if self._service is None:
            await answer(respond, _DOORS_NOT_CONFIGURED)
            return
        words = text.split(maxsplit=1)
        if words and words[0].casefold() == "log":
            logged = await self._service.audit_log(command["user_id"], words[1] if len(words) > 1 else "")
            if isinstance(logged, AuditView):
                await answer(respond, render_audit(logged))
            else:
                await self._answer(respond, logged)
            return
        overview = await self._service.overview(command["user_id"], prefix=text)
        await answer(
            respond, render_door_overview(overview) if isinstance(overview, DoorOverview) else render_problem(overview)
        )

    @staticmethod
    async def _answer(respond: AsyncRespond, result: CommandResult) -> None:
        message = render_command_result(result)
        if message is not None:
            await answer(respond, message)
