"""What becomes of an action found unfinished after a restart: a pure decision, tested as a table."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from bot.model import ActionKind, ActionRecord, ActionState, UnlockRequest

__all__ = ["STALE_QUEUED", "Resumption", "resumption"]

# An approved action that was never sent and is older than this is not sent after a restart.
STALE_QUEUED = timedelta(minutes=2)


class Resumption(StrEnum):
    FOLLOW = "follow"  # Seam took it and gave an attempt: follow that attempt to its end
    DROP_UNSENT_UNLOCK = "drop_unsent_unlock"  # a direct /unlock never sent: nobody may be waiting, so not sent
    SEND = "send"  # never sent and recent: show it (if not shown yet) and send it
    TOO_OLD = "too_old"  # never sent, and too long ago to send now: failed
    OUTCOME_UNKNOWN = "outcome_unknown"  # Seam may have been asked, with no attempt to follow: not confirmed


def resumption(record: ActionRecord, request: UnlockRequest | None, now: datetime) -> Resumption:
    """What to do with an unfinished action taken over at `now` (`request`: the approved request it carries out).

    An action that may already have reached Seam is never sent again.
    """
    if record.state is ActionState.PENDING and record.attempt_id:
        return Resumption.FOLLOW
    if record.state is not ActionState.QUEUED:
        return Resumption.OUTCOME_UNKNOWN
    if request is None and record.kind is ActionKind.UNLOCK:
        # Whoever typed it saw it stall or fail, and may have walked away.
        return Resumption.DROP_UNSENT_UNLOCK
    if now - record.created_at < STALE_QUEUED:
        return Resumption.SEND
    return Resumption.TOO_OLD
