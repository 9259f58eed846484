"""Edits and deletes of Slack messages that Slack did not take, kept until it does."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.db import owed_slack_messages
from bot.model import OwedSlackMessage
from bot.store.database import Database

__all__ = ["OwedSlackMessageRecords"]


class OwedSlackMessageRecords:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def owe_slack_message(self, owed: OwedSlackMessage) -> None:
        """Remember an edit or delete Slack did not take; it replaces what was owed for that message."""
        values = {
            "owe_id": owed.owe_id,
            "message": owed.message,
            "attempts": owed.attempts,
            "due_at": owed.due_at,
            "claimed_until": None,
            "owed_at": owed.owed_at,
        }
        this_message = (owed_slack_messages.c.channel == owed.channel, owed_slack_messages.c.ts == owed.ts)
        for _ in range(2):  # insert, or replace the debt another write added meanwhile
            async with self._db.transaction() as connection:
                replaced = await connection.execute(update(owed_slack_messages).where(*this_message).values(values))
            if replaced.rowcount == 1:
                return
            try:
                async with self._db.transaction() as connection:
                    await connection.execute(
                        insert(owed_slack_messages).values(channel=owed.channel, ts=owed.ts, **values)
                    )
            except IntegrityError:
                continue
            return

    async def claim_owed_slack_messages(
        self, now: datetime, claim_until: datetime, *, limit: int = 50
    ) -> list[OwedSlackMessage]:
        """Take the debts due now that no instance holds (one conditional write each), until then."""
        claimable = and_(
            owed_slack_messages.c.due_at <= now,
            or_(owed_slack_messages.c.claimed_until.is_(None), owed_slack_messages.c.claimed_until < now),
        )
        async with self._db.reading() as connection:
            due = (
                await connection.execute(
                    select(owed_slack_messages).where(claimable).order_by(owed_slack_messages.c.due_at).limit(limit)
                )
            ).all()
        claimed = []
        for row in due:
            async with self._db.transaction() as connection:
                won = await connection.execute(
                    update(owed_slack_messages)
                    .where(
                        owed_slack_messages.c.channel == row.channel,
                        owed_slack_messages.c.ts == row.ts,
                        owed_slack_messages.c.owe_id == row.owe_id,
                        claimable,
                    )
                    .values(claimed_until=claim_until)
                )
            if won.rowcount == 1:
                values = dict(row._mapping)
                values.pop("claimed_until")
                claimed.append(OwedSlackMessage(**values))
        return claimed

    async def settle_owed_slack_message(self, owed: OwedSlackMessage) -> None:
        """Slack took it (or it can never be taken): forget this debt, not a later one for the message."""
        async with self._db.transaction() as connection:
            await connection.execute(
                owed_slack_messages.delete().where(
                    owed_slack_messages.c.channel == owed.channel,
                    owed_slack_messages.c.ts == owed.ts,
                    owed_slack_messages.c.owe_id == owed.owe_id,
                )
            )

    async def postpone_owed_slack_message(self, owed: OwedSlackMessage, due_at: datetime) -> None:
        """Slack did not take it this time either: one attempt more, tried again from `due_at`."""
        async with self._db.transaction() as connection:
            await connection.execute(
                update(owed_slack_messages)
                .where(
                    owed_slack_messages.c.channel == owed.channel,
                    owed_slack_messages.c.ts == owed.ts,
                    owed_slack_messages.c.owe_id == owed.owe_id,
                )
                .values(attempts=owed.attempts + 1, due_at=due_at, claimed_until=None)
            )

    async def forget_owed_slack_message(self, channel: str, ts: str, *, owed_before: datetime) -> None:
        """A newer edit of the message went through: a debt owed to it before then is stale."""
        async with self._db.transaction() as connection:
            await connection.execute(
                owed_slack_messages.delete().where(
                    owed_slack_messages.c.channel == channel,
                    owed_slack_messages.c.ts == ts,
                    owed_slack_messages.c.owed_at < owed_before,
                )
            )

    async def next_owed_slack_message(self) -> datetime | None:
        """When the soonest debt to Slack comes due (claimed or not)."""
        async with self._db.reading() as connection:
            return (
                await connection.execute(
                    select(owed_slack_messages.c.due_at).order_by(owed_slack_messages.c.due_at).limit(1)
                )
            ).scalar()
