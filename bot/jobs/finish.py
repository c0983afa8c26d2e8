"""succeeded -> fetched -> posting -> delivered: download the video, then hand it to the
delivery (Discord, or the command line's --out).

``posting`` is written before the delivery posts: a crash after a post is then recognised by
the delivery (the result message it finds) instead of posting twice. Every retry here is bounded:
a download by the job's deadline plus a grace, a post by a grace after kie.ai made the video;
the member is told when it gives up (the video was made, so it counts).
"""

from __future__ import annotations

import logging
from pathlib import Path

from bot.jobs.context import DELIVERY_GRACE, FETCH_GRACE, RETRY_LATER, Context
from bot.jobs.delivery import DeliveryRetry, UndeliverableError
from bot.jobs.states import JobState
from bot.jobs.store import Job
from bot.media.download import DownloadError, UnsafeURLError

log = logging.getLogger("bot.jobs")


async def fetch(ctx: Context, job: Job, now: float) -> Job:
    assert job.result_url is not None
    dest = Path(ctx.settings.storage.media_dir) / "videos" / f"{job.id}.mp4"
    try:
        size = await ctx.kie.fetch(job.result_url, dest, max_bytes=ctx.settings.kie.max_video_bytes)
    except (DownloadError, OSError) as exc:
        # DownloadError: kie.ai's file host; OSError: our disk (full, read-only).
        what = str(exc) if isinstance(exc, DownloadError) else f"{type(exc).__name__}: {exc}"
        # A link the bot will never fetch (not https, not a public address, not an mp4) is
        # given up at once: retrying cannot change it.
        if isinstance(exc, UnsafeURLError) or now >= job.deadline_at + FETCH_GRACE:
            return await ctx.end(
                job,
                JobState.UNDELIVERABLE,
                "download",
                f"the video was made but could not be downloaded: {what}",
            )
        log.warning("job %s: download failed (%s); retrying later", job.id, what)
        return await ctx.set(job, next_check_at=now + RETRY_LATER)
    fetched = await ctx.move(
        job,
        JobState.FETCHED,
        video_path=str(dest),
        video_bytes=size,
        next_check_at=ctx.clock.now(),
    )
    return fetched or await ctx.current(job)


async def post(ctx: Context, job: Job, now: float) -> Job:
    """fetched (or posting, after a crash) -> delivered."""
    assert job.video_path is not None
    video = Path(job.video_path)
    if job.state == JobState.FETCHED:
        posting = await ctx.move(job, JobState.POSTING, notify=True)
        if posting is None:
            return await ctx.current(job)
        job = posting
    made_at = job.finished_at or job.submitted_at or job.created_at
    try:
        # Posted and recorded as delivered under the job's showing lock: no status notice
        # can read the job between the post and its new state and show an older one.
        async with ctx.showing(job.id):
            await ctx.delivery_for(job).deliver_video(job, video)
            delivered = await ctx.move(job, JobState.DELIVERED, delivery="done", next_check_at=None)
    except UndeliverableError as exc:
        return await ctx.end(job, JobState.UNDELIVERABLE, "undeliverable", str(exc))
    except Exception as exc:
        transient = isinstance(exc, DeliveryRetry)
        if now >= made_at + DELIVERY_GRACE:
            log.warning("job %s: gave up posting the video: %s", job.id, exc)
            return await ctx.end(
                job,
                JobState.UNDELIVERABLE,
                "undeliverable",
                f"the video could not be posted: {exc}",
            )
        if transient:
            log.warning("job %s: posting failed (%s); retrying later", job.id, exc)
        else:
            log.exception("job %s: posting failed; retrying later", job.id)
        return await ctx.set(job, next_check_at=now + RETRY_LATER)
    ctx.shown(job.id)
    if delivered is not None and ctx.on_delivered is not None and not job.is_segment:
        ctx.on_delivered(ctx.clock.now() - made_at)
    return delivered or await ctx.current(job)
