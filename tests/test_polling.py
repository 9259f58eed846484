"""The polling schedule: quick first then backing off, the deadline kept, each lock's timing learned."""

from __future__ import annotations

import itertools

from bot.polling import COLD_OFFSETS, DurationEstimates, next_poll_offset


def schedule(expected: float | None, deadline: float) -> list[float]:
    offsets, elapsed = [], 0.0
    while elapsed < deadline:
        elapsed = next_poll_offset(elapsed, expected, deadline)
        offsets.append(elapsed)
    return offsets


def test_cold_schedule_is_quick_first_then_backs_off() -> None:
    offsets = schedule(None, 60)
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    assert offsets[0] <= 0.5
    assert gaps[:-1] == sorted(gaps[:-1])  # never quicker again
    assert offsets[-1] == 60  # the last question is asked at the deadline


def test_deadline_caps_the_schedule() -> None:
    assert schedule(None, 3.0) == [0.4, 1.0, 1.6, 2.4, 3.0]


def test_schedule_goes_on_past_the_table_until_the_deadline() -> None:
    offsets = schedule(None, 120)
    assert offsets[-1] == 120
    assert len(offsets) > len(COLD_OFFSETS)


def test_learned_schedule_asks_just_after_the_expected_time() -> None:
    assert next_poll_offset(0.0, 1.5, 20) == 1.55
    assert next_poll_offset(1.55, 1.5, 20) == 1.65
    assert next_poll_offset(0.0, 6.0, 20) == 3.0  # a slow lock is also asked halfway


def simulate(true_duration: float, estimates: DurationEstimates, deadline: float = 20) -> tuple[int, float]:
    """Questions asked and the lag between the end of the attempt and the answer that saw it."""
    elapsed, polls = 0.0, []
    while True:
        elapsed = next_poll_offset(elapsed, estimates.expected("lock_1", "LOCK_DOOR"), deadline)
        polls.append(elapsed)
        if elapsed >= true_duration:
            estimates.record("lock_1", "LOCK_DOOR", polls)
            return len(polls), elapsed - true_duration


def test_a_1_5_second_lock_needs_at_most_three_questions_even_cold() -> None:
    questions, lag = simulate(1.5, DurationEstimates())
    assert questions <= 3
    assert lag <= 0.15


def test_once_learned_a_lock_is_seen_within_a_fifth_of_a_second_with_few_questions() -> None:
    for duration in (0.7, 1.5, 2.8, 5.0):
        estimates = DurationEstimates()
        for _ in range(3):
            simulate(duration, estimates)
        results = [simulate(duration, estimates) for _ in range(20)]
        assert max(questions for questions, _ in results) <= 3, duration
        assert max(lag for _, lag in results) <= 0.2, duration


def test_estimates_fall_back_from_the_lock_to_the_action() -> None:
    estimates = DurationEstimates()
    estimates.record("lock_1", "LOCK_DOOR", [0.4, 1.0, 1.4, 1.6])
    assert estimates.expected("lock_1", "LOCK_DOOR") == 1.4
    assert estimates.expected("lock_9", "LOCK_DOOR") == 1.4
    assert estimates.expected("lock_1", "UNLOCK_DOOR") is None


def test_a_lock_that_got_slower_is_relearned_within_two_attempts() -> None:
    estimates = DurationEstimates()
    for _ in range(5):
        simulate(1.0, estimates)
    simulate(3.0, estimates)
    simulate(3.0, estimates)
    results = [simulate(3.0, estimates) for _ in range(5)]
    assert max(lag for _, lag in results) <= 0.2
    assert max(questions for questions, _ in results) <= 3


def test_a_lock_that_got_faster_is_still_followed_and_slowly_relearned() -> None:
    estimates = DurationEstimates()
    for _ in range(5):
        simulate(2.0, estimates)
    lags = [simulate(1.5, estimates)[1] for _ in range(60)]
    assert lags[0] <= 0.6
    assert max(lags[-10:]) <= 0.2
