"""Seam's own fake API (`@seamapi/fake-seam-connect`, pinned) run by node, with lockbot's fixture controls."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).parent / "seam"


def ensure_installed() -> None:
    """Install the pinned fake once (npm ci), so a fresh clone needs nothing but node and npm."""
    if (HERE / "node_modules" / "@seamapi" / "fake-seam-connect").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to run Seam's fake API in the tests")
    subprocess.run(
        [npm, "ci", "--omit=optional", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=HERE,
        check=True,
    )


class SeamFake:
    def __init__(
        self,
        *,
        locks: list[str] | None = None,
        action_delay_ms: int = 0,
        api_key: str = "seam_testkey_fixture",
    ):
        self._env = {
            **os.environ,
            "PORT": "0",
            "API_KEY": api_key,
            "ACTION_DELAY_MS": str(action_delay_ms),
            "LOCKS": ",".join(locks or ["Front Door", "Back Door", "Garage Door"]),
        }
        self._process: subprocess.Popen[str] | None = None
        self.url = ""
        self.api_key = api_key
        self.devices: list[dict[str, str]] = []
        self._http = httpx.Client(timeout=10)

    def start(self) -> SeamFake:
        ensure_installed()
        self._process = subprocess.Popen(
            ["node", str(HERE / "serve.mjs")],
            cwd=HERE,
            env=self._env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        stdout = self._process.stdout
        assert stdout is not None
        # The first line is the fake's address; readline blocks until it is there.
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(30)
        if not line or not line[0].strip():
            self.stop()
            raise RuntimeError("Seam's fake did not start")
        info = json.loads(line[0])
        self.url, self.devices = info["url"], info["devices"]
        return self

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        self._http.close()

    def device_id(self, name: str) -> str:
        return next(d["device_id"] for d in self.devices if d["name"] == name)

    def _control(self, route: str, **body: Any) -> dict[str, Any]:
        response = self._http.post(f"{self.url}/_fixture/{route}", json=body)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def configure(self, **settings: Any) -> None:
        """action_delay_ms=…, confirmed_by_device=…"""
        self._control("config", **settings)

    def set_device(self, device_id: str, **properties: Any) -> None:
        self._control("set_device", device_id=device_id, **properties)

    def remove_device(self, device_id: str) -> None:
        self._control("remove_device", device_id=device_id)

    def fail(self, path: str, **fault: Any) -> None:
        """The next `count` (default 1) calls to `path` fail with `status` or are held for `delay_ms`."""
        self._control("fail", path=path, **fault)

    def reset(self) -> None:
        self._control("reset")

    def calls(self) -> dict[str, int]:
        return dict(self._http.get(f"{self.url}/_fixture/calls").json()["calls"])

    def attempts(self) -> list[dict[str, Any]]:
        return list(self._http.get(f"{self.url}/_fixture/attempts").json()["attempts"])

    def lock_state(self, device_id: str) -> dict[str, Any]:
        response = self._http.post(
            f"{self.url}/devices/get",
            json={"device_id": device_id},
            headers={"Authorization": f"Bearer {self.api_key}"},
        )
        return dict(response.json()["device"]["properties"])
