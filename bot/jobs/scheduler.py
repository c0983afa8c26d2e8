"""The dispatch loop: one task sleeps until the earliest due job of its owner, runs a bounded
number of steps at once, and is woken early by new jobs and callbacks.

The shape of a durable timer dispatcher: rows carry ``next_check_at``; the loop never keeps a
coroutine per waiting job. Its queries see only the jobs of its owner (a process's origin, or
the ids a `render` follows) and never the ones a step is already working on, so a job another
process left behind, or a callback for a job mid-step, cannot make it spin. A step runs in the
lane its job's state needs (submitting waits on kie.ai's create limit, polling on its read
limit, posting on Discord), each lane with its own bound, so one kind of wait never holds up
another.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from bot.domain.clock import Clock
from bot.jobs.store import Job, JobOwner, Store

log = logging.getLogger("bot.jobs")

IDLE_SLEEP = 3600.0  # nothing due: sleep until woken
BLOCKED_NAP = 1.0  # due jobs wait for a full lane: look again this soon
SPIN_ROUNDS = 200  # this many rounds of the loop within a second is a spin (see health)
DUE_BATCH = 200  # due jobs read at once


class Scheduler:
    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        owner: JobOwner | None,
        step: Callable[[Job], Awaitable[None]],
        lane_of: Callable[[Job], str],
        lanes: dict[str, int],
    ) -> None:
        self.store = store
        self.clock = clock
        self.owner = owner
        self._step = step
        self._lane_of = lane_of
        self._capacity = dict(lanes)
        self._busy: dict[str, int] = dict.fromkeys(lanes, 0)
        self.inflight: dict[str, asyncio.Task[None]] = {}
        self._poked: set[str] = set()
        self._sleeping = self._woken = self._again = False
        self._blocked = False
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self.heartbeat: float | None = None  # when the loop last went round
        self.rounds: collections.deque[float] = collections.deque(maxlen=SPIN_ROUNDS)

    # -- waking ----------------------------------------------------------------------------
    def wake(self) -> None:
        """Make the loop look at the store again now (a job was added or a step ended)."""
        if self._sleeping and not self._woken and self._loop_task is not None:
            self._woken = True
            self._loop_task.cancel()
        else:
            self._again = True

    async def poke(self, job_id: str) -> None:
        """A job should be looked at now (a callback came). A job mid-step is looked at again
        as soon as its step ends: the step's own next_check_at never overwrites the poke."""
        # Marked first: a step that starts while the write below waits for the store still
        # sees the poke when it ends.
        self._poked.add(job_id)
        if job_id in self.inflight:
            return
        await self.store.update_job(job_id, next_check_at=self.clock.now())
        if job_id not in self.inflight:
            self._poked.discard(job_id)
        self.wake()

    def follow(self, job_id: str) -> None:
        """Add a job to an owner that follows listed ids (a `render` that submits one)."""
        if self.owner is not None and self.owner.ids is not None:
            self.owner = JobOwner(origin=self.owner.origin, ids=self.owner.ids | {job_id})

    # -- the loop --------------------------------------------------------------------------
    def start(self) -> None:
        if self._loop_task is None:
            self._stopping = False
            self._loop_task = asyncio.create_task(self._run(), name="storyboard-scheduler")

    @property
    def running(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    def health(self) -> tuple[bool, str]:
        """Whether the loop is alive and neither stalled nor spinning, and why not."""
        if not self.running:
            return False, "the scheduler loop is not running"
        if self.heartbeat is not None and self.clock.now() - self.heartbeat > IDLE_SLEEP + 120:
            return False, "the scheduler loop has not gone round for over an hour"
        rounds = self.rounds
        if len(rounds) == SPIN_ROUNDS and rounds[-1] - rounds[0] < 1.0:
            return False, f"the scheduler loop went round {SPIN_ROUNDS} times within a second"
        return True, "running"

    async def stop(self) -> None:
        self._stopping = True
        if self._loop_task:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        tasks = list(self.inflight.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping:
            self._again = False
            self.heartbeat = self.clock.now()
            self.rounds.append(time.monotonic())
            try:
                await self.run_due()
                delay = await self._sleep_time()
            except Exception:
                log.exception("scheduler loop error; retrying shortly")
                delay = 5.0
            if self._again:
                continue
            # Sleep until the next job is due; wake() cancels the sleep (not an Event: a plain
            # sleep is what test harnesses with virtual time recognise as parked).
            self._sleeping = True
            try:
                await self.clock.sleep(IDLE_SLEEP if delay is None else delay)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not self._woken or task is None:
                    raise
                task.uncancel()
            finally:
                self._sleeping = self._woken = False

    async def _sleep_time(self) -> float | None:
        nxt = await self.store.next_check_at(owner=self.owner, skip=list(self.inflight))
        if nxt is None:
            return None
        delay = nxt - self.clock.now()
        if delay <= 0 and self._blocked:
            # Due jobs wait for a slot in a full lane; a step that ends wakes the loop, and a
            # short nap lets due jobs of other lanes start meanwhile (never a spin).
            return BLOCKED_NAP
        return max(0.0, delay)

    async def run_once(self, *, passes: int = 10) -> None:
        """Run every due step and wait for them, and for the steps they leave due right away
        (a job moving to another lane), a bounded number of passes (tests and one-shot tools
        drive it so)."""
        for _ in range(passes):
            started = await self.run_due()
            while self.inflight:
                await asyncio.gather(*list(self.inflight.values()), return_exceptions=True)
            if not started:
                return

    async def run_due(self) -> int:
        """Start a step for due jobs, as many as their lanes have room for; how many."""
        self._blocked = False
        now = self.clock.now()
        due = await self.store.due_jobs(
            now, limit=DUE_BATCH, owner=self.owner, skip=list(self.inflight)
        )
        started = 0
        for job in due:
            lane = self._lane_of(job)
            if self._busy[lane] >= self._capacity[lane]:
                self._blocked = True
                continue
            self._busy[lane] += 1
            task = asyncio.create_task(self._guarded(job), name=f"job-{job.id}")
            self.inflight[job.id] = task
            # Released when the task is done, even one cancelled before it ever ran.
            task.add_done_callback(lambda _t, j=job.id, ln=lane: self._release(j, ln))
            started += 1
        return started

    def _release(self, job_id: str, lane: str) -> None:
        self._busy[lane] -= 1
        self.inflight.pop(job_id, None)
        if not self._stopping:
            self.wake()

    async def _guarded(self, job: Job) -> None:
        await self._step(job)
        if job.id in self._poked:
            # A callback came while the step ran: look at the job again now, whatever next
            # check the step wrote.
            self._poked.discard(job.id)
            with contextlib.suppress(Exception):
                await self.store.update_job(job.id, next_check_at=self.clock.now())
