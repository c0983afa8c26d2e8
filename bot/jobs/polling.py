"""When to ask kie.ai about a running task.

The goal: notice completion within max(10 s, 10 % of the time since submission) while reading
as little as possible. Waiting ``max(10 s, 10 % of elapsed)`` between reads is exactly that
bound, so no schedule that meets it reads less often:

- the first 100 s: every 10 s (a 60 s job costs about 6 reads);
- after that the gap grows by 10 % each time (100, 110, 121, 133 ... s): a 5-minute job costs
  about 22 reads, a 15-minute job about 33. kie.ai's docs suggest a fixed 2-5 s poll, which
  costs 60-150 reads for a 5-minute job.

With a callback URL, kie.ai tells us when the task ends and polling is only a safety net for a
lost callback: every max(60 s, 25 % of elapsed).
"""

from __future__ import annotations

POLL_MIN = 10.0
POLL_FRACTION = 0.10
SAFETY_MIN = 60.0
SAFETY_FRACTION = 0.25


def next_poll_delay(
    elapsed: float,
    *,
    callbacks: bool,
    poll_min: float = POLL_MIN,
    safety_min: float = SAFETY_MIN,
) -> float:
    """Seconds until the next status read of a task submitted ``elapsed`` seconds ago."""
    elapsed = max(0.0, elapsed)
    if callbacks:
        return max(safety_min, SAFETY_FRACTION * elapsed)
    return max(poll_min, POLL_FRACTION * elapsed)


def reads_for(duration: float, *, callbacks: bool = False) -> int:
    """How many reads a task taking ``duration`` seconds costs (the last one sees it done)."""
    t, reads = 0.0, 0
    while True:
        t += next_poll_delay(t, callbacks=callbacks)
        reads += 1
        if t >= duration:
            return reads
