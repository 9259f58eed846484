"""Slack edits and deletes still owed after a fault or a stop, kept until Slack takes them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "owed_slack_messages",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("owe_id", sa.String(32), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("owed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "ts", name="pk_owed_slack_messages"),
    )
    op.create_index("ix_owed_slack_messages_due_at", "owed_slack_messages", ["due_at"])


def downgrade() -> None:
    op.drop_table("owed_slack_messages")
