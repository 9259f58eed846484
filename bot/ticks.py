"""One loop for every promise about the future (relocks, reminders, alerts, Home refreshes).

Each scheduled feature stores its promises with a due time and an indexed query for the due ones,
and takes each one with a conditional write so that, across instances, exactly one runs it. What
it shares is this loop: every tick, run what is due (a full batch means more may be due at once),
and a tick that fails is logged loudly and tried again at the next.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

__all__ = ["run_every_tick"]

log = logging.getLogger(__name__)


async def run_every_tick(run_due: Callable[[], Awaitable[int]], *, tick_seconds: float, batch: int, what: str) -> None:
    """Until cancelled: call `run_due` at once, then every `tick_seconds`.

    `run_due` returns how many promises were due; while that is a full `batch`, it is called again
    without waiting. The first call is at once, so what fell due while lockbot was stopped runs at start.
    """
    while True:
        try:
            while await run_due() >= batch:
                pass  # a full batch: more may be due now
        except Exception:
            log.exception("could not run the due %s; trying again at the next tick", what)
        await asyncio.sleep(tick_seconds)
