"""The actions table names its state column `state`, as the model does (it was `phase`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_actions_phase", "actions")
    with op.batch_alter_table("actions") as table:
        table.alter_column("phase", new_column_name="state", existing_type=sa.String(16), existing_nullable=False)
    op.create_index("ix_actions_state", "actions", ["state"])


def downgrade() -> None:
    op.drop_index("ix_actions_state", "actions")
    with op.batch_alter_table("actions") as table:
        table.alter_column("state", new_column_name="phase", existing_type=sa.String(16), existing_nullable=False)
    op.create_index("ix_actions_phase", "actions", ["phase"])
