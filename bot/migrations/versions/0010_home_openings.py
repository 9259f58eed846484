"""App Home: who opened their Home when, and whether something on it changed since it was published.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "home_openings",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_home_openings_opened_at", "home_openings", ["opened_at"])
    op.create_index("ix_home_openings_changed_at", "home_openings", ["changed_at"])


def downgrade() -> None:
    op.drop_table("home_openings")
