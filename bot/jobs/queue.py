"""The submit queue as members see it: each waiting job's exact place and estimated start.

The order is the store's (bot.jobs.store: round-robin by member, then by guild, oldest first),
the one the scheduler takes jobs in. Jobs the scheduler has already started (they upload their
image, then wait for the createTask limiter) hold a ticket here in the order they were taken;
:class:`Turns` lets them reach the limiter only in that order, so the place shown is the place
kept: the job at place *n* is the *n*-th createTask from now.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from bot.kie.ratelimit import SlidingWindowLimiter


@dataclass(frozen=True)
class QueueSpot:
    """Where a job waiting to be sent to kie.ai stands.

    ``position``: 1-based; 1 is the next createTask. ``ahead``: ``position - 1``.
    ``starts_at``: when its createTask should be sent (a Unix time, for ``<t:...:R>``), from
    the limiter's window and the jobs ahead, if nothing else (a refusal, a cancel) changes.
    ``length``: how many jobs wait in all.
    """

    position: int
    starts_at: float
    length: int

    @property
    def ahead(self) -> int:
        return self.position - 1


def estimated_starts(limiter: SlidingWindowLimiter, count: int, now: float) -> list[float]:
    """The Unix times of the limiter's next ``count`` admissions if callers keep coming."""
    return [now + delay for delay in limiter.delays(count)]


# How long a job waiting for its turn sleeps before it looks again on its own (it is woken as
# soon as its turn comes; this only bounds the damage of a missed wake).
_PARK = 3600.0


class Turns:
    """Tickets in the order the scheduler takes queued jobs: a job passes the createTask
    limiter only when every job taken before it has passed it or left.

    A job waiting for its turn sleeps, and the job ahead of it wakes it by cancelling that
    sleep when it passes or leaves (the dispatch loop's own wake): every wait is a plain sleep,
    which test harnesses with virtual time see as parked, and only the head ever waits at the
    limiter, so the limiter admits them in ticket order."""

    def __init__(self) -> None:
        self._order: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._sleepers: dict[str, asyncio.Task[object]] = {}  # job id -> its sleeping task
        self._woken: set[str] = set()

    def issue(self, job_id: str) -> None:
        """``job_id`` was taken from the queue: it goes behind every ticket issued so far."""
        if job_id not in self._order:
            self._order[job_id] = None
            self._wake_head()

    def drop(self, job_id: str) -> None:
        """``job_id`` passed the limiter or left (refused, cancelled, its step ended)."""
        if job_id in self._order:
            del self._order[job_id]
            self._wake_head()

    def waiting(self) -> list[str]:
        """The ids holding a ticket, in order: the head of the queue."""
        return list(self._order)

    def _wake_head(self) -> None:
        if not self._order:
            return
        head = next(iter(self._order))
        task = self._sleepers.get(head)
        if task is not None and head not in self._woken:
            self._woken.add(head)
            task.cancel()

    async def _turn(self, job_id: str) -> None:
        """Sleep until ``job_id`` heads the tickets (or has none any more)."""
        task = asyncio.current_task()
        assert task is not None
        while job_id in self._order and next(iter(self._order)) != job_id:
            self._sleepers[job_id] = task
            try:
                await asyncio.sleep(_PARK)
            except asyncio.CancelledError:
                # Our wake, not a stop: carry on (a real cancel on top of it is raised).
                if job_id not in self._woken or task.uncancel() > 0:
                    raise
            finally:
                self._sleepers.pop(job_id, None)
                self._woken.discard(job_id)

    @contextlib.asynccontextmanager
    async def admit(self, job_id: str, limiter: SlidingWindowLimiter) -> AsyncIterator[None]:
        """``async with turns.admit(job_id, limiter):`` waits for ``job_id``'s turn, then for
        the limiter; its turn passes on as soon as it is admitted. A job without a ticket
        (taken outside the scheduler) just waits for the limiter."""
        try:
            if job_id in self._order:
                await self._turn(job_id)
            await limiter.acquire()
        finally:
            self.drop(job_id)
        yield


def spots_of(
    line: Sequence[str], limiter: SlidingWindowLimiter, now: float, upto: str | None = None
) -> dict[str, QueueSpot]:
    """The spot of each job in ``line`` (ids in queue order) up to ``upto`` (all when None or
    not in the line: then ``upto`` has none)."""
    count = len(line)
    if upto is not None:
        if upto not in line:
            return {}
        count = list(line).index(upto) + 1
    starts = estimated_starts(limiter, count, now)
    return {
        job_id: QueueSpot(position=i + 1, starts_at=starts[i], length=len(line))
        for i, job_id in enumerate(list(line)[:count])
    }
