"""The relock scheduler's bench: 10,000 relocks due over one minute, on one lockbot (SQLite) and on
two lockbots sharing PostgreSQL.

    python bench/relocks.py [--count 10000] [--spread 60] [--idle 10] [--only sqlite|postgresql]

For each setup it starts the stand-in (`standin.py`: Slack and Seam answering at once, recording
when each `lock_door` arrived) and lockbot through `bench/counted_bot.py` (every SQL statement
counted), lets lockbot idle with no relock pending and counts its statements per second, stores
`--count` pending relocks straight into the `relocks` table (due evenly over `--spread` seconds,
starting after the next idle window), counts again while all of them wait, then waits for every
relock's `lock_door` and reports how late each was: from its due time to the moment its
`lock_door` reached the stand-in. Each relock has a device of its own, so each call names its
relock; a device locked twice (two instances each sending it) is counted, and so is one never locked.
It exits non-zero only when it could not measure (a process did not start, PostgreSQL is missing
without --only sqlite, or relocks were still unsent 60 s after the last was due).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert

from bench.harness.config import BENCH, ROOT
from bench.harness.processes import ServedProcess, create_postgres_database
from bot.db import create_engine, migrate, relocks

__all__ = ["Setup", "main", "percentile"]

DRAIN_S = 60.0  # how long after the last relock was due the bench waits for its lock_door


@dataclass
class Setup:
    name: str
    database: str  # sqlite | postgresql
    instances: int
    # Filled in by `measure`:
    idle_empty_qps: float = 0.0
    idle_full_qps: float = 0.0
    idle_empty_by_statement: dict[str, float] = field(default_factory=dict)
    idle_full_by_statement: dict[str, float] = field(default_factory=dict)
    due_query_ms_empty: float = 0.0  # mean time of the scheduler's query, nothing pending
    due_query_ms_full: float = 0.0  # the same, with every relock pending and none due
    lateness_s: list[float] = field(default_factory=list)
    locked_twice: int = 0
    never_locked: int = 0
    first_due_to_last_call_s: float = 0.0
    messages_after_last_due_s: float = 0.0  # the last Slack call of the relocks' messages, after the last was due
    slack_calls_per_relock: float = 0.0
    statements_per_relock: dict[str, float] = field(default_factory=dict)  # while they ran, all instances
    cpu_s: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (`share` in 0..1) of the values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(share * len(ordered) + 0.5)))
    return ordered[rank - 1]


class StandInProcess:
    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.harness.standin"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        stdout = self._process.stdout
        assert stdout is not None
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(30)
        if not line or not line[0].startswith("http"):
            self.stop()
            raise RuntimeError("the Slack and Seam stand-in did not start")
        self.url = line[0].strip()
        self._http = httpx.Client(timeout=30)

    def lock_door_calls(self) -> list[tuple[str, float]]:
        return [(device, at) for device, at in self._http.get(f"{self.url}/_calls").json()["lock_door"]]

    def slack_calls(self) -> tuple[int, float]:
        """How many Slack calls so far, and the epoch time of the latest."""
        calls = self._http.get(f"{self.url}/_calls").json()
        return sum(calls["slack"].values()), float(calls["last_slack_at"])

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)


@dataclass
class Totals:
    at: float
    counts: Counter[str]
    seconds: Counter[str]

    @classmethod
    def read(cls, path: Path) -> Totals:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(raw["at"], Counter(raw["counts"]), Counter(raw["seconds"]))


def _fresh_totals(paths: list[Path], after: float) -> list[Totals]:
    """Each instance's totals as written after `after` (they are written every 0.5 s)."""
    deadline = time.monotonic() + 10
    while True:
        with contextlib.suppress(OSError, ValueError, KeyError):
            totals = [Totals.read(path) for path in paths]
            if all(t.at > after for t in totals):
                return totals
        if time.monotonic() > deadline:
            raise RuntimeError("lockbot's query totals were not written (is bench/counted_bot.py running?)")
        time.sleep(0.1)


def idle_window(paths: list[Path], seconds: float) -> tuple[float, dict[str, float], float]:
    """Statements per second over a window of `seconds` (all instances together), by statement, and
    the mean ms of the scheduler's due-relocks query in it."""
    before = _fresh_totals(paths, time.time())
    time.sleep(seconds)  # the measurement window itself
    after = _fresh_totals(paths, time.time())
    counts: Counter[str] = Counter()
    spent: Counter[str] = Counter()
    for first, last in zip(before, after, strict=True):
        counts.update(last.counts - first.counts)
        spent.update(last.seconds - first.seconds)
    span = statistics.mean(last.at - first.at for first, last in zip(before, after, strict=True))
    due = [name for name in counts if name.endswith("(due)")]
    due_count = sum(counts[name] for name in due)
    due_ms = 1000 * sum(spent[name] for name in due) / due_count if due_count else float("nan")
    return sum(counts.values()) / span, {name: n / span for name, n in counts.most_common()}, due_ms


async def _prepare(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


async def _seed(url: str, count: int, first_due: datetime, spread_s: float) -> dict[str, datetime]:
    """`count` pending relocks, one device each, due evenly from `first_due` over `spread_s`."""
    now = datetime.now(UTC)
    rows = []
    for i in range(count):
        rows.append(
            {
                "unlock_id": f"bench{i:06d}",
                "device_id": f"bench_lock_{i:06d}",
                "door": f"Bench Door {i}",
                "unlocked_by": "U0BENCH001",
                "channel": "C0BENCH01",
                "parent_ts": f"1700000000.{i:06d}",
                "unlocked_at": now,
                "due_at": first_due + timedelta(seconds=spread_s * i / count),
                "state": "pending",
                "tries": 0,
            }
        )
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(relocks), rows)
    finally:
        await engine.dispose()
    return {row["device_id"]: row["due_at"] for row in rows}


def measure(setup: Setup, args: argparse.Namespace) -> Setup:
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lockbot-relock-bench-")))
        stand_in = StandInProcess()
        stack.callback(stand_in.stop)
        if setup.database == "sqlite":
            url = f"sqlite:///{tmp / 'relocks.db'}"
        else:
            made, why = create_postgres_database(stack)
            if made is None:
                raise RuntimeError(why)
            url = made
        asyncio.run(_prepare(url))
        paths = [tmp / f"queries-{i}.json" for i in range(setup.instances)]
        bots = []
        for i, path in enumerate(paths):
            env = {
                "SLACK_API_URL": f"{stand_in.url}/api/",
                "SEAM_API_KEY": "seam_bench_key",
                "SEAM_ENDPOINT": stand_in.url,
                "DATABASE_URL": url,
                "LOG_LEVEL": args.log_level,
                "BENCH_QUERIES": str(path),
            }
            if args.profile:
                env["BENCH_PROFILE"] = f"{args.profile}.{setup.database}.{i + 1}"
            bot = ServedProcess(f"lockbot {i + 1}", [sys.executable, str(BENCH / "counted_bot.py")], env, cwd=tmp)
            stack.callback(bot.close)
            bots.append(bot.start())
        print(f"[{setup.name}] {setup.instances} lockbot(s) up; idle with nothing pending for {args.idle:g} s")
        time.sleep(2)  # past start-up's own queries (migration check, first ticks) before counting idle
        setup.idle_empty_qps, setup.idle_empty_by_statement, setup.due_query_ms_empty = idle_window(paths, args.idle)

        first_due = datetime.now(UTC) + timedelta(seconds=args.idle + 8)
        due = asyncio.run(_seed(url, args.count, first_due, args.spread))
        print(f"[{setup.name}] {args.count} relocks stored, due from {first_due:%H:%M:%S} over {args.spread:g} s;")
        print(f"[{setup.name}] idle with them all pending for {args.idle:g} s")
        time.sleep(1)
        setup.idle_full_qps, setup.idle_full_by_statement, setup.due_query_ms_full = idle_window(paths, args.idle)
        if datetime.now(UTC) >= first_due:
            raise RuntimeError("the idle window ran into the due times: the setup is too slow for these settings")

        print(f"[{setup.name}] waiting for every lock_door")
        before_run = _fresh_totals(paths, time.time())
        last_due = max(due.values())
        deadline = time.time() + (last_due - datetime.now(UTC)).total_seconds() + DRAIN_S
        while True:
            calls = stand_in.lock_door_calls()
            if len({device for device, _ in calls}) >= args.count or time.time() > deadline:
                break
            time.sleep(0.5)
        # The relocks' messages follow their locks: wait until Slack has been quiet for 3 s.
        quiet_deadline = time.time() + 300
        while time.time() < quiet_deadline:
            _, last_slack = stand_in.slack_calls()
            if time.time() - last_slack > 3:
                break
            time.sleep(0.5)
        slack_total, last_slack = stand_in.slack_calls()
        setup.messages_after_last_due_s = last_slack - last_due.timestamp()
        setup.slack_calls_per_relock = slack_total / args.count
        calls = stand_in.lock_door_calls()
        after_run = _fresh_totals(paths, time.time())
        ran: Counter[str] = Counter()
        for first, last in zip(before_run, after_run, strict=True):
            ran.update(last.counts - first.counts)
        setup.statements_per_relock = {name: n / args.count for name, n in ran.most_common()}
        setup.cpu_s = [bot.cpu_s() for bot in bots]
        for i, bot in enumerate(bots):
            setup.problems += ["\n".join(problem) for problem in bot.problems()]
            if args.logs:
                Path(f"{args.logs}.{setup.database}.{i + 1}").write_text("\n".join(bot.logs) + "\n", encoding="utf-8")
    per_device = Counter(device for device, _ in calls)
    first_call = {}
    for device, at in calls:
        first_call.setdefault(device, at)
    setup.locked_twice = sum(1 for n in per_device.values() if n > 1)
    setup.never_locked = sum(1 for device in due if device not in first_call)
    setup.lateness_s = [at - due[device].timestamp() for device, at in first_call.items() if device in due]
    if first_call:
        setup.first_due_to_last_call_s = max(first_call.values()) - min(d.timestamp() for d in due.values())
    if setup.never_locked:
        raise RuntimeError(f"{setup.never_locked} relocks were never sent, {DRAIN_S:g} s after the last was due")
    return setup


def _report(setups: list[Setup], args: argparse.Namespace) -> None:
    print()
    print(
        f"relock bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}; {args.count} relocks due over {args.spread:g} s"
    )
    print()
    header = (
        "| setup | lateness p50 / p99 / max, ms | sent twice | "
        "statements/s idle, none pending / all pending | due query ms, none / all pending |"
    )
    print(header)
    print("| --- | --- | --- | --- | --- |")
    for s in setups:
        late = [1000 * v for v in s.lateness_s]
        print(
            f"| {s.name} | {percentile(late, 0.5):.0f} / {percentile(late, 0.99):.0f} / {max(late):.0f} "
            f"| {s.locked_twice} | {s.idle_empty_qps:.1f} / {s.idle_full_qps:.1f} "
            f"| {s.due_query_ms_empty:.2f} / {s.due_query_ms_full:.2f} |"
        )
    print()
    for s in setups:
        p99 = percentile(s.lateness_s, 0.99)
        print(f"{s.name}: p99 lateness {1000 * p99:.0f} ms, target ≤ 1000 ms: {'MET' if p99 <= 1 else 'MISSED'}")
        print(
            f"  first due -> last lock_door: {s.first_due_to_last_call_s:.1f} s; the relocks' last Slack message "
            f"{s.messages_after_last_due_s:.1f} s after the last was due ({s.slack_calls_per_relock:.1f} Slack calls "
            f"per relock); CPU s per lockbot: {[round(c, 1) for c in s.cpu_s]}"
        )
        total = sum(s.statements_per_relock.values())
        shown = ", ".join(f"{name}: {n:.2f}" for name, n in s.statements_per_relock.items())
        print(f"  statements per relock while they ran: {total:.1f} ({shown})")
        for title, rates in (("none pending", s.idle_empty_by_statement), ("all pending", s.idle_full_by_statement)):
            shown = ", ".join(f"{name}: {rate:.2f}" for name, rate in rates.items())
            print(f"  idle statements/s by statement, {title}: {shown}")
        for problem in s.problems[:10]:
            print("  " + problem.replace("\n", "\n  "))
        if len(s.problems) > 10:
            print(f"  ... and {len(s.problems) - 10} more warnings")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/relocks.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="relocks due [10000]")
    parser.add_argument("--spread", type=float, default=60.0, help="seconds over which they fall due [60]")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of each idle count [10]")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="one setup only")
    parser.add_argument("--log-level", default="WARNING", help="lockbot's LOG_LEVEL [WARNING]")
    parser.add_argument("--logs", help="write each lockbot's log to LOGS.<db>.<n>")
    parser.add_argument("--profile", help="run each lockbot under cProfile, its stats written to PROFILE.<db>.<n>")
    args = parser.parse_args(argv)
    wanted = [
        Setup("one lockbot, SQLite", "sqlite", 1),
        Setup("two lockbots, PostgreSQL", "postgresql", 2),
    ]
    setups = []
    try:
        for setup in wanted:
            if args.only in (None, setup.database):
                setups.append(measure(setup, args))
    except RuntimeError as exc:
        print(f"could not measure: {exc}", file=sys.stderr)
        return 1
    _report(setups, args)
    return 0
