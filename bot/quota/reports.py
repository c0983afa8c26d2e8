"""Usage reports: what a member has used and has left (``/storyboard-usage``), and a guild's
usage per member over a number of days (``/storyboard-admin usage``), read from the ledger."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from bot.quota.errors import QuotaRefused, QuotaSettingError
from bot.quota.ledger import Ledger, UserUsage
from bot.quota.periods import day_bounds, days_back, month_bounds
from bot.quota.settings import GuildQuota


class UsageSummary(BaseModel):
    """What a member has used and has left, for ``/storyboard-usage``."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    guild_id: int
    user_id: int
    owner: bool
    used_today: int
    daily_limit: int | None
    left_today: int | None  # None: unlimited
    running: int
    concurrent_limit: int | None
    user_month_videos: int
    user_month_credits: int
    guild_used_today: int
    guild_daily: int | None
    guild_running: int
    guild_concurrent: int | None
    guild_month_credits: int
    guild_monthly_credits: int | None
    guild_credits_left: int | None  # None: no budget
    day_resets_at: int
    month_resets_at: int
    refusal: QuotaRefused | None  # why the member cannot generate right now, if they cannot


class UsageReport(BaseModel):
    """Per-user videos and credits over a period, and the guild's totals against its limits.

    ``users``, ``videos``, ``credits`` and ``running`` include the owners' videos (what was
    spent); ``today_videos`` and ``month_credits`` are what counts against the guild's limits
    (owners excluded).
    """

    model_config = ConfigDict(frozen=True)

    guild_id: int
    days: int
    since: int  # local midnight, ``days - 1`` days before today
    users: list[UserUsage]
    videos: int
    credits: int
    running: int
    today_videos: int
    month_credits: int
    quota: GuildQuota


class Reports:
    """The reports people read, from the ledger's counts and the guild's settings."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def summary(
        self,
        quota: GuildQuota,
        *,
        guild_id: int,
        user_id: int,
        owner: bool,
        now: float,
        refusal: QuotaRefused | None,
    ) -> UsageSummary:
        """What the member has used and left, when it resets, and ``refusal``: why they are
        blocked, if they are (the policy's answer)."""
        day_start, day_end = day_bounds(now, quota.zone)
        month_start, month_end = month_bounds(now, quota.zone)
        user = await self.ledger.counts(guild_id, user_id, day_start, month_start)
        guild = await self.ledger.counts(guild_id, None, day_start, month_start)
        budget = quota.guild_monthly_credits
        return UsageSummary(
            guild_id=guild_id,
            user_id=user_id,
            owner=owner,
            used_today=user.today,
            daily_limit=quota.user_daily,
            left_today=None if quota.user_daily is None else max(0, quota.user_daily - user.today),
            running=user.running,
            concurrent_limit=quota.user_concurrent,
            user_month_videos=user.month_videos,
            user_month_credits=user.month_credits,
            guild_used_today=guild.today,
            guild_daily=quota.guild_daily,
            guild_running=guild.running,
            guild_concurrent=quota.guild_concurrent,
            guild_month_credits=guild.month_credits,
            guild_monthly_credits=budget,
            guild_credits_left=None if budget is None else max(0, budget - guild.month_credits),
            day_resets_at=day_end,
            month_resets_at=month_end,
            refusal=refusal,
        )

    async def report(
        self, quota: GuildQuota, *, guild_id: int, days: int, now: float
    ) -> UsageReport:
        """Per-user videos and credits of the last ``days`` local days (today included)."""
        if days < 1:
            raise QuotaSettingError("quota_days", days=days)
        since = days_back(now, quota.zone, days)
        users = await self.ledger.per_user(guild_id, since)
        day_start, _ = day_bounds(now, quota.zone)
        month_start, _ = month_bounds(now, quota.zone)
        guild = await self.ledger.counts(guild_id, None, day_start, month_start)
        return UsageReport(
            guild_id=guild_id,
            days=days,
            since=since,
            users=users,
            videos=sum(u.videos for u in users),
            credits=sum(u.credits for u in users),
            running=sum(u.running for u in users),
            today_videos=guild.today,
            month_credits=guild.month_credits,
            quota=quota,
        )
