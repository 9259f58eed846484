"""Doors left unlocked: one row per unlock, at most one open per door, found by the scheduler with one
indexed query (state, due_at).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "door_unlocked_alerts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("device_id", sa.String(128), nullable=False),
        sa.Column("open_device_id", sa.String(128), nullable=True, unique=True),
        sa.Column("door", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("unlocked_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("notice_ts", sa.String(32), nullable=True),
        sa.Column("posted_at", UTCDateTime(), nullable=True),
        sa.Column("locked_at", UTCDateTime(), nullable=True),
        sa.Column("locked_by", sa.String(32), nullable=True),
        sa.Column("locked_how", sa.String(32), nullable=True),
    )
    op.create_index("ix_door_unlocked_alerts_state_due_at", "door_unlocked_alerts", ["state", "due_at"])
    op.create_index("ix_door_unlocked_alerts_device_id", "door_unlocked_alerts", ["device_id"])


def downgrade() -> None:
    op.drop_table("door_unlocked_alerts")
