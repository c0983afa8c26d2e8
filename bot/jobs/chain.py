"""Long storyboards in the job engine: the core API the Discord side and the command line use.

A storyboard one model call takes runs as one job, exactly as before. One it does not take is
planned into segments (bot.chain.plan) and made as a *chain*: a parent job (the whole
storyboard, the whole price, the owner's delivery) and one child job per segment, each from
the last frame of the one before, joined into one mp4 at the end (bot.jobs.chaining).

The API (``tracker`` is bot.jobs.tracker.Tracker, ``tracker.chains`` this module's Chains):

``tracker.plan(board, model=None, *, max_segments=None) -> Plan``
    The plan of ``board`` on the model that would take it (one segment when the model takes it
    as it is). ``Plan.price`` is what Generate reserves, ``Plan.count`` the segments,
    ``Plan.estimate()`` the time. Raises StoryboardError (``shot_over_segment``,
    ``segments_over`` above ``max_segments``, ``long_total`` / ``shot_count`` above the
    product's maximum, 60 s and 20 shots by default).
``tracker.submit(board, image, *, max_segments=None, ...) -> Job``
    As before, one call: a storyboard that fits is one job; one that does not is stored as a
    chain and the parent job is returned (``job.is_chain``). Reserve ``plan.price`` under the
    job id first, as for any job: the quota sees the whole cost before anything is spent.
``chain_progress(job, now) -> ChainProgress | None``
    What a status line needs for a parent job (``Delivery.job_updated(parent)`` receives it):
    the current segment (from 1) and the count, the chain's step, the segment's kie.ai state
    and progress, the elapsed time. None for a job that is not a chain.
``tracker.chains.cost_from(job_id, n) -> int``
    The credits a retry from segment ``n`` (from 1) or a redo of segment ``n`` will cost: the
    segments ``n`` to the end. Segments before ``n`` are reused and not paid again.
``tracker.chains.retry_from(job_id, n, *, id=None, hold=False, **fields) -> Job``
    A chain that ended without its video (segment ``k`` failed, refused, expired...): a new
    chain that reuses segments ``1 .. n-1`` (``n <= k``) and makes ``n`` to the end. Reserve
    ``cost_from(job_id, n)`` under the new job's id (pass it as ``id``) first.
``retry_segment(job) -> int | None``
    The segment a chain that ended without its video is retried from: the one that failed,
    or the one after a made segment whose last frame could not be handed on (``frame_failed``);
    None when a retry would not mend it (``join_failed``: every segment was made).
``tracker.chains.redo_segment(job_id, n, *, id=None, hold=False, **fields) -> Job``
    A delivered chain: re-roll segment ``n`` and re-chain the ones after it (each starts from
    the frame before it), reusing ``1 .. n-1``; delivered as a new video. Reserve
    ``cost_from(job_id, n)`` under the new id first.
``tracker.cancel(job_id)``
    Also cancels a chain whose first segment was not sent yet.

A chain that ends without a video says why with ``fail_code`` ``segment_failed`` (params:
``segment``, ``segments``, ``reason``: the segment's own reason code, and that reason's
values), ``frame_failed`` or ``join_failed`` (``segment``, ``segments``); bot.jobs.reasons.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.chain.plan import DEFAULT_MAX_SECONDS, DEFAULT_MAX_SHOTS, Plan, check_long_storyboard
from bot.chain.plan import plan_segments as _plan_segments
from bot.chain.record import ChainRecord
from bot.db.connection import new_id
from bot.db.files import write_private
from bot.domain.storyboard import Storyboard, StoryboardError
from bot.jobs.context import Context
from bot.jobs.states import JobState
from bot.jobs.store import Job
from bot.media.images import PreparedImage
from bot.models.base import VideoModel

S = JobState
#: States in which a chain has ended without its video (``retry_from`` takes these).
ENDED = frozenset({S.FAILED, S.REFUSED, S.EXPIRED, S.CANCELLED, S.UNDELIVERABLE})
#: A chain that ended in one of these without its video offers a retry from its segment (as
#: does one undeliverable because a segment's last frame could not be handed on).
RETRYABLE = frozenset({S.FAILED, S.REFUSED, S.EXPIRED})


def chain_fields(ctx: Context, rec: ChainRecord, now: float) -> dict[str, object]:
    """What makes a job the parent of the chain ``rec`` (stored so from ``now``): a chain
    stored directly, and a job a fallback turns into one, have the same."""
    minutes = ctx.settings.tracker.deadline_minutes
    return {
        # Each segment has the engine's deadline of its own; the chain has them all.
        "deadline_at": now + minutes * 60 * rec.count,
        "credits": rec.price,
        "segments": rec.count,
        "segment": 0,
        "chain": rec.dump(),
    }


class JobExists(Exception):
    """The id given for a new chain is taken: an earlier press of the same confirmation
    stored it (the jobs' ids are unique). Nothing was stored or reserved by this one."""


class ChainError(ValueError):
    """A retry or redo that cannot be made (not a chain, a segment out of range, a chain
    still running). The caller offers only what :meth:`Chains.cost_from` accepts, so this is
    a caller's mistake, in English for the log."""


@dataclass(frozen=True)
class ChainProgress:
    segment: int  # the current segment, from 1
    count: int
    step: str  # the chain's state: "chaining", "extracting", "joining", "posting", ...
    kie_state: str | None  # the current segment's at kie.ai: waiting, queuing, generating
    progress: int | None  # the current segment's, 0-100, when kie.ai reports it
    elapsed: float  # seconds since the chain was stored


def chain_progress(job: Job, now: float) -> ChainProgress | None:
    if job.chain is None or job.segments is None:
        return None
    return ChainProgress(
        segment=(job.segment or 0) + 1,
        count=job.segments,
        step=str(job.state),
        kie_state=job.kie_state,
        progress=job.progress,
        elapsed=max(
            0.0, (job.finished_at if not job.active and job.finished_at else now) - job.created_at
        ),
    )


def retryable(job: Job) -> bool:
    """Whether ``job`` ended in a way a retry may mend: a segment failed, was refused or
    expired; or a made segment's last frame could not be handed on (``frame_failed``: our
    failure, with the segments before it made and paid for). Not ``join_failed``: every
    segment was made, and remaking one would not help the join."""
    if job.state == S.UNDELIVERABLE:
        return job.fail_code == "frame_failed"
    return job.state in RETRYABLE


def retry_segment(job: Job) -> int | None:
    """The segment a chain that ended without its video is retried from (the one that failed;
    the next one when a segment's last frame could not be handed on); None when there is
    nothing to retry from (not a chain, delivered, or every segment was made)."""
    if not job.is_chain or not retryable(job) or not job.segments:
        return None
    params = job.fail_params or {}
    segment = params.get("segment")
    n = segment if isinstance(segment, int) else (job.segment or 0) + 1
    if job.fail_code == "frame_failed":
        n += 1  # that segment was made: the retry starts from its last frame
    return n if 1 <= n <= job.segments else None



class Chains:
    def __init__(
        self,
        ctx: Context,
        *,
        follow: Callable[[str], None],
        wake: Callable[[], None],
        max_seconds: int = DEFAULT_MAX_SECONDS,
        max_shots: int = DEFAULT_MAX_SHOTS,
    ) -> None:
        self.ctx = ctx
        self._follow = follow
        self._wake = wake
        self.max_seconds = max_seconds
        self.max_shots = max_shots
        #: The most segments a job of this process may be planned into again when its model
        #: is unavailable (the command line's ``--max-segments``); a guild's own cap is the
        #: ledger's to check (``Ledger.switch_model(..., segments=)``).
        self.fallback_max_segments: int | None = None
        ctx.chain_plan = lambda board, model: self.plan(
            board, model, max_segments=self.fallback_max_segments
        )

    def plan(self, board: Storyboard, model: VideoModel, *, max_segments: int | None) -> Plan:
        """``board``'s segments on ``model``; a board ``model`` takes is one segment."""
        try:
            model.validate(board)
        except StoryboardError:
            check_long_storyboard(board, max_seconds=self.max_seconds, max_shots=self.max_shots)
        return _plan_segments(board, model, max_segments=max_segments)

    async def submit(
        self,
        plan: Plan,
        image: PreparedImage,
        *,
        origin: str,
        hold: bool,
        **fields: object,
    ) -> Job:
        """Store a chain's parent job (with its image); the first step makes segment 1."""
        job_id = str(fields.pop("id", None) or new_id())
        path = self.ctx.settings.storage.media_dir / "images" / f"{job_id}.{image.extension}"
        await asyncio.to_thread(write_private, path, image.data)
        return await self._store(
            job_id,
            plan.board,
            plan.model,
            ChainRecord.from_plan(plan),
            str(path),
            origin=origin,
            hold=hold,
            **fields,
        )

    async def _store(
        self,
        job_id: str,
        board: Storyboard,
        model: str,
        rec: ChainRecord,
        image_path: str,
        *,
        origin: str,
        hold: bool,
        **fields: object,
    ) -> Job:
        now = self.ctx.clock.now()
        try:
            job = await self.ctx.store.create_job(
                id=job_id,
                image_path=image_path,
                origin=origin,
                model=model,
                storyboard=board,
                state=S.QUEUED,
                created_at=now,
                updated_at=now,
                next_check_at=None if hold else now,
                **chain_fields(self.ctx, rec, now),
                **fields,
            )
        except sqlite3.IntegrityError as exc:
            if await self.ctx.store.get_job(job_id) is None:
                raise
            raise JobExists(f"Job {job_id} was stored already.") from exc
        self._follow(job.id)
        if not hold:
            self._wake()
        return job

    # -- retries and redos --------------------------------------------------------------------
    async def _chain(self, job_id: str) -> tuple[Job, ChainRecord]:
        job = await self.ctx.store.get_job(job_id)
        if job is None or job.chain is None:
            raise ChainError(f"Job {job_id} is not a chain of segments.")
        return job, ChainRecord.load(job.chain)

    @staticmethod
    def _check_number(rec: ChainRecord, n: int) -> None:
        if not 1 <= n <= rec.count:
            raise ChainError(f"There are {rec.count} segments; {n} is not one of them.")

    async def cost_from(self, job_id: str, n: int) -> int:
        """What remaking segments ``n`` (from 1) to the end costs, in credits."""
        _, rec = await self._chain(job_id)
        self._check_number(rec, n)
        return rec.cost_from(await self._first_to_make(rec, n) - 1)

    async def _first_to_make(self, rec: ChainRecord, n: int) -> int:
        """The first segment (from 1) a chain starting again at ``n`` really makes: ``n``, or
        an earlier one whose video (or one before it) is no longer stored (the storage sweep
        removes a chain's segments some time after it ended), so it is made again too.
        ChainError when a segment before ``n`` was never made."""
        for k, seg in enumerate(rec.segments[: n - 1], start=1):
            child = await self.ctx.store.get_job(seg.job) if seg.job else None
            if child is None or child.state != S.DELIVERED or child.video_path is None:
                raise ChainError(
                    f"Segment {k} was not made: the chain cannot start again after it."
                )
            if not await asyncio.to_thread(Path(child.video_path).is_file):
                return k
        return n

    async def retry_from(self, job_id: str, n: int, *, hold: bool = False, **fields: object) -> Job:
        """A new chain for a chain that ended without its video, reusing segments before
        ``n`` (each must have been made)."""
        job, rec = await self._chain(job_id)
        if job.state not in ENDED:
            raise ChainError(
                f"Job {job_id} is {job.state}; only a chain that ended without its video is "
                "retried."
            )
        return await self._again(job, rec, n, hold=hold, **fields)

    async def redo_segment(
        self, job_id: str, n: int, *, hold: bool = False, **fields: object
    ) -> Job:
        """A new chain for a delivered chain: segment ``n`` made again and the ones after it
        chained from it; the ones before reused."""
        job, rec = await self._chain(job_id)
        if job.state != S.DELIVERED:
            raise ChainError(
                f"Job {job_id} is {job.state}; a segment is redone once its video was delivered."
            )
        return await self._again(job, rec, n, hold=hold, **fields)

    async def _again(
        self, job: Job, rec: ChainRecord, n: int, *, hold: bool, **fields: object
    ) -> Job:
        self._check_number(rec, n)
        n = await self._first_to_make(rec, n)
        reused = rec.segments[: n - 1]
        fresh = ChainRecord(
            segments=[
                *(s.model_copy(update={"reused": True}) for s in reused),
                *(
                    s.model_copy(update={"job": None, "reused": False})
                    for s in rec.segments[n - 1 :]
                ),
            ],
            source=job.id,
        )
        keep = {
            k: getattr(job, k)
            for k in (
                "owner_id",
                "guild_id",
                "channel_id",
                "draft_id",
                "revision",
                "card_message_id",
                "out_path",
            )
        }
        keep.update(fields)
        job_id = str(keep.pop("id", None) or new_id())
        return await self._store(
            job_id,
            job.storyboard,
            job.model,
            fresh,
            job.image_path,
            origin=job.origin,
            hold=hold,
            **keep,
        )

    async def cancel(self, job_id: str) -> bool:
        """Cancel a chain whose first segment it makes was not sent yet (False: too late)."""
        job = await self.ctx.store.get_job(job_id)
        if job is None or job.chain is None or job.state != S.CHAINING:
            return False
        rec = ChainRecord.load(job.chain)
        index = job.segment or 0
        seg_job = rec.segments[index].job
        if rec.made_before(index) or seg_job is None:
            return False
        now = self.ctx.clock.now()
        child = await self.ctx.store.transition(
            seg_job,
            S.QUEUED,
            S.CANCELLED,
            fail_code="cancelled",
            fail_msg="cancelled before it was sent to kie.ai",
            finished_at=now,
            next_check_at=now,
        )
        if child is None:
            return False
        await self.ctx.store.update_job(job.id, next_check_at=now)
        self._wake()
        return True


__all__ = [
    "ENDED",
    "RETRYABLE",
    "ChainError",
    "ChainProgress",
    "Chains",
    "JobExists",
    "chain_fields",
    "chain_progress",
    "retry_segment",
    "retryable",
]
