"""What every part of the bench shares: where it is, the doors, Seam's delay and lockbot's timeouts."""

from __future__ import annotations

import base64
from pathlib import Path

__all__ = [
    "ACK_LIMIT_S",
    "ACTION_DELAY_MS",
    "ACTION_TIMEOUT_S",
    "BENCH",
    "LOCKS",
    "ROOT",
    "SEND_TIMEOUT_S",
    "USER",
    "WEBHOOK_SECRET",
]

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent

LOCKS = ["Front Door", "Back Door", "Garage Door", "Garden Gate"]
ACTION_DELAY_MS = 1500  # how long Seam's fake keeps each action attempt pending
ACTION_TIMEOUT_S = 20  # lockbot's LOCKBOT_ACTION_TIMEOUT
USER = "U0BENCH001"
SEND_TIMEOUT_S = 30.0
ACK_LIMIT_S = 3.0  # Slack shows the user an error when a command is not acknowledged within 3 s
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"lockbot-bench-seam-webhook-secret").decode()
