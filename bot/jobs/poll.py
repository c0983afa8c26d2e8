"""running -> succeeded | failed: reading a task's state from kie.ai (recordInfo).

A job is read once more before it may expire: under load its last read may have come late,
and a video kie.ai finished must not be given up unread. When to read next is the polling
schedule's (bot.jobs.polling), learned from the job's kind's history (bot.jobs.history) when it
polls; each success seen here adds its generation time to that history.
"""

from __future__ import annotations

import logging

from bot.jobs.context import Context
from bot.jobs.history import Kind, generation_seconds
from bot.jobs.polling import next_poll_delay
from bot.jobs.reasons import generation_failure
from bot.jobs.states import JobState
from bot.jobs.store import Job
from bot.kie import KieError, KieUnreachable, TaskRecord

log = logging.getLogger("bot.jobs")

POLLED = frozenset({JobState.RUNNING, JobState.UNKNOWN})


def poll_delay(ctx: Context, elapsed: float, start: float | None = None) -> float:
    """Seconds until the next read; ``start``: the learned start of the job's kind, if any."""
    t = ctx.settings.tracker
    return next_poll_delay(
        elapsed,
        callbacks=ctx.callbacks,
        poll_min=t.poll_min_seconds,
        safety_min=t.callback_poll_min_seconds,
        start=start,
    )


def kind_of(ctx: Context, job: Job) -> Kind:
    """The kind of task ``job`` is, for its history: its model, length and resolution."""
    try:
        options = ctx.models.get(job.model).options
    except KeyError:  # a model no longer configured
        options = {}
    resolution = options.get("resolution")
    return Kind(job.model, job.storyboard.length, str(resolution) if resolution else "")


async def poll(ctx: Context, job: Job, now: float) -> Job:
    """Read the task and record what kie.ai says; expire the job only after that read."""
    assert job.task_id is not None
    elapsed = now - (job.submitted_at or now)
    start = None if ctx.callbacks else await ctx.history.start(ctx.store, kind_of(ctx, job), now)
    next_at = min(now + poll_delay(ctx, elapsed, start), max(job.deadline_at, now))
    try:
        record = await ctx.kie.record_info(job.task_id)
    except (KieError, KieUnreachable) as exc:
        log.warning("job %s: status read failed: %s", job.id, exc)
        record = None
        failed = True
    else:
        failed = False
        if record is None and elapsed > ctx.settings.tracker.null_grace_seconds:
            # "recordInfo is null": not visible yet
            log.warning(
                "job %s: task %s still not visible after %.0f s", job.id, job.task_id, elapsed
            )
    if record is not None:
        if job.state == JobState.UNKNOWN:
            # The task of a job whose createTask answer was lost: it exists after all.
            running = await ctx.move(
                job, JobState.RUNNING, notify=True, fail_code=None, fail_msg=None
            )
            if running is None:
                return await ctx.current(job)
            job = running
        return await _apply(ctx, job, record, next_at)
    job = await ctx.set(job, reads=job.reads + (0 if failed else 1), next_check_at=next_at)
    if job.state not in POLLED:  # a callback moved it on meanwhile
        return job
    if now >= job.deadline_at:
        return await _expire(ctx, job)
    return job


async def _apply(ctx: Context, job: Job, record: TaskRecord, next_at: float) -> Job:
    model = ctx.models.get(job.model)
    now = ctx.clock.now()
    if record.state == "success":
        url = model.result_url(record)
        if not url:
            return await ctx.end(
                job, JobState.FAILED, "no_result", "kie.ai reported success without a video"
            )
        done = await ctx.move(
            job,
            JobState.SUCCEEDED,
            notify=True,
            reads=job.reads + 1,
            kie_state="success",
            progress=100,
            result_url=url,
            finished_at=now,
            next_check_at=now,
        )
        if done is None:
            return await ctx.current(job)
        # kie.ai made the video: it counts, and it no longer holds a running slot.
        await ctx.settle(done, "delivered")
        if job.submitted_at is not None:
            noticed = now - job.submitted_at
            await ctx.history.record(
                ctx.store,
                kind_of(ctx, job),
                seconds=generation_seconds(record, noticed),
                noticed=noticed,
                at=now,
            )
        return done
    if record.state == "fail":
        job = await ctx.set(job, reads=job.reads + 1, kie_state="fail")
        if job.state not in POLLED:
            return job
        msg = record.fail_msg or "kie.ai reported a failure without a reason"
        code = f" (failCode {record.fail_code})" if record.fail_code else ""
        return await ctx.end(
            job, JobState.FAILED, generation_failure(record.fail_msg), f"{msg}{code}"
        )
    if now >= job.deadline_at:
        return await _expire(ctx, job)
    changed = (record.state, record.progress) != (job.kie_state, job.progress)
    return await ctx.set(
        job,
        notify=changed,
        reads=job.reads + 1,
        kie_state=record.state,
        progress=record.progress,
        next_check_at=next_at,
    )


async def _expire(ctx: Context, job: Job) -> Job:
    minutes = ctx.settings.tracker.deadline_minutes
    return await ctx.end(
        job,
        JobState.EXPIRED,
        "deadline",
        f"kie.ai did not finish within {minutes:g} minutes (task {job.task_id})",
        {"minutes": f"{minutes:g}"},
    )
