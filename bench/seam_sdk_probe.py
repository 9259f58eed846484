"""Seam's own Python SDK (the `seam` package) following single action attempts against the Seam fake.

Run by `bench/run.py` in a child process whose path has the SDK on it (the SDK pins `svix<2`, so
it may live beside lockbot's virtualenv's packages rather than among them: see `SDK_DIR` in
run.py). For each attempt it clears the fake's call counts, calls
`seam.locks.lock_door(device_id=..., wait_for_action_attempt=True)` (the SDK then polls
`/action_attempts/get` every `POLLING_INTERVAL` seconds, 0.5 s by default), and prints one JSON
line: the calls the fake saw, and when the call returned against when the attempt completed.
The first line printed says which SDK it is.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
import time
from typing import Any

import httpx
import seam  # type: ignore[import-not-found]
from seam.modules import action_attempts  # type: ignore[import-not-found]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--device", action="append", required=True)
    parser.add_argument("--attempts", type=int, default=3)
    args = parser.parse_args(argv)

    print(
        json.dumps(
            {
                "sdk_version": importlib.metadata.version("seam"),
                "polling_interval": action_attempts.POLLING_INTERVAL,
                "timeout": action_attempts.TIMEOUT,
                "module": seam.__file__,
            }
        ),
        flush=True,
    )
    client = seam.Seam(api_key=args.api_key, endpoint=args.endpoint)
    with httpx.Client(base_url=args.endpoint, timeout=10) as fixture:
        for index in range(args.attempts):
            device_id = args.device[index % len(args.device)]
            fixture.post("/_fixture/reset", json={}).raise_for_status()
            started = time.time()
            attempt: Any = client.locks.lock_door(device_id=device_id, wait_for_action_attempt=True)
            returned = time.time()
            calls = fixture.get("/_fixture/calls").json()["calls"]
            timelines = fixture.get("/_fixture/attempts").json()["attempts"]
            timeline = next(t for t in timelines if t["action_attempt_id"] == attempt.action_attempt_id)
            print(
                json.dumps(
                    {
                        "device_id": device_id,
                        "action_attempt_id": attempt.action_attempt_id,
                        "status": attempt.status,
                        "calls": calls,
                        "started": started,
                        "returned": returned,
                        "completed_ms": timeline["completed_ms"],
                    }
                ),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
