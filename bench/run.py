"""lockbot's benchmark: acknowledgement latency against a bare bolt app, outcome lag, Seam calls.

    python bench/run.py [--burst 100] [--rounds 3]

from the repository root with the virtualenv active. Everything runs on 127.0.0.1: the fake Slack
Web API (tests/fakes/slack_api.py, a thread of this process), Seam's own fake (node), lockbot
(`python -m bot`) and the bare app (bench/bare_app.py), each its own process, and the requests
are sent from a separate worker process so that the fake Slack never shares a GIL with the
stopwatch. See bench/README.md for what each figure means and its target.
"""

from __future__ import annotations

import argparse
import asyncio
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
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.botprocess import BOT_TOKEN, BotProcess, new_response_id, signed_headers  # noqa: E402
from tests.fakes.seam_fake import SeamFake  # noqa: E402
from tests.fakes.slack_api import FakeSlack, Message  # noqa: E402

LOCKS = ["Front Door", "Back Door", "Garage Door", "Garden Gate"]
ACTION_DELAY_MS = 1500
ACTION_TIMEOUT_S = 20
USER = "U0BENCH001"
FINAL_PREFIXES = ("Done:", "Failed:", "Not confirmed:")
ATTEMPT_ID = re.compile(r"Seam action attempt `([^`]+)`")

ACK_RATIO_TARGET = 1.25
LAG_P99_TARGET_MS = 200.0

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


# -- the request sender (runs in a worker process) ---------------------------------------------


@dataclass(frozen=True)
class Sent:
    status: int
    body: str
    latency_s: float  # send -> HTTP response, on the sender's perf_counter
    sent_at: float  # epoch seconds


def fire(url: str, requests: Sequence[tuple[str, dict[str, str]]]) -> list[Sent]:
    """POST every (body, headers) to `url` at once, each on its own connection."""
    return asyncio.run(_fire(url, requests))


async def _fire(url: str, requests: Sequence[tuple[str, dict[str, str]]]) -> list[Sent]:
    size = max(1, len(requests))
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:

        async def one(body: str, headers: dict[str, str]) -> Sent:
            sent_at = time.time()
            started = time.perf_counter()
            try:
                response = await client.post(url, content=body.encode(), headers=headers)
            except httpx.HTTPError as exc:
                return Sent(0, repr(exc), time.perf_counter() - started, sent_at)
            return Sent(response.status_code, response.text, time.perf_counter() - started, sent_at)

        return list(await asyncio.gather(*(one(body, headers) for body, headers in requests)))


# -- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServedProcess(BotProcess):
    """tests.botprocess.BotProcess with a command of its own, ready once `/healthz` answers.

    lockbot logs its "listening on" line at INFO, which LOG_LEVEL=WARNING hides, so the port is
    chosen here (PORT) rather than read from the log.
    """

    def __init__(self, name: str, command: list[str], env: Mapping[str, str], *, cwd: Path) -> None:
        port = free_port()
        super().__init__({**env, "PORT": str(port)}, cwd=cwd)
        self.name = name
        self.command = command
        self.url = f"http://127.0.0.1:{port}"

    def start(self, timeout: float = 30.0) -> ServedProcess:
        self._process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        url = self.url  # _read_logs may set self.url from a "listening on" line: keep the one chosen here
        threading.Thread(target=self._read_logs, args=(self._process,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.name} exited while starting:\n" + "\n".join(self.logs[-30:]))
            try:
                if self.http.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                    self.url = url
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start:\n" + "\n".join(self.logs[-30:]))
            time.sleep(0.05)  # a bounded poll for the server to come up

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def problems(self) -> list[str]:
        """Log lines that are warnings, errors or tracebacks."""
        return [line for line in self.logs if re.search(r"WARNING|ERROR|CRITICAL|Traceback", line)]


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


@dataclass
class ActionResult:
    """One lockbot action, as the fakes saw it."""

    channel: str
    attempt_id: str | None
    outcome: str  # the final status text's first word, or "unfinished"
    lag_ms: float | None  # attempt completed -> final chat.update of its status message


@dataclass
class LockbotRun:
    acks: list[Sent]
    actions: list[ActionResult]
    seam_calls: dict[str, int]
    duration_s: float


@dataclass
class Results:
    bare_acks: list[list[Sent]] = field(default_factory=list)
    lockbot_rounds: list[LockbotRun] = field(default_factory=list)
    cold: LockbotRun | None = None
    warm: list[LockbotRun] = field(default_factory=list)
    bare_lone: list[Sent] = field(default_factory=list)
    sdk: list[dict[str, Any]] = field(default_factory=list)
    sdk_info: dict[str, Any] = field(default_factory=dict)
    sdk_note: str = ""


class Bench:
    def __init__(
        self,
        slack: FakeSlack,
        seam: SeamFake,
        lockbot: ServedProcess,
        bare: ServedProcess,
        sender: concurrent.futures.Executor,
    ) -> None:
        self.slack, self.seam, self.lockbot, self.bare, self.sender = slack, seam, lockbot, bare, sender

    def requests(self, n: int) -> tuple[list[str], list[tuple[str, dict[str, str]]]]:
        """n signed `/lock` commands, each in a channel of its own, the doors taken in turn."""
        channels = [f"C{next(_channels):08d}" for _ in range(n)]
        requests = []
        for index, channel in enumerate(channels):
            body = self.lockbot.command_body(
                "/lock",
                LOCKS[index % len(LOCKS)],
                user=USER,
                channel=channel,
                response_url=self.slack.response_url(new_response_id()),
            )
            requests.append((body, signed_headers(body)))
        return channels, requests

    def send(self, app: ServedProcess, n: int) -> tuple[list[str], list[Sent]]:
        channels, requests = self.requests(n)
        return channels, self.sender.submit(fire, f"{app.url}/slack/events", requests).result(120)

    def bare_burst(self, n: int) -> list[Sent]:
        return self.send(self.bare, n)[1]

    def lockbot_burst(self, n: int) -> LockbotRun:
        """n /lock commands at once; returns once every action shows its outcome."""
        self.seam.reset()
        self.slack.reset()
        started = time.monotonic()
        channels, acks = self.send(self.lockbot, n)
        self._wait_finished(n)
        duration = time.monotonic() - started
        calls = self.seam.calls()
        return LockbotRun(acks, self._actions(channels), calls, duration)

    def _wait_finished(self, n: int) -> None:
        slack = self.slack

        # Cheap: it runs under the fake's lock, on every change.
        def finished() -> bool:
            statuses = parents = 0
            for message in slack.messages.values():
                if message.thread_ts is None:
                    parents += len(message.history) > 1
                else:
                    statuses += message.text.startswith(FINAL_PREFIXES)
            return statuses >= n and parents >= n

        try:
            slack.wait_for(finished, ACTION_TIMEOUT_S + 30, f"{n} actions' outcomes")
        except AssertionError as exc:
            replies = [r.text for r in slack.responses]
            raise RuntimeError(
                f"{exc}; ephemeral replies: {replies[:5]}; lockbot's last log lines:\n"
                + "\n".join(self.lockbot.logs[-30:])
            ) from None

    def _actions(self, channels: Sequence[str]) -> list[ActionResult]:
        completed = {a["action_attempt_id"]: a.get("completed_ms") for a in self.seam.attempts()}
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
            lag = None
            done_ms = completed.get(attempt_id) if attempt_id else None
            if final is not None and final >= 1 and done_ms is not None:
                lag = (status.edited_at[final - 1] - done_ms / 1000) * 1000
            results.append(ActionResult(channel, attempt_id, outcome, lag))
        return results

    def sdk_runs(self, attempts: int) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
        """Seam's Python SDK on single attempts against the same fake, in a child process."""
        path, note = find_seam_sdk()
        if path is None:
            return [], {}, note
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([*path, os.environ.get("PYTHONPATH", "")])}
        command = [
            sys.executable,
            str(BENCH / "seam_sdk_probe.py"),
            "--endpoint",
            self.seam.url,
            "--api-key",
            self.seam.api_key,
            "--attempts",
            str(attempts),
        ]
        for device in self.seam.devices:
            command += ["--device", device["device_id"]]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            return [], {}, f"the SDK probe failed: {done.stderr.strip().splitlines()[-1:]}"
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        return lines[1:], lines[0], note


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


def per_action(calls: Mapping[str, int], n: int) -> str:
    total = sum(calls.values()) / n
    parts = ", ".join(f"{path} {count / n:.2f}" for path, count in sorted(calls.items(), key=lambda kv: -kv[1]))
    return f"{total:.2f}  [{parts}]"


def report(results: Results, args: argparse.Namespace, seconds: float) -> list[str]:
    lines: list[str] = []
    out = lines.append
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    versions = ", ".join(f"{p} {importlib.metadata.version(p)}" for p in ("slack_bolt", "slack_sdk", "aiohttp"))
    out(f"lockbot bench, {now}")
    out(
        f"machine: nproc {os.cpu_count()}, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}; {versions}"
    )
    out(
        f"setup: bursts of {args.burst} concurrent /lock x {args.rounds} rounds per app (alternating), "
        f"{len(LOCKS)} doors, Seam fake action delay {ACTION_DELAY_MS} ms, "
        f"LOCKBOT_ACTION_TIMEOUT={ACTION_TIMEOUT_S}, LOG_LEVEL=WARNING; took {seconds:.0f} s"
    )
    out(f"lockbot: bot/ from {args.lockbot_source}")
    out("")

    out("1. Acknowledgement latency, send -> HTTP response (ms), all bursts pooled")
    bare = [ms(s.latency_s) for burst in results.bare_acks for s in burst]
    lock = [ms(s.latency_s) for run in results.lockbot_rounds for s in run.acks]
    bare_errors = sum(s.status != 200 for burst in results.bare_acks for s in burst)
    lock_errors = sum(s.status != 200 or s.body != "" for run in results.lockbot_rounds for s in run.acks)
    out(f"   {'':<22}{'n':>6}{'p50':>8}{'p99':>8}{'max':>8}{'non-200/non-empty':>20}")
    for name, values, errors in (("bare bolt app", bare, bare_errors), ("lockbot", lock, lock_errors)):
        spread = Spread.of(values)
        out(
            f"   {name:<22}{spread.n:>6}{fmt(spread.p50, 1):>8}{fmt(spread.p99, 1):>8}"
            f"{fmt(spread.max, 1):>8}{errors:>20}"
        )
    ratio = Spread.of(lock).p99 / Spread.of(bare).p99
    verdict = mark(ratio <= ACK_RATIO_TARGET)
    out(f"   lockbot p99 / bare p99 = {ratio:.2f}   (target <= {ACK_RATIO_TARGET})  {verdict}")
    per_round = []
    for index, (bare_burst, run) in enumerate(zip(results.bare_acks, results.lockbot_rounds, strict=True), 1):
        b = Spread.of([ms(s.latency_s) for s in bare_burst]).p99
        lb = Spread.of([ms(s.latency_s) for s in run.acks]).p99
        per_round.append(f"round {index}: {lb:.1f}/{b:.1f} = {lb / b:.2f}")
    out("   per round, lockbot p99 / bare p99: " + "; ".join(per_round))
    out("")

    out("2. lockbot: attempt completed (Seam fake) -> final chat.update of its status message (ms)")
    actions = [a for run in results.lockbot_rounds for a in run.actions]
    lags = [a.lag_ms for a in actions if a.lag_ms is not None]
    spread = Spread.of(lags)
    outcomes = Counter(a.outcome for a in actions)
    out(f"   {'':<22}{'n':>6}{'p50':>8}{'p99':>8}{'max':>8}")
    out(f"   {'bursts':<22}{spread.n:>6}{fmt(spread.p50):>8}{fmt(spread.p99):>8}{fmt(spread.max):>8}")
    out(
        f"   p99 < {LAG_P99_TARGET_MS:.0f} ms: {mark(spread.p99 < LAG_P99_TARGET_MS)}; outcomes: "
        + ", ".join(f"{count} {name}" for name, count in outcomes.most_common())
        + f"; without a matched lag: {len(actions) - len(lags)}"
    )
    for index, run in enumerate(results.lockbot_rounds, 1):
        lag = Spread.of([a.lag_ms for a in run.actions if a.lag_ms is not None])
        out(
            f"   round {index}: p50 {fmt(lag.p50)}  p99 {fmt(lag.p99)}  max {fmt(lag.max)}; "
            f"burst sent -> last outcome shown {run.duration_s:.2f} s"
        )
    out("")

    out("3. Seam calls per action (every call the Seam fake saw / actions)")
    for index, run in enumerate(results.lockbot_rounds, 1):
        out(f"   lockbot, burst {index} of {len(run.actions)}: {per_action(run.seam_calls, len(run.actions))}")
    if results.sdk:
        sdk_calls: Counter[str] = Counter()
        for attempt in results.sdk:
            sdk_calls.update(attempt["calls"])
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
    else:
        polls = math.ceil(ACTION_DELAY_MS / 1000 / SDK_POLLING_INTERVAL_S)
        out(
            f"   Seam Python SDK: COMPUTED, not measured ({results.sdk_note}): 1 lock_door + {polls} "
            f"polls every {SDK_POLLING_INTERVAL_S} s for a {ACTION_DELAY_MS} ms attempt = {1 + polls}.00"
        )
    out("")

    out("4. A lone /lock (no burst)")
    out(f"   {'':<22}{'ack ms':>8}{'lag ms':>8}  outcome  Seam calls")
    lone = [("cold (fresh lockbot)", results.cold)] + [
        (f"warm #{index}", run) for index, run in enumerate(results.warm, 1)
    ]
    for name, single in lone:
        if single is None:
            continue
        action = single.actions[0]
        out(
            f"   {name:<22}{fmt(ms(single.acks[0].latency_s), 1):>8}{fmt(action.lag_ms):>8}  "
            f"{action.outcome:<7}  {per_action(single.seam_calls, 1)}"
        )
    for index, sent in enumerate(results.bare_lone, 1):
        out(f"   {f'bare app #{index}':<22}{fmt(ms(sent.latency_s), 1):>8}")
    return lines


# -- running ------------------------------------------------------------------------------------


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> int:
    # Stopped from outside, still stop everything this run started (the ExitStack below).
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    began = time.monotonic()
    results = Results()
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lockbot-bench-")))
        slack = FakeSlack(BOT_TOKEN).start()
        stack.callback(slack.stop)
        slack.add_user(USER)
        seam = SeamFake(locks=LOCKS, action_delay_ms=ACTION_DELAY_MS).start()
        stack.callback(seam.stop)
        sender = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        stack.callback(sender.shutdown)

        bot_env = {
            "SLACK_API_URL": slack.api_url,
            "SEAM_API_KEY": seam.api_key,
            "SEAM_ENDPOINT": seam.url,
            "DATABASE_URL": f"sqlite:///{tmp / 'lockbot.db'}",
            "LOCKBOT_ACTION_TIMEOUT": str(ACTION_TIMEOUT_S),
            "LOG_LEVEL": "WARNING",
        }
        if args.ref is not None:
            source = tmp / "src"
            args.lockbot_source = f"{args.ref} ({export_bot(args.ref, source)[:12]})"
            # Ahead of the working tree (and of the editable install) on lockbot's path.
            bot_env["PYTHONPATH"] = os.pathsep.join([str(source), str(ROOT)])
        lockbot = ServedProcess("lockbot", [sys.executable, "-m", "bot"], bot_env, cwd=tmp)
        stack.callback(lockbot.close)
        bare_command = [sys.executable, str(BENCH / "bare_app.py"), "--slack-api-url", slack.api_url]
        bare = ServedProcess("bare app", bare_command, {}, cwd=tmp)  # it listens on $PORT
        stack.callback(bare.close)
        sender.submit(fire, "http://127.0.0.1:9/", []).result(60)  # the worker is up before timing

        lockbot.start()
        bench = Bench(slack, seam, lockbot, bare, sender)
        print(f"lockbot pid {lockbot.pid}; taking a cold lone /lock", flush=True)
        results.cold = bench.lockbot_burst(1)

        bare.start()
        print(f"bare app pid {bare.pid}; warming up", flush=True)
        for _ in range(3):
            bench.bare_burst(len(LOCKS))
            bench.lockbot_burst(len(LOCKS))
        for _ in range(args.lone):
            results.bare_lone.extend(bench.bare_burst(1))
            results.warm.append(bench.lockbot_burst(1))

        for index in range(args.rounds):
            print(f"round {index + 1}/{args.rounds}", flush=True)
            order: list[Callable[[], None]] = [
                lambda: results.bare_acks.append(bench.bare_burst(args.burst)),
                lambda: results.lockbot_rounds.append(bench.lockbot_burst(args.burst)),
            ]
            for step in order if index % 2 == 0 else reversed(order):
                step()

        print("Seam's Python SDK on single attempts", flush=True)
        results.sdk, results.sdk_info, results.sdk_note = bench.sdk_runs(args.sdk_attempts)

        print("", flush=True)
        for line in report(results, args, time.monotonic() - began):
            print(line)
        for process in (lockbot, bare):
            problems = process.problems()
            print(f"\n{process.name} logged {len(problems)} warning/error lines", end="")
            print(":" if problems else ".")
            for line in problems[:10]:
                print("   " + line)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=100, help="concurrent /lock commands per burst")
    parser.add_argument("--rounds", type=int, default=3, help="bursts per app")
    parser.add_argument("--lone", type=int, default=3, help="warm lone /lock commands")
    parser.add_argument("--sdk-attempts", type=int, default=3, help="single attempts with Seam's SDK")
    parser.add_argument("--ref", help="bench lockbot's bot/ as committed at this git ref instead of the working tree")
    args = parser.parse_args(argv)
    if min(args.burst, args.rounds, args.lone, args.sdk_attempts) < 1:
        parser.error("--burst, --rounds, --lone and --sdk-attempts must be at least 1")
    args.lockbot_source = describe_working_tree()

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
