"""`python -m bot.migrations`: apply lockbot's migrations to the database `bot.db.migrate` names.

lockbot runs this as a child process at start when its database is behind; it is not a command
for people (they run `python -m bot`, which migrates by itself).
"""

from __future__ import annotations

import asyncio
import os
import sys

from bot.db import MIGRATE_URL_VARIABLE, create_engine, upgrade


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def main() -> int:
    url = os.environ.get(MIGRATE_URL_VARIABLE)
    if not url:
        print(f"{MIGRATE_URL_VARIABLE} is not set: lockbot runs this itself at start", file=sys.stderr)
        return 2
    try:
        asyncio.run(_migrate(url))
    except Exception as exc:
        # The kind of failure only: a driver's message may quote the URL, password included.
        print(f"migration failed: {type(exc).__name__}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
