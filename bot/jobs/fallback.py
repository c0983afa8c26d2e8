"""The fallback model: which one may take a job whose model kie.ai cannot run, and the switch
(re-checked against the guild's rules, repriced, re-queued)."""

from __future__ import annotations

import logging

from bot.domain.storyboard import Storyboard, StoryboardError
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


def fallback_for(ctx: Context, board: Storyboard, model: VideoModel) -> VideoModel | None:
    """The configured fallback, if it may take ``board`` now instead of ``model``."""
    fb = ctx.models.fallback
    if fb is None or fb.name == model.name or misfit(board, fb):
        return None
    if ctx.models.unavailable(fb.name, ctx.clock.now()):
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
    if fb is None:
        return None
    price = fb.price(job.storyboard)
    if ctx.ledger is not None:
        try:
            await ctx.ledger.switch_model(
                job.id, fb.name, price, board=job.storyboard, options=fb.options
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
    log.warning("job %s: %s is unavailable; falling back to %s", job.id, model.name, fb.name)
    switched = await ctx.move(
        job,
        JobState.QUEUED,
        notify=True,
        model=fb.name,
        fallback_from=model.name,
        credits=price,
        image_url=None,
        next_check_at=ctx.clock.now(),
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
    reason = misfit(job.storyboard, fb)
    return "model_unavailable_misfit", (
        f"{text}, and the fallback {fb.name} cannot take this storyboard: {reason}"
    )
