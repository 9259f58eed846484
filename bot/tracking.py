"""Following Seam action attempts to their end, many at once.

One loop asks Seam about every pending attempt in a single `/action_attempts/list` call whenever
any of them is due (see `bot.polling`), so a burst of actions costs a handful of calls in all,
and each attempt is seen soon after it ends. Past its deadline an attempt is "not confirmed".
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.model import ActionProblem, ActionState, ProblemReason
from bot.polling import DurationEstimates, next_poll_offset
from bot.seam import ActionAttempt, SeamClient, SeamError, SeamInvalidInput, SeamServerError

__all__ = ["AttemptOutcome", "AttemptTracker", "OnFinished"]

log = logging.getLogger(__name__)

# The fewest seconds between two calls to Seam from this loop: bounds the lag in a burst.
_MIN_GAP = 0.05
# How many attempts one list call asks about.
_BATCH_SIZE = 100
# Seam's event about an attempt's end comes this soon after it, or sooner: the attempt was still
# pending this long before the event, which is what the schedule learns from an attempt ended so.
_EVENT_DELIVERY = 0.1
# After Seam refuses a batched question, attempts are asked one by one this long, then together again:
# one refusal (a bad moment, one odd id) must not cost one call per attempt for the rest of the process.
_BATCH_RETRY_SECONDS = 30.0


@dataclass(frozen=True)
class AttemptOutcome:
    """How a followed attempt ended: `state` is final (succeeded, failed or not confirmed)."""

    state: ActionState
    attempt: ActionAttempt | None = None
    problem: ActionProblem | None = None  # why it could not be confirmed, when known

    @classmethod
    def of(cls, attempt: ActionAttempt) -> AttemptOutcome:
        """The outcome of an attempt Seam says has finished: the one place success and failure are told apart."""
        return cls(ActionState.SUCCEEDED if attempt.status == "success" else ActionState.FAILED, attempt)


OnFinished = Callable[[AttemptOutcome], Awaitable[None]]


@dataclass
class _Followed:
    attempt_id: str
    device_id: str
    action_type: str
    started: float
    deadline: float
    on_finished: OnFinished
    polls: list[float] = field(default_factory=list)
    last_problem: ActionProblem | None = None
    event_at: float | None = None  # when Seam's event said it ended, seconds after the start

    def due_at(self, estimates: DurationEstimates, patience: float) -> float:
        elapsed = (self.polls[-1] if self.polls else 0.0) / patience
        expected = estimates.expected(self.device_id, self.action_type)
        offset = next_poll_offset(elapsed, expected, (self.deadline - self.started) / patience) * patience
        return self.started + min(offset, self.deadline - self.started)


class AttemptTracker:
    """Follows action attempts until Seam says success or error, or their deadline passes."""

    def __init__(
        self,
        seam: SeamClient,
        *,
        deadline_seconds: float,
        patience: float = 1.0,
        batch_retry_seconds: float = _BATCH_RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`patience` stretches the polling schedule: with webhooks, polling is only the fallback."""
        self._seam = seam
        self._deadline_seconds = deadline_seconds
        self._patience = patience
        self._clock = clock
        self._estimates = DurationEstimates()
        self._followed: dict[str, _Followed] = {}
        self._changed = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._callbacks: set[asyncio.Task[None]] = set()
        self._batch_retry_seconds = batch_retry_seconds
        self._batch_refused_at = float("-inf")
        self._last_call = float("-inf")
        self._asked_now: dict[str, _Followed] = {}
        self._asking: asyncio.Task[None] | None = None

    @property
    def following(self) -> int:
        return len(self._followed)

    def follow(
        self,
        attempt: ActionAttempt,
        device_id: str,
        on_finished: OnFinished,
        *,
        started: float | None = None,
    ) -> None:
        """Call `on_finished` once, when the attempt ends or its deadline passes."""
        now = self._clock()
        begun = now if started is None else started
        self._followed[attempt.action_attempt_id] = _Followed(
            attempt_id=attempt.action_attempt_id,
            device_id=device_id,
            action_type=attempt.action_type,
            started=begun,
            deadline=begun + self._deadline_seconds,
            on_finished=on_finished,
        )
        if self._loop_task is None or self._loop_task.done():
            # A context of its own: the loop serves every action, not the one whose follow started it (logs).
            self._loop_task = asyncio.create_task(self._run(), name="attempt-tracker", context=contextvars.Context())
        self._changed.set()

    def check_now(self, attempt_id: str) -> bool:
        """Ask Seam about the attempt at once (Seam said it ended). False when not followed here.

        Attempts asked about while a question is on its way go together in the next one, so a
        burst of events costs a few list calls, not one call each. Polling stays the fallback.
        """
        item = self._followed.get(attempt_id)
        if item is None:
            return False
        if item.event_at is None:
            item.event_at = self._clock() - item.started
        self._asked_now[attempt_id] = item
        if self._asking is None or self._asking.done():
            self._asking = asyncio.create_task(
                self._ask_now(), name="attempt-tracker-events", context=contextvars.Context()
            )
        return True

    async def aclose(self) -> None:
        for task in (self._loop_task, self._asking):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._callbacks:
            await asyncio.gather(*self._callbacks, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            if not self._followed:
                self._changed.clear()
                await self._changed.wait()
                continue
            now = self._clock()
            due = min(followed.due_at(self._estimates, self._patience) for followed in self._followed.values())
            wake = max(due, self._last_call + _MIN_GAP)
            if wake > now:
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), wake - now)
                continue
            try:
                await self._poll_all()
            except Exception:
                log.exception("polling Seam for action attempts failed")

    async def _ask_now(self) -> None:
        while self._asked_now:
            asked = [item for item in self._asked_now.values() if self._followed.get(item.attempt_id) is item]
            self._asked_now.clear()
            for start in range(0, len(asked), _BATCH_SIZE):
                batch = asked[start : start + _BATCH_SIZE]
                ids = [item.attempt_id for item in batch]
                try:
                    seen = await (self._fetch_each(ids) if len(ids) == 1 else self._fetch(ids))
                except Exception:
                    log.exception("asking Seam about %d ended attempts failed; polling will", len(batch))
                    continue
                for item in batch:
                    if self._followed.get(item.attempt_id) is item:  # not finished by a poll meanwhile
                        self._note_poll(item, seen.get(item.attempt_id), ended_by_event=True)

    async def _poll_all(self) -> None:
        self._last_call = self._clock()
        followed = list(self._followed.values())
        for start in range(0, len(followed), _BATCH_SIZE):
            batch = followed[start : start + _BATCH_SIZE]
            try:
                seen = await self._fetch([item.attempt_id for item in batch])
            except SeamError as exc:
                log.warning("could not ask Seam about %d attempts: %s", len(batch), exc)
                problem = _unreadable(exc)
            except Exception:
                log.exception("asking Seam about %d attempts failed", len(batch))
                problem = ActionProblem(ProblemReason.ATTEMPT_NOT_ASKED)
            else:
                for item in batch:
                    if self._followed.get(item.attempt_id) is item:  # not finished by an event meanwhile
                        self._note_poll(item, seen.get(item.attempt_id))
                continue
            # Still counted as a question, so deadlines pass and the schedule backs off.
            for item in batch:
                if self._followed.get(item.attempt_id) is item:
                    item.last_problem = problem
                    self._note_poll(item, None)

    async def _fetch(self, attempt_ids: list[str]) -> dict[str, ActionAttempt]:
        if self._clock() - self._batch_refused_at >= self._batch_retry_seconds:
            try:
                attempts = await self._seam.list_action_attempts(attempt_ids)
            except (SeamInvalidInput, SeamServerError) as exc:
                if exc.status not in (400, 404, 501):
                    raise
                # This batch one by one; the next ones too for a while, then together again.
                log.info(
                    "Seam did not list %d action attempts together (HTTP %s); asking one by one for %g s",
                    len(attempt_ids),
                    exc.status,
                    self._batch_retry_seconds,
                )
                self._batch_refused_at = self._clock()
            else:
                found = {attempt.action_attempt_id: attempt for attempt in attempts}
                missing = [attempt_id for attempt_id in attempt_ids if attempt_id not in found]
                if not missing:
                    return found
                return found | await self._fetch_each(missing)
        return await self._fetch_each(attempt_ids)

    async def _fetch_each(self, attempt_ids: list[str]) -> dict[str, ActionAttempt]:
        results = await asyncio.gather(
            *(self._seam.get_action_attempt(attempt_id) for attempt_id in attempt_ids),
            return_exceptions=True,
        )
        found: dict[str, ActionAttempt] = {}
        for attempt_id, result in zip(attempt_ids, results, strict=True):
            if isinstance(result, ActionAttempt):
                found[attempt_id] = result
            elif isinstance(result, SeamError):
                followed = self._followed.get(attempt_id)
                if followed is not None:
                    followed.last_problem = _unreadable(result)
            elif isinstance(result, BaseException):
                raise result
        return found

    def _note_poll(self, item: _Followed, attempt: ActionAttempt | None, *, ended_by_event: bool = False) -> None:
        now = self._clock()
        item.polls.append(now - item.started)
        if attempt is not None and attempt.finished:
            polls = item.polls
            if ended_by_event and item.event_at is not None:
                # Learned as if asked just before the event came too: it was surely pending then.
                pending_at = max(polls[-2] if len(polls) > 1 else 0.0, item.event_at - _EVENT_DELIVERY)
                polls = [pending_at, polls[-1]]
            self._estimates.record(item.device_id, item.action_type, polls)
            self._finish(item, AttemptOutcome.of(attempt))
        elif now >= item.deadline:
            self._finish(item, AttemptOutcome(ActionState.NOT_CONFIRMED, attempt, item.last_problem))

    def _finish(self, item: _Followed, outcome: AttemptOutcome) -> None:
        if self._followed.get(item.attempt_id) is not item:
            return  # finished already (an event and a poll answered together): delivered once
        del self._followed[item.attempt_id]
        task = asyncio.create_task(self._deliver(item, outcome), name=f"finish-{item.attempt_id}")
        self._callbacks.add(task)
        task.add_done_callback(self._callbacks.discard)

    async def _deliver(self, item: _Followed, outcome: AttemptOutcome) -> None:
        try:
            await item.on_finished(outcome)
        except Exception:
            log.exception("reporting the end of action attempt %s failed", item.attempt_id)


def _unreadable(error: SeamError) -> ActionProblem:
    return ActionProblem(
        ProblemReason.ATTEMPT_UNREADABLE, detail=error.user_message, error_type=error.error_type, status=error.status
    )
