"""Slot locks lockbot made, with their keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slot_locks",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("slot_id", sa.String(128), nullable=False),
        sa.Column("lock_key", sa.String(128), nullable=False),
        sa.Column("locked_by", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("parent_ts", sa.String(32), nullable=True),
        sa.Column("status_ts", sa.String(32), nullable=True),
        sa.Column("unlocked_by", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_slot_locks"),
    )
    op.create_index("ix_slot_locks_slot_id_state", "slot_locks", ["slot_id", "state"])


def downgrade() -> None:
    op.drop_table("slot_locks")
