"""Alembic environment: lockbot runs migrations on a connection it hands over (see bot.db.migrate)."""

from __future__ import annotations

from alembic import context

from bot.db import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("lockbot applies its migrations itself at start; run `python -m bot`")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
