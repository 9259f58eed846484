"""Fresh databases for tests: a SQLite file, or a new database on the PostgreSQL server at 127.0.0.1:5432."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE_KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


async def run_as_admin(statement: str) -> None:
    """Run one statement on the server's `postgres` database as its admin (CREATE/DROP DATABASE)."""
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it can."""
    try:
        asyncio.run(run_as_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL is not reachable at 127.0.0.1:5432 as user postgres with trust auth ({exc!r})"
    return None


@contextmanager
def fresh_database(kind: str, directory: Path) -> Iterator[str]:
    """A DATABASE_URL of an empty database of that kind, removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'lockbot.db'}"
        return
    problem = postgres_problem()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {problem}")
        pytest.skip(problem)
    name = f"lockbot_test_{secrets.token_hex(6)}"
    asyncio.run(run_as_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(run_as_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
