"""How quickly a burst of presses is submitted under the createTask limit, and whether it stays
under it.

Run from the repo root:  python bench/burst.py   (instant; ``--real`` runs in real time, ~50 s)

100 callers enter ``async with limits.create:`` at once, as 100 Generate presses would. By
default the limiter of ``RateLimits()`` (same size and window) runs on an event loop whose clock
jumps when every caller is waiting, so the figures are those of real time without the wait;
``--real`` uses ``RateLimits().create`` itself on the real clock. Printed: the time the last
caller was admitted and the most admissions in any 10 s window. Targets: the last one within
55 s, at most 18 in any 10 s (90 % of kie.ai's 20). Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import selectors
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.kie import RateLimits  # noqa: E402
from bot.kie.ratelimit import SlidingWindowLimiter  # noqa: E402

PRESSES = 100
WINDOW = 10.0
TARGET_LAST = 55.0
TARGET_PER_WINDOW = 18


class _VirtualSelector(selectors.DefaultSelector):
    """Never blocks: where the loop would wait ``timeout`` seconds, the virtual clock jumps."""

    now = 0.0

    def select(self, timeout: float | None = None) -> list[Any]:
        events = super().select(0)
        if not events and timeout:
            self.now += timeout
        return events


async def burst(real: bool) -> list[float]:
    loop = asyncio.get_running_loop()
    limits = RateLimits()
    limiter = limits.create
    if not real:
        limiter = SlidingWindowLimiter(limiter.max_calls, limiter.window, clock=loop.time)
    start = loop.time()
    times: list[float] = []

    async def press() -> None:
        async with limiter:
            times.append(loop.time() - start)

    await asyncio.gather(*(press() for _ in range(PRESSES)))
    return sorted(times)


def most_in_any_window(times: list[float], window: float) -> int:
    """The largest number of times in any window [t, t + window) (1 µs short, for rounding)."""
    width = window - 1e-6
    return max(sum(1 for u in times[i:] if u < t + width) for i, t in enumerate(times))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", action="store_true", help="run on the real clock (~50 s)")
    args = parser.parse_args()
    if args.real:
        times = asyncio.run(burst(real=True))
    else:
        selector = _VirtualSelector()
        loop = asyncio.SelectorEventLoop(selector)
        loop.time = lambda: selector.now  # type: ignore[method-assign]
        try:
            times = loop.run_until_complete(burst(real=False))
        finally:
            loop.close()
    last = times[-1]
    most = most_in_any_window(times, WINDOW)
    clock = "real" if args.real else "virtual"
    print(f"{PRESSES} createTask admissions ({clock} clock)")
    print(f"  last admitted at      {last:6.2f} s   (target <= {TARGET_LAST:.0f} s)")
    print(f"  most in any 10 s      {most:6d}     (target <= {TARGET_PER_WINDOW})")
    ok = last <= TARGET_LAST and most <= TARGET_PER_WINDOW
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
