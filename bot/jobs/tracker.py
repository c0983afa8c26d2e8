"""The tracker: takes jobs and follows each one to its end, durably.

Each step reads the job's stored state, does one thing, and moves it on through the transition
table (bot.jobs.states) before the next step starts, so a restart resumes every job where it
was. The scheduler (bot.jobs.scheduler) decides when a job's next step runs; the steps are
bot.jobs.submit, bot.jobs.poll and bot.jobs.finish; a long storyboard's chain of segments is
bot.jobs.chaining, and its API (plan, submit, retry, redo, their cost) bot.jobs.chain.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from pathlib import Path
from typing import Any

from bot.chain.plan import Plan
from bot.config.settings import Settings, StoryboardSettings
from bot.db.files import write_private
from bot.domain.clock import Clock
from bot.domain.storyboard import Storyboard
from bot.jobs import chaining, fallback
from bot.jobs.callbacks import reconcile
from bot.jobs.chain import ENDED, Chains
from bot.jobs.context import END_OUTCOMES, Context, Ledger
from bot.jobs.delivery import Delivery
from bot.jobs.finish import fetch, post
from bot.jobs.links import MEDIA_SECRET_KEY, media_url
from bot.jobs.poll import poll
from bot.jobs.queue import QueueSpot, spots_of
from bot.jobs.scheduler import Scheduler
from bot.jobs.states import CHAIN_STATES, SENT_STATES, JobState
from bot.jobs.store import Job, JobOwner, Store, new_id
from bot.jobs.store import lane_of as _lane
from bot.jobs.submit import Submitter, unknown
from bot.kie import KieApi
from bot.media.images import PreparedImage
from bot.models import ModelRegistry
from bot.models.base import VideoModel
from bot.quota.policy import Outcome

log = logging.getLogger("bot.jobs")

ORPHAN_GRACE = 600.0  # a reservation without a job this old was left by a crash
RETRY_LATER = 30.0
# A step that fails unexpectedly (a bug, not kie.ai or Discord) is retried this long past the
# job's deadline, then the job is given up with a clear end: never a retry without end.
STEP_GRACE = 3600.0
LANES = {"submit": 32, "deliver": 4, "chain": 4}
SWEEP_EVERY = 300.0  # how often leftover reservations are looked for while running


class Tracker:
    def __init__(
        self,
        *,
        store: Store,
        kie: KieApi,
        models: ModelRegistry,
        delivery: Delivery,
        settings: Settings,
        clock: Clock | None = None,
        origin: str | None = None,
        only: Collection[str] | None = None,
        ledger: Ledger | None = None,
        unreachable_give_up: float | None = None,
        chain_limits: StoryboardSettings | None = None,
    ) -> None:
        self.ctx = Context(
            store=store,
            kie=kie,
            models=models,
            delivery=delivery,
            settings=settings,
            clock=clock or Clock(),
            ledger=ledger,
            unreachable_give_up=unreachable_give_up,
        )
        self.store = store
        self.settings = settings
        self.clock = self.ctx.clock
        self.media_dir = Path(settings.storage.media_dir)
        self._submitter: Submitter
        self.ctx.internal = chaining.SegmentDelivery(self.ctx)
        self._sweeper: asyncio.Task[None] | None = None
        owner = None
        if only is not None:
            owner = JobOwner(origin=origin, ids=frozenset(only))
        elif origin is not None:
            owner = JobOwner(origin=origin)
        self.scheduler = Scheduler(
            store=store,
            clock=self.ctx.clock,
            owner=owner,
            step=self._guarded_step,
            lane_of=_lane,
            lanes={**LANES, "kie": settings.tracker.concurrency},
        )
        self._submitter = Submitter(self.ctx, admit=self.scheduler.turns.admit)
        limits = chain_limits or StoryboardSettings()  # [storyboards]: the longest, the most shots
        self.chains = Chains(
            self.ctx,
            follow=self.scheduler.follow,
            wake=self.scheduler.wake,
            max_seconds=limits.max_seconds,
            max_shots=limits.max_shots,
        )

    # -- what the rest of the bot uses -----------------------------------------------------
    @property
    def ledger(self) -> Ledger | None:
        return self.ctx.ledger

    @ledger.setter
    def ledger(self, value: Ledger | None) -> None:
        self.ctx.ledger = value

    @property
    def callbacks(self) -> bool:
        return self.ctx.callbacks

    @property
    def _loop_task(self) -> asyncio.Task[None] | None:
        return self.scheduler._loop_task

    async def callback_secret(self) -> str:
        return await self.ctx.callback_secret()

    async def media_secret(self) -> str:
        """The secret of /media links (not the callback secret)."""
        return await self.store.secret(MEDIA_SECRET_KEY)

    async def media_url(self, job_id: str) -> str:
        """A link to the job's stored video on this bot's server (``http.public_url``), valid
        as long as the retention policy keeps the video."""
        expires = self.clock.now() + self.settings.retention.days * 86400
        public = str(self.settings.http.public_url)
        return media_url(public, await self.media_secret(), job_id, expires=expires)

    def model_for(self, board: Storyboard, name: str | None = None) -> VideoModel:
        return fallback.model_for(self.ctx, board, name)

    def plan(
        self, board: Storyboard, model: str | None = None, *, max_segments: int | None = None
    ) -> Plan:
        """``board``'s segments on the model that would take it (bot.jobs.chain)."""
        chosen = self.ctx.models.get(model) if model else self.model_for(board)
        return self.chains.plan(board, chosen, max_segments=max_segments)

    async def submit(
        self,
        board: Storyboard,
        image: PreparedImage,
        *,
        origin: str = "cli",
        model: str | None = None,
        hold: bool = False,
        max_segments: int | None = None,
        **fields: object,
    ) -> Job:
        """Validate, store the image and the job, and wake the loop. Nothing is spent here.

        A storyboard the model does not take as it is is planned into segments and stored as
        a chain (at most ``max_segments``): the parent job is returned (bot.jobs.chain).

        ``hold``: the job is stored (holding its reservation) but not started until
        :meth:`release` (the caller first posts where its status will show). A crash in
        between loses nothing: a restart starts held jobs too.

        Raises StoryboardError when the storyboard does not fit the model.
        """
        # A model the caller chose (and reserved the quota at) is kept as it is; switching to
        # the fallback is the submit step's, which checks the guild's rules first.
        chosen = self.ctx.models.get(model) if model else self.model_for(board)
        now = self.clock.now()
        plan = self.chains.plan(board, chosen, max_segments=max_segments)
        if plan.chained:
            return await self.chains.submit(plan, image, origin=origin, hold=hold, **fields)
        job_id = str(fields.pop("id", None) or new_id())
        path = self.media_dir / "images" / f"{job_id}.{image.extension}"
        await asyncio.to_thread(write_private, path, image.data)
        job = await self.store.create_job(
            id=job_id,
            image_path=str(path),
            origin=origin,
            model=chosen.name,
            storyboard=board,
            state=JobState.QUEUED,
            created_at=now,
            updated_at=now,
            next_check_at=None if hold else now,
            deadline_at=now + self.settings.tracker.deadline_minutes * 60,
            credits=chosen.price(board),
            **fields,
        )
        self.scheduler.follow(job.id)
        if not hold:
            self.scheduler.wake()
        return job

    async def release(self, job_id: str, **fields: Any) -> Job | None:
        """Start a job stored with ``hold`` (recording ``fields``, e.g. its status message)."""
        job = await self.store.update_job(job_id, next_check_at=self.clock.now(), **fields)
        self.scheduler.wake()
        return job

    async def cancel(self, job_id: str) -> bool:
        """Cancel a job that has not been sent to kie.ai yet. False once it has."""
        if await self.chains.cancel(job_id):
            return True
        now = self.clock.now()
        job = await self.store.transition(
            job_id,
            JobState.QUEUED,
            JobState.CANCELLED,
            fail_code="cancelled",
            fail_msg="cancelled before it was sent to kie.ai",
            finished_at=now,
            next_check_at=now,
        )
        if job:
            await self.ctx.settle(job, "cancelled")
            self.scheduler.wake()
        return job is not None

    async def queue_spot(self, job_id: str) -> QueueSpot | None:
        """Where a job waiting to be sent to kie.ai stands in the submit queue: its exact
        place (1 = the next createTask) and estimated start (bot.jobs.queue.QueueSpot); None
        when it is not waiting (held, sent, ended, or retrying later)."""
        return (await self.queue_spots(upto=job_id)).get(job_id)

    async def queue_spots(self, *, upto: str | None = None) -> dict[str, QueueSpot]:
        """Every waiting job's :meth:`queue_spot` (up to ``upto``'s), from one read."""
        sched = self.scheduler
        now = self.clock.now()
        rest = await self.store.queue_order(now, owner=sched.owner, skip=list(sched.inflight))
        return spots_of([*sched.turns.waiting(), *rest], self.ctx.kie.limits.create, now, upto)

    async def on_callback(self, job_id: str, task_id: str | None) -> bool:
        """A callback arrived for ``job_id``: wake the job. The truth is read with recordInfo.

        A job whose createTask outcome was unknown learns its task id here, after recordInfo
        confirms the task was created with this job's callback URL.
        """
        job = await self.store.get_job(job_id)
        if job is None:
            return False
        if job.task_id is None and task_id and job.state in (JobState.UNKNOWN, JobState.SUBMITTING):
            job = await reconcile(self.ctx, job, task_id) or job
        elif job.task_id and task_id and job.task_id != task_id:
            log.warning("callback for job %s names another task; ignored", job_id)
            return False
        if job.active:
            await self.scheduler.poke(job.id)
        return True

    # -- start and stop --------------------------------------------------------------------
    async def settle_leftovers(self) -> int:
        """At start-up: settle reservations a crash left behind. A job that ended (or whose
        video was made) settles as it would have; a reservation whose job was never created
        (the process died between reserving and submitting) is released after a grace time."""
        ledger = self.ctx.ledger
        if ledger is None:
            return 0
        now = self.clock.now()
        settled = 0
        reserved = await ledger.reserved_jobs()
        jobs = await self.store.get_jobs([job_id for job_id, _ in reserved])
        for job_id, reserved_at in reserved:
            job = jobs.get(job_id)
            if job is None:
                if now - reserved_at > ORPHAN_GRACE:
                    await ledger.settle(job_id, outcome="cancelled", now=now)
                    settled += 1
                continue
            if job.state in ENDED and chaining.settled_by_parts(job):
                # A chain that ended without its video: what it made counts, no more.
                await chaining.settle_end(self.ctx, job)
                settled += 1
                continue
            outcome: Outcome | None = END_OUTCOMES.get(job.state)
            if job.state in (
                JobState.JOINING,
                JobState.SUCCEEDED,
                JobState.FETCHED,
                JobState.POSTING,
                JobState.DELIVERED,
            ):
                outcome = "delivered"
            elif job.state == JobState.EXPIRED:
                sent = job.task_id is not None or job.fail_code in (
                    "unknown_deadline",
                    "unknown_no_callback",
                )
                outcome = "delivered" if sent else "refused"
            if outcome is not None:
                await self.ctx.settle(job, outcome)
                settled += 1
        return settled

    async def resume(self) -> int:
        """At start-up: make every unfinished job (or untold end) of this tracker due now."""
        await self.settle_leftovers()
        count = await self.store.make_due(self.scheduler.owner, self.clock.now())
        self.scheduler.wake()
        return count

    def start(self) -> None:
        self.scheduler.start()
        if self._sweeper is None and self.ctx.ledger is not None:
            self._sweeper = asyncio.create_task(self._sweep(), name="storyboard-settle-sweep")

    async def _sweep(self) -> None:
        """Now and then, settle what a crash or a failed write left unsettled (a reservation
        whose job was never created, an end whose settling failed), not only at start-up."""
        while True:
            await self.clock.sleep(SWEEP_EVERY)
            try:
                await self.settle_leftovers()
            except Exception:
                log.exception("settling leftover reservations failed; trying again later")

    async def stop(self) -> None:
        """Stop taking steps; a createTask already sent is answered (or times out) and its
        answer recorded before this returns; queued notices are shown."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        await self.scheduler.stop()
        await asyncio.gather(*list(self._submitter.creating), return_exceptions=True)
        try:
            await asyncio.wait_for(self.ctx.flush(), 10)
        except (TimeoutError, Exception):
            log.info("stopping: some status updates were not shown")

    def wake(self) -> None:
        self.scheduler.wake()

    async def run_once(self) -> None:
        """Run every due step and wait for them, and for the notices they queued."""
        await self.scheduler.run_once()
        await self.ctx.flush()

    # -- steps -----------------------------------------------------------------------------
    async def _guarded_step(self, job: Job) -> None:
        try:
            fresh = await self.store.get_job(job.id)
            if fresh is not None:
                await self.step(fresh)
        except asyncio.CancelledError:
            raise
        except Exception:
            await self._unexpected(job.id)

    async def _unexpected(self, job_id: str) -> None:
        """A step failed in a way no rule foresaw (a bug): retry, but not past a bound."""
        log.exception("job %s: unexpected error", job_id)
        job = await self.store.get_job(job_id)
        if job is None:
            return
        now = self.clock.now()
        try:
            if job.active and now >= job.deadline_at + STEP_GRACE:
                await self._give_up(job)
            elif not job.active and now >= (job.finished_at or job.updated_at) + STEP_GRACE:
                # Telling the owner about the end keeps failing: stop trying (it is logged).
                await self.store.update_job(job_id, delivery="done", next_check_at=None)
            else:
                await self.store.update_job(job_id, next_check_at=now + RETRY_LATER)
        except Exception:
            log.exception("job %s: could not record the error", job_id)

    async def _give_up(self, job: Job) -> Job:
        msg = "the bot kept failing on this job; the operator can see why in the log"
        minutes: dict[str, object] = {"minutes": f"{self.settings.tracker.deadline_minutes:g}"}
        if job.state in chaining.MIDWAY:
            return await chaining.give_up(self.ctx, job, msg, minutes)
        if job.state in (JobState.SUCCEEDED, JobState.FETCHED, JobState.POSTING, *CHAIN_STATES):
            return await self.ctx.end(job, JobState.UNDELIVERABLE, "undeliverable", msg)
        if job.state == JobState.QUEUED:
            return await self.ctx.end(job, JobState.EXPIRED, "deadline_queued", msg)
        return await self.ctx.end(job, JobState.EXPIRED, "deadline", msg, minutes)

    async def step(self, job: Job) -> None:
        """Advance ``job`` as far as it can go now in its lane, writing each state as it is
        reached. A job that moves to another lane's work (a poll that finds the video made)
        is left due for the scheduler to start there: a download or a post never holds a
        polling slot."""
        lane = _lane(job)
        try:
            while True:
                before = (job.state, job.delivery, job.model)
                job = await self._advance(job)
                if (job.state, job.delivery, job.model) == before or job.next_check_at is None:
                    return
                if job.next_check_at > self.clock.now() or _lane(job) != lane:
                    return
        finally:
            if job.parent_id is not None and (not job.active or job.state == JobState.DELIVERED):
                # A segment is in (or ended without a video): its chain goes on now.
                await self.scheduler.poke(job.parent_id)

    async def _advance(self, job: Job) -> Job:
        ctx = self.ctx
        now = self.clock.now()
        if job.is_chain and (job.state == JobState.QUEUED or job.state in CHAIN_STATES):
            return await chaining.step(ctx, job, now)
        match job.state:
            case JobState.QUEUED:
                return await self._submitter.submit(job, now)
            case JobState.SUBMITTING:
                # Found at start-up: the process stopped while sending it.
                return await unknown(
                    ctx,
                    job,
                    "unknown_stopped",
                    "the bot stopped while sending the job to kie.ai; it may or may not have "
                    "been accepted, so it was not sent again",
                )
            case JobState.RUNNING:
                return await poll(ctx, job, now)
            case JobState.UNKNOWN:
                if job.task_id is not None:
                    return await poll(ctx, job, now)
                if now >= job.deadline_at:
                    return await ctx.end(
                        job,
                        JobState.EXPIRED,
                        "unknown_deadline",
                        "kie.ai never confirmed the job; check your kie.ai dashboard before "
                        "trying again",
                    )
                # Nothing to ask kie.ai without a task id: wait for a callback.
                return await ctx.set(job, next_check_at=max(job.deadline_at, now))
            case JobState.SUCCEEDED:
                return await fetch(ctx, job, now)
            case JobState.FETCHED | JobState.POSTING:
                return await post(ctx, job, now)
            case _:
                if job.delivery == "pending":
                    async with ctx.showing(job.id):
                        await ctx.delivery_for(job).job_ended(job)
                    ctx.shown(job.id)
                    return await ctx.set(job, delivery="done", next_check_at=None)
                return await ctx.set(job, next_check_at=None)


__all__ = ["SENT_STATES", "Tracker"]
