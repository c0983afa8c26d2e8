"""The dispatch loop: one task sleeps until the earliest due job of its owner, runs a bounded
number of steps at once, and is woken early by new jobs and callbacks.

The shape of a durable timer dispatcher: rows carry ``next_check_at``; the loop never keeps a
coroutine per waiting job. Its queries see only the jobs of its owner (a process's origin, or
the ids a `render` follows) and never the ones a step is already working on, so a job another
process left behind, or a callback for a job mid-step, cannot make it spin. A step runs in the
lane its job's state needs (submitting waits on kie.ai's create limit, polling on its read
limit, posting on Discord), each lane with its own bound, so one kind of wait never holds up
another.

Bounded under any load: a round reads, per lane, only as many due jobs as the lane has free
slots (one light query each, in the lane's order: bot.jobs.store), and starts a task for each;
a due job beyond that stays a row, never a waiting task. A job being stepped is skipped by
every query until its task ends, so no lease can run out under it. When every due job waits
for a full lane the loop sleeps until a step ends (never a spin). Jobs taken from the submit
queue get a ticket (bot.jobs.queue.Turns) so they reach kie.ai's createTask limit in the order
they were taken.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable

from bot.domain.clock import Clock
from bot.jobs.queue import Turns
from bot.jobs.store import Job, JobOwner, Store

log = logging.getLogger("bot.jobs")

IDLE_SLEEP = 3600.0  # nothing due: sleep until woken
BLOCKED_NAP = 1.0  # due jobs that no round could start: look again this soon
SPIN_ROUNDS = 200  # this many rounds of the loop within a second is a spin (see health)


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
        self._stalled = False
        self.turns = Turns()
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

    def _free_lanes(self) -> list[str]:
        return [ln for ln, cap in self._capacity.items() if self._busy[ln] < cap]

    async def _sleep_time(self) -> float | None:
        """Until the next job of a lane with room falls due (a full lane's jobs wait for a step
        to end, which wakes the loop); None: nothing to wait for."""
        nxt = await self.store.next_check_at(
            owner=self.owner, skip=list(self.inflight), lanes=self._free_lanes()
        )
        if nxt is None:
            return None
        delay = nxt - self.clock.now()
        if delay <= 0 and self._stalled:
            # Due, and in a lane with room, yet the last round started nothing (a job whose
            # lane changed under the query): look again shortly, never a spin.
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
        """Start a step for due jobs, per lane as many as it has room for, in the lane's
        order; how many."""
        now = self.clock.now()
        started = 0
        for lane in self._free_lanes():
            room = self._capacity[lane] - self._busy[lane]
            due = await self.store.due_in_lane(
                lane, now, room, owner=self.owner, skip=list(self.inflight)
            )
            for job in due:
                # Counted in the lane the step sees (the same rule as the query's).
                ln = self._lane_of(job)
                if job.id in self.inflight or self._busy.get(ln, 0) >= self._capacity.get(ln, 0):
                    continue
                self._start(job, ln)
                started += 1
        self._stalled = started == 0
        return started

    def _start(self, job: Job, lane: str) -> None:
        self._busy[lane] += 1
        if lane == "submit":
            self.turns.issue(job.id)
        task = asyncio.create_task(self._guarded(job), name=f"job-{job.id}")
        self.inflight[job.id] = task
        # Released when the task is done, even one cancelled before it ever ran.
        task.add_done_callback(functools.partial(self._release, job.id, lane))

    def _release(self, job_id: str, lane: str, _task: object = None) -> None:
        self._busy[lane] -= 1
        self.inflight.pop(job_id, None)
        self.turns.drop(job_id)
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
