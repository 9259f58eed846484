"""Builds lockbot from its Settings and wires the parts together. Nothing else reads settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions import DoorActions
from bot.config import Settings
from bot.door_service import DoorDirectory, DoorService
from bot.policy import Policy
from bot.seam import SeamClient
from bot.slack.commands import DoorCommands
from bot.slack.people import SlackPeople
from bot.slack.reporter import SlackActionReporter
from bot.tracking import AttemptTracker

__all__ = ["Lockbot", "build_lockbot"]

log = logging.getLogger(__name__)


@dataclass
class Lockbot:
    """Every long-lived part of a running lockbot."""

    settings: Settings
    bolt: AsyncApp
    slack: AsyncWebClient
    seam: SeamClient | None
    tracker: AttemptTracker | None

    def web_application(self) -> web.Application:
        """The HTTP routes: Slack's requests (HTTP mode only) and the health check."""
        application = web.Application()
        if not self.settings.socket_mode:
            application.router.add_post("/slack/events", self._slack_events)
        application.router.add_get("/healthz", self._healthz)
        return application

    async def _slack_events(self, request: web.Request) -> web.Response:
        bolt_response = await self.bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": True, "doors": self.settings.doors_enabled, "slots": self.settings.slots_enabled}
        )

    async def aclose(self) -> None:
        if self.tracker is not None:
            await self.tracker.aclose()
        if self.seam is not None:
            await self.seam.aclose()


def _slack_client(settings: Settings) -> AsyncWebClient:
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=5),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


class _IgnoreBoltTokenFromEnvironment(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that the client's token wins; it is the same token."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def build_lockbot(settings: Settings) -> Lockbot:
    slack = _slack_client(settings)
    bolt_logger = logging.getLogger("slack_bolt")
    if not any(isinstance(known, _IgnoreBoltTokenFromEnvironment) for known in bolt_logger.filters):
        bolt_logger.addFilter(_IgnoreBoltTokenFromEnvironment())
    signing_secret = settings.slack_signing_secret
    bolt = AsyncApp(
        client=slack,
        signing_secret=signing_secret.get_secret_value() if signing_secret else "",
        request_verification_enabled=not settings.socket_mode,
        logger=bolt_logger,
    )

    @bolt.error
    async def _log_unhandled(error: Exception) -> None:
        log.error("unhandled error in a Slack listener: %r", error)

    policy = Policy()
    people = SlackPeople(slack)
    seam: SeamClient | None = None
    tracker: AttemptTracker | None = None
    door_service: DoorService | None = None
    if settings.seam_api_key is not None:
        seam = SeamClient(
            api_key=settings.seam_api_key.get_secret_value(),
            endpoint=settings.seam_endpoint,
            timeout=settings.lockbot_seam_timeout,
        )
        tracker = AttemptTracker(seam, deadline_seconds=settings.lockbot_action_timeout)
        actions = DoorActions(
            seam, tracker, SlackActionReporter(slack), timeout_seconds=settings.lockbot_action_timeout
        )
        door_service = DoorService(DoorDirectory(seam), people, policy, actions)
    else:
        log.warning("SEAM_API_KEY is not set: door commands will say doors are not configured")
    DoorCommands(door_service).register(bolt)
    return Lockbot(settings=settings, bolt=bolt, slack=slack, seam=seam, tracker=tracker)
