"""kie.ai's callbacks: a hint that a job's task ended, never the truth (that is read back with
recordInfo), and the one way a job whose createTask answer was lost can find its task."""

from __future__ import annotations

import logging

from bot.jobs.context import Context
from bot.jobs.states import JobState
from bot.jobs.store import Job
from bot.kie import KieError, KieUnreachable

log = logging.getLogger("bot.jobs")


async def reconcile(ctx: Context, job: Job, task_id: str) -> Job | None:
    """A callback names ``task_id`` for a job that has none (its createTask answer was lost,
    or is still on its way): adopt it once recordInfo confirms the task was created with this
    job's own callback URL (which carries the job id and a token only the bot can make)."""
    try:
        record = await ctx.kie.record_info(task_id)
    except (KieError, KieUnreachable) as exc:
        log.warning("cannot confirm task %s for job %s: %s", task_id, job.id, exc)
        return None
    expected = await ctx.callback_url(job.id)
    if record is None or record.callback_url != expected:
        log.warning("callback task %s does not belong to job %s; ignored", task_id, job.id)
        return None
    now = ctx.clock.now()
    updated = await ctx.store.transition(
        job.id,
        [JobState.UNKNOWN, JobState.SUBMITTING],
        JobState.RUNNING,
        task_id=task_id,
        submitted_at=job.submitted_at or now,
        next_check_at=now,
        fail_code=None,
        fail_msg=None,
    )
    if updated is not None:
        log.info("job %s: unknown createTask outcome resolved, task %s", job.id, task_id)
        ctx.notify(updated)
    return updated
