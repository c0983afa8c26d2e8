"""The fallback model: which one may take a job whose model kie.ai cannot run, and the switch
(re-checked against the guild's rules, repriced, re-queued).

A storyboard the fallback takes in one call is re-queued as one job on it. One it takes only
as a chain of segments (the primary made it in one call, the fallback's calls are shorter) is
planned again on the fallback and the job becomes that chain's parent, in place: the same id,
status message and reservation, repriced to the plan's price (the guild's rules checked at
that price and segment count), then made as a chain stored directly is (bot.jobs.chaining).
Nothing was spent on the job before: the switch runs only before createTask or after kie.ai
proved it made no task. The reservation is repriced first (the guild's rules are checked
before the job may go to the fallback), then the job is switched in one write. A crash in
between leaves the job as it was, on its own model, with the reservation at the fallback's
price. The restarted bot has forgotten that the model was unavailable and sends the job to it
again: when it refuses again, the switch is made again (the repricing sets the price, and the
guild's budget is checked without the job's own reservation, so the chain is charged once);
when it makes the video after all, the reservation settles at the job's own model and price
(the ledger's ``settle`` with the job's ``model`` and ``credits``), not at the fallback's.
"""

from __future__ import annotations

import logging

from bot.chain.plan import Plan, check_long_storyboard, plan_segments
from bot.chain.record import ChainRecord
from bot.domain.storyboard import Storyboard, StoryboardError
from bot.jobs.chain import chain_fields
from bot.jobs.context import Context
from bot.jobs.states import JobState
from bot.jobs.store import Job
from bot.kie import KieError
from bot.models.base import VideoModel
from bot.quota.policy import QuotaRefused

log = logging.getLogger("bot.jobs")


def misfit(board: Storyboard, model: VideoModel) -> str | None:
    """Why ``model`` cannot make ``board`` (None: it can)."""
    try:
        model.validate(board)
    except StoryboardError as exc:
        return str(exc)
    return None


def plan_on(ctx: Context, board: Storyboard, model: VideoModel) -> Plan | StoryboardError:
    """What ``model`` makes of ``board``: one segment when it takes it as it is, else the
    chain's plan (within the product's maximum); the rule that refuses when neither."""
    try:
        if ctx.chain_plan is not None:
            return ctx.chain_plan(board, model)
        if misfit(board, model) is not None:
            check_long_storyboard(board)
        return plan_segments(board, model)
    except StoryboardError as exc:
        return exc


def fallback_for(ctx: Context, board: Storyboard, model: VideoModel) -> VideoModel | None:
    """The configured fallback, if it may take ``board`` now instead of ``model`` (in one call
    or as a chain of segments)."""
    fb = ctx.models.fallback
    if fb is None or fb.name == model.name:
        return None
    if ctx.models.unavailable(fb.name, ctx.clock.now()):
        return None
    if isinstance(plan_on(ctx, board, fb), StoryboardError):
        return None
    return fb


def model_for(ctx: Context, board: Storyboard, name: str | None = None) -> VideoModel:
    """The model a new job for ``board`` goes to now (the fallback while the primary is known
    to be unavailable and the storyboard fits the fallback)."""
    chosen = ctx.models.get(name) if name else ctx.models.primary
    if ctx.models.unavailable(chosen.name, ctx.clock.now()):
        fallback = fallback_for(ctx, board, chosen)
        if fallback is not None:
            return fallback
    return chosen


async def switch(ctx: Context, job: Job, model: VideoModel) -> Job | None:
    """Hand ``job`` to the fallback instead of ``model``. None: no fallback may take it.

    The guild's rules hold for the fallback as it would be submitted (its model, resolution,
    audio, the length, the monthly budget at its price); when one refuses, the job ends
    refused with that rule and nothing is spent."""
    fb = fallback_for(ctx, job.storyboard, model)
    plan = plan_on(ctx, job.storyboard, fb) if fb is not None else None
    if fb is None or not isinstance(plan, Plan):
        return None
    chained = plan.chained
    price = plan.price if chained else fb.price(job.storyboard)
    if ctx.ledger is not None:
        try:
            await ctx.ledger.switch_model(
                job.id,
                fb.name,
                price,
                board=job.storyboard,
                options=fb.options,
                segments=plan.count if chained else None,
            )
        except QuotaRefused as refusal:
            log.warning(
                "job %s: %s is unavailable and the guild's rules refuse the fallback %s: %s",
                job.id,
                model.name,
                fb.name,
                refusal,
            )
            return await ctx.end(
                job,
                JobState.REFUSED,
                "fallback_refused",
                f"{model.name} is unavailable at kie.ai and the guild's rules do not allow the "
                f"fallback {fb.name}: {refusal}",
                {
                    "model": model.name,
                    "fallback": fb.name,
                    "rule": refusal.code,
                    "rule_msg": str(refusal),
                    "rule_params": refusal.params,
                },
            )
    now = ctx.clock.now()
    fields: dict[str, object] = {"credits": price}
    if chained:
        # The job becomes the chain's parent: its first step makes segment 1.
        fields = chain_fields(ctx, ChainRecord.from_plan(plan), now)
        log.warning(
            "job %s: %s is unavailable; falling back to %s as a chain of %d segments",
            job.id,
            model.name,
            fb.name,
            plan.count,
        )
    else:
        log.warning("job %s: %s is unavailable; falling back to %s", job.id, model.name, fb.name)
    switched = await ctx.move(
        job,
        JobState.QUEUED,
        notify=True,
        model=fb.name,
        fallback_from=model.name,
        image_url=None,
        next_check_at=now,
        **fields,
    )
    return switched or await ctx.current(job)


def unavailable(ctx: Context, model: VideoModel, job: Job, exc: KieError) -> tuple[str, str]:
    """The reason code and the operator's detail when no fallback takes the job."""
    text = f"{model.name} is unavailable at kie.ai ({exc.meaning})"
    if job.fallback_from:
        return "models_unavailable", (
            f"{text}; it was the fallback for {job.fallback_from}, which is unavailable too"
        )
    fb = ctx.models.fallback
    if fb is None or fb.name == model.name:
        return "model_unavailable", (
            f"{text}, and no fallback model is configured; the operator can set KIE_MODEL or "
            "KIE_FALLBACK_MODEL to another model (e.g. kling-3.0-omni/image-to-video)"
        )
    if ctx.models.unavailable(fb.name, ctx.clock.now()):
        return "models_unavailable", f"{text}, and the fallback {fb.name} is unavailable too"
    found = plan_on(ctx, job.storyboard, fb)
    reason = found if isinstance(found, StoryboardError) else misfit(job.storyboard, fb)
    return "model_unavailable_misfit", (
        f"{text}, and the fallback {fb.name} cannot take this storyboard: {reason}"
    )
