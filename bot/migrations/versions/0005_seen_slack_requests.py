"""Slack requests already taken are remembered (replays do nothing); door names may be any length.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Seam does not bound a device's name: these hold the name as Seam gave it.
_DOOR_COLUMNS = {"unlock_requests": False, "actions": False, "audit_log": True}


def upgrade() -> None:
    op.create_table(
        "seen_slack_requests",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_seen_slack_requests"),
    )
    op.create_index("ix_seen_slack_requests_expires_at", "seen_slack_requests", ["expires_at"])
    for table_name, nullable in _DOOR_COLUMNS.items():
        with op.batch_alter_table(table_name) as table:
            table.alter_column("door", type_=sa.Text(), existing_type=sa.String(256), existing_nullable=nullable)


def downgrade() -> None:
    for table_name, nullable in _DOOR_COLUMNS.items():
        with op.batch_alter_table(table_name) as table:
            table.alter_column("door", type_=sa.String(256), existing_type=sa.Text(), existing_nullable=nullable)
    op.drop_table("seen_slack_requests")
