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
import concurrent.futures
import contextlib
import itertools
import multiprocessing
import os
import signal
import tempfile
import time
from collections.abc import Callable, Mapping
from multiprocessing.context import SpawnContext
from pathlib import Path

from bench.harness.config import ACTION_DELAY_MS, ROOT, USER, WEBHOOK_SECRET
from bench.harness.load import Bursts, wait_for_sender
from bench.harness.processes import (
    Deployment,
    ServedProcess,
    bare_app_process,
    create_postgres_database,
    describe_working_tree,
    export_bot,
    lockbot_process,
    seam_fake,
)
from bench.harness.report import logged_problems, report
from bench.harness.results import Results
from bench.harness.sdk import sdk_runs
from bench.harness.webhooks import Deliverer, read_deliveries
from tests.botprocess import BOT_TOKEN
from tests.fakes.slack_api import FakeSlack

__all__ = ["Scenario", "main", "run"]

# Lone /lock at the lockbot with webhooks after its bursts: more than the 5 attempts per lock that
# lockbot's poll schedule remembers, so what it learns from webhook-finished attempts shows.
WEBHOOK_LONE_AFTER = 6


class Scenario:
    """One run of the bench, step by step, in the order bench/README.md gives.

    Every process and database it makes is stopped or dropped when `stack` closes.
    """

    def __init__(self, args: argparse.Namespace, stack: contextlib.ExitStack, spawn: SpawnContext) -> None:
        self.args, self.stack, self.spawn = args, stack, spawn
        self.results = Results()
        self.logged: list[ServedProcess] = []  # the processes whose warnings and errors are reported
        self.tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lockbot-bench-")))
        self.slack = slack = FakeSlack(BOT_TOKEN).start()
        stack.callback(slack.stop)
        slack.add_user(USER)
        self.seam = seam = seam_fake().start()
        stack.callback(seam.stop)
        sender = concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn)
        stack.callback(sender.shutdown)

        self.bot_env = {"SLACK_API_URL": slack.api_url, "SEAM_API_KEY": seam.api_key, "SEAM_ENDPOINT": seam.url}
        if args.ref is not None:
            source = self.tmp / "src"
            args.lockbot_source = f"{args.ref} ({export_bot(args.ref, source)[:12]})"
            # Ahead of the working tree (and of the editable install) on lockbot's path.
            self.bot_env["PYTHONPATH"] = os.pathsep.join([str(source), str(ROOT)])
        self._databases = itertools.count(1)
        self._traces = itertools.count(1)
        self.tracing = bool(args.trace or args.trace_only)  # lockbot runs through bench/traced_bot.py

        self.bare = self.new_bare()
        self.bursts = Bursts(slack, self.bare, sender)
        wait_for_sender(sender)

    # -- what it starts ---------------------------------------------------------------------------

    def sqlite(self) -> dict[str, str]:
        """A throwaway SQLite database of its own."""
        return {"DATABASE_URL": f"sqlite:///{self.tmp / f'lockbot-{next(self._databases)}.db'}"}

    def new_bare(self) -> ServedProcess:
        bare = bare_app_process(self.slack.api_url, self.tmp)
        self.stack.callback(bare.close)
        return bare

    def new_lockbot(self, name: str, env: Mapping[str, str]) -> ServedProcess:
        trace = self.tmp / f"trace-{next(self._traces)}.jsonl" if self.tracing else None
        process = lockbot_process(
            name,
            {**self.bot_env, **env},
            self.tmp,
            log_level=self.args.log_level,
            trace=trace,
            trace_only=self.args.trace_only or "",
        )
        self.stack.callback(process.close)
        return process

    # -- the steps --------------------------------------------------------------------------------

    def start_ups(self) -> None:
        """Start-up time and idle memory: fresh processes of each app, one after the other."""
        args, results = self.args, self.results
        print(f"start-up: {args.starts} fresh processes of each app", flush=True)
        for _ in range(args.starts - 1):
            for app, process in (
                ("lockbot", self.new_lockbot("lockbot (start-up)", self.sqlite())),
                ("bare app", self.new_bare()),
            ):
                process.start()
                results.started(app, process)
                process.close()

    def polling(self) -> None:
        """The polling lockbot beside the bare app: cold, warm-up, lone commands, rounds, big bursts, the SDK."""
        args, results, bursts, bare = self.args, self.results, self.bursts, self.bare
        lockbot = self.new_lockbot("lockbot", self.sqlite())
        lockbot.start()
        results.started("lockbot", lockbot)
        polling = Deployment("lockbot", [lockbot], self.seam)
        print(f"lockbot pid {lockbot.pid}; taking a cold lone /lock", flush=True)
        results.cold = bursts.lockbot_burst(1, polling)

        bare.start()
        results.started("bare app", bare)
        print(f"bare app pid {bare.pid}; warming up", flush=True)
        bursts.warm_up(polling, with_bare=True)
        for _ in range(args.lone):
            results.bare_lone.extend(bursts.bare_burst(1).acks)
            results.warm.append(bursts.lockbot_burst(1, polling))

        for index in range(args.rounds):
            print(f"round {index + 1}/{args.rounds}, bursts of {args.burst}", flush=True)

            def bare_round() -> None:
                burst = bursts.bare_burst(args.burst)
                results.bare_acks.append(burst.acks)
                results.bare_drops.append(burst.listen_drops)
                results.bare_cpu.append(burst.cpu_s)

            order: list[Callable[[], None]] = [
                bare_round,
                lambda: results.lockbot_rounds.append(bursts.lockbot_burst(args.burst, polling)),
            ]
            for step in order if index % 2 == 0 else reversed(order):
                step()
        results.remember("lockbot", f"after bursts of {args.burst}", lockbot)
        results.remember("bare app", f"after bursts of {args.burst}", bare)

        for index in range(args.big_rounds if args.big_burst else 0):
            print(f"round {index + 1}/{args.big_rounds}, bursts of {args.big_burst}", flush=True)
            order = [
                lambda: results.bare_big.append(bursts.bare_burst(args.big_burst)),
                lambda: results.lockbot_big.append(bursts.lockbot_burst(args.big_burst, polling)),
            ]
            for step in order if index % 2 == 0 else reversed(order):
                step()
        if results.lockbot_big:
            results.remember("lockbot", f"after bursts of {args.big_burst}", lockbot)
            results.remember("bare app", f"after bursts of {args.big_burst}", bare)

        print("Seam's Python SDK on single attempts", flush=True)
        results.sdk, results.sdk_info, results.sdk_note = sdk_runs(self.seam, args.sdk_attempts)
        lockbot.stop()
        bare.stop()
        results.collect_trace(lockbot)
        self.logged.extend([lockbot, bare])

    def scale_out(self) -> None:
        """Bursts of --big-burst on PostgreSQL with 1, 2, ... instances, while one instance misses 3 s."""
        args, results = self.args, self.results
        one_missed = any(s.slow for run in results.lockbot_big for s in run.acks)
        if not results.lockbot_big:
            return
        if not (one_missed or args.scale_out == "always"):
            results.scale_note = f"one lockbot acked all {args.big_burst} within 3 s: no scale-out needed"
            return
        if args.instances < 1:
            results.scale_note = "scale-out skipped (--instances 0)"
            return
        url, named = create_postgres_database(self.stack)
        if url is None:
            results.scale_note = f"scale-out skipped: {named}"
            return
        results.scale_note = f"PostgreSQL database {named}, created for this run and dropped after it"
        shared = Deployment("lockbot on PostgreSQL", [], self.seam)
        for count in range(1, args.instances + 1):
            instance = self.new_lockbot(f"lockbot pg#{count}", {"DATABASE_URL": url})
            instance.start()
            shared.instances.append(instance)
            print(f"{count} lockbot(s) on PostgreSQL: warming up, a burst of {args.big_burst}", flush=True)
            self.bursts.warm_up(shared)
            spread_run = self.bursts.lockbot_burst(args.big_burst, shared)
            results.scale.append(spread_run)
            for number, member in enumerate(shared.instances, 1):
                results.remember(f"lockbot pg#{number}", f"after a burst of {args.big_burst} (x{count})", member)
            if args.scale_out == "auto" and not any(s.slow for s in spread_run.acks):
                break
        for instance in shared.instances:
            instance.stop()
        self.logged.extend(shared.instances)

    def webhooks(self) -> None:
        """A lockbot with SEAM_WEBHOOK_SECRET, a fresh Seam fake, and the bench delivering each attempt's
        outcome event as soon as the fake says it completed."""
        args, results, bursts = self.args, self.results, self.bursts
        if not args.webhook_rounds:
            results.webhook_note = "not measured (--webhook-rounds 0)"
            return
        hooks_seam = seam_fake().start()
        self.stack.callback(hooks_seam.stop)
        database = self.sqlite()
        if args.webhook_database == "postgresql":
            url, named = create_postgres_database(self.stack)
            if url is None:
                raise RuntimeError(f"--webhook-database postgresql: {named}")
            database = {"DATABASE_URL": url}
        hooked = self.new_lockbot(
            "lockbot (webhooks)",
            {**database, "SEAM_ENDPOINT": hooks_seam.url, "SEAM_WEBHOOK_SECRET": WEBHOOK_SECRET},
        )
        hooked.start()
        webhooks = Deployment("lockbot with webhooks", [hooked], hooks_seam)
        deliveries_path = self.tmp / "deliveries.jsonl"
        deliverer = Deliverer(
            self.spawn, hooks_seam.url, f"{hooked.url}/webhooks/seam", WEBHOOK_SECRET, ACTION_DELAY_MS, deliveries_path
        ).start()
        self.stack.callback(deliverer.stop)
        print(f"lockbot with webhooks pid {hooked.pid}, deliverer pid {deliverer.pid}; cold, warm-up", flush=True)
        results.webhook_cold = bursts.lockbot_burst(1, webhooks)
        bursts.warm_up(webhooks)
        for _ in range(args.lone):
            results.webhook_warm.append(bursts.lockbot_burst(1, webhooks))
        for index in range(args.webhook_rounds):
            print(f"webhooks round {index + 1}/{args.webhook_rounds}, bursts of {args.burst}", flush=True)
            results.webhook_rounds.append(bursts.lockbot_burst(args.burst, webhooks))
        for _ in range(WEBHOOK_LONE_AFTER):
            results.webhook_after.append(bursts.lockbot_burst(1, webhooks))
        deliverer.stop()
        results.deliveries = read_deliveries(deliveries_path)
        hooked.stop()
        results.collect_trace(hooked)
        self.logged.append(hooked)


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> int:
    """Every step, then the report; every process this run started is stopped either way."""
    # Stopped from outside, still stop everything this run started (the ExitStack below).
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    began = time.monotonic()
    with contextlib.ExitStack() as stack:
        scenario = Scenario(args, stack, multiprocessing.get_context("spawn"))
        scenario.start_ups()
        scenario.polling()
        scenario.scale_out()
        scenario.seam.stop()  # the polling lockbots' Seam fake: the webhooks have their own
        scenario.webhooks()

        print("", flush=True)
        for line in report(scenario.results, args, time.monotonic() - began):
            print(line)
        for line in logged_problems(scenario.logged):
            print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python bench/run.py`: the options bench/README.md lists."""
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
