"""lockbot's benchmark: acknowledgement latency against a bare bolt app, outcome lag (polling and
Seam webhooks), Seam calls against Seam's own SDK, memory, start-up time, and bursts of 500 spread
over several lockbot instances on one PostgreSQL database when one instance is not enough.

    python bench/run.py [--burst 100] [--rounds 3] [--big-burst 500] [--instances 2] ...

from the repository root with the virtualenv active. Everything runs on 127.0.0.1: the fake Slack
Web API (tests/fakes/slack_api.py, a thread of this process), Seam's own fake (node), lockbot
(`python -m bot`) and the bare app (bench/bare_app.py), each its own process; the requests are
sent from a separate worker process, and the Seam webhook deliveries from another, so that the
fake Slack never shares a GIL with a stopwatch. See bench/README.md for what each figure means
and its target.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import concurrent.futures
import contextlib
import datetime
import importlib.metadata
import io
import itertools
import json
import math
import multiprocessing
import os
import platform
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.botprocess import BOT_TOKEN, SIGNING_SECRET, new_response_id, signed_headers  # noqa: E402
from tests.fakes.seam_fake import SeamFake  # noqa: E402
from tests.fakes.slack_api import FakeSlack, Message  # noqa: E402

LOCKS = ["Front Door", "Back Door", "Garage Door", "Garden Gate"]
ACTION_DELAY_MS = 1500
ACTION_TIMEOUT_S = 20
USER = "U0BENCH001"
FINAL_PREFIXES = ("Done:", "Failed:", "Not confirmed:")
ATTEMPT_ID = re.compile(r"Seam action attempt `([^`]+)`")
SEND_TIMEOUT_S = 30.0
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")  # lockbot's log format starts with the time
# Lone /lock at the lockbot with webhooks after its bursts: more than the 5 attempts per lock that
# lockbot's poll schedule remembers, so what it learns from webhook-finished attempts shows.
WEBHOOK_LONE_AFTER = 6

ACK_RATIO_TARGET = 1.25
ACK_LIMIT_S = 3.0  # Slack shows the user an error when a command is not acknowledged within 3 s
LAG_POLLING_TARGET_MS = 150.0
LAG_WEBHOOK_TARGET_MS = 50.0
LONE_CALLS_TARGET = 4
RSS_RATIO_TARGET = 2.0
IDLE_SETTLE_S = 0.5  # after /healthz first answers, before reading an idle process's memory

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"lockbot-bench-seam-webhook-secret").decode()
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# Seam's Python SDK, when lockbot's virtualenv does not have it, is installed beside the virtualenv's
# own packages rather than among them: it pins svix<2, which would replace a newer svix there.
SDK_DIR = (
    Path(sys.prefix) / "bench-seam-sdk"
    if sys.prefix != sys.base_prefix
    else Path.home() / ".cache" / "lockbot-bench" / "seam-sdk"
)
SDK_REQUIREMENT = "seam==3.18.0"
SDK_POLLING_INTERVAL_S = 0.5  # the SDK's default, for the computed fallback

_channels = itertools.count(1)


# -- HTTP on a fresh connection, as little client as possible ------------------------------------


async def post_once(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, str]:
    """POST `body` to `url` on a connection of its own (HTTP/1.1, Connection: close): (status, body).

    Hand-written rather than httpx: with 500 requests at once a full client costs the sender
    enough CPU to show in the latencies it measures, on a machine it shares with the apps.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = [f"POST {parts.path or '/'} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
        head += ["Connection: close", *(f"{name}: {value}" for name, value in headers.items())]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        length: int | None = None
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        data = await (reader.readexactly(length) if length is not None else reader.read())
        return status, data.decode("utf-8", "replace")
    finally:
        writer.close()


# -- the request sender (runs in a worker process) ---------------------------------------------


@dataclass(frozen=True)
class Sent:
    status: int
    body: str
    latency_s: float  # send -> HTTP response, on the sender's perf_counter
    sent_at: float  # epoch seconds
    target: int = 0  # the index of the instance it went to

    @property
    def slow(self) -> bool:
        """Over Slack's 3 s, or no answer at all."""
        return self.status == 0 or self.latency_s > ACK_LIMIT_S


def fire(urls: Sequence[str], requests: Sequence[tuple[str, dict[str, str]]]) -> list[Sent]:
    """POST every (body, headers) at once, request i to urls[i % len(urls)], each on its own connection."""
    return asyncio.run(_fire(urls, requests))


async def _fire(urls: Sequence[str], requests: Sequence[tuple[str, dict[str, str]]]) -> list[Sent]:
    async def one(index: int, body: str, headers: dict[str, str]) -> Sent:
        target = index % len(urls)
        sent_at = time.time()
        started = time.perf_counter()
        try:
            status, text = await asyncio.wait_for(post_once(urls[target], body.encode(), headers), SEND_TIMEOUT_S)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError, TimeoutError) as exc:
            return Sent(0, repr(exc), time.perf_counter() - started, sent_at, target)
        return Sent(status, text, time.perf_counter() - started, sent_at, target)

    return list(await asyncio.gather(*(one(i, body, headers) for i, (body, headers) in enumerate(requests))))


# -- Seam's webhook deliveries (runs in a process of its own) --------------------------------------


def deliver_outcomes(
    seam_url: str, webhook_url: str, secret: str, delay_ms: int, out_path: str, stop: ProcessEvent
) -> None:
    """Do what Seam does with a webhook: as soon as the fake says an attempt ended, POST the signed
    `action_attempt.<action>.succeeded|failed` event to `webhook_url`. One JSON line per delivery."""
    asyncio.run(_deliver_outcomes(seam_url, webhook_url, secret, delay_ms, Path(out_path), stop))


async def _deliver_outcomes(
    seam_url: str, webhook_url: str, secret: str, delay_ms: int, out_path: Path, stop: ProcessEvent
) -> None:
    from svix.webhooks import Webhook  # noqa: PLC0415 - only this process needs it

    webhook = Webhook(secret)
    delivered: set[str] = set()
    deliveries: set[asyncio.Task[None]] = set()

    async def deliver(attempt: dict[str, Any], seen_at: float, out: io.TextIOBase) -> None:
        action = str(attempt["action_type"]).lower()
        outcome = "succeeded" if attempt["status"] == "success" else "failed"
        now = datetime.datetime.now(datetime.UTC)
        occurred = datetime.datetime.fromtimestamp(attempt["completed_ms"] / 1000, datetime.UTC)
        event = {
            "event_id": str(uuid.uuid4()),
            "event_type": f"action_attempt.{action}.{outcome}",
            "action_attempt_id": attempt["action_attempt_id"],
            "device_id": attempt["device_id"],
            "workspace_id": "ws_bot_test",
            "connected_account_id": "ca_bot_test",
            "created_at": now.isoformat().replace("+00:00", "Z"),
            "occurred_at": occurred.isoformat().replace("+00:00", "Z"),
        }
        body = json.dumps(event)
        message_id = f"msg_{uuid.uuid4().hex}"
        headers = {
            "svix-id": message_id,
            "svix-timestamp": str(int(now.timestamp())),
            "svix-signature": webhook.sign(message_id, now, body),
            "Content-Type": "application/json",
        }
        sent_at = time.time()
        try:
            status, _ = await asyncio.wait_for(post_once(webhook_url, body.encode(), headers), SEND_TIMEOUT_S)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError, TimeoutError):
            status = 0
        record = {
            "attempt_id": attempt["action_attempt_id"],
            "completed_ms": attempt["completed_ms"],
            "seen_at": seen_at,
            "sent_at": sent_at,
            "answered_at": time.time(),
            "status": status,
        }
        out.write(json.dumps(record) + "\n")
        out.flush()

    async with httpx.AsyncClient(base_url=seam_url, timeout=10) as fixture:
        with out_path.open("a", encoding="utf-8") as out:
            while not stop.is_set():
                attempts = (await fixture.get("/_fixture/attempts")).json()["attempts"]
                seen_at = time.time()
                due: list[float] = []
                for attempt in attempts:
                    if attempt["action_attempt_id"] in delivered:
                        continue
                    if attempt["completed_ms"] is None:
                        due.append(attempt["created_ms"] / 1000 + delay_ms / 1000)
                        continue
                    delivered.add(attempt["action_attempt_id"])
                    task = asyncio.create_task(deliver(attempt, seen_at, out))
                    deliveries.add(task)
                    task.add_done_callback(deliveries.discard)
                # Every 2 ms from just before the soonest pending attempt is due, every 50 ms otherwise.
                until_due = min(due, default=math.inf) - time.time() - 0.03
                await asyncio.sleep(min(0.05, max(0.002, until_due)))
            if deliveries:
                await asyncio.gather(*deliveries)


# -- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Memory:
    rss_kb: int  # VmRSS: resident now
    hwm_kb: int  # VmHWM: the most it has been resident

    @classmethod
    def of(cls, pid: int | None) -> Memory | None:
        if pid is None:
            return None
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return None
        values: dict[str, str] = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.MULTILINE))
        if "VmRSS" not in values:
            return None
        return cls(int(values["VmRSS"]), int(values.get("VmHWM", values["VmRSS"])))


class ServedProcess:
    """An HTTP app as a process of its own on a port chosen here, ready once `/healthz` answers 200.

    lockbot logs its "listening on" line at INFO, which LOG_LEVEL=WARNING hides, so the port is
    chosen here (PORT) rather than read from the log.
    """

    def __init__(self, name: str, command: list[str], env: Mapping[str, str], *, cwd: Path) -> None:
        port = free_port()
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SEAM_", "LOCKBOT_"))}
        self.env = {
            **{k: v for k, v in inherited.items() if not k.startswith(("OVERBOOKED_", "DATABASE_URL"))},
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "LOCKBOT_HOST": "127.0.0.1",
            "PYTHONPATH": str(ROOT),
            **env,
            "PORT": str(port),
        }
        self.name = name
        self.command = command
        self.cwd = cwd
        self.url = f"http://127.0.0.1:{port}"
        self.logs: list[str] = []
        self.ready_s: float | None = None  # process started -> first 200 from /healthz
        self._process: subprocess.Popen[str] | None = None
        self._http = httpx.Client(timeout=1.0)

    def start(self, timeout: float = 30.0) -> ServedProcess:
        started = time.perf_counter()
        self._process = process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._collect_logs, args=(process,), daemon=True, name=f"{self.name} logs").start()
        deadline = started + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{self.name} exited while starting:\n" + "\n".join(self.logs[-30:]))
            try:
                if self._http.get(f"{self.url}/healthz").status_code == 200:
                    self.ready_s = time.perf_counter() - started
                    return self
            except httpx.TransportError:
                pass
            if time.perf_counter() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start:\n" + "\n".join(self.logs[-30:]))
            time.sleep(0.01)  # a bounded poll for the server to come up; its resolution is start-up's

    def _collect_logs(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.logs.append(line.rstrip("\n"))

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def memory(self) -> Memory | None:
        return Memory.of(self.pid)

    def connections(self) -> Counter[int]:
        """The process's established TCP connections, counted by the remote port."""
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{self.pid}/fd").iterdir()]
        except OSError:
            return Counter()
        inodes = {link[8:-1] for link in links if link.startswith("socket:[")}
        ports: Counter[int] = Counter()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(OSError):
                for row in Path(table).read_text().splitlines()[1:]:
                    columns = row.split()
                    if columns[3] == "01" and columns[9] in inodes:  # ESTABLISHED, one of this process's
                        ports[int(columns[2].rsplit(":", 1)[1], 16)] += 1
        return ports

    def cpu_s(self) -> float:
        """User + system CPU seconds the process has used so far (0 when it is not running)."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return 0.0
        fields = stat.rsplit(")", 1)[1].split()  # after the command name: state is field 3, utime 14, stime 15
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def close(self) -> None:
        self.stop()
        self._http.close()

    def problems(self) -> list[list[str]]:
        """Warnings and errors, each with the lines that follow it up to the next log line (a traceback)."""
        found: list[list[str]] = []
        within = False
        for line in self.logs:
            if LOG_LINE.match(line) or not within:
                within = bool(re.search(r"WARNING|ERROR|CRITICAL|Traceback", line))
                if within:
                    found.append([line])
            else:
                found[-1].append(line)
        return found


def command_body(command: str, text: str, *, user: str, channel: str, response_url: str) -> str:
    """A slash command's form body, as Slack sends it."""
    fields = {
        "token": "legacy-verification-token",
        "team_id": "T0000TEST",
        "team_domain": "lockbot-test",
        "channel_id": channel,
        "channel_name": "general",
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0000TEST",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{time.time():.0f}.trigger",
    }
    return urlencode(fields)


def listen_drops() -> int:
    """The kernel's count of connections refused a listening socket's full queue (all sockets)."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return 0
    for names, values in itertools.pairwise(lines):
        if names.startswith("TcpExt:") and values.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return int(table.get("ListenDrops", 0))
    return 0


# -- PostgreSQL -----------------------------------------------------------------------------------


async def _postgres(statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]  # noqa: PLC0415 - only the scale-out needs it

    connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def create_postgres_database(stack: contextlib.ExitStack) -> tuple[str | None, str]:
    """A fresh database's URL (dropped when `stack` closes), or None and why not."""
    name = f"bench_{secrets.token_hex(6)}"
    try:
        asyncio.run(_postgres(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any failure means: no PostgreSQL here
        return None, f"PostgreSQL is not usable at 127.0.0.1:5432 as user postgres ({type(exc).__name__}: {exc})"
    stack.callback(lambda: asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))
    return f"postgresql://postgres@127.0.0.1:5432/{name}", name


# -- measuring ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass(frozen=True)
class Spread:
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
class Deployment:
    """One or more lockbot instances against one Seam fake; request i goes to instance i % N."""

    name: str
    instances: list[ServedProcess]
    seam: SeamFake

    @property
    def urls(self) -> list[str]:
        return [f"{instance.url}/slack/events" for instance in self.instances]


@dataclass
class Results:
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


class Bench:
    def __init__(
        self,
        slack: FakeSlack,
        bare: ServedProcess,
        sender: concurrent.futures.Executor,
        log_level: str,
        trace_dir: Path | None = None,
        trace_only: str = "",
    ) -> None:
        self.slack, self.bare, self.sender, self.log_level = slack, bare, sender, log_level
        self.trace_dir = trace_dir  # run lockbot through bench/traced_bot.py, its traces here
        self._traces = itertools.count(1)
        self.trace_only = trace_only

    def requests(self, n: int) -> tuple[list[str], list[tuple[str, dict[str, str]]]]:
        """n signed `/lock` commands, each in a channel of its own, the doors taken in turn."""
        channels = [f"C{next(_channels):08d}" for _ in range(n)]
        requests = []
        for index, channel in enumerate(channels):
            body = command_body(
                "/lock",
                LOCKS[index % len(LOCKS)],
                user=USER,
                channel=channel,
                response_url=self.slack.response_url(new_response_id()),
            )
            requests.append((body, signed_headers(body)))
        return channels, requests

    def send(self, urls: Sequence[str], n: int) -> tuple[list[str], list[Sent], int]:
        channels, requests = self.requests(n)
        drops = listen_drops()
        acks = self.sender.submit(fire, list(urls), requests).result(SEND_TIMEOUT_S + 90)
        return channels, acks, listen_drops() - drops

    def bare_burst(self, n: int) -> Burst:
        cpu = self.bare.cpu_s()
        _, acks, drops = self.send([f"{self.bare.url}/slack/events"], n)
        return Burst(acks, drops, self.bare.cpu_s() - cpu)

    def lockbot_burst(self, n: int, lockbots: Deployment) -> LockbotRun:
        """n /lock commands at once; returns once every action shows its outcome."""
        lockbots.seam.reset()
        self.slack.reset()

        def cpu() -> float:
            return sum(instance.cpu_s() for instance in lockbots.instances)

        def connections() -> tuple[int, int]:
            ports: Counter[int] = Counter()
            for instance in lockbots.instances:
                ports.update(instance.connections())
            return ports[self.slack.port], ports[urlsplit(lockbots.seam.url).port or 0]

        connections_before = connections()
        began_at, cpu_before, started = time.time(), cpu(), time.monotonic()
        channels, acks, drops = self.send(lockbots.urls, n)
        cpu_acked = cpu()
        self._wait_finished(n, lockbots)
        duration = time.monotonic() - started
        ended_at, cpu_after = time.time(), cpu()
        calls = lockbots.seam.calls()
        actions = self._actions(channels, lockbots.seam)
        connections_after = connections()
        return LockbotRun(
            acks,
            actions,
            calls,
            duration,
            drops,
            len(lockbots.instances),
            cpu_acked - cpu_before,
            cpu_after - cpu_before,
            began_at,
            ended_at,
            (connections_before, connections_after),
        )

    def warm_up(self, lockbots: Deployment, *, with_bare: bool = False) -> None:
        """3 small bursts, 4 commands per instance each: first requests, caches and learned timings."""
        for _ in range(3):
            if with_bare:
                self.bare_burst(len(LOCKS))
            self.lockbot_burst(len(LOCKS) * len(lockbots.instances), lockbots)

    def lockbot(self, name: str, env: Mapping[str, str], cwd: Path) -> ServedProcess:
        """A lockbot process (not started) with the bench's settings over `env`."""
        settings = {"LOCKBOT_ACTION_TIMEOUT": str(ACTION_TIMEOUT_S), "LOG_LEVEL": self.log_level, **env}
        command = [sys.executable, "-m", "bot"]
        if self.trace_dir is not None:
            settings["BENCH_TRACE"] = str(self.trace_dir / f"trace-{next(self._traces)}.jsonl")
            settings["BENCH_TRACE_ONLY"] = self.trace_only
            command = [sys.executable, str(BENCH / "traced_bot.py")]
        return ServedProcess(name, command, settings, cwd=cwd)

    def _wait_finished(self, n: int, lockbots: Deployment) -> None:
        """Until every action's status message and parent message show the outcome.

        Counted every 20 ms rather than on every change of the fake: a burst of 500 makes
        thousands of changes, and counting on each would hold the fake's lock for most of them.
        """
        slack = self.slack
        deadline = time.monotonic() + ACTION_TIMEOUT_S + 30
        while True:
            statuses = parents = 0
            with slack._changed:  # the fake's own lock
                for message in slack.messages.values():
                    if message.thread_ts is None:
                        parents += len(message.history) > 1
                    else:
                        statuses += message.text.startswith(FINAL_PREFIXES)
            if statuses >= n and parents >= n:
                return
            if time.monotonic() > deadline:
                replies = [r.text for r in slack.responses]
                logs = [line for instance in lockbots.instances for line in instance.logs[-15:]]
                raise RuntimeError(
                    f"{lockbots.name}: {statuses}/{n} outcomes shown, {parents}/{n} parents edited after "
                    f"{ACTION_TIMEOUT_S + 30} s; ephemeral replies: {replies[:5]}; last log lines:\n" + "\n".join(logs)
                )
            time.sleep(0.02)

    def _actions(self, channels: Sequence[str], seam: SeamFake) -> list[ActionResult]:
        completed = {a["action_attempt_id"]: a.get("completed_ms") for a in seam.attempts()}
        statuses: dict[str, Message] = {}
        with self.slack._changed:  # the fake's own lock: one pass over its messages, not one per channel
            for message in self.slack.messages.values():
                if message.thread_ts is not None:
                    statuses[message.channel] = message
        results = []
        for channel in channels:
            status = statuses.get(channel)
            if status is None:
                results.append(ActionResult(channel, None, "no status message", None))
                continue
            found = ATTEMPT_ID.search(json.dumps(status.blocks))
            attempt_id = found.group(1) if found else None
            final = next((i for i, text in enumerate(status.history) if text.startswith(FINAL_PREFIXES)), None)
            outcome = "unfinished" if final is None else status.history[final].split(":", 1)[0]
            lag = final_at = None
            done_ms = completed.get(attempt_id) if attempt_id else None
            if final is not None and final >= 1:
                final_at = status.edited_at[final - 1]
                if done_ms is not None:
                    lag = (final_at - done_ms / 1000) * 1000
            completed_at = done_ms / 1000 if done_ms is not None else None
            results.append(ActionResult(channel, attempt_id, outcome, lag, final_at, completed_at))
        return results

    def sdk_runs(self, seam: SeamFake, attempts: int) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
        """Seam's Python SDK on single attempts against the same fake, in a child process."""
        path, note = find_seam_sdk()
        if path is None:
            return [], {}, note
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([*path, os.environ.get("PYTHONPATH", "")])}
        command = [
            sys.executable,
            str(BENCH / "seam_sdk_probe.py"),
            "--endpoint",
            seam.url,
            "--api-key",
            seam.api_key,
            "--attempts",
            str(attempts),
        ]
        for device in seam.devices:
            command += ["--device", device["device_id"]]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            return [], {}, f"the SDK probe failed: {done.stderr.strip().splitlines()[-1:]}"
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        return lines[1:], lines[0], note


def read_deliveries(path: Path) -> dict[str, Delivery]:
    if not path.exists():
        return {}
    found: dict[str, Delivery] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            found[record["attempt_id"]] = Delivery(**record)
    return found


def find_seam_sdk() -> tuple[list[str] | None, str]:
    """The PYTHONPATH entries under which `import seam` works, installing it into bench/ if needed."""
    probe = [sys.executable, "-c", "import seam, seam.modules.action_attempts"]
    if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return [], "from lockbot's virtualenv"
    env = {**os.environ, "PYTHONPATH": str(SDK_DIR)}
    if subprocess.run(probe, env=env, capture_output=True, check=False).returncode == 0:
        return [str(SDK_DIR)], f"from {SDK_DIR}"
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(SDK_DIR), SDK_REQUIREMENT]
    done = subprocess.run(install, capture_output=True, text=True, check=False)
    if done.returncode == 0 and subprocess.run(probe, env=env, capture_output=True, check=False).returncode == 0:
        return [str(SDK_DIR)], f"installed into {SDK_DIR} by this run"
    return None, "the seam package could not be installed (" + (done.stderr.strip()[-200:] or "?") + ")"


def describe_working_tree() -> str:
    def git(*argv: str) -> str:
        done = subprocess.run(["git", "-C", str(ROOT), *argv], capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("rev-parse", "--short=12", "HEAD") or "?"
    changed = git("status", "--porcelain", "--", "bot")
    return f"the working tree (HEAD {head}{', with uncommitted changes in bot/' if changed else ''})"


def export_bot(ref: str, into: Path) -> str:
    """lockbot's `bot` package as committed at `ref`, unpacked under `into`; returns the commit."""
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "bot"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return commit


# -- reporting ----------------------------------------------------------------------------------


def ms(seconds: float) -> float:
    return seconds * 1000


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.{digits}f}"


def mark(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def mib(kb: float) -> str:
    return f"{kb / 1024:.1f}"


def per_action(calls: Mapping[str, int], n: int) -> str:
    total = sum(calls.values()) / n
    parts = ", ".join(f"{path} {count / n:.2f}" for path, count in sorted(calls.items(), key=lambda kv: -kv[1]))
    return f"{total:.2f}  [{parts}]"


def ack_ms(acks: Iterable[Sent]) -> list[float]:
    return [ms(s.latency_s) for s in acks]


def lags(runs: Iterable[LockbotRun]) -> list[float]:
    return [a.lag_ms for run in runs for a in run.actions if a.lag_ms is not None]


def attempt_calls(calls: Mapping[str, int]) -> int:
    """Calls about the attempt itself: all but the door directory (/locks/list, cached 30 s)."""
    return sum(count for path, count in calls.items() if path != "/locks/list")


@dataclass(frozen=True)
class Row:
    figure: str
    lockbot: str
    other: str = ""
    target: str = ""
    verdict: str = ""


def table(rows: Sequence[Row]) -> list[str]:
    header = Row("figure", "lockbot", "bare app / Seam SDK", "target", "verdict")
    cells = [[r.figure, r.lockbot, r.other, r.target, r.verdict] for r in (header, *rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(5)]
    lines = []
    for index, row in enumerate(cells):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return lines


@dataclass(frozen=True)
class AckGroup:
    name: str
    acks: list[Sent]
    listen_drops: int
    lockbot: bool = True  # lockbot acks with an empty body: anything else is an error too

    @property
    def errors(self) -> int:
        return sum(s.status != 200 or (self.lockbot and s.body != "") for s in self.acks)


def cpu_line(out: Callable[[str], None], results: Results) -> None:
    """CPU per command in the bursts of --burst: what each app's process used (/proc/<pid>/stat)."""
    runs = results.lockbot_rounds
    commands = sum(len(run.acks) for run in runs)
    bare_commands = sum(len(acks) for acks in results.bare_acks)
    out(
        f"   CPU ms per command: bare app {fmt(1000 * sum(results.bare_cpu) / max(1, bare_commands), 2)}; lockbot "
        f"{fmt(1000 * sum(run.cpu_ack_s for run in runs) / max(1, commands), 2)} until the last ack, "
        f"{fmt(1000 * sum(run.cpu_s for run in runs) / max(1, commands), 2)} until every outcome shown"
    )


def ack_section(out: Callable[[str], None], title: str, groups: Sequence[AckGroup]) -> None:
    out(title)
    out(
        f"   {'':<26}{'n':>6}{'p50':>8}{'p99':>8}{'max':>8}{'> 1 s':>7}{'> 3 s':>7}{'non-200/non-empty':>19}"
        f"{'listen drops':>14}"
    )
    for group in groups:
        spread = Spread.of(ack_ms(group.acks))
        over_1s = sum(s.latency_s > 1 for s in group.acks)
        out(
            f"   {group.name:<26}{spread.n:>6}{fmt(spread.p50, 1):>8}{fmt(spread.p99, 1):>8}{fmt(spread.max, 1):>8}"
            f"{over_1s:>7}{sum(s.slow for s in group.acks):>7}{group.errors:>19}{group.listen_drops:>14}"
        )


def report(results: Results, args: argparse.Namespace, seconds: float) -> list[str]:
    lines: list[str] = []
    out = lines.append
    rows: list[Row] = []
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    versions = ", ".join(f"{p} {importlib.metadata.version(p)}" for p in ("slack_bolt", "slack_sdk", "aiohttp"))
    machine = f"nproc {os.cpu_count()}, {platform.system()} {platform.machine()}, Python {platform.python_version()}"
    out(f"lockbot bench, {now}")
    out(f"machine: {machine}; {versions}")
    out(
        f"setup: bursts of {args.burst} concurrent /lock x {args.rounds} rounds per app (alternating), bursts of "
        f"{args.big_burst} x {args.big_rounds} (scale-out {args.scale_out}, up to {args.instances} instances), "
        f"{args.webhook_rounds} webhook bursts of {args.burst}, {len(LOCKS)} doors, Seam fake action delay "
        f"{ACTION_DELAY_MS} ms, LOCKBOT_ACTION_TIMEOUT={ACTION_TIMEOUT_S}, LOG_LEVEL={args.log_level}"
        f"{', traced' if args.trace or args.trace_only else ''}"
        f"{f' (only {args.trace_only})' if args.trace_only else ''}; took {seconds:.0f} s"
    )
    out(f"lockbot: bot/ from {args.lockbot_source}; the lockbot with webhooks on {args.webhook_database}")
    out("")

    # 1. acknowledgements
    ack_section(
        out,
        f"1. Acknowledgement latency, send -> HTTP response (ms), bursts of {args.burst}, all rounds pooled",
        [
            AckGroup(
                "bare bolt app", [s for b in results.bare_acks for s in b], sum(results.bare_drops), lockbot=False
            ),
            AckGroup(
                "lockbot",
                [s for run in results.lockbot_rounds for s in run.acks],
                sum(run.listen_drops for run in results.lockbot_rounds),
            ),
        ],
    )
    bare = ack_ms(s for burst in results.bare_acks for s in burst)
    lock = ack_ms(s for run in results.lockbot_rounds for s in run.acks)
    ratio = Spread.of(lock).p99 / Spread.of(bare).p99
    out(f"   lockbot p99 / bare p99 = {ratio:.2f}   (target <= {ACK_RATIO_TARGET})  {mark(ratio <= ACK_RATIO_TARGET)}")
    per_round = []
    for index, (bare_burst, run) in enumerate(zip(results.bare_acks, results.lockbot_rounds, strict=True), 1):
        b = Spread.of(ack_ms(bare_burst)).p99
        lb = Spread.of(ack_ms(run.acks)).p99
        per_round.append(f"round {index}: {lb:.1f}/{b:.1f} = {lb / b:.2f}")
    out("   per round, lockbot p99 / bare p99: " + "; ".join(per_round))
    cpu_line(out, results)
    lock_slow = sum(s.slow for run in results.lockbot_rounds for s in run.acks)
    bare_slow = sum(s.slow for burst in results.bare_acks for s in burst)
    rows.append(
        Row(
            f"ack ms p50/p99/max, bursts of {args.burst}",
            Spread.of(lock).text(),
            Spread.of(bare).text(),
            f"p99 <= {ACK_RATIO_TARGET} x bare",
            f"{mark(ratio <= ACK_RATIO_TARGET)} ({ratio:.2f})",
        )
    )
    rows.append(
        Row(
            f"acks over 3 s, bursts of {args.burst}",
            f"{lock_slow} of {len(lock)}",
            f"{bare_slow} of {len(bare)}",
            "none",
            mark(lock_slow == 0),
        )
    )
    out("")

    if results.lockbot_big:
        ack_section(
            out,
            f"1b. Acknowledgement latency (ms), bursts of {args.big_burst}: one lockbot (SQLite), then lockbot on "
            "PostgreSQL with N instances, request i sent to instance i % N",
            [
                AckGroup(
                    "bare bolt app",
                    [s for b in results.bare_big for s in b.acks],
                    sum(b.listen_drops for b in results.bare_big),
                    lockbot=False,
                ),
                AckGroup(
                    "lockbot, SQLite",
                    [s for run in results.lockbot_big for s in run.acks],
                    sum(run.listen_drops for run in results.lockbot_big),
                ),
                *(
                    AckGroup(f"lockbot x{run.instances}, PostgreSQL", run.acks, run.listen_drops)
                    for run in results.scale
                ),
            ],
        )
        bare_big = ack_ms(s for burst in results.bare_big for s in burst.acks)
        bare_big_slow = sum(s.slow for burst in results.bare_big for s in burst.acks)
        for run in results.scale:
            if run.instances > 1:
                per_instance = [
                    Spread.of(ack_ms(s for s in run.acks if s.target == i)).p99 for i in range(run.instances)
                ]
                out(f"   x{run.instances} p99 per instance: " + ", ".join(fmt(p, 1) for p in per_instance))
        big_runs = [*results.lockbot_big, *results.scale]
        out(
            "   CPU ms per command: bare app "
            + fmt(1000 * sum(b.cpu_s for b in results.bare_big) / max(1, sum(len(b.acks) for b in results.bare_big)), 2)
            + "; lockbot until the last ack / until every outcome shown: "
            + "; ".join(
                f"x{run.instances} {fmt(1000 * run.cpu_ack_s / len(run.acks), 2)} / "
                f"{fmt(1000 * run.cpu_s / len(run.acks), 2)}"
                for run in big_runs
            )
        )
        if results.scale_note:
            out(f"   {results.scale_note}")
        for label, runs in (
            ("1 lockbot, SQLite", results.lockbot_big),
            *(
                (f"{run.instances} lockbot{'s' if run.instances > 1 else ''}, PostgreSQL", [run])
                for run in results.scale
            ),
        ):
            acks = [s for run in runs for s in run.acks]
            slow = sum(s.slow for s in acks)
            rows.append(
                Row(
                    f"ack ms p50/p99/max, bursts of {args.big_burst}, {label}",
                    Spread.of(ack_ms(acks)).text(),
                    Spread.of(bare_big).text(),
                )
            )
            rows.append(
                Row(
                    f"acks over 3 s, bursts of {args.big_burst}, {label}",
                    f"{slow} of {len(acks)}",
                    f"{bare_big_slow} of {len(bare_big)}",
                    "none",
                    mark(slow == 0),
                )
            )
        enough = next(
            (run.instances for run in [*results.lockbot_big[:1], *results.scale] if not any(s.slow for s in run.acks)),
            None,
        )
        tried = max([1, *(run.instances for run in results.scale)])
        rows.append(
            Row(
                f"lockbot instances to ack {args.big_burst} at once, all under 3 s",
                str(enough) if enough is not None else f"more than {tried}",
                "1" if bare_big_slow == 0 else "-",
                "",
                "" if enough is not None else "MISSED",
            )
        )
        out("")

    # 2. outcome lag
    out("2. Outcome lag: attempt completed (Seam fake) -> final chat.update of its status message (ms)")
    out(f"   {'':<34}{'n':>6}{'p50':>8}{'p99':>8}{'max':>8}  outcomes")
    lag_rows: list[tuple[str, list[LockbotRun]]] = [
        (f"polling, bursts of {args.burst}", results.lockbot_rounds),
        ("polling, warm lone /lock", results.warm),
        (f"polling, bursts of {args.big_burst}", results.lockbot_big),
        (f"webhooks, bursts of {args.burst}", results.webhook_rounds),
        ("webhooks, warm lone /lock", results.webhook_warm),
        ("webhooks, lone /lock after bursts", results.webhook_after),
    ]
    for name, runs in lag_rows:
        if not runs:
            continue
        spread = Spread.of(lags(runs))
        outcomes = Counter(a.outcome for run in runs for a in run.actions)
        unmatched = sum(len(run.actions) for run in runs) - spread.n
        out(
            f"   {name:<34}{spread.n:>6}{fmt(spread.p50):>8}{fmt(spread.p99):>8}{fmt(spread.max):>8}  "
            + ", ".join(f"{count} {what}" for what, count in outcomes.most_common())
            + (f"; {unmatched} without a matched lag" if unmatched else "")
        )
    for index, run in enumerate(results.lockbot_rounds, 1):
        lag = Spread.of(lags([run]))
        out(
            f"   polling round {index}: p50 {fmt(lag.p50)}  p99 {fmt(lag.p99)}  max {fmt(lag.max)}; "
            f"burst sent -> last outcome shown {run.duration_s:.2f} s; lockbot's connections to Slack "
            f"{run.connections[0][0]} -> {run.connections[1][0]}, to Seam {run.connections[0][1]} -> "
            f"{run.connections[1][1]}"
        )
    polling = Spread.of(lags(results.lockbot_rounds))
    rows.append(
        Row(
            f"outcome lag ms p50/p99/max, polling, bursts of {args.burst}",
            polling.text(),
            "",
            f"p99 <= {LAG_POLLING_TARGET_MS:.0f}",
            mark(polling.p99 <= LAG_POLLING_TARGET_MS),
        )
    )
    if results.webhook_rounds:
        hooked = Spread.of(lags(results.webhook_rounds))
        webhook_stages(out, results)
        rows.append(
            Row(
                f"outcome lag ms p50/p99/max, webhooks, bursts of {args.burst}",
                hooked.text(),
                "",
                f"p99 <= {LAG_WEBHOOK_TARGET_MS:.0f}",
                mark(hooked.p99 <= LAG_WEBHOOK_TARGET_MS),
            )
        )
        lone_hooked = Spread.of(lags(results.webhook_warm))
        rows.append(Row("outcome lag ms p50/p99/max, webhooks, warm lone /lock", lone_hooked.text()))
    elif results.webhook_note:
        out(f"   webhooks: {results.webhook_note}")
    out("")

    # 3. Seam calls
    out("3. Seam calls per action (every call the Seam fake saw / actions)")
    for index, run in enumerate(results.lockbot_rounds, 1):
        out(f"   lockbot, polling, burst {index} of {len(run.actions)}: {per_action(run.seam_calls, len(run.actions))}")
    for index, run in enumerate(results.webhook_rounds, 1):
        out(
            f"   lockbot, webhooks, burst {index} of {len(run.actions)}: {per_action(run.seam_calls, len(run.actions))}"
        )
    for run in [*results.lockbot_big, *results.scale]:
        out(
            f"   lockbot x{run.instances}, polling, burst of {len(run.actions)}: "
            f"{per_action(run.seam_calls, len(run.actions))}"
        )
    sdk_per_attempt: float | None = None
    if results.sdk:
        sdk_calls: Counter[str] = Counter()
        for attempt in results.sdk:
            sdk_calls.update(attempt["calls"])
        sdk_per_attempt = sum(sdk_calls.values()) / len(results.sdk)
        info = results.sdk_info
        sdk_lags = [(a["returned"] - a["completed_ms"] / 1000) * 1000 for a in results.sdk if a["completed_ms"]]
        out(
            f"   Seam Python SDK {info.get('sdk_version')} ({results.sdk_note}), lock_door("
            f"wait_for_action_attempt=True), polling every {info.get('polling_interval')} s, "
            f"{len(results.sdk)} single attempts: {per_action(sdk_calls, len(results.sdk))}"
        )
        interval = float(info.get("polling_interval") or SDK_POLLING_INTERVAL_S)
        aligned = math.isclose((ACTION_DELAY_MS / 1000 / interval) % 1, 0, abs_tol=1e-9)
        out(
            "   (SDK: attempt completed -> lock_door returned, ms: "
            + ", ".join(fmt(lag) for lag in sdk_lags)
            + f"; statuses: {', '.join(str(a['status']) for a in results.sdk)}"
            + (
                f"; its {interval} s polls line up with the fake's {ACTION_DELAY_MS} ms delay, "
                f"so this lag is its best case, up to {interval * 1000:.0f} ms otherwise)"
                if aligned
                else ")"
            )
        )
        sdk_text = f"{sdk_per_attempt:.2f} (SDK, measured)"
    else:
        polls = math.ceil(ACTION_DELAY_MS / 1000 / SDK_POLLING_INTERVAL_S)
        out(
            f"   Seam Python SDK: COMPUTED, not measured ({results.sdk_note}): 1 lock_door + {polls} "
            f"polls every {SDK_POLLING_INTERVAL_S} s for a {ACTION_DELAY_MS} ms attempt = {1 + polls}.00"
        )
        sdk_text = f"{1 + polls}.00 (SDK, computed)"
    for label, runs in (
        (f"polling, bursts of {args.burst}", results.lockbot_rounds),
        (f"webhooks, bursts of {args.burst}", results.webhook_rounds),
    ):
        if runs:
            total = sum(sum(run.seam_calls.values()) for run in runs) / sum(len(run.actions) for run in runs)
            rows.append(Row(f"Seam calls per action, {label}", f"{total:.2f}", sdk_text))
    out("")

    # 4. lone commands
    out("4. A lone /lock (no burst)")
    out(f"   {'':<30}{'ack ms':>8}{'lag ms':>8}  outcome  Seam calls")
    lone = [
        ("cold (fresh lockbot)", results.cold),
        *((f"warm #{index}", run) for index, run in enumerate(results.warm, 1)),
        ("webhooks, cold", results.webhook_cold),
        *((f"webhooks, warm #{index}", run) for index, run in enumerate(results.webhook_warm, 1)),
        *((f"webhooks, after bursts #{index}", run) for index, run in enumerate(results.webhook_after, 1)),
    ]
    for name, single in lone:
        if single is None:
            continue
        action = single.actions[0]
        out(
            f"   {name:<30}{fmt(ms(single.acks[0].latency_s), 1):>8}{fmt(action.lag_ms):>8}  "
            f"{action.outcome:<7}  {per_action(single.seam_calls, 1)}"
        )
    for index, sent in enumerate(results.bare_lone, 1):
        out(f"   {f'bare app #{index}':<30}{fmt(ms(sent.latency_s), 1):>8}")
    for label, runs in (
        ("Seam calls, lone 1.5 s attempt, warm, polling (worst)", results.warm),
        ("Seam calls, lone 1.5 s attempt, warm, webhooks (worst)", results.webhook_warm),
        ("Seam calls, lone 1.5 s attempt, webhooks, after bursts (worst)", results.webhook_after),
    ):
        if runs:
            worst = max(sum(run.seam_calls.values()) for run in runs)
            rows.append(Row(label, str(worst), sdk_text, f"<= {LONE_CALLS_TARGET}", mark(worst <= LONE_CALLS_TARGET)))
    for label, cold in (
        ("Seam calls, lone 1.5 s attempt, cold, polling", results.cold),
        ("Seam calls, lone 1.5 s attempt, cold, webhooks", results.webhook_cold),
    ):
        if cold is not None:
            on_attempt = attempt_calls(cold.seam_calls)
            listed = cold.seam_calls.get("/locks/list", 0)
            rows.append(
                Row(
                    label,
                    f"{on_attempt}" + (f" (+{listed} /locks/list)" if listed else ""),
                    sdk_text,
                    f"<= {LONE_CALLS_TARGET} on the attempt",
                    mark(on_attempt <= LONE_CALLS_TARGET),
                )
            )
    out("")

    # 5. memory
    out("5. Resident memory (MiB; VmRSS now, VmHWM the most it ever was), from /proc/<pid>/status")
    idle_rss: dict[str, float] = {}
    for app, memories in results.idle.items():
        idle_rss[app] = statistics.median(m.rss_kb for m in memories)
        out(
            f"   {app:<26} idle after start: median {mib(idle_rss[app])} of "
            + ", ".join(mib(m.rss_kb) for m in memories)
        )
    moments = sorted({moment for memory in results.memory.values() for moment in memory})
    for app, memory in results.memory.items():
        for moment in moments:
            if moment in memory:
                m = memory[moment]
                out(f"   {app:<26} {moment}: RSS {mib(m.rss_kb)}, peak {mib(m.hwm_kb)}")
    if "lockbot" in idle_rss and "bare app" in idle_rss:
        memory_ratio = idle_rss["lockbot"] / idle_rss["bare app"]
        rows.append(
            Row(
                "RSS MiB idle after start (median)",
                mib(idle_rss["lockbot"]),
                mib(idle_rss["bare app"]),
                f"<= {RSS_RATIO_TARGET:.0f} x bare",
                f"{mark(memory_ratio <= RSS_RATIO_TARGET)} ({memory_ratio:.2f})",
            )
        )
    for moment in moments:
        lock_mem = results.memory.get("lockbot", {}).get(moment)
        bare_mem = results.memory.get("bare app", {}).get(moment)
        if lock_mem is not None:
            rows.append(
                Row(
                    f"RSS MiB {moment} (peak)",
                    f"{mib(lock_mem.rss_kb)} ({mib(lock_mem.hwm_kb)})",
                    f"{mib(bare_mem.rss_kb)} ({mib(bare_mem.hwm_kb)})" if bare_mem else "",
                )
            )
    out("")

    # 6. start-up
    out("6. Start-up: process started -> first 200 from GET /healthz (ms)")
    start_median: dict[str, float] = {}
    for app, samples in results.starts.items():
        start_median[app] = statistics.median(samples)
        out(f"   {app:<26} median {fmt(ms(start_median[app]))} of " + ", ".join(fmt(ms(s)) for s in samples))
    if "lockbot" in start_median:
        rows.append(
            Row(
                "start -> first /healthz 200, ms (median)",
                fmt(ms(start_median["lockbot"])),
                fmt(ms(start_median.get("bare app", math.nan))),
            )
        )
    out("")

    if results.traces:
        trace_section(out, results, args)

    out(f"Summary ({now}; {machine})")
    lines.extend("   " + line for line in table(rows))
    return lines


def trace_section(out: Callable[[str], None], results: Results, args: argparse.Namespace) -> None:
    """Where lockbot's time went in each kind of burst, from bench/traced_bot.py's records."""
    out("7. Inside lockbot (--trace): calls that started during each kind of burst, by what they are (ms)")
    out("   (a store call's time includes waiting for the database connection; 'db connection held' is the work)")
    phases: list[tuple[str, str, list[LockbotRun]]] = [
        (f"polling, bursts of {args.burst}", "lockbot", results.lockbot_rounds),
        (f"polling, bursts of {args.big_burst}", "lockbot", results.lockbot_big),
        (f"webhooks, bursts of {args.burst}", "lockbot (webhooks)", results.webhook_rounds),
    ]
    for title, name, runs in phases:
        records = results.traces.get(name, [])
        if not runs or not records:
            continue
        windows = [(run.began_at, run.ended_at) for run in runs]
        inside = [r for r in records if any(begin <= r.start <= end for begin, end in windows)]
        by_label: dict[str, list[float]] = {}
        for record in inside:
            by_label.setdefault(record.label, []).append(ms(record.end - record.start))
        commands = sum(len(run.actions) for run in runs)
        out(f"   {title} ({len(runs)} bursts, {commands} commands):")
        out(f"     {'':<44}{'n':>6}{'p50':>8}{'p99':>8}{'max':>8}{'sum s':>8}")
        for label, durations in sorted(by_label.items(), key=lambda kv: -sum(kv[1]))[:16]:
            spread = Spread.of(durations)
            out(
                f"     {label:<44}{spread.n:>6}{fmt(spread.p50, 1):>8}{fmt(spread.p99, 1):>8}"
                f"{fmt(spread.max, 1):>8}{sum(durations) / 1000:>8.2f}"
            )
        if title.startswith("polling"):
            poll_stages(out, runs, [r for r in inside if r.label == "tracker poll of all followed"])
        pauses(out, runs, [r for r in inside if r.label.startswith("gc ") and r.end - r.start >= 0.02])
        before_last_ack: Counter[str] = Counter()
        for run in runs:
            last_ack = max(s.sent_at + s.latency_s for s in run.acks)
            for record in inside:
                if run.began_at <= record.start <= last_ack:
                    before_last_ack[record.label.split(" ", 1)[0]] += 1
        out(
            "     calls started before each burst's last ack, all bursts: "
            + ", ".join(f"{kind} {count}" for kind, count in before_last_ack.most_common())
        )


def poll_stages(out: Callable[[str], None], runs: Sequence[LockbotRun], polls: Sequence[TraceRecord]) -> None:
    """Polling's lag in two parts: completion -> the answer of the first poll after it, that answer -> the edit."""
    answers = sorted(poll.end for poll in polls)

    def split(run: LockbotRun) -> tuple[list[float], list[float]]:
        waited: list[float] = []
        after: list[float] = []
        for action in run.actions:
            done = action.completed_at
            if done is None or action.final_at is None:
                continue
            answer = next((end for end in answers if done <= end <= action.final_at), None)
            if answer is not None:
                waited.append(ms(answer - done))
                after.append(ms(action.final_at - answer))
        return waited, after

    parts = [split(run) for run in runs]
    waited = [value for run_waited, _ in parts for value in run_waited]
    after = [value for _, run_after in parts for value in run_after]
    out(f"     lag, attempt completed -> first poll answered after it  {Spread.of(waited).text(1)}  (p50/p99/max)")
    out(f"     lag, that poll answered -> final chat.update           {Spread.of(after).text(1)}")
    if len(parts) > 1:
        out(
            "     per burst, p99 of each part: "
            + "; ".join(
                f"#{index}: {fmt(Spread.of(w).p99)} + {fmt(Spread.of(a).p99)}" for index, (w, a) in enumerate(parts, 1)
            )
        )


def pauses(out: Callable[[str], None], runs: Sequence[LockbotRun], collections: Sequence[TraceRecord]) -> None:
    """Each garbage collection of 20 ms or more: in which burst, and the lag of the actions it stalled."""
    for pause in collections:
        index, run = next((i, r) for i, r in enumerate(runs, 1) if r.began_at <= pause.start <= r.ended_at)
        stalled: list[float] = []
        others: list[float] = []
        for a in run.actions:
            if a.lag_ms is None or a.completed_at is None or a.final_at is None:
                continue
            across = a.completed_at <= pause.end and pause.start <= a.final_at
            (stalled if across else others).append(a.lag_ms)
        last_ack = max(sent.sent_at + sent.latency_s for sent in run.acks)
        during = " (during its acks)" if pause.start <= last_ack else ""
        out(
            f"     {pause.label}: {ms(pause.end - pause.start):.0f} ms, in burst #{index} at "
            f"+{pause.start - run.began_at:.2f} s{during}; the {len(stalled)} actions finishing across it: "
            f"lag p50/p99 {fmt(Spread.of(stalled).p50)}/{fmt(Spread.of(stalled).p99)} ms, the other "
            f"{len(others)}: {fmt(Spread.of(others).p50)}/{fmt(Spread.of(others).p99)} ms"
        )


def webhook_stages(out: Callable[[str], None], results: Results) -> None:
    """Where the webhook lag goes: Seam's (the bench's) delivery, and lockbot's part after it."""
    delivery: list[float] = []
    answer: list[float] = []
    handled: list[float] = []
    by_poll = refused = missing = 0
    for run in results.webhook_rounds:
        for action in run.actions:
            sent = results.deliveries.get(action.attempt_id or "")
            if sent is None or action.final_at is None:
                missing += 1
                continue
            refused += sent.status != 200
            by_poll += action.final_at < sent.sent_at
            delivery.append((sent.sent_at - sent.completed_ms / 1000) * 1000)
            answer.append((sent.answered_at - sent.sent_at) * 1000)
            handled.append((action.final_at - sent.sent_at) * 1000)
    out("   webhooks, where the lag goes (ms, p50 / p99 / max):")
    out(f"     attempt completed -> bench (as Seam) sent the event  {Spread.of(delivery).text(1)}")
    out(f"     event sent -> lockbot answered the webhook           {Spread.of(answer).text(1)}")
    out(f"     event sent -> final chat.update                      {Spread.of(handled).text(1)}")
    out(
        f"     deliveries not answered 200: {refused}; finished before the event was sent (a poll): {by_poll}; "
        f"actions without a delivery: {missing}"
    )


# -- running ------------------------------------------------------------------------------------


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> int:
    # Stopped from outside, still stop everything this run started (the ExitStack below).
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    began = time.monotonic()
    results = Results()
    spawn = multiprocessing.get_context("spawn")
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lockbot-bench-")))
        slack = FakeSlack(BOT_TOKEN).start()
        stack.callback(slack.stop)
        slack.add_user(USER)
        seam = SeamFake(locks=LOCKS, action_delay_ms=ACTION_DELAY_MS).start()
        stack.callback(seam.stop)
        sender = concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn)
        stack.callback(sender.shutdown)

        bot_env = {"SLACK_API_URL": slack.api_url, "SEAM_API_KEY": seam.api_key, "SEAM_ENDPOINT": seam.url}
        if args.ref is not None:
            source = tmp / "src"
            args.lockbot_source = f"{args.ref} ({export_bot(args.ref, source)[:12]})"
            # Ahead of the working tree (and of the editable install) on lockbot's path.
            bot_env["PYTHONPATH"] = os.pathsep.join([str(source), str(ROOT)])
        databases = itertools.count(1)

        def sqlite() -> dict[str, str]:
            return {"DATABASE_URL": f"sqlite:///{tmp / f'lockbot-{next(databases)}.db'}"}

        bare_command = [sys.executable, str(BENCH / "bare_app.py"), "--slack-api-url", slack.api_url]

        def new_bare() -> ServedProcess:
            bare = ServedProcess("bare app", bare_command, {}, cwd=tmp)  # it listens on $PORT
            stack.callback(bare.close)
            return bare

        bare = new_bare()
        trace_dir = tmp if args.trace or args.trace_only else None
        bench = Bench(slack, bare, sender, args.log_level, trace_dir, args.trace_only or "")
        sender.submit(fire, ["http://127.0.0.1:9/"], []).result(60)  # the worker is up before timing

        def new_lockbot(name: str, env: Mapping[str, str]) -> ServedProcess:
            process = bench.lockbot(name, {**bot_env, **env}, tmp)
            stack.callback(process.close)
            return process

        # Start-up time and idle memory: fresh processes of each app, one after the other.
        print(f"start-up: {args.starts} fresh processes of each app", flush=True)
        for _ in range(args.starts - 1):
            for app, process in (("lockbot", new_lockbot("lockbot (start-up)", sqlite())), ("bare app", new_bare())):
                process.start()
                results.started(app, process)
                process.close()

        lockbot = new_lockbot("lockbot", sqlite())
        lockbot.start()
        results.started("lockbot", lockbot)
        polling = Deployment("lockbot", [lockbot], seam)
        print(f"lockbot pid {lockbot.pid}; taking a cold lone /lock", flush=True)
        results.cold = bench.lockbot_burst(1, polling)

        bare.start()
        results.started("bare app", bare)
        print(f"bare app pid {bare.pid}; warming up", flush=True)
        bench.warm_up(polling, with_bare=True)
        for _ in range(args.lone):
            results.bare_lone.extend(bench.bare_burst(1).acks)
            results.warm.append(bench.lockbot_burst(1, polling))

        for index in range(args.rounds):
            print(f"round {index + 1}/{args.rounds}, bursts of {args.burst}", flush=True)

            def bare_round() -> None:
                burst = bench.bare_burst(args.burst)
                results.bare_acks.append(burst.acks)
                results.bare_drops.append(burst.listen_drops)
                results.bare_cpu.append(burst.cpu_s)

            order: list[Callable[[], None]] = [
                bare_round,
                lambda: results.lockbot_rounds.append(bench.lockbot_burst(args.burst, polling)),
            ]
            for step in order if index % 2 == 0 else reversed(order):
                step()
        results.remember("lockbot", f"after bursts of {args.burst}", lockbot)
        results.remember("bare app", f"after bursts of {args.burst}", bare)

        for index in range(args.big_rounds if args.big_burst else 0):
            print(f"round {index + 1}/{args.big_rounds}, bursts of {args.big_burst}", flush=True)
            order = [
                lambda: results.bare_big.append(bench.bare_burst(args.big_burst)),
                lambda: results.lockbot_big.append(bench.lockbot_burst(args.big_burst, polling)),
            ]
            for step in order if index % 2 == 0 else reversed(order):
                step()
        if results.lockbot_big:
            results.remember("lockbot", f"after bursts of {args.big_burst}", lockbot)
            results.remember("bare app", f"after bursts of {args.big_burst}", bare)

        print("Seam's Python SDK on single attempts", flush=True)
        results.sdk, results.sdk_info, results.sdk_note = bench.sdk_runs(seam, args.sdk_attempts)
        lockbot.stop()
        bare.stop()
        results.collect_trace(lockbot)
        logged = [lockbot, bare]

        # Bursts of --big-burst on PostgreSQL with 1, 2, ... instances, while one instance misses 3 s.
        one_missed = any(s.slow for run in results.lockbot_big for s in run.acks)
        if results.lockbot_big and (one_missed or args.scale_out == "always"):
            if args.instances < 1:
                results.scale_note = "scale-out skipped (--instances 0)"
            else:
                url, named = create_postgres_database(stack)
                if url is None:
                    results.scale_note = f"scale-out skipped: {named}"
                else:
                    results.scale_note = f"PostgreSQL database {named}, created for this run and dropped after it"
                    shared = Deployment("lockbot on PostgreSQL", [], seam)
                    for count in range(1, args.instances + 1):
                        instance = new_lockbot(f"lockbot pg#{count}", {"DATABASE_URL": url})
                        instance.start()
                        shared.instances.append(instance)
                        print(f"{count} lockbot(s) on PostgreSQL: warming up, a burst of {args.big_burst}", flush=True)
                        bench.warm_up(shared)
                        spread_run = bench.lockbot_burst(args.big_burst, shared)
                        results.scale.append(spread_run)
                        for number, member in enumerate(shared.instances, 1):
                            results.remember(
                                f"lockbot pg#{number}", f"after a burst of {args.big_burst} (x{count})", member
                            )
                        if args.scale_out == "auto" and not any(s.slow for s in spread_run.acks):
                            break
                    for instance in shared.instances:
                        instance.stop()
                    logged.extend(shared.instances)
        elif results.lockbot_big:
            results.scale_note = f"one lockbot acked all {args.big_burst} within 3 s: no scale-out needed"
        seam.stop()

        # Seam webhooks: a lockbot with SEAM_WEBHOOK_SECRET, a fresh Seam fake, and the bench delivering
        # each attempt's outcome event as soon as the fake says it completed.
        if args.webhook_rounds:
            hooks_seam = SeamFake(locks=LOCKS, action_delay_ms=ACTION_DELAY_MS).start()
            stack.callback(hooks_seam.stop)
            database = sqlite()
            if args.webhook_database == "postgresql":
                url, named = create_postgres_database(stack)
                if url is None:
                    raise RuntimeError(f"--webhook-database postgresql: {named}")
                database = {"DATABASE_URL": url}
            hooked = new_lockbot(
                "lockbot (webhooks)",
                {**database, "SEAM_ENDPOINT": hooks_seam.url, "SEAM_WEBHOOK_SECRET": WEBHOOK_SECRET},
            )
            hooked.start()
            webhooks = Deployment("lockbot with webhooks", [hooked], hooks_seam)
            deliveries_path = tmp / "deliveries.jsonl"
            stop = spawn.Event()
            deliverer = spawn.Process(
                target=deliver_outcomes,
                args=(
                    hooks_seam.url,
                    f"{hooked.url}/webhooks/seam",
                    WEBHOOK_SECRET,
                    ACTION_DELAY_MS,
                    str(deliveries_path),
                    stop,
                ),
                name="seam-webhooks",
                daemon=True,
            )
            deliverer.start()

            def stop_deliverer() -> None:
                stop.set()
                deliverer.join(15)
                if deliverer.is_alive():
                    deliverer.terminate()
                    deliverer.join(5)

            stack.callback(stop_deliverer)
            print(f"lockbot with webhooks pid {hooked.pid}, deliverer pid {deliverer.pid}; cold, warm-up", flush=True)
            results.webhook_cold = bench.lockbot_burst(1, webhooks)
            bench.warm_up(webhooks)
            for _ in range(args.lone):
                results.webhook_warm.append(bench.lockbot_burst(1, webhooks))
            for index in range(args.webhook_rounds):
                print(f"webhooks round {index + 1}/{args.webhook_rounds}, bursts of {args.burst}", flush=True)
                results.webhook_rounds.append(bench.lockbot_burst(args.burst, webhooks))
            for _ in range(WEBHOOK_LONE_AFTER):
                results.webhook_after.append(bench.lockbot_burst(1, webhooks))
            stop_deliverer()
            results.deliveries = read_deliveries(deliveries_path)
            hooked.stop()
            results.collect_trace(hooked)
            logged.append(hooked)
        else:
            results.webhook_note = "not measured (--webhook-rounds 0)"

        print("", flush=True)
        for line in report(results, args, time.monotonic() - began):
            print(line)
        for process in logged:
            problems = process.problems()
            print(f"\n{process.name} logged {len(problems)} warnings/errors", end="")
            print(":" if problems else ".")
            for problem in problems[:5]:
                for line in problem[:40]:
                    print("   " + line)
            if len(problems) > 5:
                print(f"   ... and {len(problems) - 5} more")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=100, help="concurrent /lock commands per burst")
    parser.add_argument("--rounds", type=int, default=3, help="bursts per app")
    parser.add_argument("--big-burst", type=int, default=500, help="concurrent /lock commands per big burst (0: none)")
    parser.add_argument("--big-rounds", type=int, default=1, help="big bursts per app")
    parser.add_argument(
        "--instances", type=int, default=2, help="most lockbot instances on PostgreSQL to try for a big burst (0: none)"
    )
    parser.add_argument(
        "--scale-out",
        choices=["auto", "always"],
        default="auto",
        help="auto: lockbot on PostgreSQL with 1, 2, ... instances only while one misses 3 s; always: every count",
    )
    parser.add_argument(
        "--webhook-rounds", type=int, default=2, help="bursts at a lockbot with Seam webhooks (0: none)"
    )
    parser.add_argument(
        "--webhook-database",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="the database of the lockbot with webhooks (sqlite, as the polling one; or a fresh PostgreSQL one)",
    )
    parser.add_argument("--lone", type=int, default=3, help="warm lone /lock commands (polling, and webhooks)")
    parser.add_argument("--starts", type=int, default=3, help="fresh processes of each app timed to /healthz")
    parser.add_argument("--sdk-attempts", type=int, default=3, help="single attempts with Seam's SDK")
    parser.add_argument("--log-level", default="WARNING", help="lockbot's LOG_LEVEL (INFO shows more, costs more)")
    parser.add_argument(
        "--trace", action="store_true", help="run lockbot through bench/traced_bot.py and report where its time goes"
    )
    parser.add_argument(
        "--trace-only",
        metavar="PREFIXES",
        help="--trace, but only calls whose label starts with one of these (comma-separated, e.g. tracker,seam)",
    )
    parser.add_argument("--ref", help="bench lockbot's bot/ as committed at this git ref instead of the working tree")
    args = parser.parse_args(argv)
    if min(args.burst, args.rounds, args.lone, args.sdk_attempts, args.starts, args.big_rounds) < 1:
        parser.error("--burst, --rounds, --lone, --sdk-attempts, --starts and --big-rounds must be at least 1")
    if min(args.big_burst, args.instances, args.webhook_rounds) < 0:
        parser.error("--big-burst, --instances and --webhook-rounds cannot be negative")
    args.lockbot_source = describe_working_tree()

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
