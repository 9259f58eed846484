"""An aiohttp application served from a thread of its own, so synchronous tests can run a fake API."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, ClassVar, Self, TypeVar

from aiohttp import web

__all__ = ["ThreadedServer"]

T = TypeVar("T")


class ThreadedServer:
    """Serves `application()` on 127.0.0.1 at a free port, on its own event loop in a daemon thread.

    Subclasses build the application; `start()` returns once it listens (`port` is then known) and
    `stop()` shuts it down, first calling `interrupt()` on the server's loop to cut waits short.
    """

    name: ClassVar[str] = "fake server"
    shutdown_timeout: ClassVar[float] = 60.0  # aiohttp's default: how long open requests may finish

    def __init__(self) -> None:
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    async def application(self) -> web.Application:
        """The routes to serve, built on the server's loop."""
        raise NotImplementedError

    def interrupt(self) -> None:
        """Run on the server's loop as it stops, before open requests are waited for."""

    def start(self) -> Self:
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._serve())
            started.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=self.name.replace(" ", "-"), daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError(f"{self.name} did not start")
        return self

    async def _serve(self) -> None:
        self._runner = web.AppRunner(await self.application(), access_log=None, shutdown_timeout=self.shutdown_timeout)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        self._loop.call_soon_threadsafe(self.interrupt)
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._runner = None

    def run_in_loop(self, coroutine: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        """Run a coroutine on the server's loop (from a test's thread) and wait for its result."""
        assert self._loop is not None, f"{self.name} is not started"
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)
