"""lockbot's Prometheus metrics, served at `GET /metrics` in the text format (`prometheus-client`).

One registry per app (never the library's global one), so several apps in one process (tests) each
count their own. Metrics are per instance: counters and histograms count what this instance did;
the backlog gauges are the database's counts, the same on every instance sharing it (take `max`).

What is counted is counted at a few central points, not in the services: Slack requests where bolt
dispatches them (`bot.slack.dispatch`), actions and relocks as a final listener of door actions,
request decisions as a listener of unlock requests, and API calls where each HTTP call is made
(`bot.api_calls.request` for Seam and Overbooked; an aiohttp trace on the Slack client's session).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from types import SimpleNamespace

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from bot.api_calls import CallRecorder
from bot.model import ActionKind, ActionRecord, ActionState, ActionView, RequestState, UnlockRequest
from bot.relocks import RELOCK_REASON
from bot.store.backlog import Backlog

__all__ = ["CONTENT_TYPE", "Metrics", "SlackRequestKind"]

# The text format every Prometheus reads (what generate_latest writes, its names escaped to underscores).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# Slack waits 3 s for an acknowledgement: the buckets are finest well below that.
_ACK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
# From an action's start to its outcome: a lock takes seconds; LOCKBOT_ACTION_TIMEOUT is 20 s by default.
_LAG_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)


class SlackRequestKind:
    """The kinds a Slack request is counted and timed by."""

    COMMAND = "command"
    INTERACTION = "interaction"
    EVENT = "event"


class _BacklogCollector(Collector):
    """The backlog gauges, from the counts read for the scrape; absent when they could not be read."""

    def __init__(self) -> None:
        self.backlog: Backlog | None = None

    def collect(self) -> Iterable[Metric]:
        backlog = self.backlog
        if backlog is None:
            return
        yield GaugeMetricFamily(
            "lockbot_pending_requests", "Undecided unlock requests (the database's count).", backlog.pending_requests
        )
        yield GaugeMetricFamily(
            "lockbot_pending_relocks",
            "Timed unlocks waiting to lock again (the database's count).",
            backlog.pending_relocks,
        )
        yield GaugeMetricFamily(
            "lockbot_actions_in_flight",
            "Door actions not yet at an outcome: queued, requesting or pending (the database's count).",
            backlog.actions_in_flight,
        )


class Metrics:
    """Every metric of one lockbot, in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._commands = Counter(
            "lockbot_commands", "Slash commands received, by command.", ["command"], registry=self.registry
        )
        self._acknowledgement = Histogram(
            "lockbot_acknowledgement_seconds",
            "From a Slack request's arrival to its acknowledgement, by kind (command, interaction, event).",
            ["kind"],
            buckets=_ACK_BUCKETS,
            registry=self.registry,
        )
        self._actions = Counter(
            "lockbot_actions",
            "Door actions at their outcome, by kind and outcome.",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self._outcome_lag = Histogram(
            "lockbot_action_outcome_lag_seconds",
            "From a door action's start to its outcome, by kind.",
            ["kind"],
            buckets=_LAG_BUCKETS,
            registry=self.registry,
        )
        self._requests = Counter(
            "lockbot_unlock_requests",
            "Unlock requests filed (decision=filed) and decided, by decision.",
            ["decision"],
            registry=self.registry,
        )
        self._relocks = Counter(
            "lockbot_relocks",
            "Relocks of timed unlocks at their outcome, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self._api_calls = Counter(
            "lockbot_api_calls",
            "HTTP calls to Slack, Seam and Overbooked, by service and status (an HTTP status, or how it failed).",
            ["service", "status"],
            registry=self.registry,
        )
        self._backlog = _BacklogCollector()
        self.registry.register(self._backlog)
        # Known label values start at 0, so a rate is defined from the first scrape on.
        outcomes = [str(state) for state in ActionState if state.final]
        for kind in ActionKind:
            self._outcome_lag.labels(str(kind))
            for outcome in outcomes:
                self._actions.labels(str(kind), outcome)
        for outcome in outcomes:
            self._relocks.labels(outcome)
        for decision in ("filed", *(str(state) for state in RequestState if state is not RequestState.PENDING)):
            self._requests.labels(decision)
        for request_kind in (SlackRequestKind.COMMAND, SlackRequestKind.INTERACTION, SlackRequestKind.EVENT):
            self._acknowledgement.labels(request_kind)

    def known_commands(self, commands: Iterable[str]) -> None:
        """Start each command lockbot answers at 0."""
        for command in commands:
            self._commands.labels(command)

    def command(self, command: str) -> None:
        self._commands.labels(command).inc()

    def acknowledged(self, kind: str, seconds: float) -> None:
        self._acknowledgement.labels(kind).observe(seconds)

    async def action_finished(self, record: ActionRecord, view: ActionView) -> None:
        """A final listener of door actions: the outcome, how long it took, and a relock's outcome."""
        kind, outcome = str(record.kind), str(view.state)
        self._actions.labels(kind, outcome).inc()
        self._outcome_lag.labels(kind).observe(max(0.0, (record.updated_at - record.created_at).total_seconds()))
        if record.kind is ActionKind.LOCK and record.reason == RELOCK_REASON:
            self._relocks.labels(outcome).inc()

    def request_changed(self, request: UnlockRequest) -> None:
        """A state listener of unlock requests: one filed (pending), or its decision (or expiry)."""
        self._requests.labels("filed" if request.state is RequestState.PENDING else str(request.state)).inc()

    def api_calls_to(self, service: str) -> CallRecorder:
        """What a client calls after each HTTP call to `service`."""

        def record(status: str) -> None:
            self._api_calls.labels(service, status).inc()

        return record

    def slack_trace(self) -> aiohttp.TraceConfig:
        """Counts each HTTP call of the aiohttp session it is given to (the Slack Web API client's)."""
        record = self.api_calls_to("slack")
        trace = aiohttp.TraceConfig()

        async def on_end(
            session: aiohttp.ClientSession, context: SimpleNamespace, end: aiohttp.TraceRequestEndParams
        ) -> None:
            record(str(end.response.status))

        async def on_failure(
            session: aiohttp.ClientSession, context: SimpleNamespace, failure: aiohttp.TraceRequestExceptionParams
        ) -> None:
            if isinstance(failure.exception, asyncio.TimeoutError):
                record("timeout")
            elif isinstance(failure.exception, aiohttp.ClientConnectorError):
                record("unreachable")
            else:
                record("connection_lost")

        trace.on_request_end.append(on_end)
        trace.on_request_exception.append(on_failure)
        trace.freeze()
        return trace

    def exposition(self, backlog: Backlog | None) -> bytes:
        """The text format, with the backlog just read (None: it could not be, and its gauges are left out)."""
        self._backlog.backlog = backlog
        return generate_latest(self.registry)
