"""Settings: read from the environment and .env; every problem named at once; secrets never shown."""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from svix.webhooks import Webhook

from bot.config import (
    ConfigError,
    load_console_settings,
    load_database_settings,
    load_seam_settings,
    load_settings,
)
from bot.logs import SecretRedactor
from tests.botprocess import ROOT

VALID = {
    "SLACK_BOT_TOKEN": "xoxb-valid-token-123",
    "SLACK_SIGNING_SECRET": "signing-secret-value",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A clean environment in an empty directory (so no stray .env is read)."""
    for name in list(os.environ):
        if name.startswith(("SLACK_", "SEAM_", "OVERBOOKED_", "LOCKBOT_", "DATABASE_URL", "PORT", "LOG_LEVEL")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_defaults_follow_the_spec(env: pytest.MonkeyPatch) -> None:
    for name, value in VALID.items():
        env.setenv(name, value)

    settings = load_settings()

    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.seam_endpoint == "https://connect.getseam.com"
    assert settings.overbooked_endpoint == "https://api.overbooked.io"
    assert settings.database_url == "sqlite:///lockbot.db"
    assert settings.port == 3000
    assert settings.socket_mode is False
    assert settings.doors_enabled is False
    assert settings.seam_webhook_secret is None


def test_every_bad_setting_is_named_in_one_message(env: pytest.MonkeyPatch) -> None:
    env.setenv("PORT", "eighty")
    env.setenv("SEAM_ENDPOINT", "connect.getseam.com")
    env.setenv("DATABASE_URL", "mysql://db/lockbot")

    with pytest.raises(ConfigError) as raised:
        load_settings()

    message = str(raised.value)
    for name in (
        "SLACK_BOT_TOKEN is required",
        "SLACK_SIGNING_SECRET",
        "PORT",
        "SEAM_ENDPOINT",
        "DATABASE_URL",
    ):
        assert name in message
    assert "\n" not in message


def test_secret_values_never_appear_in_the_message(env: pytest.MonkeyPatch) -> None:
    env.setenv("SLACK_BOT_TOKEN", "xoxp-a-user-token-not-a-bot-token")
    env.setenv("SLACK_SIGNING_SECRET", "sig-secret-value")
    env.setenv("SEAM_WEBHOOK_SECRET", "whsec_nothex-webhook-secret-zz")  # 21 base64 characters: cut short

    with pytest.raises(ConfigError) as raised:
        load_settings()

    message = str(raised.value)
    assert "SLACK_BOT_TOKEN must be a bot token starting with xoxb-" in message
    assert "SEAM_WEBHOOK_SECRET is not a Svix secret: its base64 is cut short" in message
    for secret in ("xoxp-a-user-token-not-a-bot-token", "nothex-webhook-secret", "sig-secret-value"):
        assert secret not in message


def test_socket_mode_needs_no_signing_secret(env: pytest.MonkeyPatch) -> None:
    env.setenv("SLACK_BOT_TOKEN", "xoxb-valid")
    env.setenv("SLACK_APP_TOKEN", "xapp-1-valid")

    settings = load_settings()

    assert settings.socket_mode is True
    assert settings.slack_signing_secret is None


def test_dotenv_is_read(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "SLACK_BOT_TOKEN=xoxb-from-dotenv\nSLACK_SIGNING_SECRET=from-dotenv\nSEAM_API_KEY=seam_key\nPORT=8080\n"
    )

    settings = load_settings()

    assert settings.slack_bot_token.get_secret_value() == "xoxb-from-dotenv"
    assert settings.port == 8080
    assert settings.doors_enabled is True
    assert "seam_key" not in repr(settings)


def test_empty_values_count_as_unset(env: pytest.MonkeyPatch) -> None:
    for name, value in VALID.items():
        env.setenv(name, value)
    env.setenv("SLACK_APP_TOKEN", "")
    env.setenv("SEAM_API_KEY", "")

    settings = load_settings()

    assert settings.socket_mode is False
    assert settings.doors_enabled is False


def test_the_seam_webhook_command_needs_the_seam_api_key_that_serving_does_not(env: pytest.MonkeyPatch) -> None:
    for name, value in VALID.items():
        env.setenv(name, value)

    with pytest.raises(ConfigError) as raised:
        load_seam_settings()

    assert str(raised.value) == "lockbot cannot start: SEAM_API_KEY is required"
    assert load_settings().seam_api_key is None


def test_the_seam_endpoint_has_one_default_and_one_check_for_every_command(env: pytest.MonkeyPatch) -> None:
    env.setenv("SEAM_API_KEY", "seam_key")
    for name, value in VALID.items():
        env.setenv(name, value)

    assert load_seam_settings().seam_endpoint == load_settings().seam_endpoint == "https://connect.getseam.com"

    env.setenv("SEAM_ENDPOINT", "connect.getseam.com")
    for load in (load_seam_settings, load_settings):
        with pytest.raises(ConfigError) as raised:
            load()
        assert "SEAM_ENDPOINT must be an http(s) URL, got 'connect.getseam.com'" in str(raised.value)


def test_the_audit_command_reads_the_database_alone(env: pytest.MonkeyPatch) -> None:
    env.setenv("DATABASE_URL", "postgresql://db/lockbot")
    env.setenv("SEAM_ENDPOINT", "not a url")  # not read by audit: no reason to refuse

    assert load_database_settings().database_url == "postgresql://db/lockbot"


def test_the_bot_refuses_to_start_with_one_clear_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SEAM_", "LOCKBOT_", "PORT"))}
    env |= {"PYTHONPATH": str(ROOT), "SLACK_SIGNING_SECRET": "top-secret-signing", "PORT": "-1"}

    finished = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == 2
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("lockbot cannot start: ")
    assert "SLACK_BOT_TOKEN is required" in lines[0]
    assert "PORT" in lines[0]
    assert "Traceback" not in finished.stderr
    assert "top-secret-signing" not in finished.stderr


def test_a_database_that_cannot_be_opened_is_one_clear_line_without_its_password(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SEAM_", "LOCKBOT_", "PORT"))}
    env |= {
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": "xoxb-valid",
        "SLACK_SIGNING_SECRET": "s",
        "DATABASE_URL": "postgresql://lockbot:hunter2secret@127.0.0.1:1/lockbot",
    }

    finished = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )

    assert finished.returncode == 2
    assert (
        finished.stderr.strip()
        .splitlines()[-1]
        .startswith("lockbot cannot start: cannot open the database in DATABASE_URL")
    )
    assert "Traceback" not in finished.stderr
    assert "hunter2secret" not in finished.stderr


def test_tracebacks_in_logs_are_redacted_too() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed with %s", ("xoxb-secret-token",), None)
    try:
        raise RuntimeError("token xoxb-secret-token refused")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    SecretRedactor(["xoxb-secret-token"]).filter(record)

    formatted = logging.Formatter().format(record)
    assert "xoxb-secret-token" not in formatted
    assert "[redacted] refused" in formatted


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("whsec_not!base64", "its base64 is cut short"),  # "notbase64": nine characters, one too many
        ("whsec_", "it holds no key"),
        ("whsec_@@@@", "it holds no key"),
        ("whsec_Zm9vYmFy\u00e9", "it has a character that is not base64"),
    ],
)
def test_a_webhook_secret_svix_refuses_stops_lockbot_at_start_saying_why(
    env: pytest.MonkeyPatch, secret: str, why: str
) -> None:
    env.setenv("SLACK_BOT_TOKEN", "xoxb-valid")
    env.setenv("SLACK_SIGNING_SECRET", "sig")
    env.setenv("SEAM_WEBHOOK_SECRET", secret)

    with pytest.raises(ConfigError) as raised:
        load_settings()

    assert f"SEAM_WEBHOOK_SECRET is not a Svix secret: {why}" in str(raised.value)
    if secret != "whsec_":
        assert secret.removeprefix("whsec_") not in str(raised.value)


KEY = base64.b64encode(b"lockbot-test-webhook-secret-0001").decode()


@pytest.mark.parametrize(
    "secret",
    [
        "whsec_" + KEY,  # as Seam shows it
        KEY,  # without the prefix
        "whsec_" + KEY.rstrip("="),  # unpadded
        KEY.rstrip("="),  # neither
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # Svix's own example
    ],
)
def test_every_webhook_secret_svix_accepts_is_accepted(env: pytest.MonkeyPatch, secret: str) -> None:
    env.setenv("SLACK_BOT_TOKEN", "xoxb-valid")
    env.setenv("SLACK_SIGNING_SECRET", "sig")
    env.setenv("SEAM_WEBHOOK_SECRET", secret)

    settings = load_settings()

    assert settings.seam_webhook_secret is not None
    Webhook(settings.seam_webhook_secret.get_secret_value())  # and svix takes it as it is


def test_settings_without_a_webhook_secret_do_not_load_svix(env: pytest.MonkeyPatch) -> None:
    env.setenv("SLACK_BOT_TOKEN", "xoxb-valid")
    env.setenv("SLACK_SIGNING_SECRET", "sig")
    script = "import sys; from bot.config import load_settings; load_settings(); print('svix' in sys.modules)"

    found = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True, env={**os.environ}
    )

    assert found.stdout.strip() == "False"


def test_the_console_reads_no_slack_setting_and_checks_the_others(env: pytest.MonkeyPatch) -> None:
    # Slack settings that would stop `python -m bot` (or put it in Socket Mode) are not the console's.
    env.setenv("SLACK_BOT_TOKEN", "not-a-token")
    env.setenv("SLACK_APP_TOKEN", "xapp-1-socket")
    env.setenv("SEAM_WEBHOOK_SECRET", "whsec_" + base64.b64encode(b"k" * 24).decode())
    env.setenv("SEAM_API_KEY", "seam_test_key")
    env.setenv("DATABASE_URL", "sqlite:///console.db")

    settings = load_console_settings("http://127.0.0.1:4321/api/")

    assert settings.slack_api_url == "http://127.0.0.1:4321/api/"
    assert settings.socket_mode is False
    assert settings.slack_signing_secret is not None
    assert settings.seam_webhook_secret is None  # no webhook reaches a console: it polls
    assert settings.doors_enabled is True
    assert settings.database_url == "sqlite:///console.db"

    env.setenv("LOCKBOT_ACTION_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="LOCKBOT_ACTION_TIMEOUT must be a number"):
        load_console_settings("http://127.0.0.1:4321/api/")
