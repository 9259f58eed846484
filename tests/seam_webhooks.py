"""Seam's webhook deliveries as Seam makes them: events, Svix-signed with a secret made here."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from svix.webhooks import Webhook

from tests.conftest import Workspace

SECRET = "whsec_" + base64.b64encode(b"lockbot-test-webhook-secret-0001").decode()


def deliver(
    workspace: Workspace, event: dict[str, Any], *, secret: str = SECRET, signed_at: datetime | None = None
) -> httpx.Response:
    body = json.dumps(event)
    message_id = f"msg_{uuid.uuid4().hex}"
    moment = signed_at or datetime.now(UTC)
    headers = {
        "svix-id": message_id,
        "svix-timestamp": str(int(moment.timestamp())),
        "svix-signature": Webhook(secret).sign(message_id, moment, body),
        "content-type": "application/json",
    }
    return workspace.bot.http.post(f"{workspace.bot.url}/webhooks/seam", content=body, headers=headers)


def event(event_type: str, device_id: str = "lock_1", **fields: Any) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "device_id": device_id,
        "workspace_id": "ws_bot_test",
        "connected_account_id": "ca_bot_test",
        "created_at": now,
        "occurred_at": now,
        **fields,
    }
