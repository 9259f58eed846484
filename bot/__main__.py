"""`python -m bot`: start lockbot (HTTP, or Socket Mode when SLACK_APP_TOKEN is set)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.app import build_lockbot
from bot.config import ConfigError, Settings, load_settings
from bot.logs import configure_logging

log = logging.getLogger("bot")


async def serve(settings: Settings) -> None:
    lockbot = build_lockbot(settings)
    runner = web.AppRunner(lockbot.web_application(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.lockbot_host, settings.port)
    await site.start()
    addresses = [f"{host}:{port}" for host, port, *_ in (runner.addresses or [])]
    mode = "socket mode" if settings.socket_mode else "HTTP mode"
    log.info("lockbot listening on %s (%s)", ", ".join(addresses), mode)

    socket_handler = None
    if settings.slack_app_token is not None:
        socket_handler = AsyncSocketModeHandler(
            lockbot.bolt, settings.slack_app_token.get_secret_value(), web_client=lockbot.slack
        )
        await socket_handler.connect_async()  # type: ignore[no-untyped-call]

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    log.info("lockbot stopping")
    if socket_handler is not None:
        with contextlib.suppress(Exception):
            await socket_handler.close_async()  # type: ignore[no-untyped-call]
    await runner.cleanup()
    await lockbot.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="lockbot: doors and slots from Slack")
    parser.add_argument(
        "command", nargs="?", default="serve", choices=["serve"], help="what to do (default: serve)"
    )
    parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(settings)
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
