"""Operating lockbot: /metrics counting a real action, its bearer token, JSON log lines, the start's policy warning."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.botprocess import BotProcess
from tests.conftest import Workspace, bot_env, wait_until
from tests.fakes.seam_fake import SeamFake
from tests.fakes.slack_api import FakeSlack

METRICS_TOKEN = "metrics-token-4c1d9e"
# A door named in the policy that is no Seam lock: one letter short of Front Door.
POLICY = '[doors."Front Dor"]\napprovers = ["U024BE7LH"]\n'


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def calls_to(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], service: str) -> float:
    return sum(
        v
        for (name, labels), v in scraped.items()
        if name == "lockbot_api_calls_total" and ("service", service) in labels
    )


@pytest.fixture(scope="module")
def plain_bot(slack: FakeSlack, seam: SeamFake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    tmp = tmp_path_factory.mktemp("operating")
    (tmp / "lockbot.toml").write_text(POLICY)
    process = BotProcess(bot_env(slack, seam, tmp), cwd=tmp).start()
    yield process
    process.close()


def test_a_policy_door_that_is_no_lock_is_one_warning_at_start(plain_bot: BotProcess) -> None:
    warnings = [line for line in plain_bot.logs if "policy:" in line]
    assert len(warnings) == 1
    assert " WARNING bot.app: " in warnings[0]
    assert '"front dor" (did you mean "Front Door"?) is not the name or device id of a Seam lock' in warnings[0]


def test_metrics_count_a_lock_from_command_to_outcome(
    plain_bot: BotProcess, slack: FakeSlack, seam: SeamFake, channel: str
) -> None:
    seam.reset()
    workspace = Workspace(plain_bot, slack, seam)
    before_response = plain_bot.http.get(f"{plain_bot.url}/metrics")
    assert before_response.status_code == 200
    assert before_response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    before = samples(before_response.text)

    workspace.finished_action(workspace.command("/lock", "back door", channel=channel))

    def counted() -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
        # The outcome is shown, then stored, then counted: wait for the count.
        scraped = samples(plain_bot.http.get(f"{plain_bot.url}/metrics").text)
        done = ("lockbot_actions_total", frozenset({("kind", "lock"), ("outcome", "succeeded")}))
        return scraped if scraped.get(done, 0.0) > before.get(done, 0.0) else None

    after = wait_until(counted, 10, "the lock counted in /metrics")

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("lockbot_commands_total", command="/lock") == 1
    assert grew("lockbot_commands_total", command="/unlock") == 0
    assert grew("lockbot_actions_total", kind="lock", outcome="succeeded") == 1
    assert grew("lockbot_actions_total", kind="lock", outcome="failed") == 0
    assert grew("lockbot_acknowledgement_seconds_count", kind="command") == 1
    assert grew("lockbot_acknowledgement_seconds_bucket", kind="command", le="3.0") == 1
    assert grew("lockbot_action_outcome_lag_seconds_count", kind="lock") == 1
    assert grew("lockbot_action_outcome_lag_seconds_sum", kind="lock") >= 0.3  # Seam's fake takes 0.3 s
    assert grew("lockbot_api_calls_total", service="seam", status="200") >= 2  # the lock, and its attempt
    assert calls_to(after, "seam") - calls_to(before, "seam") == sum(seam.calls().values())
    assert grew("lockbot_api_calls_total", service="slack", status="200") >= 3  # parent, status, its edits
    assert value(after, "lockbot_actions_in_flight") == 0
    assert value(after, "lockbot_pending_requests") == 0
    assert value(after, "lockbot_pending_relocks") == 0
    assert ("lockbot_relocks_total", frozenset({("outcome", "failed")})) in after


@pytest.fixture(scope="module")
def json_bot(slack: FakeSlack, seam: SeamFake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    tmp = tmp_path_factory.mktemp("operating-json")
    (tmp / "lockbot.toml").write_text(POLICY)
    env = bot_env(slack, seam, tmp, LOG_FORMAT="json", LOCKBOT_METRICS_TOKEN=METRICS_TOKEN)
    process = BotProcess(env, cwd=tmp).start()
    yield process
    process.close()


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", METRICS_TOKEN, f"Basic {METRICS_TOKEN}"])
def test_metrics_need_the_bearer_token_when_one_is_set(json_bot: BotProcess, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}

    refused = json_bot.http.get(f"{json_bot.url}/metrics", headers=headers)

    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert "lockbot_" not in refused.text


def test_metrics_with_the_bearer_token(json_bot: BotProcess) -> None:
    answer = json_bot.http.get(f"{json_bot.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})

    assert answer.status_code == 200
    assert "lockbot_commands_total" in answer.text


def test_every_log_line_is_json_through_a_command_and_a_stop(
    json_bot: BotProcess, slack: FakeSlack, seam: SeamFake, channel: str
) -> None:
    seam.reset()
    workspace = Workspace(json_bot, slack, seam)
    workspace.finished_action(workspace.command("/lock", "garage door", channel=channel))
    json_bot.http.post(f"{json_bot.url}/slack/events", content=b"unsigned junk")  # one short line, also JSON
    host, port = json_bot.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:  # aiohttp's own line for junk HTTP
        raw.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"a" * 20_000 + b"\r\n\r\n")
        raw.recv(1024)
    assert json_bot.stop() == 0

    lines = [json.loads(line) for line in json_bot.logs]  # every line, from the first to the last

    assert lines, "lockbot logged nothing"
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(line["message"] == "lockbot stopping" for line in lines)
    assert any(line["message"].startswith("lockbot listening on 127.0.0.1:") for line in lines)
    warnings = [line for line in lines if line["message"].startswith("policy:")]
    assert [line["level"] for line in warnings] == ["WARNING"]
    about_the_lock = [line for line in lines if "action_id" in line]
    assert any("attempt" in line["message"] for line in about_the_lock), "no line names the action it is about"
    assert any(line["message"].startswith("refused a Slack request") for line in lines)
    assert any(line["logger"] == "aiohttp.server" and "could not be parsed" in line["message"] for line in lines)
    assert METRICS_TOKEN not in "\n".join(json_bot.logs)


def test_a_bad_setting_is_said_in_json_too(tmp_path: Path) -> None:
    process = BotProcess({"LOG_FORMAT": "json", "PORT": "not-a-port"}, cwd=tmp_path)
    with pytest.raises(RuntimeError):
        process.start(timeout=20)

    lines = [json.loads(line) for line in process.logs]

    assert [line["level"] for line in lines] == ["ERROR"]
    assert lines[0]["message"] == "lockbot cannot start: PORT must be a number"
    process.close()


def test_metrics_without_a_token_are_open(plain_bot: BotProcess) -> None:
    assert httpx.get(f"{plain_bot.url}/metrics", timeout=10).status_code == 200
