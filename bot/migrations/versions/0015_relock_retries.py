"""Relock retries: a relock counts the lock actions started for it, and keeps its status message in
the thread so each retry edits it instead of posting anew. A retry waits as a pending relock with a
later due time, found by the same indexed query (state, due_at).

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("relocks") as table:
        table.add_column(sa.Column("tries", sa.Integer(), nullable=False, server_default="0"))
        table.add_column(sa.Column("status_ts", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("relocks") as table:
        table.drop_column("status_ts")
        table.drop_column("tries")
