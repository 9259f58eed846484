"""Command results that the Slack edge words for the person who asked: values, never sentences.

Every string field here is a plain value (a door name, an id, an API's own words), unescaped;
only `bot/slack/` chooses the words around it and escapes it. The reasons are the model's one
vocabulary of problems (`bot.model.ProblemReason`), re-exported here for the services that answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.model import ProblemReason

__all__ = ["Problem", "ProblemReason"]


@dataclass(frozen=True)
class Problem:
    """Something outside the user's control stopped the command: why, and the values to say it with."""

    reason: ProblemReason
    detail: str | None = None  # plain words from an API or from Slack: why, as they put it
    door: str | None = None
    action: str | None = None  # "lock" or "unlock"
    slot_id: str | None = None
    user: str | None = None
    status: int | None = None  # the HTTP status, when it is the reason (an API's 5xx)
    duration: timedelta | None = None  # a limit on how long, when it is the reason
