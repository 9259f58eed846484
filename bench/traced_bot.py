"""lockbot (`python -m bot`) with the time of its inner steps recorded, for `bench/run.py --trace`.

It wraps, without changing them, the calls that a command, a poll or a Seam webhook goes through:
every coroutine method of `Store` (waiting for the database connection included), of `SeamClient`,
each Slack Web API call (`AsyncBaseClient.api_call`, by method), the webhook route and the steps of
a Seam event, the tracker's polls, and how long each database connection is held (SQLAlchemy's
pool checkout -> checkin: the work itself, without the wait), and each garbage collection (the
event loop stands still meanwhile). Then it runs lockbot as `python -m
bot` would. When lockbot stops, it writes one JSON line per call to $BENCH_TRACE:
`[label, start, end]`, epoch seconds. A wrapper that finds nothing to wrap (lockbot changed) is
skipped, never an error. $BENCH_TRACE_ONLY (comma-separated label prefixes, e.g. "tracker,seam")
wraps only those, to disturb lockbot's timing less.
"""

from __future__ import annotations

import atexit
import functools
import gc
import inspect
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

Record = tuple[str, float, float]
RECORDS: list[Record] = []
ONLY = tuple(prefix for prefix in os.environ.get("BENCH_TRACE_ONLY", "").split(",") if prefix)


def wanted(label: str) -> bool:
    return not ONLY or label.startswith(ONLY)


def wrap(owner: type, name: str, label: Callable[[tuple[Any, ...]], str] | str) -> None:
    """Record every call of `owner.name` under `label` (or label(args))."""
    original = owner.__dict__.get(name)
    if original is None or not callable(original):
        return
    if isinstance(label, str) and not wanted(label):
        return

    def label_of(args: tuple[Any, ...]) -> str:
        return label if isinstance(label, str) else label(args)

    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            start = time.time()
            try:
                return await original(*args, **kwargs)
            finally:
                if wanted(called := label_of(args)):
                    RECORDS.append((called, start, time.time()))

        setattr(owner, name, timed_async)
    else:

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.time()
            try:
                return original(*args, **kwargs)
            finally:
                if wanted(called := label_of(args)):
                    RECORDS.append((called, start, time.time()))

        setattr(owner, name, timed)


def wrap_all(owner: type, prefix: str) -> None:
    for name, value in list(owner.__dict__.items()):
        if not name.startswith("__") and inspect.iscoroutinefunction(value):
            wrap(owner, name, f"{prefix} {name}")


def install() -> None:
    from slack_sdk.web.async_base_client import AsyncBaseClient  # noqa: PLC0415
    from sqlalchemy import event  # noqa: PLC0415
    from sqlalchemy.pool import Pool  # noqa: PLC0415
    from svix.webhooks import Webhook  # noqa: PLC0415

    from bot import app, seam, seam_events, store, tracking  # noqa: PLC0415

    wrap_all(store.Store, "store")
    wrap_all(seam.SeamClient, "seam")
    wrap(AsyncBaseClient, "api_call", lambda args: f"slack {args[1] if len(args) > 1 else '?'}")
    wrap(app.Lockbot, "_seam_webhook", "webhook route (all of it)")
    wrap(seam_events.SeamEvents, "handle", "webhook event handled (after the answer)")
    wrap(app.Lockbot, "_slack_events", "slack route (all of it)")
    wrap(Webhook, "verify", "webhook signature check")  # svix is imported above, so lockbot gets this class
    wrap(seam_events.SeamEvents, "receive", "webhook event remembered (store)")
    wrap(tracking.AttemptTracker, "_ask_now", "tracker asked about ended attempts (Seam + finish)")
    wrap(tracking.AttemptTracker, "_poll_all", "tracker poll of all followed")
    wrap(tracking.AttemptTracker, "_deliver", "tracker outcome delivered (on_finished)")

    held: dict[int, float] = {}

    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        held[id(record)] = time.time()

    def checkin(dbapi_connection: Any, record: Any) -> None:
        start = held.pop(id(record), None)
        if start is not None:
            RECORDS.append(("db connection held", start, time.time()))

    collecting: dict[int, float] = {}

    def collection(phase: str, info: dict[str, int]) -> None:
        generation = info.get("generation", -1)
        if phase == "start":
            collecting[generation] = time.time()
        elif (start := collecting.pop(generation, None)) is not None:
            RECORDS.append((f"gc generation {generation}", start, time.time()))

    if wanted("gc generation 2"):
        gc.callbacks.append(collection)
    if wanted("db connection held"):
        event.listen(Pool, "checkout", checkout)
        event.listen(Pool, "checkin", checkin)


def dump() -> None:
    path = os.environ.get("BENCH_TRACE")
    if not path:
        return
    with Path(path).open("w", encoding="utf-8") as out:
        for record in RECORDS:
            out.write(json.dumps(record) + "\n")


def main() -> int:
    install()
    atexit.register(dump)
    from bot.__main__ import main as lockbot  # noqa: PLC0415

    return lockbot(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
