"""lockbot (`python -m bot`) with every SQL statement it sends counted, for the relock bench.

A SQLAlchemy `before_cursor_execute` / `after_cursor_execute` listener on the `Engine` class counts
each statement lockbot's engine hands the driver (by its first words) and adds up the time it took.
The driver's own BEGIN / COMMIT are not statements SQLAlchemy executes, so they are not counted.
Every 0.5 s the running totals are written to $BENCH_QUERIES as one JSON object
`{"at": epoch s, "counts": {statement: n}, "seconds": {statement: s}}`, replaced atomically, so the
bench reads the totals at two moments and divides by the time between them. Then lockbot runs as
`python -m bot` would (under cProfile, its stats written to $BENCH_PROFILE at exit, when that is set).
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

COUNTS: Counter[str] = Counter()
SECONDS: Counter[str] = Counter()
_LOCK = threading.Lock()
_WORDS = re.compile(r"\s+")


def label(statement: str) -> str:
    """`SELECT relocks.unlock_id, ... FROM relocks WHERE ...` -> its verb and its table(s), short."""
    flat = _WORDS.sub(" ", statement).strip()
    verb = flat.split(" ", 1)[0].upper()
    without_locking = re.sub(r"\bFOR UPDATE( SKIP LOCKED)?", "", flat, flags=re.IGNORECASE)
    tables = re.findall(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+\"?(\w+)", without_locking, re.IGNORECASE)
    where = ""
    if verb == "SELECT" and "relocks" in tables:
        where = " (due)" if "due_at <=" in flat else ""
    return f"{verb} {','.join(dict.fromkeys(tables)) or flat[:40]}{where}"


def install() -> None:
    from sqlalchemy import event  # noqa: PLC0415
    from sqlalchemy.engine import Engine  # noqa: PLC0415

    started: dict[int, float] = {}

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        started[id(cursor)] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        took = time.perf_counter() - started.pop(id(cursor), time.perf_counter())
        name = label(statement)
        with _LOCK:
            COUNTS[name] += 1
            SECONDS[name] += took

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)


def write_totals(path: Path) -> None:
    while True:
        with _LOCK:
            totals = {"at": time.time(), "counts": dict(COUNTS), "seconds": dict(SECONDS)}
        scratch = path.with_suffix(".tmp")
        scratch.write_text(json.dumps(totals), encoding="utf-8")
        scratch.replace(path)
        time.sleep(0.5)


def main() -> int:
    install()
    path = os.environ.get("BENCH_QUERIES")
    if path:
        threading.Thread(target=write_totals, args=(Path(path),), daemon=True, name="query totals").start()
    from bot.__main__ import main as lockbot  # noqa: PLC0415

    profile_to = os.environ.get("BENCH_PROFILE")
    if not profile_to:
        return lockbot(sys.argv[1:])
    import cProfile  # noqa: PLC0415

    profiler = cProfile.Profile()
    try:
        return profiler.runcall(lockbot, sys.argv[1:])
    finally:
        profiler.dump_stats(profile_to)


if __name__ == "__main__":
    sys.exit(main())
