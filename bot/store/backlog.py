"""What is waiting, across every instance sharing the database: one indexed count each.

Read when `/metrics` is scraped. These are the database's facts, not one instance's: an instance's
memory sees only the work it holds and forgets it at a restart, while the rows are what every
instance will act on (a dead instance's orphans included). Each count is on a table's index that
leads with `state`, so a scrape costs three index range counts, however long the history.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from bot.db import actions, relocks, unlock_requests
from bot.model import ActionState, RelockState, RequestState
from bot.store.database import Database

__all__ = ["Backlog", "BacklogCounts"]

_IN_FLIGHT = [str(state) for state in ActionState if not state.final]


@dataclass(frozen=True)
class Backlog:
    pending_requests: int  # undecided unlock requests
    pending_relocks: int  # timed unlocks waiting for their time
    actions_in_flight: int  # door actions not yet at an outcome (queued, requesting, pending)


class BacklogCounts:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def backlog(self) -> Backlog:
        async with self._db.reading() as connection:
            requests = await connection.scalar(
                select(func.count()).where(unlock_requests.c.state == str(RequestState.PENDING))
            )
            waiting = await connection.scalar(select(func.count()).where(relocks.c.state == str(RelockState.PENDING)))
            in_flight = await connection.scalar(select(func.count()).where(actions.c.state.in_(_IN_FLIGHT)))
        return Backlog(pending_requests=requests or 0, pending_relocks=waiting or 0, actions_in_flight=in_flight or 0)
