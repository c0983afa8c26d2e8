"""When to ask kie.ai about a running task: today's schedule, and the one learned from history.

Today's schedule. The goal: notice completion within max(10 s, 10 % of the time since
submission) while reading as little as possible. Waiting ``max(10 s, 10 % of elapsed)`` between
reads is exactly that bound, so no schedule that meets it everywhere reads less often:

- the first 100 s: every 10 s (a 60 s job costs about 6 reads);
- after that the gap grows by 10 % each time (100, 110, 121, 133 ... s): a 5-minute job costs
  about 22 reads, a 15-minute job about 33. kie.ai's docs suggest a fixed 2-5 s poll, which
  costs 60-150 reads for a 5-minute job.

With a callback URL, kie.ai tells us when the task ends and polling is only a safety net for a
lost callback: every max(60 s, 25 % of elapsed).

The learned schedule (polling only, never with callbacks). A model's videos of one length and
resolution take much the same time (bot.jobs.history keeps the last ones), so reading every
10 s from the start mostly asks about tasks that cannot be done yet. Once there are
``MIN_SAMPLES`` of them, the *learned start* is the history's 5th percentile less 20 %
(:func:`learned_start`): the earliest plausible finish, with room for the noise in what was
recorded. For a task ending ``c`` seconds after submission, with ``S`` the learned start:

- ``c >= S``: noticed within max(poll_min, 10 % of c): today's promise, unchanged;
- ``c < S`` (earlier than nearly all of its history; a fast failure): noticed within
  max(safety_min, 25 % of c), i.e. 60 s by default: the callback mode's safety net. Those reads
  also keep the history honest: a task that got faster is seen before ``S`` and pulls it down.

Before ``S`` the reads are the safety net's, the last one landing on ``S`` itself; from ``S``
on the gap is today's, so a task running longer than all its history is read exactly as today.
A gap is never shorter than today's at the same elapsed time, so the learned schedule never
costs more reads than today's, for any task (the tests prove both). With fewer than
``MIN_SAMPLES``, with callbacks, or when ``S`` is too close to be worth skipping to, the
schedule *is* today's. The first read (10 s after createTask, made by the submit step) stays:
it confirms the task is visible. Reads that come late under load are late for both schedules.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

POLL_MIN = 10.0
POLL_FRACTION = 0.10
SAFETY_MIN = 60.0
SAFETY_FRACTION = 0.25
# The learned start: this quantile of the history, less this share of it, once there are
# this many samples.
EARLY_QUANTILE = 0.05
START_MARGIN = 0.20
MIN_SAMPLES = 20


def next_poll_delay(
    elapsed: float,
    *,
    callbacks: bool,
    poll_min: float = POLL_MIN,
    safety_min: float = SAFETY_MIN,
    start: float | None = None,
) -> float:
    """Seconds until the next status read of a task submitted ``elapsed`` seconds ago.

    ``start``: the learned start (:func:`learned_start`); None reads as today."""
    elapsed = max(0.0, elapsed)
    if callbacks:
        return max(safety_min, SAFETY_FRACTION * elapsed)
    today = max(poll_min, POLL_FRACTION * elapsed)
    if start is None or start - elapsed <= today:
        return today
    # Before the learned start: the safety net's gap (never shorter than today's), cut to land
    # on the start itself.
    return min(start - elapsed, max(today, safety_min, SAFETY_FRACTION * elapsed))


def learned_start(
    samples: Iterable[float],
    *,
    min_samples: int = MIN_SAMPLES,
    quantile: float = EARLY_QUANTILE,
    margin: float = START_MARGIN,
) -> float | None:
    """When reads start following the promise, in seconds after submission, from the times
    (seconds from submission to the end) of earlier tasks of the same kind; None with fewer
    than ``min_samples`` usable ones."""
    ordered = sorted(s for s in samples if math.isfinite(s) and s >= 0.0)
    if len(ordered) < max(1, min_samples):
        return None
    # The lower order statistic: with few samples, the quantile leans early.
    low = ordered[math.floor(quantile * (len(ordered) - 1))]
    return low * (1.0 - margin)


def read_times(
    duration: float,
    *,
    callbacks: bool = False,
    start: float | None = None,
    poll_min: float = POLL_MIN,
    safety_min: float = SAFETY_MIN,
) -> list[float]:
    """The seconds after submission at which a task is read, up to the first read at or after
    ``duration``. The first read is today's (the submit step schedules it), then
    ``t_{n+1} = t_n + next_poll_delay(t_n)``."""
    t = next_poll_delay(0.0, callbacks=callbacks, poll_min=poll_min, safety_min=safety_min)
    times = [t]
    while t < duration:
        t += next_poll_delay(
            t, callbacks=callbacks, poll_min=poll_min, safety_min=safety_min, start=start
        )
        times.append(t)
    return times


def reads_for(duration: float, *, callbacks: bool = False, start: float | None = None) -> int:
    """How many reads a task taking ``duration`` seconds costs (the last one sees it done)."""
    return len(read_times(duration, callbacks=callbacks, start=start))
