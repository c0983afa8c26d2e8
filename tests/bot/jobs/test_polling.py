"""bot.jobs.polling: the schedule of status reads keeps its promise (a task's end is noticed
within max(10 s, 10 % of the time since submission); with callbacks, the safety net within
max(60 s, 25 %)), its gaps never shrink, and a task costs few reads. The schedule learned from
history keeps that promise for every end after its learned start and the safety net's before
it, never costs more reads than today's, and is today's without enough history."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.jobs import polling
from bot.jobs.polling import (
    EARLY_QUANTILE,
    MIN_SAMPLES,
    POLL_MIN,
    SAFETY_MIN,
    learned_start,
    next_poll_delay,
    reads_for,
)

DAY = 86_400.0
# A task's duration: from a fraction of a second to a day (the deadline is far shorter).
durations = st.floats(min_value=0.001, max_value=DAY, allow_nan=False, allow_infinity=False)
elapsed = st.floats(min_value=0.0, max_value=DAY, allow_nan=False, allow_infinity=False)


def read_times(until: float, *, callbacks: bool = False, **mins: float) -> list[float]:
    """The seconds after submission at which the tracker reads the task, up to the first read
    at or after ``until``."""
    t, times = 0.0, []
    while not times or times[-1] < until:
        t += next_poll_delay(t, callbacks=callbacks, **mins)
        times.append(t)
    return times


def noticed_after(duration: float, *, callbacks: bool = False, **mins: float) -> float:
    """How long after a task ends (``duration`` s after submission) a read sees it ended."""
    return read_times(duration, callbacks=callbacks, **mins)[-1] - duration


@given(durations)
def test_the_end_is_noticed_within_10_s_or_10_percent(duration):
    late = noticed_after(duration)
    assert late <= max(POLL_MIN, 0.10 * duration) + 1e-9


@given(durations)
def test_with_callbacks_the_safety_net_notices_within_60_s_or_25_percent(duration):
    late = noticed_after(duration, callbacks=True)
    assert late <= max(SAFETY_MIN, 0.25 * duration) + 1e-9


@given(durations, st.floats(min_value=1.0, max_value=120.0))
def test_the_configured_shortest_gaps_keep_the_same_promise(duration, shortest):
    # tracker.poll_min_seconds and tracker.callback_poll_min_seconds.
    assert noticed_after(duration, poll_min=shortest) <= max(shortest, 0.10 * duration) + 1e-9
    late = noticed_after(duration, callbacks=True, safety_min=shortest)
    assert late <= max(shortest, 0.25 * duration) + 1e-9


@given(elapsed, elapsed, st.booleans())
def test_the_gap_never_shrinks_as_the_task_gets_older(a, b, callbacks):
    early, late = sorted((a, b))
    assert next_poll_delay(early, callbacks=callbacks) <= next_poll_delay(late, callbacks=callbacks)


@given(durations, st.booleans())
def test_reads_come_in_order_and_never_closer_than_the_shortest_gap(duration, callbacks):
    times = read_times(duration, callbacks=callbacks)
    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    assert all(gap >= (SAFETY_MIN if callbacks else POLL_MIN) for gap in gaps)
    assert gaps == sorted(gaps)
    assert len(times) == reads_for(duration, callbacks=callbacks)


@given(durations, durations)
def test_a_longer_task_never_costs_fewer_reads(a, b):
    short, long = sorted((a, b))
    assert reads_for(short) <= reads_for(long)
    assert reads_for(short, callbacks=True) <= reads_for(long, callbacks=True)


@pytest.mark.parametrize("skew", [-1.0, -3600.0])
def test_a_clock_that_went_backwards_reads_at_the_shortest_gap(skew):
    assert next_poll_delay(skew, callbacks=False) == POLL_MIN
    assert next_poll_delay(skew, callbacks=True) == SAFETY_MIN


def test_the_first_100_s_are_read_every_10_s_then_the_gap_grows_by_10_percent():
    times = read_times(150.0)
    assert times[:10] == pytest.approx([10.0 * n for n in range(1, 11)])
    assert times[10:13] == pytest.approx([110.0, 121.0, 133.1])


@pytest.mark.parametrize(
    ("duration", "at_most"),
    [(10.0, 1), (60.0, 6), (300.0, 23), (900.0, 35), (1800.0, 42)],
)
def test_reads_stay_few(duration, at_most):
    reads = reads_for(duration)
    assert reads <= at_most
    # kie.ai's docs suggest a fixed 2-5 s poll: even at 5 s, a 5-minute task costs 60 reads.
    if duration >= 300:
        assert reads < duration / 5 / 2


@given(st.floats(min_value=100.0, max_value=DAY))
def test_reads_grow_with_the_logarithm_of_the_duration(duration):
    # Ten reads for the first 100 s, then each gap 10 % longer than the last.
    assert reads_for(duration) <= 10 + math.ceil(math.log(duration / 100.0, 1.1)) + 1


def test_callbacks_make_polling_a_sparse_safety_net():
    for duration in (300.0, 900.0, 1800.0):
        assert reads_for(duration, callbacks=True) < reads_for(duration) / 2


# ------------------------------------------------------------------------ the learned schedule
# Any history: from none to more than is kept, of any times (nonsense ones included).
samples = st.floats(min_value=0.0, max_value=DAY, allow_nan=False, allow_infinity=False)
histories = st.lists(samples, max_size=3 * MIN_SAMPLES)
enough = st.lists(samples, min_size=MIN_SAMPLES, max_size=3 * MIN_SAMPLES)
gaps = st.floats(min_value=1.0, max_value=120.0)


def learned_noticed_after(
    duration: float,
    start: float | None,
    poll_min: float = POLL_MIN,
    safety_min: float = SAFETY_MIN,
) -> float:
    times = polling.read_times(duration, start=start, poll_min=poll_min, safety_min=safety_min)
    return times[-1] - duration


@given(histories, durations)
def test_after_the_learned_start_the_end_is_noticed_within_todays_promise(history, duration):
    start = learned_start(history)
    if start is None or duration >= start:
        late = learned_noticed_after(duration, start)
        assert late <= max(POLL_MIN, 0.10 * duration) + 1e-9


@given(histories, durations)
def test_before_the_learned_start_the_end_is_noticed_within_the_safety_net(history, duration):
    start = learned_start(history)
    late = learned_noticed_after(duration, start)
    assert late <= max(SAFETY_MIN, 0.25 * duration) + 1e-9


@given(enough, durations, gaps, gaps)
def test_the_configured_gaps_keep_both_promises_with_history(history, duration, short, safety):
    start = learned_start(history)
    late = learned_noticed_after(duration, start, poll_min=short, safety_min=safety)
    assert late <= max(safety, short, 0.25 * duration) + 1e-9
    if start is None or duration >= start:
        assert late <= max(short, 0.10 * duration) + 1e-9


@given(histories, durations)
def test_the_learned_schedule_never_reads_more_nor_sooner_than_todays(history, duration):
    start = learned_start(history)
    learned = polling.read_times(duration, start=start)
    today = polling.read_times(duration)
    # The n-th learned read comes no earlier than today's n-th: fewer reads to any end.
    assert len(learned) <= len(today)
    assert all(a >= b - 1e-9 for a, b in zip(learned, today, strict=False))
    assert reads_for(duration, start=start) <= reads_for(duration)


@given(histories, elapsed)
def test_from_the_learned_start_on_the_gaps_are_todays(history, at):
    # A task running longer than its history is read exactly as today.
    start = learned_start(history)
    if start is not None and at >= start:
        assert next_poll_delay(at, callbacks=False, start=start) == next_poll_delay(
            at, callbacks=False
        )


@given(st.lists(samples, max_size=MIN_SAMPLES - 1), elapsed, durations)
def test_with_little_history_the_schedule_is_todays(history, at, duration):
    start = learned_start(history)
    assert start is None
    assert next_poll_delay(at, callbacks=False, start=start) == next_poll_delay(at, callbacks=False)
    assert polling.read_times(duration, start=start) == polling.read_times(duration)


@given(enough, elapsed)
def test_with_callbacks_the_history_changes_nothing(history, at):
    start = learned_start(history)
    assert next_poll_delay(at, callbacks=True, start=start) == next_poll_delay(at, callbacks=True)


@given(enough)
def test_the_learned_start_lies_below_nearly_all_of_the_history(history):
    start = learned_start(history)
    assert start is not None
    below = sum(1 for s in history if s < start)
    assert below <= EARLY_QUANTILE * (len(history) - 1)
    assert 0.0 <= start <= max(history)


def test_nonsense_samples_are_not_history():
    assert learned_start([math.nan, math.inf, -5.0] * MIN_SAMPLES) is None


def test_a_history_of_four_minute_videos_halves_a_five_minute_jobs_reads():
    # Twenty videos took 3.5-4.5 min; the 5th percentile is 210 s, the learned start 168 s.
    history = [210.0 + 3.0 * n for n in range(MIN_SAMPLES)]
    start = learned_start(history)
    assert start == pytest.approx(168.0)
    times = polling.read_times(300.0, start=start)
    # The first read (it confirms the task is visible), the safety net's every 60 s, the
    # start, then today's gaps: 10, 70, 130, 168, 184.8, 203.3 ...
    assert times[:5] == pytest.approx([10.0, 70.0, 130.0, 168.0, 184.8])
    assert len(times) == 11 and reads_for(300.0) == 22
    # A task as fast as none before it is still noticed within a minute.
    assert polling.read_times(15.0, start=start)[-1] == 70.0
