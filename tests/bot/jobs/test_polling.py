"""bot.jobs.polling: the schedule of status reads keeps its promise (a task's end is noticed
within max(10 s, 10 % of the time since submission); with callbacks, the safety net within
max(60 s, 25 %)), its gaps never shrink, and a task costs few reads."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.jobs.polling import POLL_MIN, SAFETY_MIN, next_poll_delay, reads_for

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
