"""bot.quota.reports: what a member has used and left, and a guild's usage per member."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.domain.errors import UserError
from bot.quota.policy import Quotas
from tests.bot.quota.shared import ALICE, BOB, GUILD, NOON, OTHER_GUILD, OWNER, reserve


async def test_usage_summary(quotas: Quotas) -> None:
    await quotas.set(GUILD, "user_daily", "3", actor_id=ALICE)
    await quotas.set(GUILD, "user_concurrent", "1", actor_id=ALICE)
    await quotas.set(GUILD, "guild_monthly_credits", "1000", actor_id=ALICE)
    done = await reserve(quotas, credits=150)
    await quotas.settle(done, outcome="delivered")
    await reserve(quotas, credits=270)
    await reserve(quotas, credits=100, user=BOB)
    s = await quotas.usage(GUILD, ALICE, NOON)
    assert (s.used_today, s.daily_limit, s.left_today, s.running) == (2, 3, 1, 1)
    assert (s.user_month_videos, s.user_month_credits) == (2, 420)
    assert (s.guild_used_today, s.guild_running, s.guild_month_credits) == (3, 2, 520)
    assert s.guild_credits_left == 480
    assert s.day_resets_at == int(dt.datetime(2025, 3, 11, tzinfo=dt.UTC).timestamp())
    assert s.month_resets_at == int(dt.datetime(2025, 4, 1, tzinfo=dt.UTC).timestamp())
    assert s.refusal is not None and s.refusal.code == "user_concurrent"
    bob = await quotas.usage(GUILD, BOB, NOON)
    assert bob.refusal is not None and bob.refusal.code == "user_concurrent"
    carol = await quotas.usage(GUILD, 3, NOON)
    assert carol.refusal is None and carol.left_today == 3
    await quotas.set(GUILD, "roles", "5", actor_id=ALICE)
    assert (await quotas.usage(GUILD, 3, NOON, role_ids=[4])).refusal.code == "role"  # type: ignore[union-attr]
    owner = await quotas.usage(GUILD, OWNER, NOON, role_ids=[])
    assert owner.owner and owner.refusal is None


async def test_usage_when_the_budget_is_spent(quotas: Quotas) -> None:
    await quotas.set(GUILD, "guild_monthly_credits", "150", actor_id=ALICE)
    await reserve(quotas, credits=150)
    s = await quotas.usage(GUILD, BOB, NOON)
    assert s.guild_credits_left == 0
    assert s.refusal is not None and s.refusal.code == "guild_budget"
    assert "costs" not in str(s.refusal)


async def test_report(quotas: Quotas) -> None:
    day = 86400
    await quotas.settle(await reserve(quotas, credits=150, now=NOON - 3 * day), outcome="delivered")
    await quotas.settle(await reserve(quotas, credits=270, now=NOON - day), outcome="delivered")
    await quotas.settle(await reserve(quotas, credits=150, now=NOON), outcome="refused")
    await reserve(quotas, credits=150, now=NOON, user=BOB)
    await reserve(quotas, credits=150, now=NOON, guild=OTHER_GUILD)
    week = await quotas.report(GUILD, days=7, now=NOON)
    assert [(u.user_id, u.videos, u.credits, u.running) for u in week.users] == [
        (ALICE, 2, 420, 0),
        (BOB, 1, 150, 1),
    ]
    assert (week.videos, week.credits, week.running) == (3, 570, 1)
    assert (week.today_videos, week.month_credits) == (1, 570)
    two = await quotas.report(GUILD, days=2, now=NOON)
    assert (two.videos, two.credits) == (2, 420)
    assert two.since == int(dt.datetime(2025, 3, 9, tzinfo=dt.UTC).timestamp())
    with pytest.raises(UserError):
        await quotas.report(GUILD, days=0, now=NOON)
