"""Time, injected: the tracker asks a Clock instead of reaching for ``time`` and ``asyncio``."""

from __future__ import annotations

import asyncio
import contextlib
import time


class Clock:
    """Wall-clock time (unix seconds) and waiting for an event with a timeout."""

    def now(self) -> float:
        return time.time()

    async def wait(self, event: asyncio.Event, delay: float | None) -> None:
        """Return when ``event`` is set or ``delay`` seconds have passed."""
        if delay is None:
            await event.wait()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), max(0.0, delay))

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
