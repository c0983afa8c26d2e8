"""createTask requests counted as kie.ai counts them: from when each may reach kie.ai.

The createTask limiter (bot.kie.ratelimit) counts a request from the moment it is admitted, but
the request reaches kie.ai later, by a delay that varies: the job's state is written first, the
event loop may be busy, the network adds its own. When the requests of one window were slow to
leave and those of the next window are quick, kie.ai sees both in one of its windows and drops
the extra ones with a 429, whatever margin the limiter keeps (seen with 100 presses at once:
17 requests admitted together reached kie.ai 40-80 ms later; the next 17, admitted exactly 10 s
after them, arrived at once, and 15 of them were answered 429).

A request has reached kie.ai, if at all, by the time its answer is back. :class:`SentWindow`
counts each request from when it is sent until ``window`` seconds after its answer (a request
still unanswered counts all along), and holds a request back while ``max_calls`` are counted.
Then kie.ai can never see more than ``max_calls`` in any ``window``: of any ``max_calls + 1``
requests inside one of kie.ai's windows, the one sent last would have found the others counted.
The wait this adds is the spread of the delays (tens of milliseconds), not a margin taken off
every window.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

# As in bot.kie.ratelimit: a sleep until a window's end may wake a hair early.
_EPSILON = 1e-9


class SentWindow:
    """At most ``max_calls`` requests sent or answered within ``window`` seconds of now.

    ``async with sent.call(max_calls, window):`` around the request itself (the limits are
    given at each call, so they follow the limiter they back up). Waiters are let through in
    arrival order. ``clock`` and ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._running = 0  # sent, not yet answered
        self._answered: deque[float] = deque()  # when each answer came, oldest first
        self._lock = asyncio.Lock()  # FIFO: asyncio.Lock wakes its waiters in order
        self._answer: asyncio.Future[None] | None = None  # set when a request is answered

    def counted(self, window: float) -> int:
        """How many requests count now: those unanswered and those answered within ``window``."""
        now = self._clock()
        while self._answered and now - self._answered[0] >= window - _EPSILON:
            self._answered.popleft()
        return self._running + len(self._answered)

    @contextlib.asynccontextmanager
    async def call(self, max_calls: int, window: float) -> AsyncIterator[None]:
        async with self._lock:
            while self.counted(window) >= max_calls:
                if self._answered:
                    await self._sleep(self._answered[0] + window - self._clock())
                else:  # every counted request is still on its way: wait for an answer
                    self._answer = asyncio.get_running_loop().create_future()
                    await self._answer
            self._running += 1
        try:
            yield
        finally:
            self._running -= 1
            self._answered.append(self._clock())
            answer, self._answer = self._answer, None
            if answer is not None and not answer.done() and not answer.get_loop().is_closed():
                answer.set_result(None)
