"""A stand-in for Slack's Web API and Seam's API at once, for the relock bench: it answers at once
and records when each `/locks/lock_door` reached it, so the bench times the scheduler, not a fake.

Seam's own fake (node) and the tests' fake Slack (a threaded server) are built for correctness and
slow down as 10,000 actions pile up in their stores; this one keeps nothing but the lock_door calls.
Every attempt succeeds at once (`status: success`), so lockbot never polls. Slack methods all answer
`ok` with a fresh `ts`. Run as `python -m bench.harness.standin`: it prints its URL on the first line.

    POST /locks/lock_door           {"device_id"} -> a finished attempt; recorded (device_id, epoch s)
    POST /locks/list, /action_attempts/list, /events/list -> empty lists
    POST /api/<method>              Slack: {"ok": true, "channel", "ts", ...}
    GET  /_calls                    {"lock_door": [[device_id, epoch s], ...], "slack": {method: n},
                                     "last_slack_at": epoch s of the latest Slack call}
    POST /_reset                    forget the calls recorded so far
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sys
import time
from collections import Counter
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

__all__ = ["main"]


class StandIn:
    def __init__(self) -> None:
        self.lock_door: list[tuple[str, float]] = []
        self.slack: Counter[str] = Counter()
        self.last_slack_at = 0.0
        self._ts = itertools.count(1)
        self._attempts = itertools.count(1)

    async def lock(self, request: web.Request) -> web.Response:
        at = time.time()
        body = await request.json()
        self.lock_door.append((str(body.get("device_id")), at))
        attempt = {
            "action_attempt_id": f"attempt_{next(self._attempts)}",
            "action_type": "LOCK_DOOR",
            "status": "success",
            "result": {"was_confirmed_by_device": True},
            "error": None,
        }
        return web.json_response({"action_attempt": attempt, "ok": True})

    async def empty(self, request: web.Request) -> web.Response:
        return web.json_response({"locks": [], "action_attempts": [], "events": [], "ok": True})

    async def slack_method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.slack[method] += 1
        self.last_slack_at = time.time()
        raw = await request.read()
        fields: dict[str, Any] = {}
        if request.content_type == "application/json":
            fields = json.loads(raw or b"{}")
        else:
            fields = {key: values[0] for key, values in parse_qs(raw.decode()).items()}
        channel = str(fields.get("channel", "C0BENCH"))
        ts = str(fields.get("ts") or f"{int(time.time())}.{next(self._ts):06d}")
        return web.json_response(
            {
                "ok": True,
                "channel": channel,
                "ts": ts,
                "message": {"ts": ts, "text": ""},
                "user_id": "U0LOCKBOT",
                "user": "lockbot",
                "bot_id": "B0LOCKBOT",
                "team_id": "T0BENCH",
                "team": "bench",
                "url": "https://bench.example/",
            }
        )

    async def calls(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"lock_door": self.lock_door, "slack": dict(self.slack), "last_slack_at": self.last_slack_at}
        )

    async def reset(self, request: web.Request) -> web.Response:
        self.lock_door.clear()
        self.slack.clear()
        return web.json_response({"ok": True})


async def serve() -> None:
    stand_in = StandIn()
    app = web.Application(client_max_size=1 << 20)
    app.router.add_post("/locks/lock_door", stand_in.lock)
    for path in ("/locks/list", "/action_attempts/list", "/events/list"):
        app.router.add_post(path, stand_in.empty)
    app.router.add_post("/api/{method}", stand_in.slack_method)
    app.router.add_get("/_calls", stand_in.calls)
    app.router.add_post("/_reset", stand_in.reset)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    host, port = runner.addresses[0][:2]
    print(f"http://{host}:{port}", flush=True)
    await asyncio.Event().wait()


def main() -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
