"""queued -> submitting -> running: prepare and upload the image, then one createTask.

``submitting`` is written before the request is sent: from then on a crash means "outcome
unknown", and a job whose outcome is unknown is never sent again (kie.ai has no idempotency
key). The request and the recording of its answer run shielded from cancellation, so a stop
(Ctrl-C, SIGTERM, a restart) still records a task kie.ai accepted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from bot.jobs import chaining, fallback
from bot.jobs.context import RETRY_LATER, Context
from bot.jobs.poll import poll_delay
from bot.jobs.states import JobState
from bot.jobs.store import Job
from bot.kie import CreateOutcomeUnknown, KieError, KieUnreachable
from bot.kie.ratelimit import SlidingWindowLimiter
from bot.media.images import ImageError, prepare_image_async, reuse_prepared
from bot.models.base import VideoModel

log = logging.getLogger("bot.jobs")


def _clock_text(at: float) -> str:
    """A time for a log line ("14:03:27", local time)."""
    return time.strftime("%H:%M:%S", time.localtime(at))


# How a job waits for the createTask limit: by default the limiter alone; the tracker passes
# its queue's turns (bot.jobs.queue.Turns.admit), which keep the queue's order.
Admit = Callable[[str, SlidingWindowLimiter], AbstractAsyncContextManager[None]]


def _limiter_only(job_id: str, limiter: SlidingWindowLimiter) -> SlidingWindowLimiter:
    return limiter


class Submitter:
    def __init__(self, ctx: Context, admit: Admit = _limiter_only) -> None:
        self.ctx = ctx
        self._admit = admit
        # createTask requests sent and not yet answered: a stop waits for them.
        self.creating: set[asyncio.Future[Job]] = set()

    async def submit(self, job: Job, now: float) -> Job:
        ctx = self.ctx
        if now >= job.deadline_at:
            if job.stall and "host" in job.stall:
                return await self._give_up_unreachable(job, now)
            return await ctx.end(
                job,
                JobState.EXPIRED,
                "deadline_queued",
                "the job waited too long to be sent to kie.ai; nothing was spent",
            )
        if await self._orphaned(job):
            return await self._drop_orphan(job)
        model = ctx.models.get(job.model)
        # A chain's segment keeps its chain's model: its segments were planned for it.
        if ctx.models.unavailable(model.name, now) and not job.is_segment:
            switched = await fallback.switch(ctx, job, model)
            if switched is not None:
                return switched
        try:
            image_url = job.image_url or await self._upload(job, model)
        except ImageError as exc:
            return await ctx.end(job, JobState.REFUSED, "image", str(exc))
        except KieError as exc:
            if 400 <= exc.code < 500 and exc.code != 429:
                # A refusal of the upload is not a blip: say so now, nothing was spent.
                log.warning("job %s: kie.ai refused the upload: %s", job.id, exc.meaning)
                reason = "image" if exc.validation else exc.reason
                return await ctx.end(job, JobState.REFUSED, reason, exc.meaning)
            log.warning("job %s: upload failed (%s); retrying later", job.id, exc)
            return await ctx.set(job, next_check_at=now + RETRY_LATER)
        except KieUnreachable as exc:
            return await self._stalled(job, now, exc)
        # The upload host answered: a stall reaching it is over (one waiting out kie.ai's
        # maintenance is not: it counts the tries until the job is sent).
        reached = job.stall is not None and "host" in job.stall
        if job.image_url != image_url or reached:
            fields: dict[str, Any] = {"image_url": image_url}
            if reached:
                fields["stall"] = None
            job = await ctx.set(job, **fields)
            if job.state != JobState.QUEUED:  # cancelled while the image was uploading
                return job

        body = model.request_body(job.storyboard, image_url, await ctx.callback_url(job.id))
        if job.is_segment:
            body = await chaining.segment_body(ctx, job, body)
        async with self._admit(job.id, ctx.kie.limits.create):
            # Recorded before sending: from here a crash means "outcome unknown".
            if await self._orphaned(job):  # its chain ended while it waited for the limit
                return await self._drop_orphan(job)
            sending = await ctx.move(job, JobState.SUBMITTING)
            if sending is None:  # cancelled while waiting for the rate limit
                return await ctx.current(job)
            # Once sent, the answer is recorded even if the tracker stops meanwhile: a task
            # kie.ai accepted is paid for, so its id must not be lost.
            creating = asyncio.ensure_future(self._send(sending, model, body, now))
            self.creating.add(creating)
            creating.add_done_callback(self.creating.discard)
            return await asyncio.shield(creating)

    async def _orphaned(self, job: Job) -> bool:
        """A chain's segment whose chain has ended (cancelled, given up): never sent."""
        if not job.is_segment or job.parent_id is None:
            return False
        parent = await self.ctx.store.get_job(job.parent_id)
        return parent is None or not parent.active

    async def _drop_orphan(self, job: Job) -> Job:
        log.info("job %s: its chain %s ended; the segment is not sent", job.id, job.parent_id)
        return await self.ctx.end(
            job, JobState.CANCELLED, "cancelled", "its chain ended before it was sent"
        )

    async def _upload(self, job: Job, model: VideoModel) -> str:
        raw = await asyncio.to_thread(Path(job.image_path).read_bytes)
        # Prepared once, when it was stored; again only for a model with other rules (a
        # fallback that takes other formats or sizes).
        image = reuse_prepared(raw, model.image_spec) or await prepare_image_async(
            raw, model.image_spec
        )
        # Named by its real format: kie.ai's file host serves the type the extension says.
        return await self.ctx.kie.upload(
            image.data, f"{job.id}.{image.extension}", "storyboard-bot"
        )

    async def _send(self, sending: Job, model: VideoModel, body: dict[str, Any], now: float) -> Job:
        """createTask for a job recorded as ``submitting``, and its outcome recorded."""
        ctx = self.ctx
        try:
            task_id = await ctx.kie.create_task(body, acquire=False, resend=False)
        except CreateOutcomeUnknown as exc:
            log.warning("job %s: createTask outcome unknown: %s", sending.id, exc.reason)
            return await unknown(
                ctx,
                sending,
                "unknown",
                f"kie.ai did not confirm the job ({exc.reason}); it may or may not have been "
                "accepted, so it was not sent again",
            )
        except KieUnreachable as exc:
            return await self._stalled(sending, now, exc)
        except KieError as exc:
            if exc.code == 429:
                return await self._rate_limited(sending, exc)
            if exc.code == 455:
                return await self._maintenance(sending, model, exc)
            return await self._refused(sending, model, exc)
        ctx.models.mark_available(model.name)
        now = ctx.clock.now()
        log.info("job %s: submitted to %s as %s", sending.id, model.name, task_id)
        running = await ctx.move(
            sending,
            JobState.RUNNING,
            notify=True,
            task_id=task_id,
            kie_state="waiting",
            stall=None,
            submitted_at=now,
            next_check_at=now + poll_delay(ctx, 0),
        )
        if running is None:
            # A callback already found the task (it carries this job's id): keep its id.
            current = await ctx.current(sending)
            if current.task_id is None:
                current = await ctx.set(current, task_id=task_id)
            return current
        return running

    async def _rate_limited(self, job: Job, exc: KieError) -> Job:
        """kie.ai dropped the request (429: the account's window is full; another process on
        the account used it). No task was made: the job waits in its place in the queue and
        is sent again once the window has passed, until its deadline."""
        ctx = self.ctx
        now = ctx.clock.now()
        wait = ctx.kie.limits.create.window
        log.warning(
            "job %s: kie.ai rate-limited createTask (%s); nothing was made, sending it again "
            "at %s",
            job.id,
            exc.msg,
            _clock_text(now + wait),
        )
        queued = await ctx.move(job, JobState.QUEUED, notify=True, next_check_at=now + wait)
        return queued or await ctx.current(job)

    async def _maintenance(self, job: Job, model: VideoModel, exc: KieError) -> Job:
        """kie.ai is under maintenance (455): no task was made. The job waits in its place in
        the queue, its status saying so, and is sent again after the maintenance backoff; it
        is refused once ``[kie] maintenance_retries`` are used up (or its deadline comes)."""
        ctx = self.ctx
        now = ctx.clock.now()
        stall = job.stall if job.stall and job.stall.get("kind") == "maintenance" else {}
        tries = int(stall.get("tries", 0)) + 1
        wait = ctx.kie.maintenance_wait(tries)
        if wait is None or now + wait >= job.deadline_at:
            return await self._refused(job, model, exc)
        log.warning(
            "job %s: kie.ai is under maintenance (455); nothing was made, sending it again at %s",
            job.id,
            _clock_text(now + wait),
        )
        fields: dict[str, object] = {
            "stall": {"kind": "maintenance", "tries": tries, "until": now + wait},
            "next_check_at": now + wait,
        }
        queued = await ctx.move(job, JobState.QUEUED, notify=True, **fields)
        return queued or await ctx.current(job)

    async def _refused(self, job: Job, model: VideoModel, exc: KieError) -> Job:
        """createTask answered with a code that proves no task was created."""
        ctx = self.ctx
        if exc.model_unavailable:
            ctx.models.mark_unavailable(model.name, ctx.clock.now(), exc.meaning)
            if not job.is_segment and fallback.fallback_for(ctx, job.storyboard, model):
                # kie.ai proved no task was made: that is written first, so a crash during
                # the switch (a repricing, a chain's plan) finds the job unsent, not unknown.
                queued = await ctx.move(job, JobState.QUEUED)
                if queued is None:
                    return await ctx.current(job)
                job = queued
                switched = await fallback.switch(ctx, job, model)
                if switched is not None:
                    return switched
            code, detail = fallback.unavailable(ctx, model, job, exc)
            fb = ctx.models.fallback
            params: dict[str, object] = {"model": model.name, "fallback": fb.name if fb else ""}
            if job.fallback_from:
                params = {"model": job.fallback_from, "fallback": model.name}
            return await ctx.end(job, JobState.REFUSED, code, detail, params)
        if exc.validation:
            field = f" (field: {exc.field})" if exc.field else ""
            log.warning(
                "job %s: kie.ai refused createTask as invalid: %s%s", job.id, exc.msg, field
            )
        return await ctx.end(job, JobState.REFUSED, exc.reason, exc.meaning)

    # a kie.ai host that cannot be reached: keep trying, bounded, and say so
    async def _stalled(self, job: Job, now: float, exc: KieUnreachable) -> Job:
        """Nothing reached kie.ai (the connection never opened): try again later, until the
        give-up time (the command line's bound, else the job's deadline), then give up."""
        ctx = self.ctx
        now = ctx.clock.now()  # the tries behind this may have taken a while
        since = float(job.stall["since"]) if job.stall and "since" in job.stall else now
        if ctx.unreachable_give_up is not None:
            give_up = min(since + ctx.unreachable_give_up, job.deadline_at)
        else:
            give_up = job.deadline_at
        stall = {"host": exc.host, "setting": exc.setting, "since": since, "until": give_up}
        retry_at = min(now + RETRY_LATER, give_up)
        if now < give_up:
            log.warning(
                "job %s: %s; retrying at %s, giving up at %s",
                job.id,
                exc,
                _clock_text(retry_at),
                _clock_text(give_up),
            )
        fields: dict[str, object] = {"stall": stall, "next_check_at": retry_at}
        first = job.stall is None or "host" not in job.stall
        if job.state == JobState.SUBMITTING:
            # The connection never opened: nothing was sent, so it may be sent again.
            moved = await ctx.move(job, JobState.QUEUED, notify=first, **fields)
            job = moved or await ctx.current(job)
        else:
            job = await ctx.set(job, notify=first, **fields)
        if now >= give_up and job.state == JobState.QUEUED:
            return await self._give_up_unreachable(job, now)
        return job

    async def _give_up_unreachable(self, job: Job, now: float) -> Job:
        stall = job.stall or {}
        host, setting = str(stall.get("host", "kie.ai")), str(stall.get("setting", ""))
        waited = now - float(stall.get("since", now))
        where = f"{host} ({setting})" if setting else host
        log.warning("job %s: gave up: %s could not be reached for %.0f s", job.id, where, waited)
        return await self.ctx.end(
            job,
            JobState.REFUSED,
            "unreachable",
            f"cannot reach kie.ai at {where}; gave up after {waited:.0f} s; nothing was sent "
            "or charged",
            {"host": host, "setting": setting},
        )


async def unknown(ctx: Context, job: Job, code: str, msg: str) -> Job:
    """createTask's outcome is unknown: never send it again. With callbacks, the callback that
    carries the job's id can still find its task until the deadline; without them nothing
    ever can (kie.ai has no task list), so it is given up now and settled as the policy says
    (it counts: kie.ai may have charged) instead of holding the member's slot."""
    now = ctx.clock.now()
    if not ctx.callbacks:
        return await ctx.end(
            job,
            JobState.EXPIRED,
            "unknown_no_callback",
            f"{msg}; without callbacks (STORYBOARD_PUBLIC_URL) the bot cannot find out whether "
            "kie.ai made it; check your kie.ai dashboard before trying again",
        )
    moved = await ctx.move(
        job,
        JobState.UNKNOWN,
        notify=True,
        fail_code=code,
        fail_msg=msg,
        next_check_at=max(job.deadline_at, now),
    )
    return moved or await ctx.current(job)
