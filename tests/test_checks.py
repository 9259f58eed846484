"""`python -m bot check`: one line per service against the fakes, failures named with what to do, nothing changed."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.checks import Check, CheckStatus, exit_status, run_checks
from bot.config import Settings
from bot.policy import DoorRules, Policy
from bot.store import Store
from tests.botprocess import BOT_TOKEN, ROOT, SIGNING_SECRET
from tests.databases import fresh_database
from tests.fakes.overbooked_api import FakeOverbooked
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack

OVERBOOKED_KEY = "sk_test_checks"


@pytest.fixture(scope="module")
def overbooked() -> Iterator[FakeOverbooked]:
    fake = FakeOverbooked(OVERBOOKED_KEY).start()
    fake.add_slot("5b003c67-f69f-471b-9268-3896a9a3df29")
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('checks') / 'lockbot.db'}"

    async def migrate() -> None:
        store = await Store.open(url)
        await store.close()

    asyncio.run(migrate())
    return url


def settings_for(
    slack: FakeSlack, seam: SeamFake | None, overbooked: FakeOverbooked | None, database_url: str, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.api_url,
        "database_url": database_url,
        "lockbot_seam_timeout": 2,
        "lockbot_overbooked_timeout": 2,
    }
    if seam is not None:
        values |= {"seam_api_key": seam.api_key, "seam_endpoint": seam.url}
    if overbooked is not None:
        values |= {"overbooked_api_key": OVERBOOKED_KEY, "overbooked_endpoint": overbooked.url}
    return Settings(**(values | overrides), _env_file=None)


def checks_of(settings: Settings, policy: Policy | None = None, policy_file: Path | None = None) -> dict[str, Check]:
    checks = asyncio.run(run_checks(settings, policy or Policy(), policy_file))
    return {found.subject: found for found in checks}


def rows_in(database_url: str) -> dict[str, int]:
    path = database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}


def test_a_ready_deployment_is_all_ok_and_nothing_changes(
    slack: FakeSlack, seam: SeamFake, overbooked: FakeOverbooked, migrated: str
) -> None:
    seam.reset()
    slack_calls, overbooked_calls, rows = len(slack.calls), len(overbooked.calls), rows_in(migrated)
    policy = Policy(doors={"front door": DoorRules(), "back door": DoorRules()})

    found = checks_of(settings_for(slack, seam, overbooked, migrated), policy, Path("lockbot.toml"))

    assert {subject: check.status for subject, check in found.items()} == {
        "settings": CheckStatus.OK,
        "policy": CheckStatus.OK,
        "Slack": CheckStatus.OK,
        "Slack scopes": CheckStatus.OK,
        "Seam": CheckStatus.OK,
        "policy doors": CheckStatus.OK,
        "Overbooked": CheckStatus.OK,
        "database": CheckStatus.OK,
    }
    assert found["Seam"].found == "key accepted, 4 locks"
    assert exit_status(list(found.values())) == 0
    # Nothing changed anywhere: only reads were made, and the rolled-back write left no row.
    methods = [call.method for call in slack.calls[slack_calls:]]
    assert "auth.test" in methods
    assert not [method for method in methods if method.startswith(("chat.", "views.", "conversations."))]
    assert set(seam.calls()) == {"/locks/list"}
    assert [call.route for call in overbooked.calls[overbooked_calls:]] == ["list"]
    assert rows_in(migrated) == rows


def test_refused_keys_each_fail_with_what_to_do(
    slack: FakeSlack, seam: SeamFake, overbooked: FakeOverbooked, migrated: str
) -> None:
    seam.reset()
    settings = settings_for(
        slack,
        seam,
        overbooked,
        migrated,
        slack_bot_token="xoxb-0000-wrong",
        seam_api_key="seam_wrong_key",
        overbooked_api_key="sk_test_wrong",
    )

    found = checks_of(settings)

    assert found["Slack"].status is CheckStatus.FAIL
    assert found["Slack"].found == "the bot token was refused (invalid_auth)"
    assert "SLACK_BOT_TOKEN" in (found["Slack"].fix or "")
    assert "Slack scopes" not in found  # not asked with a refused token
    assert found["Seam"].status is CheckStatus.FAIL
    assert found["Seam"].found == "the API key was refused"
    assert "SEAM_API_KEY" in (found["Seam"].fix or "")
    assert found["Overbooked"].status is CheckStatus.FAIL
    assert "OVERBOOKED_API_KEY" in (found["Overbooked"].fix or "")
    assert found["database"].status is CheckStatus.OK
    assert exit_status(list(found.values())) == 1
    assert seam.calls().get("/locks/lock_door", 0) == 0


def test_missing_scopes_are_named(slack: FakeSlack, migrated: str) -> None:
    slack.scopes -= {"users:read", "usergroups:read"}
    try:
        found = checks_of(settings_for(slack, None, None, migrated))
    finally:
        slack.reset()

    assert found["Slack"].status is CheckStatus.OK
    assert found["Slack scopes"].status is CheckStatus.FAIL
    assert found["Slack scopes"].found == "the token lacks usergroups:read, users:read"
    assert "reinstall the app" in (found["Slack scopes"].fix or "")


def test_a_misspelled_policy_door_is_named_with_the_closest_lock(
    slack: FakeSlack, seam: SeamFake, migrated: str
) -> None:
    policy = Policy(doors={"front dor": DoorRules(), "back door": DoorRules(), "vault": DoorRules()})

    found = checks_of(settings_for(slack, seam, None, migrated), policy, Path("lockbot.toml"))

    doors = found["policy doors"]
    assert doors.status is CheckStatus.FAIL
    assert doors.found == (
        '"front dor" (did you mean "Front Door"?), "vault" are not the name or device id of a Seam lock'
    )
    assert 'correct the [doors."…"] names' in (doors.fix or "")


def test_missing_halves_are_warnings_not_failures(slack: FakeSlack, migrated: str) -> None:
    found = checks_of(settings_for(slack, None, None, migrated), Policy(doors={"front door": DoorRules()}))

    assert found["Seam"].status is CheckStatus.WARN
    assert found["Seam"].found.startswith("not configured (SEAM_API_KEY is not set)")
    assert found["policy doors"].status is CheckStatus.WARN
    assert found["Overbooked"].status is CheckStatus.WARN
    assert exit_status(list(found.values())) == 0


def test_an_unmigrated_database_is_reported_not_migrated(slack: FakeSlack, tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()

    found = checks_of(settings_for(slack, None, None, f"sqlite:///{empty}"))

    assert found["database"].status is CheckStatus.FAIL
    assert found["database"].found.startswith("reachable, but not migrated (at nothing, lockbot needs ")
    assert "python -m bot" in (found["database"].fix or "")
    assert rows_in(f"sqlite:///{empty}") == {}  # no migration applied


def test_a_missing_sqlite_file_is_not_created(slack: FakeSlack, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"

    found = checks_of(settings_for(slack, None, None, f"sqlite:///{missing}"))

    assert found["database"].status is CheckStatus.FAIL
    assert found["database"].found == f"the SQLite file {missing} does not exist"
    assert not missing.exists()


def test_a_read_only_database_is_not_writable(slack: FakeSlack, migrated: str) -> None:
    read_only = f"sqlite:///file:{migrated.removeprefix('sqlite:///')}?mode=ro&uri=true"

    found = checks_of(settings_for(slack, None, None, read_only))

    assert found["database"].status is CheckStatus.FAIL
    assert found["database"].found.startswith("reachable and migrated (")
    assert "not writable (OperationalError)" in found["database"].found


def test_socket_mode_checks_the_app_token(slack: FakeSlack, migrated: str) -> None:
    good = checks_of(settings_for(slack, None, None, migrated, slack_app_token=slack.app_token))
    bad = checks_of(settings_for(slack, None, None, migrated, slack_app_token="xapp-1-wrong"))

    assert good["settings"].found == "read (Socket Mode)"
    assert good["Slack app token"].status is CheckStatus.OK
    assert bad["Slack app token"].status is CheckStatus.FAIL
    assert "connections:write" in (bad["Slack app token"].fix or "")


def run_check(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "SLACK_BOT_TOKEN": BOT_TOKEN}
    return subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=cwd,
        env=base | {"SLACK_SIGNING_SECRET": SIGNING_SECRET} | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_prints_one_line_per_check_and_exits_non_zero_on_a_failure(
    slack: FakeSlack, seam: SeamFake, migrated: str, tmp_path: Path
) -> None:
    (tmp_path / "lockbot.toml").write_text('[doors."Server Rom"]\napprovers = ["U024BE7LH"]\n')
    env = {
        "SLACK_API_URL": slack.api_url,
        "SEAM_API_KEY": seam.api_key,
        "SEAM_ENDPOINT": seam.url,
        "DATABASE_URL": migrated,
    }

    done = run_check(env, tmp_path)

    lines = done.stdout.splitlines()
    assert done.returncode == 1, done.stderr
    assert [line.split(":")[0] for line in lines] == [
        "ok   settings",
        "ok   policy",
        "ok   Slack",
        "ok   Slack scopes",
        "ok   Seam",
        "FAIL policy doors",
        "warn Overbooked",
        "ok   database",
    ]
    assert '"server rom" is not the name or device id of a Seam lock' in done.stdout
    assert seam.api_key not in done.stdout + done.stderr


def test_a_bad_setting_or_policy_stops_the_check_as_it_stops_lockbot(tmp_path: Path) -> None:
    bad_setting = run_check({"PORT": "http"}, tmp_path)
    (tmp_path / "lockbot.toml").write_text("[defaults]\ncolour = 'red'\n")
    bad_policy = run_check({}, tmp_path)

    assert bad_setting.returncode == 2
    assert bad_setting.stderr.strip() == "lockbot cannot start: PORT must be a number"
    assert bad_policy.returncode == 2
    assert "lockbot.toml line 2: defaults.colour: unknown key 'colour'" in bad_policy.stderr
    assert bad_policy.stdout == ""


@pytest.mark.postgres
def test_postgresql_is_reported_unmigrated_then_ready(slack: FakeSlack, tmp_path: Path) -> None:
    with fresh_database("postgresql", tmp_path) as url:
        before = checks_of(settings_for(slack, None, None, url))["database"]

        async def migrate() -> None:
            store = await Store.open(url)
            await store.close()

        asyncio.run(migrate())
        after = checks_of(settings_for(slack, None, None, url))["database"]

    assert before.status is CheckStatus.FAIL
    assert before.found.startswith("reachable, but not migrated (at nothing")
    assert after.status is CheckStatus.OK
    assert after.found.startswith("reachable (postgresql), migrated (")
