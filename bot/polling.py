"""When to ask Seam again about a pending action attempt. Pure: no I/O, no clock.

Locks take from under a second to many seconds to answer, and the same lock tends to take about
as long each time. So the schedule learns how long each lock usually takes and asks just after
that; for a lock it has not seen yet it asks quickly at first, then backs off.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["COLD_OFFSETS", "DurationEstimates", "next_poll_offset"]

# Seconds after the attempt started. Dense where most locks answer (0.5-3 s), sparse after.
COLD_OFFSETS: tuple[float, ...] = (0.4, 1.0, 1.6, 2.4, 3.4, 4.8, 6.6, 9.0, 12.0, 16.0, 21.0, 27.0, 35.0, 45.0)

# After an expected answer time E, ask at E + each of these.
_LEARNED_FOLLOW_UPS: tuple[float, ...] = (0.05, 0.15, 0.3, 0.5, 0.8)

# How many recent attempts per lock the estimate remembers.
_REMEMBERED = 5
# How far an estimate that proved right or high is lowered, to notice a lock getting faster.
_STEP_DOWN = 0.05


def _offsets(expected: float | None) -> list[float]:
    if expected is None:
        return list(COLD_OFFSETS)
    follow_ups = [expected + gap for gap in _LEARNED_FOLLOW_UPS]
    early = [expected / 2] if expected > 2.0 else []
    later = [offset for offset in COLD_OFFSETS if offset > follow_ups[-1]]
    return sorted({*early, *follow_ups, *later})


def next_poll_offset(elapsed: float, expected: float | None, deadline: float) -> float:
    """Seconds after the start at which to ask next, given `elapsed` seconds have passed.

    Never later than `deadline`: the last question is asked at the deadline itself.
    """
    offsets = _offsets(expected)
    index = bisect.bisect_right(offsets, elapsed)
    if index < len(offsets):
        return min(offsets[index], deadline)
    step = offsets[-1] - offsets[-2] if len(offsets) > 1 else 5.0
    beyond = offsets[-1] + step * (int((elapsed - offsets[-1]) / step) + 1)
    return min(beyond, deadline)


@dataclass
class DurationEstimates:
    """How long attempts take, per lock and action, with all locks of an action as fallback.

    An attempt is only known to have ended after the last time Seam still said "pending". The
    latest such moment among the last few attempts is just short of how long the lock takes,
    so asking right after it finds the outcome with one or two questions.
    """

    _by_key: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    _by_action: dict[str, deque[float]] = field(default_factory=dict)

    def expected(self, device_id: str, action_type: str) -> float | None:
        recent = self._by_key.get((device_id, action_type)) or self._by_action.get(action_type)
        return max(recent) if recent else None

    def record(self, device_id: str, action_type: str, polls: Sequence[float]) -> None:
        """An attempt ended; `polls` are the seconds after its start at which Seam was asked.

        Every answer but the last was "pending". When the first question after the expected
        time already found it done, the estimate was right, or high: keep it, a step lower.
        """
        expected = self.expected(device_id, action_type)
        pending_at = polls[-2] if len(polls) > 1 else 0.0
        first_learned_question = expected is not None and polls[-1] <= expected + _LEARNED_FOLLOW_UPS[0] + 1e-9
        sample = max(pending_at, expected - _STEP_DOWN) if first_learned_question and expected else pending_at
        for recent in (
            self._by_key.setdefault((device_id, action_type), deque(maxlen=_REMEMBERED)),
            self._by_action.setdefault(action_type, deque(maxlen=_REMEMBERED)),
        ):
            recent.append(sample)
