"""bot/console/session.py: the parts that need no running lockbot (the rest: tests/e2e/test_console_e2e.py)."""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

import pytest

from bot.console.session import local_time_zone


def test_the_time_zone_named_in_tz_is_the_users(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", ":Europe/Berlin")
    assert local_time_zone() == (ZoneInfo("Europe/Berlin"), "Europe/Berlin")


@pytest.mark.parametrize("junk", ["CET-1CEST", "../../etc/passwd", "Mars/Olympus_Mons", ""])
def test_a_tz_that_names_no_zone_falls_back_to_a_real_one(monkeypatch: pytest.MonkeyPatch, junk: str) -> None:
    monkeypatch.setenv("TZ", junk)
    zone, name = local_time_zone()
    assert name != junk
    assert zone == (UTC if name == "UTC" else ZoneInfo(name))
