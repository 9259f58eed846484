"""Builds lockbot from its Settings and wires the parts together. Nothing else reads settings."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions import DoorActions
from bot.alerts import UnlockedAlerts, alert_claim
from bot.break_glass import BreakGlass
from bot.checks import describe_doors_without_lock
from bot.config import ConfigError, Settings
from bot.db import MigrationFailed
from bot.door_service import DoorDirectory, DoorService
from bot.durations import parse_duration
from bot.homes import Homes
from bot.metrics import CONTENT_TYPE, Metrics
from bot.model import ActionThread, ActionView, UnlockRequest
from bot.overbooked import SlotClient
from bot.policy import Policy
from bot.policy_file import load_policy, policy_path
from bot.relocks import Relocks
from bot.reminders import ReminderHistories, Reminders
from bot.seam import SeamClient, SeamError
from bot.seam_events import SeamEvents, UnreadableEvent
from bot.slack.buttons import RequestButtons
from bot.slack.commands import DoorCommands
from bot.slack.dispatch import RECEIVED_AT, MeasuredBolt
from bot.slack.door_buttons import DoorButtons
from bot.slack.home import HomeTab, SlackHomePublisher
from bot.slack.owed import OwedSlackMessages
from bot.slack.people import SlackPeople
from bot.slack.replays import ReplayGuard
from bot.slack.reporter import (
    SlackAlertBoard,
    SlackEmergencyAlarm,
    SlackNoticeBoard,
    SlackRelockMessenger,
    SlackReminderMessenger,
    SlackRequestMessenger,
    action_reporter,
    slot_reporter,
)
from bot.slack.retries import SlackRetry
from bot.slack.slot_commands import SlotCommands
from bot.slack.timed_unlock_buttons import TimedUnlockButtons
from bot.slack.verification import Refused, SlackRequestVerifier, Unreadable, bolt_request, is_ssl_check
from bot.slots import SlotReporter, SlotService, SlotView
from bot.store import Store
from bot.timed_unlocks import TimedUnlocks
from bot.tracking import AttemptTracker
from bot.unlock_requests import UnlockRequests

__all__ = ["Lockbot", "SignatureCheck", "build_lockbot", "open_lockbot"]

log = logging.getLogger(__name__)

SignatureCheck = Callable[[bytes, Mapping[str, str]], bool]

# The longest the start waits for Seam's lock list to check the policy's doors against.
_POLICY_DOORS_CHECK_SECONDS = 5.0


def _svix_signature_check(secret: str) -> SignatureCheck:
    """Whether a delivery carries a good, fresh Svix signature for `secret` (the svix library checks)."""
    # Imported here: svix (7 MiB) is loaded only by a lockbot that takes Seam's webhooks.
    from svix.webhooks import Webhook, WebhookVerificationError  # noqa: PLC0415

    webhook = Webhook(secret)

    def signed(body: bytes, headers: Mapping[str, str]) -> bool:
        try:
            webhook.verify(body, dict(headers))
        except (WebhookVerificationError, ValueError):
            # svix decodes the body and splits the signature header before it compares: a body that
            # is not UTF-8 or a malformed header raises ValueError there, and is as unsigned as any.
            return False
        return True

    return signed


@dataclass
class Lockbot:
    """Every long-lived part of a running lockbot."""

    settings: Settings
    bolt: AsyncApp
    slack: AsyncWebClient
    store: Store
    owed: OwedSlackMessages
    policy: Policy = field(default_factory=Policy)
    metrics: Metrics = field(default_factory=Metrics)
    seam: SeamClient | None = None
    tracker: AttemptTracker | None = None
    actions: DoorActions | None = None
    requests: UnlockRequests | None = None
    overbooked: SlotClient | None = None
    slots: SlotService | None = None
    events: SeamEvents | None = None
    relocks: Relocks | None = None
    homes: Homes | None = None
    reminders: Reminders | None = None
    alerts: UnlockedAlerts | None = None
    webhook_signed: SignatureCheck | None = None
    slack_verifier: SlackRequestVerifier | None = None
    replay_guard: ReplayGuard | None = None
    _background: list[asyncio.Task[None]] = field(default_factory=list)
    _event_tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def web_application(self) -> web.Application:
        """The HTTP routes: Slack's requests (HTTP mode only) and the health check."""
        application = web.Application()
        if not self.settings.socket_mode:
            application.router.add_post("/slack/events", self._slack_events)
        application.router.add_get("/healthz", self._healthz)
        application.router.add_get("/metrics", self._metrics)
        application.router.add_post("/webhooks/seam", self._seam_webhook)
        return application

    async def _seam_webhook(self, request: web.Request) -> web.Response:
        """Svix-signed Seam events: checked, remembered once, answered at once, handled after."""
        if self.webhook_signed is None or self.events is None:
            return web.json_response({"ok": False, "error": "Seam webhooks are not configured"}, status=404)
        body = await request.read()
        try:
            signed = self.webhook_signed(body, request.headers)
        except ValueError:
            # svix decodes the body and splits the headers before it verifies: junk fails there, unsigned.
            signed = False
        if not signed:
            return web.json_response({"ok": False, "error": "bad or stale signature"}, status=401)
        try:
            event = SeamEvents.read(body)
        except UnreadableEvent as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        if SeamEvents.ends_an_attempt(event):
            # Acted on at once, stored after: the outcome shows without waiting on the database.
            followed_here = self.events.attempt_ended(event)
            self._in_background(self.events.remember_handled(event, followed_here=followed_here), event)
        elif await self.events.receive(event):
            self._in_background(self.events.handle(event), event)
        return web.json_response({"ok": True})

    def _in_background(self, work: Coroutine[Any, Any, None], event: dict[str, Any]) -> None:
        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("handling Seam event %s failed", event.get("event_id"))

        task = asyncio.create_task(guarded(), name=f"seam-event-{event['event_id']}")
        self._event_tasks.add(task)
        task.add_done_callback(self._event_tasks.discard)

    async def warn_of_policy_doors_without_lock(self) -> None:
        """One warning line naming every door of the policy that is no Seam lock (it gets the defaults).

        Only when the policy names doors; Seam gets a few seconds to answer, and a start never waits longer."""
        if self.seam is None or not self.policy.doors:
            return
        try:
            locks = await asyncio.wait_for(self.seam.list_locks(), _POLICY_DOORS_CHECK_SECONDS)
        except (SeamError, TimeoutError) as exc:
            log.warning("could not check the policy's doors against Seam's locks (%s)", type(exc).__name__)
            return
        missing = self.policy.doors_without_lock(locks)
        if missing:
            log.warning(
                "policy: %s; they get the default rules (python -m bot check lists them too)",
                describe_doors_without_lock(missing, locks),
            )

    async def start_background_work(self) -> None:
        """Finish what was in flight before a restart, and expire requests as they come due."""
        self._background.append(asyncio.create_task(self.owed.run(), name="owed-slack-messages"))
        if self.replay_guard is not None:
            self._background.append(asyncio.create_task(self.replay_guard.keep(), name="seen-slack-requests"))
        if self.actions is not None:
            self._background.append(asyncio.create_task(self.actions.keep_leases(), name="action-leases"))
        if self.requests is not None:
            self._background.append(asyncio.create_task(self.requests.run_expiry(), name="request-expiry"))
        if self.relocks is not None:
            # Its first tick is at once: a relock due while lockbot was stopped runs now.
            self._background.append(asyncio.create_task(self.relocks.run(), name="relocks"))
        if self.homes is not None:
            self._background.append(asyncio.create_task(self.homes.run(), name="home-refreshes"))
        if self.reminders is not None:
            # Its first tick is at once too: a reminder due while lockbot was stopped is sent now, once.
            self._background.append(asyncio.create_task(self.reminders.run(), name="request-reminders"))
        if self.alerts is not None:
            # Its first tick is at once too: an alert due while lockbot was stopped is checked and posted now.
            self._background.append(asyncio.create_task(self.alerts.run(), name="unlocked-alerts"))
        if self.events is not None:
            if self.store.shared:
                self._background.append(
                    asyncio.create_task(self.events.hear_other_instances(), name="hear-other-instances")
                )
            caught_up = await self.events.catch_up()
            if caught_up:
                log.info("handled %d Seam events received before the last stop", caught_up)
        if self.slots is not None:
            self._background.append(asyncio.create_task(self._settle_slot_locks(), name="slot-settle"))

    async def _settle_slot_locks(self) -> None:
        assert self.slots is not None
        try:
            settled = await self.slots.settle_interrupted()
        except Exception:
            log.exception("settling the slot locks interrupted at the last stop failed")
            return
        if settled:
            log.info("settled %d slot locks that were being made at the last stop", settled)

    async def _slack_events(self, request: web.Request) -> web.Response:
        """Slack's requests: verified before the body is read, parsed after, each taken once."""
        assert self.slack_verifier is not None
        arrived = time.monotonic()
        body = await request.read()
        try:
            verified = self.slack_verifier.verify(body, request.headers)
        except Refused as refusal:
            if is_ssl_check(body):
                return web.Response(status=200)
            # One short line: never the body, which an unsigned sender chooses (and a stale one may be genuine).
            log.info("refused a Slack request: %s (%d bytes)", refusal, len(body))
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            incoming = bolt_request(verified, request.query_string, request.headers)
        except Unreadable as unreadable:
            log.info("a signed Slack request could not be read: %s (%d bytes)", unreadable, len(body))
            return web.json_response({"error": "unreadable request"}, status=400)
        now = datetime.now(UTC)
        until = datetime.fromtimestamp(verified.remembered_until(now.timestamp()), UTC)
        try:
            assert self.replay_guard is not None
            new = await self.replay_guard.first_sighting(verified.digest, until=until)
        except Exception as exc:
            log.warning("could not check a Slack request against those already taken (%s)", type(exc).__name__)
            return web.json_response({"error": "try again"}, status=503)
        if not new:
            # A replay, or Slack's own retry of a request already taken: it did its work the first time.
            log.info("ignored a Slack request already taken")
            return web.Response(status=200)
        incoming.context[RECEIVED_AT] = arrived
        try:
            bolt_response = await self.bolt.async_dispatch(incoming)
        except Exception as exc:
            # Signed, but a shape Slack never sends (bolt fails on it before any listener runs).
            log.info("a signed Slack request could not be handled: %s (%d bytes)", type(exc).__name__, len(body))
            return web.json_response({"error": "unreadable request"}, status=400)
        return await to_aiohttp_response(bolt_response)

    async def _metrics(self, request: web.Request) -> web.Response:
        """Prometheus' text format; with LOCKBOT_METRICS_TOKEN set, only for `Authorization: Bearer <token>`."""
        token = self.settings.lockbot_metrics_token
        if token is not None:
            expected = f"Bearer {token.get_secret_value()}".encode()
            given = request.headers.get("Authorization", "").encode("utf-8", "replace")
            if not hmac.compare_digest(given, expected):
                return web.Response(
                    status=401, text="a bearer token is needed\n", headers={"WWW-Authenticate": "Bearer"}
                )
        try:
            backlog = await self.store.backlog()
        except Exception as exc:
            # The rest is still served; the backlog gauges are left out rather than shown stale.
            log.warning("could not count the backlog for /metrics (%s)", type(exc).__name__)
            backlog = None
        return web.Response(body=self.metrics.exposition(backlog), headers={"Content-Type": CONTENT_TYPE})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": True, "doors": self.settings.doors_enabled, "slots": self.settings.slots_enabled}
        )

    async def aclose(self) -> None:
        for task in [*self._background, *self._event_tasks]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.actions is not None:
            await self.actions.aclose()
        if self.tracker is not None:
            await self.tracker.aclose()
        if self.seam is not None:
            await self.seam.aclose()
        if self.overbooked is not None:
            await self.overbooked.aclose()
        if self.slack.session is not None:
            await self.slack.session.close()
        if self.replay_guard is not None:
            await self.replay_guard.aclose()
        await self.store.close()


class _ShownOnHome:
    """The request messenger, and Homes told when a request is posted or its decision shown."""

    def __init__(self, messenger: SlackRequestMessenger, homes: Homes) -> None:
        self._messenger = messenger
        self._homes = homes

    async def post(self, request: UnlockRequest, approvers: frozenset[str] | None) -> str:
        posted = await self._messenger.post(request, approvers)
        await self._homes.changed()
        return posted

    async def show(self, request: UnlockRequest) -> None:
        await self._messenger.show(request)
        await self._homes.changed()

    async def tell_requester(self, request: UnlockRequest, outcome: ActionView | None) -> None:
        await self._messenger.tell_requester(request, outcome)


class _SlotsShownOnHome:
    """The slot reporter, and Homes told when a slot lock's state is shown (Home lists each person's slot locks)."""

    def __init__(self, reporter: SlotReporter, homes: Homes | None) -> None:
        self._reporter = reporter
        self._homes = homes

    async def open(self, channel: str, view: SlotView) -> ActionThread:
        return await self._reporter.open(channel, view)

    async def show(self, thread: ActionThread, view: SlotView) -> ActionThread:
        shown = await self._reporter.show(thread, view)
        if self._homes is not None:
            await self._homes.changed()
        return shown


# Each Slack call's time limit, and how often a call is tried again: after a 429, and as SlackRetry decides.
_SLACK_CALL_SECONDS = 30
_SLACK_RATE_LIMIT_RETRIES = 5
_SLACK_RETRIES = 2
# A Retry-After lockbot expects at most from chat.postMessage (Slack's own are a few seconds).
_SLACK_LONGEST_RETRY_AFTER_SECONDS = 30


def _slowest_slack_post() -> timedelta:
    """The longest one post can take with the client's time limit and retries."""
    tries = 1 + _SLACK_RATE_LIMIT_RETRIES + _SLACK_RETRIES
    waits = _SLACK_RATE_LIMIT_RETRIES * _SLACK_LONGEST_RETRY_AFTER_SECONDS
    return timedelta(seconds=tries * _SLACK_CALL_SECONDS + waits)


def _slack_client(settings: Settings, metrics: Metrics) -> AsyncWebClient:
    # One session for every call: without it slack_sdk opens a new session and connection per call.
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=30),
        timeout=aiohttp.ClientTimeout(total=_SLACK_CALL_SECONDS),
        trace_configs=[metrics.slack_trace()],
    )
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        session=session,
        # A 429 is retried for every method (Slack did nothing); anything else as SlackRetry decides.
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=_SLACK_RATE_LIMIT_RETRIES),
            SlackRetry(max_retry_count=_SLACK_RETRIES),
        ],
    )


class _IgnoreBoltTokenFromEnvironment(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that the client's token wins; it is the same token."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def _bolt_app(
    settings: Settings, slack: AsyncWebClient, metrics: Metrics, *, process_before_response: bool
) -> AsyncApp:
    bolt_logger = logging.getLogger("slack_bolt")
    if not any(isinstance(known, _IgnoreBoltTokenFromEnvironment) for known in bolt_logger.filters):
        bolt_logger.addFilter(_IgnoreBoltTokenFromEnvironment())
    signing_secret = settings.slack_signing_secret
    bolt = MeasuredBolt(
        metrics=metrics,
        commands=(*DoorCommands.COMMANDS, *SlotCommands.COMMANDS),
        client=slack,
        signing_secret=signing_secret.get_secret_value() if signing_secret else "",
        # HTTP requests are verified before bolt sees them (Lockbot._slack_events); Socket Mode's are not signed.
        request_verification_enabled=False,
        process_before_response=process_before_response,
        logger=bolt_logger,
    )

    @bolt.error
    async def _log_unhandled(error: Exception) -> None:
        log.error("unhandled error in a Slack listener: %r", error)

    return bolt


def _wire_doors(lockbot: Lockbot, people: SlackPeople) -> DoorService | None:
    """The door half: Seam's client, actions, requests, relocks, reminders, alerts and Homes. None
    without a Seam key (the door commands then say doors are not configured)."""
    settings, slack, owed, store, policy = lockbot.settings, lockbot.slack, lockbot.owed, lockbot.store, lockbot.policy
    metrics, bolt = lockbot.metrics, lockbot.bolt
    door_service: DoorService | None = None
    if settings.seam_api_key is not None:
        lockbot.seam = seam = SeamClient(
            api_key=settings.seam_api_key.get_secret_value(),
            endpoint=settings.seam_endpoint,
            timeout=settings.lockbot_seam_timeout,
            record=metrics.api_calls_to("seam"),
        )
        # With webhooks, Seam says when an attempt ends; polling is only the fallback.
        patience = 2.5 if settings.seam_webhook_secret is not None else 1.0
        lockbot.tracker = tracker = AttemptTracker(
            seam, deadline_seconds=settings.lockbot_action_timeout, patience=patience
        )
        # Every request message keeps who was reminded of it and when, also once it is decided.
        histories = ReminderHistories(store, policy)
        reporter = action_reporter(slack, owed, histories.attach_to_action)
        lockbot.actions = actions = DoorActions(
            seam,
            tracker,
            reporter,
            store,
            timeout_seconds=settings.lockbot_action_timeout,
            lease=timedelta(seconds=settings.lockbot_action_lease),
        )
        directory = DoorDirectory(seam)
        lockbot.homes = homes = Homes(store, directory, people, policy, SlackHomePublisher(slack))
        lockbot.requests = requests = UnlockRequests(
            store,
            policy,
            people,
            actions,
            _ShownOnHome(SlackRequestMessenger(slack, owed, histories.attach), homes),
            directory.lock_named,
        )
        requests.on_state_change(metrics.request_changed)
        break_glass = BreakGlass(policy, people, people, actions, store, SlackEmergencyAlarm(slack))
        door_service = DoorService(directory, people, policy, actions, requests, store, break_glass)
        lockbot.events = events = SeamEvents(store, policy, tracker, directory.lock_named, SlackNoticeBoard(slack))
        if settings.seam_webhook_secret is not None:
            lockbot.webhook_signed = _svix_signature_check(settings.seam_webhook_secret.get_secret_value())
        actions.on_final(metrics.action_finished)
        lockbot.relocks = relocks = Relocks(
            store,
            actions,
            SlackRelockMessenger(slack, owed, histories.attach_to_action),
            policy,
            retry_after=settings.relock_retries,
        )
        actions.on_final(relocks.quiet_retries(events.announce_outcome))
        actions.on_final(relocks.action_finished)
        lockbot.reminders = Reminders(store, SlackReminderMessenger(slack, owed, histories.attach), policy)
        actions.show_timed_unlocks_with(relocks.timed_unlock_ended_by)
        events.on_locked(relocks.door_locked)
        # A read of Seam retries within 3 timeouts (bot.api_calls), its last try taking one more.
        seam_read = timedelta(seconds=4 * settings.lockbot_seam_timeout)
        lockbot.alerts = alerts = UnlockedAlerts(
            store,
            policy,
            directory.lock_named,
            seam.get_lock,
            SlackAlertBoard(slack, owed),
            claim=alert_claim(seam_read, _slowest_slack_post()),
        )
        actions.on_final(alerts.action_finished)
        events.on_lock_change(alerts.lock_changed)
        # A door's state, a relock set or run, an approved unlock done: Homes show them.
        actions.on_final(lambda _record, _view: homes.changed())
        events.on_door_event(lambda _device_id: homes.changed())
        RequestButtons(requests, decided=homes.changed).register(bolt)
        DoorButtons(door_service).register(bolt)
        TimedUnlockButtons(TimedUnlocks(store, actions, reporter, policy, people), changed=homes.changed).register(bolt)
    else:
        log.warning("SEAM_API_KEY is not set: door commands will say doors are not configured")
        lockbot.homes = Homes(store, None, people, policy, SlackHomePublisher(slack))
    return door_service


def _wire_slots(lockbot: Lockbot, people: SlackPeople) -> SlotService | None:
    """The slot half: Overbooked's client and the slot service; None without an Overbooked key."""
    settings, slack, owed, store, policy = lockbot.settings, lockbot.slack, lockbot.owed, lockbot.store, lockbot.policy
    metrics = lockbot.metrics
    slot_service: SlotService | None = None
    if settings.overbooked_api_key is not None:
        lockbot.overbooked = overbooked = SlotClient(
            api_key=settings.overbooked_api_key.get_secret_value(),
            endpoint=settings.overbooked_endpoint,
            timeout=settings.lockbot_overbooked_timeout,
            record=metrics.api_calls_to("overbooked"),
        )
        lockbot.slots = slot_service = SlotService(
            overbooked,
            store,
            people,
            policy,
            _SlotsShownOnHome(slot_reporter(slack, owed), lockbot.homes),
            longest=parse_duration(settings.lockbot_slot_max_lock),
            # A live instance's lock call (retries within 3 timeouts, bot.api_calls), then its read of the
            # slot when the lock's outcome is unknown (as long again), each connect allowed 5 s more.
            settle_after=timedelta(seconds=6 * settings.lockbot_overbooked_timeout + 30),
        )
    else:
        log.warning("OVERBOOKED_API_KEY is not set: /slot will say slots are not configured")
    return slot_service


def build_lockbot(
    settings: Settings, store: Store, policy: Policy, *, process_before_response: bool = False
) -> Lockbot:
    """Wire every part; nothing runs until the web application or Socket Mode starts.

    `process_before_response`: bolt answers a request only after its listener is done (the console,
    which shows each command's messages before it reads the next).
    """
    metrics = Metrics()
    slack = _slack_client(settings, metrics)
    bolt = _bolt_app(settings, slack, metrics, process_before_response=process_before_response)
    owed = OwedSlackMessages(slack, store)
    lockbot = Lockbot(settings=settings, bolt=bolt, slack=slack, store=store, owed=owed, policy=policy, metrics=metrics)
    if not settings.socket_mode and settings.slack_signing_secret is not None:
        lockbot.slack_verifier = SlackRequestVerifier(settings.slack_signing_secret.get_secret_value())
        lockbot.replay_guard = ReplayGuard(store, shared=store.shared)
    people = SlackPeople(slack, policy.groups())
    door_service = _wire_doors(lockbot, people)
    assert lockbot.homes is not None
    HomeTab(lockbot.homes, door_service).register(bolt)
    DoorCommands(door_service).register(bolt)
    SlotCommands(_wire_slots(lockbot, people)).register(bolt)
    return lockbot


async def open_lockbot(settings: Settings, *, process_before_response: bool = False) -> Lockbot:
    """Read the policy, open the database (applying migrations) and build lockbot.

    Raises ConfigError for a bad policy file.
    """
    path = policy_path(settings)
    policy = load_policy(path) if path is not None else Policy()
    if path is not None:
        log.info("policy from %s", path)
    try:
        store = await Store.open(settings.database_url)
    except MigrationFailed as exc:
        raise ConfigError(f"lockbot cannot start: {exc}") from None
    except Exception as exc:
        # The driver's message may quote the URL, password included: name only the kind of failure.
        raise ConfigError(
            f"lockbot cannot start: cannot open the database in DATABASE_URL ({type(exc).__name__})"
        ) from None
    lockbot = build_lockbot(settings, store, policy, process_before_response=process_before_response)
    if lockbot.replay_guard is not None:
        # Before the first request is served: a replay of one taken before a restart is caught too.
        await lockbot.replay_guard.load()
    return lockbot
