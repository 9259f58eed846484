"""What becomes of an unfinished action after a restart: the decision as a table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.model import ActionKind, ActionRecord, ActionState, RequestState, UnlockRequest
from bot.resumption import STALE_QUEUED, Resumption, resumption

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
FRESH = NOW - STALE_QUEUED + timedelta(seconds=1)
STALE = NOW - STALE_QUEUED


def action(
    state: ActionState, kind: ActionKind, *, created_at: datetime = FRESH, attempt_id: str | None = None
) -> ActionRecord:
    return ActionRecord(
        id="a1",
        kind=kind,
        device_id="lock_1",
        door="Front Door",
        requested_by="U1",
        reason="",
        channel="C1",
        state=state,
        created_at=created_at,
        updated_at=created_at,
        attempt_id=attempt_id,
    )


REQUEST = UnlockRequest(
    id="r1",
    device_id="lock_1",
    door="Front Door",
    requester="U1",
    reason="",
    origin_channel="C1",
    channel="C2",
    state=RequestState.APPROVED,
    created_at=FRESH,
    expires_at=NOW + timedelta(minutes=5),
    message_ts="1.1",
)

LOCK, UNLOCK = ActionKind.LOCK, ActionKind.UNLOCK
QUEUED, REQUESTING, PENDING = ActionState.QUEUED, ActionState.REQUESTING, ActionState.PENDING


@pytest.mark.parametrize(
    ("record", "approved", "decision"),
    [
        # Seam gave an attempt: follow it, whatever its kind or age.
        (action(PENDING, UNLOCK, attempt_id="att_1", created_at=STALE), None, Resumption.FOLLOW),
        (action(PENDING, LOCK, attempt_id="att_1"), REQUEST, Resumption.FOLLOW),
        # Seam may have been asked and there is nothing to follow: never sent again.
        (action(REQUESTING, UNLOCK), None, Resumption.OUTCOME_UNKNOWN),
        (action(REQUESTING, LOCK), REQUEST, Resumption.OUTCOME_UNKNOWN),
        (action(PENDING, LOCK), None, Resumption.OUTCOME_UNKNOWN),
        # A direct /unlock that was never sent: nobody may be waiting for it, however fresh.
        (action(QUEUED, UNLOCK), None, Resumption.DROP_UNSENT_UNLOCK),
        (action(QUEUED, UNLOCK, created_at=STALE), None, Resumption.DROP_UNSENT_UNLOCK),
        # Never sent and recent: an approved unlock or a lock is sent.
        (action(QUEUED, UNLOCK), REQUEST, Resumption.SEND),
        (action(QUEUED, LOCK), None, Resumption.SEND),
        # Never sent and too old: failed, not sent.
        (action(QUEUED, UNLOCK, created_at=STALE), REQUEST, Resumption.TOO_OLD),
        (action(QUEUED, LOCK, created_at=STALE), None, Resumption.TOO_OLD),
    ],
)
def test_an_unfinished_action_is_followed_sent_or_finished_as_its_state_and_age_say(
    record: ActionRecord, approved: UnlockRequest | None, decision: Resumption
) -> None:
    assert resumption(record, approved, NOW) is decision
