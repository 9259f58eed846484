"""Facts about Slack users for policy decisions: users.info and usergroups.users.list, cached briefly."""

from __future__ import annotations

import asyncio
import logging

from async_lru import alru_cache
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.policy import PeopleUnavailable, Person

__all__ = ["SlackPeople"]

log = logging.getLogger(__name__)


class SlackPeople:
    """Implements `bot.policy.PeopleDirectory`: admin/owner status and membership of the policy's groups."""

    def __init__(self, client: AsyncWebClient, groups: frozenset[str], *, ttl_seconds: float = 60.0) -> None:
        self._client = client
        self._groups = sorted(groups)
        self._cached_user = alru_cache(maxsize=4096, ttl=ttl_seconds)(self._user)
        self._cached_members = alru_cache(maxsize=256, ttl=ttl_seconds)(self._members)

    async def time_zone(self, user_id: str) -> str | None:
        return (await self._cached_user(user_id))[2]

    async def person(self, user_id: str) -> Person:
        is_admin, is_owner, _ = await self._cached_user(user_id)
        members = await asyncio.gather(*(self._cached_members(group) for group in self._groups))
        groups = frozenset(group for group, users in zip(self._groups, members, strict=True) if user_id in users)
        return Person(user_id=user_id, is_admin=is_admin, is_owner=is_owner, groups=groups)

    async def members(self, group: str) -> frozenset[str]:
        """The users in a user group (`bot.break_glass.GroupMembers`); raises PeopleUnavailable."""
        return await self._cached_members(group)

    async def _user(self, user_id: str) -> tuple[bool, bool, str | None]:
        try:
            response = await self._client.users_info(user=user_id)
        except SlackClientError as exc:
            log.warning("users.info %s failed: %s", user_id, exc)
            raise PeopleUnavailable(user_id) from None
        user = response.get("user") or {}
        is_owner = bool(user.get("is_owner") or user.get("is_primary_owner"))
        return bool(user.get("is_admin")), is_owner, (str(user["tz"]) if user.get("tz") else None)

    async def _members(self, group: str) -> frozenset[str]:
        try:
            response = await self._client.usergroups_users_list(usergroup=group)
        except SlackClientError as exc:
            log.warning("usergroups.users.list %s failed: %s", group, exc)
            raise PeopleUnavailable(group) from None
        return frozenset(str(user) for user in response.get("users") or [])
