"""Seam's webhooks, played by the bench: a process of its own that POSTs each attempt's signed outcome event."""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import math
import time
import uuid
from multiprocessing.context import SpawnContext
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path
from typing import Any

import httpx

from bench.harness.config import SEND_TIMEOUT_S
from bench.harness.load import post_once
from bench.harness.results import Delivery

__all__ = ["Deliverer", "deliver_outcomes", "read_deliveries"]


def deliver_outcomes(
    seam_url: str, webhook_url: str, secret: str, delay_ms: int, out_path: str, stop: ProcessEvent
) -> None:
    """Do what Seam does with a webhook: as soon as the fake says an attempt ended, POST the signed
    `action_attempt.<action>.succeeded|failed` event to `webhook_url`. One JSON line per delivery."""
    asyncio.run(_deliver_outcomes(seam_url, webhook_url, secret, delay_ms, Path(out_path), stop))


async def _deliver_outcomes(
    seam_url: str, webhook_url: str, secret: str, delay_ms: int, out_path: Path, stop: ProcessEvent
) -> None:
    from svix.webhooks import Webhook  # noqa: PLC0415 - only this process needs it

    webhook = Webhook(secret)
    delivered: set[str] = set()
    deliveries: set[asyncio.Task[None]] = set()

    async def deliver(attempt: dict[str, Any], seen_at: float, out: io.TextIOBase) -> None:
        action = str(attempt["action_type"]).lower()
        outcome = "succeeded" if attempt["status"] == "success" else "failed"
        now = datetime.datetime.now(datetime.UTC)
        occurred = datetime.datetime.fromtimestamp(attempt["completed_ms"] / 1000, datetime.UTC)
        event = {
            "event_id": str(uuid.uuid4()),
            "event_type": f"action_attempt.{action}.{outcome}",
            "action_attempt_id": attempt["action_attempt_id"],
            "device_id": attempt["device_id"],
            "workspace_id": "ws_bot_test",
            "connected_account_id": "ca_bot_test",
            "created_at": now.isoformat().replace("+00:00", "Z"),
            "occurred_at": occurred.isoformat().replace("+00:00", "Z"),
        }
        body = json.dumps(event)
        message_id = f"msg_{uuid.uuid4().hex}"
        headers = {
            "svix-id": message_id,
            "svix-timestamp": str(int(now.timestamp())),
            "svix-signature": webhook.sign(message_id, now, body),
            "Content-Type": "application/json",
        }
        sent_at = time.time()
        try:
            status, _ = await asyncio.wait_for(post_once(webhook_url, body.encode(), headers), SEND_TIMEOUT_S)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError, TimeoutError):
            status = 0
        record = {
            "attempt_id": attempt["action_attempt_id"],
            "completed_ms": attempt["completed_ms"],
            "seen_at": seen_at,
            "sent_at": sent_at,
            "answered_at": time.time(),
            "status": status,
        }
        out.write(json.dumps(record) + "\n")
        out.flush()

    async with httpx.AsyncClient(base_url=seam_url, timeout=10) as fixture:
        with out_path.open("a", encoding="utf-8") as out:
            while not stop.is_set():
                attempts = (await fixture.get("/_fixture/attempts")).json()["attempts"]
                seen_at = time.time()
                due: list[float] = []
                for attempt in attempts:
                    if attempt["action_attempt_id"] in delivered:
                        continue
                    if attempt["completed_ms"] is None:
                        due.append(attempt["created_ms"] / 1000 + delay_ms / 1000)
                        continue
                    delivered.add(attempt["action_attempt_id"])
                    task = asyncio.create_task(deliver(attempt, seen_at, out))
                    deliveries.add(task)
                    task.add_done_callback(deliveries.discard)
                # Every 2 ms from just before the soonest pending attempt is due, every 50 ms otherwise.
                until_due = min(due, default=math.inf) - time.time() - 0.03
                await asyncio.sleep(min(0.05, max(0.002, until_due)))
            if deliveries:
                await asyncio.gather(*deliveries)


class Deliverer:
    """`deliver_outcomes` in a process of its own, writing its lines to `out_path`."""

    def __init__(
        self, context: SpawnContext, seam_url: str, webhook_url: str, secret: str, delay_ms: int, out_path: Path
    ) -> None:
        self._stopping = context.Event()
        self._process = context.Process(
            target=deliver_outcomes,
            args=(seam_url, webhook_url, secret, delay_ms, str(out_path), self._stopping),
            name="seam-webhooks",
            daemon=True,
        )

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def start(self) -> Deliverer:
        self._process.start()
        return self

    def stop(self) -> None:
        """Deliver what is due, then end (terminated after 15 s)."""
        if self._process.pid is None:
            return
        self._stopping.set()
        self._process.join(15)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)


def read_deliveries(path: Path) -> dict[str, Delivery]:
    """What `deliver_outcomes` wrote, by attempt id."""
    if not path.exists():
        return {}
    found: dict[str, Delivery] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            found[record["attempt_id"]] = Delivery(**record)
    return found
