"""The load: signed `/lock` commands sent in bursts from a worker process, and waiting for their outcomes."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from bench.harness.config import ACTION_TIMEOUT_S, LOCKS, SEND_TIMEOUT_S, USER
from bench.harness.processes import Deployment, ServedProcess
from bench.harness.results import ActionResult, Burst, LockbotRun, Sent
from tests.botprocess import command_body, new_response_id, signed_headers
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack, Message

__all__ = ["Bursts", "fire", "listen_drops", "post_once", "wait_for_sender"]

FINAL_PREFIXES = ("Done:", "Failed:", "Not confirmed:")
ATTEMPT_ID = re.compile(r"Seam action attempt `([^`]+)`")

_channels = itertools.count(1)


def wait_for_sender(sender: concurrent.futures.Executor) -> None:
    """Returns once the sender's worker process is up, so that its start is never part of a burst."""
    sender.submit(fire, ["http://127.0.0.1:9/"], []).result(60)


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


class Bursts:
    """Bursts of signed `/lock` commands at the bare app or at lockbot, sent by the sender worker.

    A lockbot burst returns once every action shows its outcome in the fake Slack, so no lockbot
    work spills into the next one.
    """

    def __init__(self, slack: FakeSlack, bare: ServedProcess, sender: concurrent.futures.Executor) -> None:
        self.slack, self.bare, self.sender = slack, bare, sender

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
