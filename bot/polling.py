"""When to ask Seam again about a pending action attempt. Pure: no I/O, no clock.

Locks take from under a second to many seconds to answer, and the same lock tends to take about
as long each time. So the schedule learns how long each lock usually takes and asks just after
that; for a lock it has not seen yet it asks quickly at first, then backs off.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

__all__ = ["COLD_OFFSETS", "DurationEstimates", "next_poll_offset"]

# Seconds after the attempt started. Dense where most locks answer (0.5-3 s), sparse after.
COLD_OFFSETS: tuple[float, ...] = (0.4, 1.0, 1.6, 2.4, 3.4, 4.8, 6.6, 9.0, 12.0, 16.0, 21.0, 27.0, 35.0, 45.0)

# After an expected answer time E, ask at E + each of these.
_LEARNED_FOLLOW_UPS: tuple[float, ...] = (0.05, 0.2, 0.5)

# How far one sample moves the estimate.
_SMOOTHING = 0.5


def _blend(previous: float | None, sample: float) -> float:
    return sample if previous is None else previous + _SMOOTHING * (sample - previous)


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
    """How long attempts took, per lock and action, with an estimate across all locks as fallback.

    A finished attempt is only known to have ended between the last time Seam said "pending"
    (`pending_at`) and the time it said otherwise (`finished_at`).
    """

    _by_key: dict[tuple[str, str], float] = field(default_factory=dict)
    _by_action: dict[str, float] = field(default_factory=dict)

    def expected(self, device_id: str, action_type: str) -> float | None:
        return self._by_key.get((device_id, action_type), self._by_action.get(action_type))

    def record(self, device_id: str, action_type: str, pending_at: float, finished_at: float) -> None:
        window = finished_at - pending_at
        # A narrow window pins the time down. A wide one ending at the first question may mean
        # the lock answered much earlier: lean early, so the next schedule finds out.
        sample = (pending_at + finished_at) / 2 if window <= 0.3 else max(pending_at, finished_at - 0.15)
        key = (device_id, action_type)
        self._by_key[key] = _blend(self._by_key.get(key), sample)
        self._by_action[action_type] = _blend(self._by_action.get(action_type), sample)
