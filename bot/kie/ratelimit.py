"""A sliding-window rate limiter: at most ``max_calls`` admissions in any ``window`` seconds.

Unlike a leaky bucket, which must split its allowance between a burst and a slower refill, a
sliding window admits the whole allowance again as soon as the oldest admission leaves the
window: a saturated queue sustains exactly ``max_calls`` per ``window``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType

# Float rounding: a sleep until ``oldest + window`` may wake a hair early; admitting within a
# nanosecond of the boundary avoids spinning on sub-nanosecond sleeps.
_EPSILON = 1e-9


class SlidingWindowLimiter:
    """Admits at most ``max_calls`` callers in any half-open window ``[t, t + window)``.

    Used as ``async with limiter:``; a caller counts from the moment it is admitted (leaving the
    block frees nothing). Waiters are admitted in arrival order: one waiter at a time holds the
    lock and sleeps until the oldest admission leaves the window, the others queue behind it.
    ``clock`` and ``sleep`` are injectable for tests (``time.monotonic`` and ``asyncio.sleep``).
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
        self._admitted: deque[float] = deque()
        self._lock = asyncio.Lock()  # FIFO: asyncio.Lock wakes its waiters in order

    def __repr__(self) -> str:
        return f"SlidingWindowLimiter({self.max_calls}, {self.window})"

    def _expire(self, now: float) -> None:
        while self._admitted and now - self._admitted[0] >= self.window - _EPSILON:
            self._admitted.popleft()

    def delays(self, count: int) -> list[float]:
        """Seconds from now until each of the next ``count`` admissions, if that many callers
        came now and no one else (what a queue's estimated start is made of)."""
        now = self._clock()
        self._expire(now)
        times = list(self._admitted)
        out: list[float] = []
        for _ in range(count):
            at = now
            if len(times) >= self.max_calls:
                at = max(now, times[-self.max_calls] + self.window)
            times.append(at)
            out.append(at - now)
        return out

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                self._expire(now)
                if len(self._admitted) < self.max_calls:
                    self._admitted.append(now)
                    return
                await self._sleep(self._admitted[0] + self.window - now)

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None
