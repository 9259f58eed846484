"""The floor lockbot's acknowledgements are compared with: a bare bolt app that only acks `/lock`.

It is served exactly as lockbot serves itself (see `bot/__main__.py` and `bot/app.py`): an aiohttp
`web.AppRunner` and `TCPSite`, `POST /slack/events` through bolt's aiohttp adapter and
`AsyncApp.async_dispatch`, and `GET /healthz`. Run by `bench/run.py` as its own process:

    python bench/bare_app.py [--port PORT, default $PORT] --slack-api-url http://127.0.0.1:NNNN/api/
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.botprocess import BOT_TOKEN, SIGNING_SECRET  # noqa: E402

log = logging.getLogger("bare_app")


def build_bolt(slack_api_url: str) -> AsyncApp:
    # Bolt would also read SLACK_BOT_TOKEN, and warn that the client's token wins.
    os.environ.pop("SLACK_BOT_TOKEN", None)
    bolt = AsyncApp(
        client=AsyncWebClient(token=BOT_TOKEN, base_url=slack_api_url),
        signing_secret=SIGNING_SECRET,
    )

    @bolt.command("/lock")
    async def lock(ack: AsyncAck) -> None:
        await ack()

    return bolt


def web_application(bolt: AsyncApp) -> web.Application:
    async def slack_events(request: web.Request) -> web.Response:
        bolt_response = await bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    application = web.Application()
    application.router.add_post("/slack/events", slack_events)
    application.router.add_get("/healthz", healthz)
    return application


async def serve(host: str, port: int, slack_api_url: str) -> None:
    runner = web.AppRunner(web_application(build_bolt(slack_api_url)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    addresses = [f"{address[0]}:{address[1]}" for address in (runner.addresses or [])]
    # Printed whatever the log level, in the form tests/botprocess.py looks for.
    print(f"bare app listening on {', '.join(addresses)}", flush=True)

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A bare bolt app that only acks /lock (lockbot's floor).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "0")))
    parser.add_argument("--slack-api-url", required=True, help="the (fake) Slack Web API base URL")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(args.host, args.port, args.slack_api_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
