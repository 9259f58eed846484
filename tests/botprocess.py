"""lockbot as a real process (`python -m bot`), and Slack requests signed as Slack signs them."""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

ROOT = Path(__file__).resolve().parent.parent
BOT_TOKEN = "xoxb-1111-2222-testtokenvalue"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"

_response_ids = itertools.count(1)


def signed_headers(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def command_body(command: str, text: str, *, user: str, channel: str, response_url: str) -> str:
    """A slash command's form body, as Slack sends it."""
    fields: dict[str, Any] = {
        "token": "legacy-verification-token",
        "team_id": "T0000TEST",
        "team_domain": "lockbot-test",
        "channel_id": channel,
        "channel_name": "general",
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0000TEST",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{time.time():.0f}.trigger",
    }
    return urlencode(fields)


class BotProcess:
    """Starts `python -m bot` with the given environment and collects what it logs."""

    def __init__(self, env: Mapping[str, str], *, cwd: Path) -> None:
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SEAM_", "OVERBOOKED_", "LOCKBOT_"))},
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "LOCKBOT_HOST": "127.0.0.1",
            "PORT": "0",
            "PYTHONPATH": str(ROOT),
            **env,
        }
        self.cwd = cwd
        self.logs: list[str] = []
        self._process: subprocess.Popen[str] | None = None
        self._listening = threading.Event()
        self.url = ""
        self.http = httpx.Client(timeout=10)

    def start(self, timeout: float = 30.0) -> BotProcess:
        # A new event per process: the reader of a killed one must not signal for its successor.
        self._listening = listening = threading.Event()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read_logs, args=(self._process, listening), daemon=True).start()
        if not self._listening.wait(timeout) or self._process.poll() is not None:
            self.stop()
            raise RuntimeError("lockbot did not start:\n" + "\n".join(self.logs[-30:]))
        response = self.http.get(f"{self.url}/healthz")
        response.raise_for_status()
        return self

    def _read_logs(self, process: subprocess.Popen[str], listening: threading.Event) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.logs.append(line.rstrip("\n"))
            found = re.search(r"listening on ([\d.]+):(\d+)", line)
            if found:
                self.url = f"http://{found.group(1)}:{found.group(2)}"
                listening.set()
        process.wait()
        listening.set()  # it ended: stop waiting for it to listen

    def stop(self) -> int | None:
        if self._process is None:
            return None
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        return self._process.returncode

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)

    def close(self) -> None:
        self.stop()
        self.http.close()

    @property
    def log_text(self) -> str:
        return "\n".join(self.logs)

    # -- Slack requests ----------------------------------------------------------------------

    def post_signed(
        self, body: str, *, headers: Mapping[str, str] | None = None, timeout: float = 10.0
    ) -> httpx.Response:
        return self.http.post(
            f"{self.url}/slack/events",
            content=body.encode(),
            headers=dict(headers) if headers is not None else signed_headers(body),
            timeout=timeout,
        )

    def command_body(self, command: str, text: str, *, user: str, channel: str, response_url: str) -> str:
        return command_body(command, text, user=user, channel=channel, response_url=response_url)


def new_response_id() -> str:
    return f"r{next(_response_ids)}"
