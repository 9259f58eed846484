"""lockbot's database: the tables, the engine, and migrations applied at start.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) lets several instances share
the work. The schema is owned by Alembic migrations in `bot/migrations`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
    insert,
    inspect,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

__all__ = [
    "MIGRATE_URL_VARIABLE",
    "MIGRATIONS",
    "MIGRATION_TIMEOUT_SECONDS",
    "MigrationFailed",
    "UTCDateTime",
    "actions",
    "async_database_url",
    "audit_log",
    "check_writable",
    "create_engine",
    "door_unlocked_alerts",
    "head_revision",
    "home_openings",
    "inspection_engine",
    "metadata",
    "migrate",
    "owed_slack_messages",
    "relocks",
    "request_reminders",
    "schema_revision",
    "seam_events",
    "seen_slack_requests",
    "slot_locks",
    "unlock_requests",
    "upgrade",
]

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant: several instances starting at once take turns to migrate.
_MIGRATION_LOCK_KEY = 7_314_120_009
# The longest a migration may take at start before lockbot gives up (and says so) instead of hanging.
MIGRATION_TIMEOUT_SECONDS = 300
# How `migrate` hands the database to the child process that runs Alembic (never on a command line).
MIGRATE_URL_VARIABLE = "LOCKBOT_MIGRATE_URL"
_REVISION = re.compile(r"""^revision\b[^=\n]*=\s*["']([^"']+)["']""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"""^down_revision\b[^=\n]*=\s*["']([^"']+)["']""", re.MULTILINE)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        # SQLite keeps text: store every value the same way so comparisons order correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

unlock_requests = Table(
    "unlock_requests",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("device_id", String(128), nullable=False),
    Column("door", Text, nullable=False),
    Column("requester", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("origin_channel", String(32), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("message_ts", String(32), nullable=True),
    Column("state", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("decided_by", String(32), nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("note", Text, nullable=True),
    Column("unlock_for_seconds", Integer, nullable=True),
    # False: the decision (denied, cancelled, expired) is still to be shown and told; else nothing is owed.
    Column("announced", Boolean, nullable=True),
    Index("ix_unlock_requests_state_expires_at", "state", "expires_at"),
    Index("ix_unlock_requests_announced", "announced"),
)

actions = Table(
    "actions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("device_id", String(128), nullable=False),
    Column("door", Text, nullable=False),
    Column("requested_by", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("request_id", String(32), nullable=True),
    Column("approved_by", String(32), nullable=True),
    Column("channel", String(32), nullable=False),
    Column("parent_ts", String(32), nullable=True),
    Column("status_ts", String(32), nullable=True),
    Column("state", String(16), nullable=False),
    Column("attempt_id", String(128), nullable=True),
    Column("problem", Text, nullable=True),
    Column("confirmed_by_device", Boolean, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires", UTCDateTime, nullable=True),
    Column("unlock_for_seconds", Integer, nullable=True),
    Index("ix_actions_state", "state"),
    Index("ix_actions_attempt_id", "attempt_id"),
)

relocks = Table(
    "relocks",
    metadata,
    Column("unlock_id", String(32), primary_key=True),
    Column("device_id", String(128), nullable=False),
    Column("door", Text, nullable=False),
    Column("unlocked_by", String(32), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("parent_ts", String(32), nullable=False),
    Column("unlocked_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("lock_action_id", String(32), nullable=True),
    Column("settled_by", String(32), nullable=True),
    Column("tries", Integer, nullable=False, server_default="0"),
    Column("status_ts", String(32), nullable=True),
    # The scheduler's one query per tick: the pending ones, soonest first.
    Index("ix_relocks_state_due_at", "state", "due_at"),
    Index("ix_relocks_device_id", "device_id"),
    Index("ix_relocks_lock_action_id", "lock_action_id"),
)

request_reminders = Table(
    "request_reminders",
    metadata,
    Column("request_id", String(32), primary_key=True),
    Column("due_at", UTCDateTime, nullable=True),
    Column("taken", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("reminded_at", UTCDateTime, nullable=True),
    Column("escalated_at", UTCDateTime, nullable=True),
    # The scheduler's one query per tick: the due ones, soonest first (None: no more to send).
    Index("ix_request_reminders_due_at", "due_at"),
)

# Doors left unlocked: one row per unlock (a door has at most one open row: `open_device_id`, unique,
# is its device id while open and NULL once closed), and the scheduler's one query per tick on (state, due_at).
door_unlocked_alerts = Table(
    "door_unlocked_alerts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("device_id", String(128), nullable=False),
    Column("open_device_id", String(128), nullable=True, unique=True),
    Column("door", Text, nullable=False),
    Column("channel", String(32), nullable=False),
    Column("unlocked_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("notice_ts", String(32), nullable=True),
    Column("posted_at", UTCDateTime, nullable=True),
    Column("locked_at", UTCDateTime, nullable=True),
    Column("locked_by", String(32), nullable=True),
    Column("locked_how", String(32), nullable=True),
    Index("ix_door_unlocked_alerts_state_due_at", "state", "due_at"),
    Index("ix_door_unlocked_alerts_device_id", "device_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(32), nullable=False),
    Column("event", String(32), nullable=False),
    Column("door", Text, nullable=True),
    Column("device_id", String(128), nullable=True),
    Column("outcome", String(64), nullable=False),
    Column("attempt_id", String(128), nullable=True),
    Column("request_id", String(32), nullable=True),
    Column("detail", Text, nullable=True),
    Column("problem", Text, nullable=True),  # an ActionProblem's JSON (older entries: none, the words in `detail`)
    Index("ix_audit_log_at", "at"),
)


slot_locks = Table(
    "slot_locks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("slot_id", String(128), nullable=False),
    Column("lock_key", String(128), nullable=False),
    Column("locked_by", String(32), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("locked_until", UTCDateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("parent_ts", String(32), nullable=True),
    Column("status_ts", String(32), nullable=True),
    Column("unlocked_by", String(32), nullable=True),
    Index("ix_slot_locks_slot_id_state", "slot_id", "state"),
)


seam_events = Table(
    "seam_events",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("event_type", String(128), nullable=False),
    Column("payload", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("processed", Boolean, nullable=False),
    Index("ix_seam_events_processed", "processed"),
)


# Slack requests already taken (a digest of the body), kept while a copy could still pass the signature
# check: a replay, on any instance, finds its request here and is not run again.
seen_slack_requests = Table(
    "seen_slack_requests",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_seen_slack_requests_expires_at", "expires_at"),
)


# What is still owed to Slack: the final edit (or the delete) of a message that Slack did not take,
# kept until Slack takes it, so no message stays stale after a fault or a restart.
owed_slack_messages = Table(
    "owed_slack_messages",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("ts", String(32), primary_key=True),
    Column("owe_id", String(32), nullable=False),
    Column("message", Text, nullable=True),  # Slack's JSON (text, blocks); NULL: delete the message
    Column("attempts", Integer, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("owed_at", UTCDateTime, nullable=False),
    Index("ix_owed_slack_messages_due_at", "due_at"),
)

home_openings = Table(
    "home_openings",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("opened_at", UTCDateTime, nullable=False),
    # Something on this person's Home changed at this time and it is not published again yet; NULL: current.
    Column("changed_at", UTCDateTime, nullable=True),
    Index("ix_home_openings_opened_at", "opened_at"),
    Index("ix_home_openings_changed_at", "changed_at"),
)


def async_database_url(url: str) -> str:
    """DATABASE_URL as given (sqlite:///…, postgresql://…) with the async driver named."""
    scheme, _, rest = url.partition("://")
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if base in ("postgresql", "postgres"):
        return f"postgresql+asyncpg://{rest}"
    raise ValueError(f"unsupported database {base!r}")


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers and a writer work at once; busy_timeout waits for the lock instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(database_url: str) -> AsyncEngine:
    url = async_database_url(database_url)
    if url.startswith("sqlite"):
        # SQLite has one writer at a time. One connection makes writers queue in order here, instead
        # of contending for the file lock and sleeping in SQLite's busy handler.
        # hide_parameters: an error's message must never carry a value (a slot's lock key) into a log.
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, hide_parameters=True)


def inspection_engine(database_url: str) -> AsyncEngine:
    """An engine for looking at the database (`python -m bot check`): it sets nothing on connecting."""
    return create_async_engine(async_database_url(database_url), poolclass=NullPool, hide_parameters=True)


async def check_writable(engine: AsyncEngine) -> None:
    """Raise unless the database takes a write, without changing it: one row is written in a
    transaction that is then rolled back (a table without a sequence, so not even one moves)."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            await connection.execute(
                insert(seen_slack_requests).values(
                    digest=f"lockbot-check-{secrets.token_hex(8)}", expires_at=datetime.now(UTC)
                )
            )
        finally:
            await transaction.rollback()


class MigrationFailed(Exception):
    """The schema could not be brought up to date."""


def head_revision() -> str:
    """The newest migration's revision, read from the migration files without loading Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revisions.update(_REVISION.findall(source))
        parents.update(_DOWN_REVISION.findall(source))
    heads = revisions - parents
    if len(heads) != 1:
        raise MigrationFailed(f"bot/migrations should have one newest migration, not {sorted(heads)}")
    return heads.pop()


async def schema_revision(engine: AsyncEngine) -> str | None:
    """The migration the database is at; None for a database lockbot has not used yet."""

    def read(connection: Connection) -> str | None:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

    async with engine.connect() as connection:
        return await connection.run_sync(read)


def _upgrade(connection: Connection) -> None:
    # Imported here: Alembic is only ever loaded by the short-lived process that migrates.
    from alembic import command  # noqa: PLC0415
    from alembic.config import Config  # noqa: PLC0415

    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def upgrade(engine: AsyncEngine) -> None:
    """Apply pending migrations in this process; safe to run from several instances at once."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest migration; safe to run from several instances at once.

    A database already up to date costs one query. Otherwise Alembic runs in a child process
    (`python -m bot.migrations`), so a running lockbot never holds Alembic (11 MiB) in memory.
    """
    current, head = await schema_revision(engine), head_revision()
    if current == head:
        return
    log.info("migrating the database from %s to %s", current or "nothing", head)
    child_env = {**os.environ, MIGRATE_URL_VARIABLE: engine.url.render_as_string(hide_password=False)}
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.migrations",
        env=child_env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, errors = await asyncio.wait_for(child.communicate(), MIGRATION_TIMEOUT_SECONDS)
    except TimeoutError:
        child.kill()
        await child.wait()
        raise MigrationFailed(
            f"applying migrations took over {MIGRATION_TIMEOUT_SECONDS} s (another instance holding a lock on "
            "the database?)"
        ) from None
    if child.returncode != 0:
        last_line = errors.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise MigrationFailed(f"applying migrations failed: {last_line[0]}")
