"""The steps of a chain's parent job: a long storyboard made as segments, one after another.

Each segment is a child job (``parent_id``, ``segment``) that goes through the ordinary steps
(submit, poll, fetch) with their exactly-once guarantees; its delivery is internal
(:class:`SegmentDelivery`): its video stays on disk for the chain. The parent moves through
its own states, each written before the next step starts::

    queued -> chaining (segment k is made) -> extracting (its last frame is decoded and
    prepared to the model's image rules) -> uploading_frame (to kie.ai's file host, then
    segment k + 1 is stored, starting from it) -> chaining -> ... -> joining -> fetched ->
    posting -> delivered

The joined video is the parent's fetched video, posted by the ordinary post step to the
owner's delivery. A segment that ends without a video ends the chain in the same state, with
the reason ``segment_failed`` (which segment, and the segment's own reason and values); the
reservation of the segments never sent is released. How a chain ends part-way and what it is
charged for is bot.jobs.chain_end's.
"""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path
from typing import Any

import av

from bot.chain.prompt import segment_prompt
from bot.chain.record import ChainRecord
from bot.db.files import private_dir, tighten, write_private
from bot.jobs.chain_end import (
    MIDWAY,
    current_segment,
    fail_made,
    give_up,
    segment_ended,
    settle_end,
    settled_by_parts,
)
from bot.jobs.context import RETRY_LATER, Context
from bot.jobs.states import JobState
from bot.jobs.store import Job
from bot.kie import KieError, KieUnreachable
from bot.media.images import ImageSpec, PreparedImage, prepare_image
from bot.media.video import VideoInfo, join, last_frame

log = logging.getLogger("bot.jobs")

S = JobState
#: How often a parent looks at its segment even when no segment step wakes it.
CHAIN_CHECK = 60.0


def segment_id(parent_id: str, index: int) -> str:
    """A segment job's id: the parent's and its number (so a step redone after a crash finds
    the segment it already stored)."""
    return f"{parent_id}-{index + 1}"


async def step(ctx: Context, job: Job, now: float) -> Job:
    """One step of a parent job in ``queued`` or one of the chain states."""
    match job.state:
        case S.QUEUED:
            return await _start(ctx, job, now)
        case S.CHAINING:
            return await _check(ctx, job, now)
        case S.EXTRACTING:
            return await _extract(ctx, job, now)
        case S.UPLOADING_FRAME:
            return await _upload_frame(ctx, job, now)
        case S.JOINING:
            return await _join(ctx, job, now)
    raise ValueError(f"job {job.id}: {job.state} is not a chain step")


# -- the steps ---------------------------------------------------------------------------------
async def _start(ctx: Context, job: Job, now: float) -> Job:
    """queued -> chaining (the first segment from the reference image), or -> extracting (a
    retry or redo reusing earlier segments: from the last frame of the last one reused)."""
    rec = ChainRecord.load(job.chain)
    first = rec.first_missing()
    if first is None:
        raise ValueError(f"job {job.id}: a chain with nothing to make")
    if first > 0:
        moved = await ctx.move(job, S.EXTRACTING, notify=True, segment=first - 1, next_check_at=now)
        return moved or await ctx.current(job)
    # The chain moves on before its first segment is stored: a job cancelled meanwhile stores
    # none (a segment is never made for a chain that ended). A crash in between leaves a
    # chaining parent with no segment job, which its next check makes (_check).
    moved = await ctx.move(job, S.CHAINING, notify=True, segment=0, next_check_at=now)
    if moved is None:
        return await ctx.current(job)
    child = await _make_segment(ctx, moved, rec, 0, job.image_path, job.image_url)
    rec.segments[0].job = child.id
    return await ctx.set(moved, chain=rec.dump(), next_check_at=now + CHAIN_CHECK)


async def _check(ctx: Context, job: Job, now: float) -> Job:
    """chaining: follow the current segment; when its video is in, hand its last frame on
    (or join, after the last one); when it ended without one, end the chain."""
    rec = ChainRecord.load(job.chain)
    index = current_segment(job)
    seg_job = rec.segments[index].job
    child = await ctx.store.get_job(seg_job) if seg_job else None
    if child is None:
        log.error("job %s: segment %d has no job; making it again", job.id, index + 1)
        if index > 0:  # from the last frame of the one before
            moved = await ctx.move(job, S.EXTRACTING, segment=index - 1, next_check_at=now)
            return moved or await ctx.current(job)
        child = await _make_segment(ctx, job, rec, 0, job.image_path, job.image_url)
        rec.segments[0].job = child.id
        return await ctx.set(job, chain=rec.dump(), next_check_at=now + CHAIN_CHECK)
    if child.state == S.DELIVERED:
        if index == rec.count - 1:
            joining = await ctx.move(
                job, S.JOINING, notify=True, kie_state="success", progress=100, next_check_at=now
            )
            if joining is not None:
                # Every segment was made: the chain's reservation is charged.
                await ctx.settle(joining, "delivered")
            return joining or await ctx.current(job)
        moved = await ctx.move(job, S.EXTRACTING, notify=True, next_check_at=now)
        return moved or await ctx.current(job)
    if child.active:
        mirrored = await mirror(ctx, child)
        return await ctx.set(mirrored or job, next_check_at=now + CHAIN_CHECK)
    return await segment_ended(ctx, job, rec, child)


async def _extract(ctx: Context, job: Job, now: float) -> Job:
    """extracting: the last frame of the current segment, prepared for the model, on disk."""
    rec = ChainRecord.load(job.chain)
    index = current_segment(job)
    try:
        path = await _prepare_frame(ctx, job, rec, index)
    except (ValueError, OSError, av.FFmpegError) as exc:
        return await fail_made(ctx, job, rec, "frame_failed", exc, index)
    rec.frame = str(path)
    moved = await ctx.move(job, S.UPLOADING_FRAME, chain=rec.dump(), next_check_at=now)
    return moved or await ctx.current(job)


async def _upload_frame(ctx: Context, job: Job, now: float) -> Job:
    """uploading_frame -> chaining: the frame goes to kie.ai's file host just before the next
    segment is stored (starting from it) and submitted."""
    rec = ChainRecord.load(job.chain)
    index = current_segment(job)
    nxt = index + 1
    try:
        frame = Path(rec.frame) if rec.frame else None
        if frame is None or not await asyncio.to_thread(frame.exists):
            frame = await _prepare_frame(ctx, job, rec, index)
        data = await asyncio.to_thread(frame.read_bytes)
    except (ValueError, OSError, av.FFmpegError) as exc:
        return await fail_made(ctx, job, rec, "frame_failed", exc, index)
    child_id = segment_id(job.id, nxt)
    try:
        url = await ctx.kie.upload(data, f"{child_id}{frame.suffix}", "storyboard-bot")
    except KieError as exc:
        if 400 <= exc.code < 500 and exc.code != 429:
            return await fail_made(ctx, job, rec, "frame_failed", exc, index)
        return await _later(ctx, job, now, exc)
    except KieUnreachable as exc:
        return await _later(ctx, job, now, exc)
    child = await _make_segment(ctx, job, rec, nxt, str(frame), url)
    if child.image_url != url:  # stored before a crash, with the upload made then
        child = await ctx.store.update_job(child.id, expect=[S.QUEUED], image_url=url) or child
    rec.segments[nxt].job = child.id
    rec.frame = None
    moved = await ctx.move(
        job,
        S.CHAINING,
        notify=True,
        segment=nxt,
        chain=rec.dump(),
        kie_state=None,
        progress=None,
        stall=None,
        next_check_at=now + CHAIN_CHECK,
    )
    return moved or await ctx.current(job)


async def _join(ctx: Context, job: Job, now: float) -> Job:
    """joining -> fetched: every segment's video joined into the chain's one video."""
    rec = ChainRecord.load(job.chain)
    dest = Path(ctx.settings.storage.media_dir) / "videos" / f"{job.id}.mp4"
    try:
        paths = []
        for seg in rec.segments:
            child = await ctx.store.get_job(seg.job) if seg.job else None
            if child is None or child.video_path is None:
                raise ValueError(f"segment {seg.start} has no video")
            paths.append(Path(child.video_path))
        info = await asyncio.to_thread(_join_private, paths, dest)
        size = (await asyncio.to_thread(dest.stat)).st_size
    except (ValueError, OSError, av.FFmpegError) as exc:
        return await fail_made(ctx, job, rec, "join_failed", exc, rec.count - 1)
    log.info(
        "job %s: %d segments joined: %d frames, %.2f s",
        job.id,
        rec.count,
        info.frames,
        info.duration,
    )
    fetched = await ctx.move(
        job,
        S.FETCHED,
        video_path=str(dest),
        video_bytes=size,
        finished_at=now,
        next_check_at=ctx.clock.now(),
    )
    return fetched or await ctx.current(job)


# -- the pieces ---------------------------------------------------------------------------------
async def _make_segment(
    ctx: Context, parent: Job, rec: ChainRecord, index: int, image_path: str, image_url: str | None
) -> Job:
    """Store segment ``index`` as a job of its own (once: a step redone finds it)."""
    seg = rec.segments[index]
    now = ctx.clock.now()
    child = await ctx.store.create_job_once(
        id=segment_id(parent.id, index),
        origin=parent.origin,
        owner_id=parent.owner_id,
        guild_id=parent.guild_id,
        channel_id=parent.channel_id,
        draft_id=parent.draft_id,
        revision=parent.revision,
        model=parent.model,
        storyboard=seg.board,
        image_path=image_path,
        image_url=image_url,
        state=S.QUEUED,
        created_at=now,
        updated_at=now,
        next_check_at=now,
        deadline_at=now + ctx.settings.tracker.deadline_minutes * 60,
        credits=seg.price,
        parent_id=parent.id,
        segment=index,
        segments=rec.count,
    )
    log.info("job %s: segment %d of %d is job %s", parent.id, index + 1, rec.count, child.id)
    return child


def _join_private(paths: list[Path], dest: Path) -> VideoInfo:
    """Join into a private file, in a private folder (CPU-bound: run in a thread)."""
    private_dir(dest.parent)
    info = join(paths, dest)
    tighten(dest)
    return info


def _frame_image(video: Path, spec: ImageSpec) -> PreparedImage:
    """The last frame of ``video``, prepared to ``spec`` (CPU-bound: run in a thread)."""
    buf = io.BytesIO()
    last_frame(video).save(buf, "PNG")
    return prepare_image(buf.getvalue(), spec)


async def _prepare_frame(ctx: Context, job: Job, rec: ChainRecord, index: int) -> Path:
    seg_job = rec.segments[index].job
    child = await ctx.store.get_job(seg_job) if seg_job else None
    if child is None or child.video_path is None:
        raise ValueError(f"segment {index + 1} has no video")
    spec = ctx.models.get(job.model).image_spec
    image = await asyncio.to_thread(_frame_image, Path(child.video_path), spec)
    base = segment_id(job.id, index + 1)
    path = Path(ctx.settings.storage.media_dir) / "images" / f"{base}.{image.extension}"
    await asyncio.to_thread(write_private, path, image.data)
    return path


async def _later(ctx: Context, job: Job, now: float, exc: Exception) -> Job:
    """The frame's upload failed for now: try again, until the chain's deadline."""
    if now >= job.deadline_at:
        rec = ChainRecord.load(job.chain)
        return await fail_made(ctx, job, rec, "frame_failed", exc, current_segment(job))
    log.warning("job %s: uploading the next segment's frame failed (%s); retrying", job.id, exc)
    return await ctx.set(job, next_check_at=now + RETRY_LATER)


# -- segments: their prompt, their progress on the parent ------------------------------------------
async def segment_body(ctx: Context, job: Job, body: dict[str, Any]) -> dict[str, Any]:
    """A segment's createTask body: its summary prompt (where the model takes one) also
    names its place in the chain and the whole story, so the model keeps the style."""
    inp = body.get("input")
    if not job.is_segment or not isinstance(inp, dict) or not isinstance(inp.get("prompt"), str):
        return body
    parent = await ctx.store.get_job(job.parent_id or "")
    if parent is None or job.segment is None or job.segments is None:
        return body
    inp["prompt"] = segment_prompt(inp["prompt"], parent.storyboard, job.segment, job.segments)
    return body


async def mirror(ctx: Context, child: Job) -> Job | None:
    """Copy the current segment's progress onto its parent (what a status line shows:
    "segment 2 of 3 · generating 40%"). The parent as written, or None when unchanged."""
    parent = await ctx.store.get_job(child.parent_id or "")
    if parent is None or parent.state != S.CHAINING or parent.segment != child.segment:
        return None
    fields: dict[str, Any] = {
        "kie_state": child.kie_state,
        "progress": child.progress,
        "stall": child.stall,
    }
    if parent.submitted_at is None and child.submitted_at is not None:
        fields["submitted_at"] = child.submitted_at
    if all(getattr(parent, k) == v for k, v in fields.items()):
        return None
    return await ctx.store.update_job(parent.id, expect=[S.CHAINING], **fields)


class SegmentDelivery:
    """A segment's delivery: its video stays on disk for its chain, its progress shows on its
    parent, its end is the parent's to tell."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def job_updated(self, job: Job) -> None:
        parent = await mirror(self.ctx, job)
        if parent is not None:
            self.ctx.notify(parent)

    async def deliver_video(self, job: Job, path: Path) -> None:
        return None

    async def job_ended(self, job: Job) -> None:
        return None


# With the chain's end (bot.jobs.chain_end), which the tracker reaches through this module.
__all__ = [
    "CHAIN_CHECK",
    "MIDWAY",
    "SegmentDelivery",
    "give_up",
    "mirror",
    "segment_body",
    "segment_id",
    "settle_end",
    "settled_by_parts",
    "step",
]
