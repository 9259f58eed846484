"""A relock that Seam says worked but the lock did not confirm: the unlock's status says so."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.model import (
    ActionKind,
    ActionRecord,
    ActionState,
    ActionThread,
    ActionView,
    AuditEntry,
    Relock,
    RelockState,
    UnlockRequest,
)
from bot.policy import Policy
from bot.relocks import Relocks
from bot.slack.messages.actions import render_action_status

AT = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)


def record(action_id: str, kind: ActionKind, **kwargs: object) -> ActionRecord:
    given: dict[str, object] = {
        "id": action_id,
        "kind": kind,
        "device_id": "lock_1",
        "door": "Front Door",
        "requested_by": "U0UNLOCKER",
        "reason": "",
        "channel": "C0GENERAL",
        "state": ActionState.SUCCEEDED,
        "created_at": AT,
        "updated_at": AT,
    }
    return ActionRecord(**(given | kwargs))  # type: ignore[arg-type]


UNLOCK = record("u" * 32, ActionKind.UNLOCK, parent_ts="1.000001", status_ts="1.000002")
RELOCK = Relock(
    UNLOCK.id, "lock_1", "Front Door", "U0UNLOCKER", "C0GENERAL", "1.000001", AT, AT + timedelta(minutes=10),
    state=RelockState.STARTED, lock_action_id="l" * 32,
)  # fmt: skip


class Records:
    async def relock_by_lock_action(self, action_id: str) -> Relock | None:
        return RELOCK if action_id == RELOCK.lock_action_id else None

    async def action(self, action_id: str) -> ActionRecord | None:
        return UNLOCK if action_id == UNLOCK.id else None

    async def request(self, request_id: str) -> UnlockRequest | None:
        return None

    async def audit(self, entry: AuditEntry) -> None:
        pass

    async def settle_relocks(
        self,
        device_id: str,
        *,
        by: str | None,
        unlocked_before: datetime,
        audit_of: Callable[[Relock], AuditEntry] | None = None,
    ) -> list[Relock]:
        return []


class Messenger:
    def __init__(self) -> None:
        self.ended: list[ActionView] = []

    async def settled(self, relock: Relock, parent: ActionView) -> None:
        raise AssertionError("the relock ran: nothing settled it")

    async def unlock_ended(self, thread: ActionThread, unlock: ActionView) -> None:
        self.ended.append(unlock)

    async def failed(self, relock: Relock, outcome: ActionView, notify_channel: str | None) -> None:
        raise AssertionError("Seam said it worked")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("confirmed", "words"), [(True, ", locked again (UTC)."), (False, "(unconfirmed by the device).")]
)
async def test_the_unlocks_status_says_whether_its_relock_was_confirmed(confirmed: bool, words: str) -> None:
    messenger = Messenger()
    relocks = Relocks(Records(), None, messenger, Policy(), clock=lambda: AT + timedelta(minutes=10))  # type: ignore[arg-type]
    lock = record(RELOCK.lock_action_id or "", ActionKind.LOCK, attempt_id="attempt_1", confirmed_by_device=confirmed)

    view = ActionView(ActionKind.LOCK, "Front Door", "U0UNLOCKER", ActionState.SUCCEEDED, confirmed_by_device=confirmed)
    await relocks.action_finished(lock, view)

    [unlock] = messenger.ended
    status = render_action_status(unlock).text
    assert status.startswith("Done: Front Door unlocked ")
    assert status.endswith(words)
