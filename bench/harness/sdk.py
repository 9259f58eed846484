"""Seam's own Python SDK on single attempts, in a child process (bench/seam_sdk_probe.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.harness.config import BENCH
from tests.fakes.seam_fake import SeamFake

__all__ = ["SDK_POLLING_INTERVAL_S", "find_seam_sdk", "sdk_runs"]

# Seam's Python SDK, when lockbot's virtualenv does not have it, is installed beside the virtualenv's
# own packages rather than among them: it pins svix<2, which would replace a newer svix there.
SDK_DIR = (
    Path(sys.prefix) / "bench-seam-sdk"
    if sys.prefix != sys.base_prefix
    else Path.home() / ".cache" / "lockbot-bench" / "seam-sdk"
)
SDK_REQUIREMENT = "seam==3.18.0"
SDK_POLLING_INTERVAL_S = 0.5  # the SDK's default, for the computed fallback


def find_seam_sdk() -> tuple[list[str] | None, str]:
    """The PYTHONPATH entries under which `import seam` works, installing it into bench/ if needed."""
    probe = [sys.executable, "-c", "import seam, seam.modules.action_attempts"]
    if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return [], "from lockbot's virtualenv"
    env = {**os.environ, "PYTHONPATH": str(SDK_DIR)}
    if subprocess.run(probe, env=env, capture_output=True, check=False).returncode == 0:
        return [str(SDK_DIR)], f"from {SDK_DIR}"
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(SDK_DIR), SDK_REQUIREMENT]
    done = subprocess.run(install, capture_output=True, text=True, check=False)
    if done.returncode == 0 and subprocess.run(probe, env=env, capture_output=True, check=False).returncode == 0:
        return [str(SDK_DIR)], f"installed into {SDK_DIR} by this run"
    return None, "the seam package could not be installed (" + (done.stderr.strip()[-200:] or "?") + ")"


def sdk_runs(seam: SeamFake, attempts: int) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    """Seam's Python SDK on single attempts against the same fake, in a child process."""
    path, note = find_seam_sdk()
    if path is None:
        return [], {}, note
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*path, os.environ.get("PYTHONPATH", "")])}
    command = [
        sys.executable,
        str(BENCH / "seam_sdk_probe.py"),
        "--endpoint",
        seam.url,
        "--api-key",
        seam.api_key,
        "--attempts",
        str(attempts),
    ]
    for device in seam.devices:
        command += ["--device", device["device_id"]]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        return [], {}, f"the SDK probe failed: {done.stderr.strip().splitlines()[-1:]}"
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return lines[1:], lines[0], note
