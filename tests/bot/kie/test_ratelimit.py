"""The sliding-window limiter, on a virtual clock: tens of seconds of traffic in milliseconds."""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.kie.ratelimit import SlidingWindowLimiter

# The limiter admits within 1 ns of a window's end (float rounding); windows are measured 1 µs
# short of their length so that rounding is not mistaken for an extra admission.
_TOLERANCE = 1e-6


class _VirtualSelector(selectors.DefaultSelector):
    """Never blocks: where the loop would wait ``timeout`` seconds, the virtual clock jumps."""

    now = 0.0

    def select(self, timeout: float | None = None) -> list[Any]:
        events = super().select(0)
        if not events and timeout:
            self.now += timeout
        return events


def run_virtual(main: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``main()`` on a loop whose clock only moves when every task is waiting."""
    selector = _VirtualSelector()
    loop = asyncio.SelectorEventLoop(selector)
    loop.time = lambda: selector.now  # type: ignore[method-assign]
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


def limiter(max_calls: int = 18, window: float = 10.0) -> SlidingWindowLimiter:
    loop = asyncio.get_running_loop()
    return SlidingWindowLimiter(max_calls, window, clock=loop.time)


async def admissions(
    arrivals: list[float], max_calls: int = 18, window: float = 10.0
) -> list[float]:
    """One caller per arrival time; returns the admission times in admission order."""
    return await admit(limiter(max_calls, window), arrivals)


async def admit(limit: SlidingWindowLimiter, arrivals: list[float]) -> list[float]:
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def call(at: float) -> None:
        await asyncio.sleep(at)
        async with limit:
            times.append(loop.time())

    await asyncio.gather(*(call(at) for at in arrivals))
    return times


def most_in_any_window(times: list[float], window: float) -> int:
    """The largest number of times in any window [t, t + window), ``times`` sorted."""
    width = window - _TOLERANCE
    return max(sum(1 for u in times[i:] if u < t + width) for i, t in enumerate(times))


arrival_patterns = st.lists(
    st.one_of(
        st.floats(min_value=0, max_value=60, allow_nan=False),
        st.sampled_from([0.0, 9.999, 10.0, 10.001, 20.0]),  # bunched on window edges
    ),
    min_size=1,
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(arrivals=arrival_patterns, max_calls=st.integers(1, 20))
def test_no_window_ever_holds_more_than_the_limit(arrivals, max_calls):
    times = run_virtual(lambda: admissions(arrivals, max_calls))
    assert len(times) == len(arrivals)
    assert times == sorted(times)
    assert most_in_any_window(times, 10.0) <= max_calls
    # and nobody waits longer than the window requires: a caller admitted after it arrived
    # (admission order is arrival order) found the 10 s before its admission full
    for t, arrived, i in zip(times, sorted(arrivals), range(len(times)), strict=True):
        if t > arrived + _TOLERANCE:
            assert sum(1 for u in times[:i] if u > t - 10.0 - _TOLERANCE) >= max_calls


def test_a_saturated_queue_sustains_exactly_18_per_10_seconds():
    times = run_virtual(lambda: admissions([0.0] * 100))
    assert len(times) == 100
    assert times[-1] == pytest.approx(50.0)  # 18 at 0, 10, 20, 30 and 40 s; the last 10 at 50 s
    assert times[17] == pytest.approx(0.0)
    assert times[18] >= 10.0 - _TOLERANCE  # the 19th waits for the first to leave the window
    assert times[36] >= 20.0 - _TOLERANCE  # the 37th, for the 19th
    for k in range(6):
        assert sum(1 for t in times if abs(t - 10.0 * k) < 1e-6) == (18 if k < 5 else 10)
    assert most_in_any_window(times, 10.0) == 18


@settings(max_examples=100, deadline=None)
@given(
    arrivals=st.lists(st.floats(0, 30, allow_nan=False), min_size=1, max_size=60),
    max_calls=st.integers(1, 20),
)
def test_waiters_are_admitted_in_arrival_order(arrivals, max_calls):
    async def main() -> tuple[list[int], list[int]]:
        limit = limiter(max_calls, 10.0)
        arrived: list[int] = []
        admitted: list[int] = []

        async def call(n: int, at: float) -> None:
            await asyncio.sleep(at)
            arrived.append(n)
            async with limit:
                admitted.append(n)

        await asyncio.gather(*(call(n, at) for n, at in enumerate(arrivals)))
        return arrived, admitted

    arrived, admitted = run_virtual(main)
    assert admitted == arrived


def test_a_cancelled_waiter_does_not_hold_up_the_queue():
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        limit = limiter(1, 10.0)
        await limit.acquire()
        stuck = asyncio.ensure_future(limit.acquire())
        await asyncio.sleep(1)
        stuck.cancel()
        times = await admit(limit, [2.0])
        return [*times, loop.time()]

    times = run_virtual(main)
    assert times[0] == pytest.approx(10.0)


def test_the_next_admissions_start_with_the_callers_already_waiting():
    async def main() -> tuple[list[float], list[float]]:
        limit = limiter(1, 10.0)
        await limit.acquire()  # at 0
        waiting = asyncio.ensure_future(limit.acquire())  # reserved for 10
        await asyncio.sleep(1)
        ahead = limit.delays(3)  # the waiting caller's 9 s, then 19 and 29 for newcomers
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        return ahead, limit.delays(2)  # its time given back: 9 and 19 again, for newcomers

    ahead, after = run_virtual(main)
    assert ahead == pytest.approx([9.0, 19.0, 29.0])
    assert after == pytest.approx([9.0, 19.0])


def test_an_injected_sleep_is_used():
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    async def main() -> None:
        limit = SlidingWindowLimiter(2, 1.0, clock=lambda: now[0], sleep=sleep)
        for _ in range(5):
            async with limit:
                pass

    asyncio.run(main())
    assert slept == [1.0, 1.0]
    assert now[0] == 2.0


@pytest.mark.parametrize("args", [(0, 1.0), (1, 0.0), (1, -1.0)])
def test_nonsense_limits_are_refused(args):
    with pytest.raises(ValueError):
        SlidingWindowLimiter(*args)
