"""Unlock requests remember whether their decision is still owed to Slack (message and requester).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("unlock_requests") as table:
        table.add_column(sa.Column("announced", sa.Boolean(), nullable=True))
    op.create_index("ix_unlock_requests_announced", "unlock_requests", ["announced"])


def downgrade() -> None:
    op.drop_index("ix_unlock_requests_announced", "unlock_requests")
    with op.batch_alter_table("unlock_requests") as table:
        table.drop_column("announced")
