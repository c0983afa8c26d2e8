"""How a chain ends without its video, and what it is charged for: what it made.

A chain ends part-way when its current segment ends without a video (:func:`segment_ended`:
the chain ends in the segment's state, ``segment_failed``), when a step after segments were
made fails for good (:func:`fail_made`: ``frame_failed``, ``join_failed``, undeliverable), or
when the engine gives it up between segments (:func:`give_up`). Each end records in the chain
record what the chain made (a :class:`~bot.chain.record.Settlement`) with its terminal state,
in one write, then settles the reservation by parts (:func:`settle_end`): the segments made
count, the current one as a job of its own would, the segments never sent are released. A
restart or the reservation sweep settles an end whose settling was lost the same way
(:func:`settled_by_parts`).
"""

from __future__ import annotations

import logging

from bot.chain.record import ChainRecord, Outcome, Settlement
from bot.jobs.context import Context
from bot.jobs.states import JobState
from bot.jobs.store import Job

log = logging.getLogger("bot.jobs")

S = JobState
#: A segment's reasons for an expiry whose createTask kie.ai may have accepted.
_UNKNOWN_SENT = ("unknown_deadline", "unknown_no_callback")


def current_segment(job: Job) -> int:
    """The index (from 0) of the segment a chain's parent is at."""
    if job.segment is None:
        raise ValueError(f"job {job.id}: a chain step without a current segment")
    return job.segment


def _outcome(child: Job) -> Outcome:
    """How a segment that ended without a video settles, as a job of its own would."""
    if child.state == S.FAILED:
        return "failed"
    if child.state == S.CANCELLED:
        return "cancelled"
    if child.state == S.UNDELIVERABLE:
        return "delivered"
    if child.state == S.EXPIRED and (child.task_id or child.fail_code in _UNKNOWN_SENT):
        return "delivered"
    return "refused"


async def segment_ended(ctx: Context, job: Job, rec: ChainRecord, child: Job) -> Job:
    """The current segment ended without a video: so does the chain, in the segment's state.
    The segments before it count; the segment itself as a job of its own would."""
    index = current_segment(job)
    made = rec.made_before(index)
    outcome = _outcome(child)
    params: dict[str, object] | None
    if child.fail_code == "cancelled" and made == 0:
        code, params = "cancelled", None
    else:
        code = "segment_failed"
        params = {
            **(child.fail_params or {}),
            "segment": index + 1,
            "segments": rec.count,
            "reason": child.fail_code or "other",
        }
    msg = f"segment {index + 1} of {rec.count}: {child.fail_msg or child.state}"
    rec.settle = Settlement(made=made, last=rec.segments[index].price, outcome=outcome)
    return await _end(ctx, job, rec, child.state, code, msg, params)


async def fail_made(
    ctx: Context, job: Job, rec: ChainRecord, code: str, exc: Exception, index: int
) -> Job:
    """A step after segments were made failed for good: their price counts."""
    log.warning("job %s: %s at segment %d: %s", job.id, code, index + 1, exc)
    rec.settle = Settlement(made=rec.made_before(index + 1), last=0, outcome="delivered")
    msg = f"segment {index + 1} of {rec.count}: {type(exc).__name__}: {exc}"
    params: dict[str, object] = {"segment": index + 1, "segments": rec.count}
    return await _end(ctx, job, rec, S.UNDELIVERABLE, code, msg, params)


#: The chain's states between its segments, where a give-up settles only what was made.
MIDWAY = frozenset({S.CHAINING, S.EXTRACTING, S.UPLOADING_FRAME})


async def give_up(ctx: Context, job: Job, msg: str, minutes: dict[str, object]) -> Job:
    """A chain given up part-way (its step kept failing past the deadline), settled as what
    it made: the segments done count, the current one too if kie.ai was sent it (it may still
    charge for it), the rest is released. Expired while a segment is made, else
    undeliverable (a made segment could not be handed on)."""
    state, code, params = S.UNDELIVERABLE, "undeliverable", None
    if job.state == S.CHAINING:
        state, code, params = S.EXPIRED, "deadline", minutes
    rec = ChainRecord.load(job.chain)
    index = current_segment(job)
    last = 0
    if job.state == S.CHAINING:
        made = rec.made_before(index)
        seg = rec.segments[index]
        child = await ctx.store.get_job(seg.job) if seg.job else None
        if child is not None and child.task_id is not None and not seg.reused:
            last = seg.price
    else:  # extracting or uploading_frame: the current segment is made
        made = rec.made_before(index + 1)
    rec.settle = Settlement(made=made, last=last, outcome="delivered")
    return await _end(ctx, job, rec, state, code, msg, params)


async def _end(
    ctx: Context,
    job: Job,
    rec: ChainRecord,
    state: JobState,
    code: str,
    msg: str,
    params: dict[str, object] | None,
) -> Job:
    ended = await ctx.record_end(job, state, code, msg, params, chain=rec.dump())
    if ended is None:
        return await ctx.current(job)
    await settle_end(ctx, ended)
    return ended


def settled_by_parts(job: Job) -> bool:
    """Whether ``job`` is a chain whose end says what it made (else it settles as one job:
    a chain cancelled before its first segment was sent has nothing to count)."""
    return job.chain is not None and ChainRecord.load(job.chain).settle is not None


async def settle_end(ctx: Context, job: Job) -> None:
    """Settle a chain that ended without a video: what it made counts, what it never sent
    is released (the quota's ``settle_part``; a ledger without it settles the whole)."""
    if ctx.ledger is None or job.chain is None:
        return
    settle = ChainRecord.load(job.chain).settle
    if settle is None:
        return
    part = getattr(ctx.ledger, "settle_part", None)
    try:
        if part is None:
            outcome = "delivered" if settle.made else settle.outcome
            await ctx.ledger.settle(job.id, outcome=outcome, now=ctx.clock.now())
        else:
            await part(
                job.id,
                made=settle.made,
                last=settle.last,
                last_outcome=settle.outcome,
                now=ctx.clock.now(),
            )
    except Exception:
        log.exception("job %s: settling the chain's reservation failed", job.id)


__all__ = [
    "MIDWAY",
    "current_segment",
    "fail_made",
    "give_up",
    "segment_ended",
    "settle_end",
    "settled_by_parts",
]
