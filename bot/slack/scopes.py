"""The OAuth scopes lockbot's bot token needs.

manifest.yml asks for exactly these (tests/test_manifest.py holds the two together and to the Web API
methods lockbot calls), and `python -m bot check` compares them with those the token really has.
"""

from __future__ import annotations

__all__ = ["BOT_SCOPES"]

BOT_SCOPES = frozenset({"commands", "chat:write", "chat:write.public", "users:read", "usergroups:read"})
