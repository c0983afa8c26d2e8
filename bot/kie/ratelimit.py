"""A sliding-window rate limiter: at most ``max_calls`` admissions in any ``window`` seconds.

Unlike a leaky bucket, which must split its allowance between a burst and a slower refill, a
sliding window admits the whole allowance again as soon as the oldest admission leaves the
window: a saturated queue sustains exactly ``max_calls`` per ``window``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType

# Float rounding: a sleep until ``oldest + window`` may wake a hair early; admitting within a
# nanosecond of the boundary avoids spinning on sub-nanosecond sleeps.
_EPSILON = 1e-9
# Two waiters never share an admission time: each is at least this much after the one before.
_ORDER_STEP = 1e-8


class SlidingWindowLimiter:
    """Admits at most ``max_calls`` callers in any half-open window ``[t, t + window)``.

    Used as ``async with limiter:``; a caller counts from the moment it is admitted (leaving the
    block frees nothing). A caller reserves its admission time the moment it arrives (the
    earliest time the window allows behind everyone already admitted or waiting) and sleeps
    until then, so callers are admitted in arrival order and every wait is a plain sleep (no
    lock: test harnesses with virtual time see a sleeping caller as parked). A caller cancelled
    while it waits gives its time back; the others keep theirs (a schedule with one admission
    fewer never breaks the limit). ``clock`` and ``sleep`` are injectable for tests
    (``time.monotonic`` and ``asyncio.sleep``).
    """

    def __init__(
        self,
        max_calls: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if max_calls < 1:
            raise ValueError("max_calls must be at least 1")
        if window <= 0:
            raise ValueError("window must be positive")
        self.max_calls = max_calls
        self.window = window
        self._clock = clock
        self._sleep = sleep
        # Admission times, oldest first: past ones still in the window, and the reserved times
        # of callers still waiting (later than now).
        self._admitted: deque[float] = deque()

    def __repr__(self) -> str:
        return f"SlidingWindowLimiter({self.max_calls}, {self.window})"

    def _expire(self, now: float) -> None:
        while self._admitted and now - self._admitted[0] >= self.window - _EPSILON:
            self._admitted.popleft()

    def _next(self, times: Sequence[float], now: float) -> float:
        """The earliest admission after ``times`` that keeps every window within the limit.
        (A reserved time exists only while the window before it is full, so with fewer than
        ``max_calls`` times in the window none is reserved: now is free.)"""
        if len(times) < self.max_calls:
            return now
        return max(now, times[-self.max_calls] + self.window)

    def delays(self, count: int) -> list[float]:
        """Seconds from now until each of the next ``count`` admissions: first those of the
        callers already waiting (their reserved times), then those of callers coming now and no
        one else (what a queue's estimated start is made of)."""
        now = self._clock()
        self._expire(now)
        times = list(self._admitted)
        out = [at - now for at in times if at > now + _EPSILON][:count]
        while len(out) < count:
            at = self._next(times, now)
            times.append(at)
            out.append(at - now)
        return out

    async def acquire(self) -> None:
        now = self._clock()
        self._expire(now)
        at = self._next(self._admitted, now)
        if at > now and self._admitted and at <= self._admitted[-1] + _ORDER_STEP:
            # Behind a caller waiting for the same instant: a hair later, so the sleeps end
            # (and the callers are admitted) in the order they came.
            at = self._admitted[-1] + _ORDER_STEP
        self._admitted.append(at)  # reserved at once: no await between choosing and taking it
        try:
            while now < at - _EPSILON:
                await self._sleep(at - now)
                now = self._clock()
        except BaseException:
            # Cancelled while waiting: the time is given back (it was never used).
            with contextlib.suppress(ValueError):
                self._admitted.remove(at)
            raise

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None
