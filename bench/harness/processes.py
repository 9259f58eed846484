"""The processes the bench starts and stops: lockbot, the bare app, Seam's fake, PostgreSQL databases.

Each HTTP app is a `ServedProcess` of its own (the bench's own wrapper, not the tests' `BotProcess`,
whose internals change with the tests). Which lockbot runs (the working tree or a git ref) is here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.harness.config import ACTION_DELAY_MS, ACTION_TIMEOUT_S, BENCH, LOCKS, ROOT
from tests.botprocess import BOT_TOKEN, SIGNING_SECRET
from tests.fakes.seam_fake import SeamFake

__all__ = [
    "Deployment",
    "Memory",
    "ServedProcess",
    "bare_app_process",
    "create_postgres_database",
    "describe_working_tree",
    "export_bot",
    "free_port",
    "lockbot_process",
    "seam_fake",
]

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")  # lockbot's log format starts with the time


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


@dataclass
class Deployment:
    """One or more lockbot instances against one Seam fake; request i goes to instance i % N."""

    name: str
    instances: list[ServedProcess]
    seam: SeamFake

    @property
    def urls(self) -> list[str]:
        return [f"{instance.url}/slack/events" for instance in self.instances]


def seam_fake() -> SeamFake:
    """Seam's fake (not started): the bench's doors, each action attempt pending for ACTION_DELAY_MS."""
    return SeamFake(locks=LOCKS, action_delay_ms=ACTION_DELAY_MS)


def lockbot_process(
    name: str, env: Mapping[str, str], cwd: Path, *, log_level: str, trace: Path | None = None, trace_only: str = ""
) -> ServedProcess:
    """A lockbot process (not started) with the bench's settings over `env`.

    With `trace`, lockbot runs through bench/traced_bot.py, which writes its records there.
    """
    settings = {"LOCKBOT_ACTION_TIMEOUT": str(ACTION_TIMEOUT_S), "LOG_LEVEL": log_level, **env}
    command = [sys.executable, "-m", "bot"]
    if trace is not None:
        settings["BENCH_TRACE"] = str(trace)
        settings["BENCH_TRACE_ONLY"] = trace_only
        command = [sys.executable, str(BENCH / "traced_bot.py")]
    return ServedProcess(name, command, settings, cwd=cwd)


def bare_app_process(slack_api_url: str, cwd: Path) -> ServedProcess:
    """The bare bolt app (bench/bare_app.py, not started): it listens on $PORT."""
    command = [sys.executable, str(BENCH / "bare_app.py"), "--slack-api-url", slack_api_url]
    return ServedProcess("bare app", command, {}, cwd=cwd)


def create_postgres_database(stack: contextlib.ExitStack) -> tuple[str | None, str]:
    """A fresh database's URL (dropped when `stack` closes), or None and why not."""
    name = f"bench_{secrets.token_hex(6)}"
    try:
        # Imported here: only the scale-out and a lockbot with webhooks on PostgreSQL need it (and its asyncpg).
        from tests.databases import run_as_admin  # noqa: PLC0415

        asyncio.run(run_as_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any failure means: no PostgreSQL here
        return None, f"PostgreSQL is not usable at 127.0.0.1:5432 as user postgres ({type(exc).__name__}: {exc})"
    stack.callback(lambda: asyncio.run(run_as_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))
    return f"postgresql://postgres@127.0.0.1:5432/{name}", name


def describe_working_tree() -> str:
    """Which lockbot runs without --ref: the working tree, at which commit, and whether bot/ has changed since."""

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
