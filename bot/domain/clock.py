"""Time, injected: the tracker asks a Clock instead of reaching for ``time`` and ``asyncio``."""

from __future__ import annotations

import asyncio
import time


class Clock:
    """Wall-clock time (unix seconds) and sleeping. Subclasses may use another time source
    (the Discord bot uses discord.py's, which test harnesses can move)."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
