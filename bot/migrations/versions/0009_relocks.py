"""Timed unlocks: an unlock action and an unlock request keep how long it lasts, and each pending relock is a row the
scheduler finds with one indexed query (state, due_at).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("actions") as table:
        table.add_column(sa.Column("unlock_for_seconds", sa.Integer(), nullable=True))
    with op.batch_alter_table("unlock_requests") as table:
        table.add_column(sa.Column("unlock_for_seconds", sa.Integer(), nullable=True))
    op.create_table(
        "relocks",
        sa.Column("unlock_id", sa.String(32), primary_key=True),
        sa.Column("device_id", sa.String(128), nullable=False),
        sa.Column("door", sa.Text(), nullable=False),
        sa.Column("unlocked_by", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("parent_ts", sa.String(32), nullable=False),
        sa.Column("unlocked_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("lock_action_id", sa.String(32), nullable=True),
        sa.Column("settled_by", sa.String(32), nullable=True),
    )
    op.create_index("ix_relocks_state_due_at", "relocks", ["state", "due_at"])
    op.create_index("ix_relocks_device_id", "relocks", ["device_id"])
    op.create_index("ix_relocks_lock_action_id", "relocks", ["lock_action_id"])


def downgrade() -> None:
    op.drop_table("relocks")
    with op.batch_alter_table("unlock_requests") as table:
        table.drop_column("unlock_for_seconds")
    with op.batch_alter_table("actions") as table:
        table.drop_column("unlock_for_seconds")
