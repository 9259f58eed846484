"""What a run measured: each ack, each action's outcome, each burst, and the spread of a sample."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness.config import ACK_LIMIT_S
from bench.harness.processes import Memory, ServedProcess

__all__ = [
    "ActionResult",
    "Burst",
    "Delivery",
    "LockbotRun",
    "Results",
    "Sent",
    "Spread",
    "TraceRecord",
    "fmt",
    "percentile",
]

IDLE_SETTLE_S = 0.5  # after /healthz first answers, before reading an idle process's memory


@dataclass(frozen=True)
class Sent:
    """One request of a burst and its answer, on the sender's clock (status 0: no answer)."""

    status: int
    body: str
    latency_s: float  # send -> HTTP response, on the sender's perf_counter
    sent_at: float  # epoch seconds
    target: int = 0  # the index of the instance it went to

    @property
    def slow(self) -> bool:
        """Over Slack's 3 s, or no answer at all."""
        return self.status == 0 or self.latency_s > ACK_LIMIT_S


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def fmt(value: float | None, digits: int = 0) -> str:
    """A figure rounded to `digits`, or "-" when there is none."""
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.{digits}f}"


@dataclass(frozen=True)
class Spread:
    """n, p50, p99 and max of a sample."""

    n: int
    p50: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(len(values), percentile(values, 50), percentile(values, 99), max(values, default=math.nan))

    def text(self, digits: int = 0) -> str:
        return f"{fmt(self.p50, digits)} / {fmt(self.p99, digits)} / {fmt(self.max, digits)}"


@dataclass
class ActionResult:
    """One lockbot action, as the fakes saw it."""

    channel: str
    attempt_id: str | None
    outcome: str  # the final status text's first word, or "unfinished"
    lag_ms: float | None  # attempt completed -> final chat.update of its status message
    final_at: float | None = None  # epoch seconds of that chat.update
    completed_at: float | None = None  # epoch seconds: the Seam fake completed the attempt


@dataclass
class Burst:
    """A burst at the bare app."""

    acks: list[Sent]
    listen_drops: int
    cpu_s: float = 0.0  # the app's CPU while the burst was sent and answered


@dataclass
class LockbotRun:
    """A burst (or a lone command) at lockbot: its acks, its actions' outcomes, the Seam calls it cost."""

    acks: list[Sent]
    actions: list[ActionResult]
    seam_calls: dict[str, int]
    duration_s: float
    listen_drops: int = 0
    instances: int = 1
    cpu_ack_s: float = 0.0  # lockbot's CPU (all instances) until the last ack
    cpu_s: float = 0.0  # ... until every outcome was shown
    began_at: float = 0.0  # epoch seconds: the burst was about to be sent
    ended_at: float = 0.0  # ... every outcome was shown
    # lockbot's connections to the fake Slack and to the Seam fake (all instances), before and after
    connections: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))


@dataclass
class Delivery:
    """One webhook delivery by the bench (as Seam), from deliver_outcomes' line."""

    attempt_id: str
    completed_ms: float
    seen_at: float
    sent_at: float
    answered_at: float
    status: int


@dataclass(frozen=True)
class TraceRecord:
    """One call inside a traced lockbot (bench/traced_bot.py)."""

    label: str
    start: float
    end: float


@dataclass
class Results:
    """Everything one run measured, filled in step by step by the scenario, read by the report."""

    bare_acks: list[list[Sent]] = field(default_factory=list)
    bare_drops: list[int] = field(default_factory=list)
    bare_cpu: list[float] = field(default_factory=list)
    lockbot_rounds: list[LockbotRun] = field(default_factory=list)
    cold: LockbotRun | None = None
    warm: list[LockbotRun] = field(default_factory=list)
    bare_lone: list[Sent] = field(default_factory=list)
    sdk: list[dict[str, Any]] = field(default_factory=list)
    sdk_info: dict[str, Any] = field(default_factory=dict)
    sdk_note: str = ""
    # bursts of --big-burst
    bare_big: list[Burst] = field(default_factory=list)
    lockbot_big: list[LockbotRun] = field(default_factory=list)
    scale: list[LockbotRun] = field(default_factory=list)  # on PostgreSQL, 1, 2, ... instances
    scale_note: str = ""
    # Seam webhooks
    webhook_cold: LockbotRun | None = None
    webhook_warm: list[LockbotRun] = field(default_factory=list)
    webhook_rounds: list[LockbotRun] = field(default_factory=list)
    webhook_after: list[LockbotRun] = field(default_factory=list)  # lone /lock after the webhook bursts
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    webhook_note: str = ""
    # memory (by app, then moment) and start-up
    memory: dict[str, dict[str, Memory]] = field(default_factory=dict)
    starts: dict[str, list[float]] = field(default_factory=dict)
    idle: dict[str, list[Memory]] = field(default_factory=dict)
    # --trace: each traced lockbot's records, by its name
    traces: dict[str, list[TraceRecord]] = field(default_factory=dict)

    def collect_trace(self, process: ServedProcess) -> None:
        path = process.env.get("BENCH_TRACE")
        if path and Path(path).exists():
            lines = Path(path).read_text(encoding="utf-8").splitlines()
            self.traces[process.name] = [TraceRecord(*json.loads(line)) for line in lines if line]

    def remember(self, app: str, moment: str, process: ServedProcess) -> None:
        memory = process.memory()
        if memory is not None:
            self.memory.setdefault(app, {})[moment] = memory

    def started(self, app: str, process: ServedProcess) -> None:
        """Start-up time, and memory once settled: for every fresh process of either app."""
        if process.ready_s is not None:
            self.starts.setdefault(app, []).append(process.ready_s)
        time.sleep(IDLE_SETTLE_S)
        memory = process.memory()
        if memory is not None:
            self.idle.setdefault(app, []).append(memory)
