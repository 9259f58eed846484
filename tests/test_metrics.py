"""bot/metrics.py: what each central point counts, in a registry of each app's own."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import Metrics
from bot.model import ActionKind, ActionRecord, ActionState, ActionView, RequestState, UnlockRequest, utcnow
from bot.relocks import RELOCK_REASON
from bot.seam import SeamClient
from bot.store.backlog import Backlog


def scraped(metrics: Metrics, backlog: Backlog | None = None) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = metrics.exposition(backlog).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def action(kind: ActionKind, state: ActionState, *, reason: str = "", took: float = 1.5) -> ActionRecord:
    now = utcnow()
    return ActionRecord(
        id="a1",
        kind=kind,
        device_id="d1",
        door="Front Door",
        requested_by="U1",
        reason=reason,
        channel="C1",
        state=state,
        created_at=now - timedelta(seconds=took),
        updated_at=now,
    )


@pytest.mark.anyio
async def test_actions_count_by_kind_and_outcome_with_their_lag_and_relocks_apart() -> None:
    metrics = Metrics()
    for record in (
        action(ActionKind.UNLOCK, ActionState.SUCCEEDED, took=2.0),
        action(ActionKind.LOCK, ActionState.NOT_CONFIRMED, reason=RELOCK_REASON, took=21.0),
    ):
        await metrics.action_finished(
            record, ActionView(kind=record.kind, door=record.door, requested_by="U1", state=record.state)
        )

    found = scraped(metrics)

    assert found[("lockbot_actions_total", frozenset({("kind", "unlock"), ("outcome", "succeeded")}))] == 1
    assert found[("lockbot_actions_total", frozenset({("kind", "lock"), ("outcome", "not_confirmed")}))] == 1
    assert found[("lockbot_actions_total", frozenset({("kind", "lock"), ("outcome", "succeeded")}))] == 0
    assert found[("lockbot_relocks_total", frozenset({("outcome", "not_confirmed")}))] == 1
    assert found[("lockbot_relocks_total", frozenset({("outcome", "succeeded")}))] == 0
    assert found[("lockbot_action_outcome_lag_seconds_sum", frozenset({("kind", "unlock")}))] == pytest.approx(2.0)
    assert found[("lockbot_action_outcome_lag_seconds_bucket", frozenset({("kind", "lock"), ("le", "20.0")}))] == 0


def test_requests_count_filed_and_each_decision() -> None:
    metrics = Metrics()
    now = utcnow()
    filed = UnlockRequest("r1", "d1", "Front Door", "U1", "", "C1", "C1", RequestState.PENDING, now, now)
    for request in (filed, replace(filed, state=RequestState.APPROVED), replace(filed, state=RequestState.EXPIRED)):
        metrics.request_changed(request)

    found = scraped(metrics)

    assert found[("lockbot_unlock_requests_total", frozenset({("decision", "filed")}))] == 1
    assert found[("lockbot_unlock_requests_total", frozenset({("decision", "approved")}))] == 1
    assert found[("lockbot_unlock_requests_total", frozenset({("decision", "expired")}))] == 1
    assert found[("lockbot_unlock_requests_total", frozenset({("decision", "denied")}))] == 0


@pytest.mark.anyio
async def test_every_try_of_an_api_call_is_counted_by_status_or_failure() -> None:
    metrics = Metrics()
    answers: list[httpx.Response | Exception] = [
        httpx.Response(503),
        httpx.ReadTimeout("slow"),
        httpx.Response(200, json={"locks": []}),
    ]

    def seam(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    client = SeamClient(
        api_key="k",
        endpoint="http://seam.test",
        transport=httpx.MockTransport(seam),
        record=metrics.api_calls_to("seam"),
    )
    try:
        assert await client.list_locks() == []
    finally:
        await client.aclose()

    found = scraped(metrics)
    for status in ("503", "timeout", "200"):
        assert found[("lockbot_api_calls_total", frozenset({("service", "seam"), ("status", status)}))] == 1


def test_two_apps_in_one_process_count_apart_and_the_backlog_is_the_one_read() -> None:
    first, second = Metrics(), Metrics()
    first.command("/lock")

    assert scraped(first)[("lockbot_commands_total", frozenset({("command", "/lock")}))] == 1
    assert ("lockbot_commands_total", frozenset({("command", "/lock")})) not in scraped(second)
    with_backlog = scraped(first, Backlog(pending_requests=2, pending_relocks=1, actions_in_flight=3))
    assert with_backlog[("lockbot_pending_requests", frozenset())] == 2
    assert with_backlog[("lockbot_pending_relocks", frozenset())] == 1
    assert with_backlog[("lockbot_actions_in_flight", frozenset())] == 3
    assert ("lockbot_pending_requests", frozenset()) not in scraped(first, None)  # unread: left out, not stale
