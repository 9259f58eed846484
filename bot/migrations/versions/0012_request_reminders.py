"""Reminders of undecided unlock requests: one row per request, the next due time indexed for the
scheduler's one query per tick.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_reminders",
        sa.Column("request_id", sa.String(32), primary_key=True),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("reminded_at", UTCDateTime(), nullable=True),
        sa.Column("escalated_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_request_reminders_due_at", "request_reminders", ["due_at"])


def downgrade() -> None:
    op.drop_table("request_reminders")
