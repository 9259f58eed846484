"""The report: the figures (1-7), the summary table of targets, and what each app logged.

Each figure is a function of the results that returns its lines and its rows of the summary table.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import math
import os
import platform
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bench.harness.config import ACTION_DELAY_MS, ACTION_TIMEOUT_S, LOCKS
from bench.harness.processes import ServedProcess
from bench.harness.results import LockbotRun, Results, Sent, Spread, TraceRecord, fmt
from bench.harness.sdk import SDK_POLLING_INTERVAL_S

__all__ = ["Row", "logged_problems", "report", "table"]

ACK_RATIO_TARGET = 1.25
LAG_POLLING_TARGET_MS = 150.0
LAG_WEBHOOK_TARGET_MS = 50.0
LONE_CALLS_TARGET = 4
RSS_RATIO_TARGET = 2.0


def report(results: Results, args: argparse.Namespace, seconds: float) -> list[str]:
    """The heading, every figure the run measured, then the summary table of all their rows."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"nproc {os.cpu_count()}, {platform.system()} {platform.machine()}, Python {platform.python_version()}"
    sdk_text = sdk_cost(results)
    figures = [
        acknowledgements(results, args),
        *([big_bursts(results, args)] if results.lockbot_big else []),
        outcome_lag(results, args),
        seam_calls(results, args, sdk_text),
        lone_commands(results, sdk_text),
        resident_memory(results),
        start_up(results),
        *([inside_lockbot(results, args)] if results.traces else []),
    ]
    lines = heading(args, seconds, now, machine)
    rows: list[Row] = []
    for figure in figures:
        lines.extend(figure.lines)
        rows.extend(figure.rows)
    lines.append(f"Summary ({now}; {machine})")
    lines.extend("   " + line for line in table(rows))
    return lines


def logged_problems(processes: Iterable[ServedProcess]) -> list[str]:
    """Each process's warnings and errors (the first 5, with their tracebacks), after the table."""
    lines: list[str] = []
    for process in processes:
        problems = process.problems()
        lines.append("")
        lines.append(f"{process.name} logged {len(problems)} warnings/errors" + (":" if problems else "."))
        for problem in problems[:5]:
            lines.extend("   " + line for line in problem[:40])
        if len(problems) > 5:
            lines.append(f"   ... and {len(problems) - 5} more")
    return lines


@dataclass
class Figure:
    """One figure's lines, and its rows of the summary table."""

    lines: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)

    def out(self, line: str) -> None:
        self.lines.append(line)


def heading(args: argparse.Namespace, seconds: float, now: str, machine: str) -> list[str]:
    """When and where it ran, with what, and which lockbot."""
    lines: list[str] = []
    out = lines.append
    versions = ", ".join(f"{p} {importlib.metadata.version(p)}" for p in ("slack_bolt", "slack_sdk", "aiohttp"))
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
    return lines


def acknowledgements(results: Results, args: argparse.Namespace) -> Figure:
    """1. Acknowledgement latency in the bursts of --burst, bare app and polling lockbot."""
    figure = Figure()
    out, rows = figure.out, figure.rows
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
    return figure


def big_bursts(results: Results, args: argparse.Namespace) -> Figure:
    """1b. The bursts of --big-burst: the bare app, one lockbot, and the scale-out on PostgreSQL."""
    figure = Figure()
    out, rows = figure.out, figure.rows
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
            *(AckGroup(f"lockbot x{run.instances}, PostgreSQL", run.acks, run.listen_drops) for run in results.scale),
        ],
    )
    bare_big = ack_ms(s for burst in results.bare_big for s in burst.acks)
    bare_big_slow = sum(s.slow for burst in results.bare_big for s in burst.acks)
    for run in results.scale:
        if run.instances > 1:
            per_instance = [Spread.of(ack_ms(s for s in run.acks if s.target == i)).p99 for i in range(run.instances)]
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
        *((f"{run.instances} lockbot{'s' if run.instances > 1 else ''}, PostgreSQL", [run]) for run in results.scale),
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
    return figure


def outcome_lag(results: Results, args: argparse.Namespace) -> Figure:
    """2. Attempt completed -> its outcome shown, polling and with webhooks."""
    figure = Figure()
    out, rows = figure.out, figure.rows
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
    return figure


def sdk_calls_seen(results: Results) -> Counter[str]:
    """Every call Seam's fake saw during the SDK's attempts, by path."""
    calls: Counter[str] = Counter()
    for attempt in results.sdk:
        calls.update(attempt["calls"])
    return calls


def sdk_polls_computed() -> int:
    """The polls Seam's SDK makes for one attempt, when it could not be measured: 1.5 s / its 0.5 s interval."""
    return math.ceil(ACTION_DELAY_MS / 1000 / SDK_POLLING_INTERVAL_S)


def sdk_cost(results: Results) -> str:
    """Seam calls per attempt with Seam's SDK, as the summary shows it beside lockbot's."""
    if results.sdk:
        return f"{sum(sdk_calls_seen(results).values()) / len(results.sdk):.2f} (SDK, measured)"
    return f"{1 + sdk_polls_computed()}.00 (SDK, computed)"


def seam_calls(results: Results, args: argparse.Namespace, sdk_text: str) -> Figure:
    """3. Seam calls per action, lockbot's beside Seam's own SDK's."""
    figure = Figure()
    out, rows = figure.out, figure.rows
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
    if results.sdk:
        sdk_calls = sdk_calls_seen(results)
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
        polls = sdk_polls_computed()
        out(
            f"   Seam Python SDK: COMPUTED, not measured ({results.sdk_note}): 1 lock_door + {polls} "
            f"polls every {SDK_POLLING_INTERVAL_S} s for a {ACTION_DELAY_MS} ms attempt = {1 + polls}.00"
        )
    for label, runs in (
        (f"polling, bursts of {args.burst}", results.lockbot_rounds),
        (f"webhooks, bursts of {args.burst}", results.webhook_rounds),
    ):
        if runs:
            total = sum(sum(run.seam_calls.values()) for run in runs) / sum(len(run.actions) for run in runs)
            rows.append(Row(f"Seam calls per action, {label}", f"{total:.2f}", sdk_text))
    out("")
    return figure


def lone_commands(results: Results, sdk_text: str) -> Figure:
    """4. A lone /lock: cold, warm, with webhooks; and the bare app's lone acks."""
    figure = Figure()
    out, rows = figure.out, figure.rows
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
    return figure


def resident_memory(results: Results) -> Figure:
    """5. Resident memory of each app: idle after start, and after the bursts."""
    figure = Figure()
    out, rows = figure.out, figure.rows
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
    return figure


def start_up(results: Results) -> Figure:
    """6. Process started -> first 200 from /healthz."""
    figure = Figure()
    out, rows = figure.out, figure.rows
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
    return figure


def inside_lockbot(results: Results, args: argparse.Namespace) -> Figure:
    """7. Where lockbot's time went in each kind of burst, from bench/traced_bot.py's records (--trace)."""
    figure = Figure()
    out = figure.out
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

    return figure


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


# -- formatting ------------------------------------------------------------------------------------


def ms(seconds: float) -> float:
    return seconds * 1000


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
