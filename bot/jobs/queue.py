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


class Turns:
    """Tickets in the order the scheduler takes queued jobs: a job passes the createTask
    limiter only when every job taken before it has passed it or left."""

    def __init__(self) -> None:
        self._order: collections.OrderedDict[str, asyncio.Event] = collections.OrderedDict()

    def issue(self, job_id: str) -> None:
        """``job_id`` was taken from the queue: it goes behind every ticket issued so far."""
        if job_id not in self._order:
            self._order[job_id] = asyncio.Event()
            self._wake_head()

    def drop(self, job_id: str) -> None:
        """``job_id`` passed the limiter or left (refused, cancelled, its step ended)."""
        if self._order.pop(job_id, None) is not None:
            self._wake_head()

    def waiting(self) -> list[str]:
        """The ids holding a ticket, in order: the head of the queue."""
        return list(self._order)

    def _wake_head(self) -> None:
        if self._order:
            next(iter(self._order.values())).set()

    @contextlib.asynccontextmanager
    async def admit(self, job_id: str, limiter: SlidingWindowLimiter) -> AsyncIterator[None]:
        """``async with turns.admit(job_id, limiter):`` waits for ``job_id``'s turn, then for
        the limiter; its turn passes on as soon as it is admitted. A job without a ticket
        (taken outside the scheduler) just waits for the limiter."""
        event = self._order.get(job_id)
        if event is not None:
            while self._order and next(iter(self._order)) != job_id:
                event.clear()
                await event.wait()
                if job_id not in self._order:
                    break
        try:
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
