"""Facts about Slack users for policy decisions, looked up with users.info and cached briefly."""

from __future__ import annotations

import logging

from async_lru import alru_cache
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.door_service import PeopleUnavailable
from bot.policy import Person

__all__ = ["SlackPeople"]

log = logging.getLogger(__name__)


class SlackPeople:
    """Implements `bot.door_service.PeopleDirectory`."""

    def __init__(self, client: AsyncWebClient, *, ttl_seconds: float = 60.0) -> None:
        self._client = client
        self._cached_person = alru_cache(maxsize=4096, ttl=ttl_seconds)(self._lookup)

    async def person(self, user_id: str) -> Person:
        return await self._cached_person(user_id)

    async def _lookup(self, user_id: str) -> Person:
        try:
            response = await self._client.users_info(user=user_id)
        except SlackClientError as exc:
            log.warning("users.info %s failed: %s", user_id, exc)
            raise PeopleUnavailable(user_id) from None
        user = response.get("user") or {}
        return Person(
            user_id=user_id,
            is_admin=bool(user.get("is_admin")),
            is_owner=bool(user.get("is_owner") or user.get("is_primary_owner")),
        )
