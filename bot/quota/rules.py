"""The rules about what a guild lets its members make (the model, its options, the length, the
aspect, the segments of a long storyboard) and the refusal of the monthly credit budget: the
checks the policy (bot.quota.policy) runs when a reservation is made and when a fallback model
takes a job.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain.storyboard import Storyboard
from bot.quota.errors import QuotaRefused
from bot.quota.settings import GuildQuota


def check_what(
    quota: GuildQuota,
    *,
    model_name: str | None,
    options: Mapping[str, object] | None,
    board: Storyboard | None,
    segments: int | None = None,
) -> None:
    """The rules about what is made: the model, its options, the length, the aspect and the
    number of segments of a long storyboard. ``None`` arguments are not checked."""
    if model_name is not None and quota.models and model_name not in quota.models:
        raise QuotaRefused("model", model=model_name, allowed=list(quota.models))
    resolution = (options or {}).get("resolution")
    if resolution and quota.resolutions and resolution not in quota.resolutions:
        raise QuotaRefused(
            "resolution",
            model=model_name,
            resolution=resolution,
            allowed=list(quota.resolutions),
        )
    if (options or {}).get("audio") and not quota.audio:
        raise QuotaRefused("audio", model=model_name)
    if board is not None:
        if quota.lengths and board.length not in quota.lengths:
            raise QuotaRefused("length", length=board.length, allowed=sorted(quota.lengths))
        if quota.aspects and board.aspect not in quota.aspects:
            raise QuotaRefused("aspect", aspect=board.aspect, allowed=list(quota.aspects))
    cap = quota.max_segments
    if segments is not None and cap is not None and segments > cap:
        raise QuotaRefused("segments", segments=segments, limit=cap)


def budget_refusal(used: int, budget: int, credits: int | None, month_end: int) -> QuotaRefused:
    """The month's budget is spent (``credits`` None: no video priced yet) or this video's
    ``credits`` would overspend it."""
    return QuotaRefused(
        "guild_budget",
        shape="spent" if credits is None else None,
        used=used,
        limit=budget,
        credits=credits,
        until=month_end,
    )


__all__ = ["budget_refusal", "check_what"]
