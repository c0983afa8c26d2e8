"""What the quota tests share: the guild and its members, a storyboard, open defaults, and
helpers that reserve (or expect a refusal) through the real quota on a real store."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from typing import Any

import pytest

from bot.config.settings import QuotaDefaults
from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.store import Store
from bot.quota.policy import QuotaRefused, Quotas

GUILD = 100
OTHER_GUILD = 200
ALICE = 1
BOB = 2
OWNER = 99
CHANNEL = 10
BOARD = Storyboard(shots=(Shot(scene="A kitten with headphones", tenths=100),), length=10)
# Noon UTC, 2025-03-10.
NOON = dt.datetime(2025, 3, 10, 12, 0, tzinfo=dt.UTC).timestamp()
KLING = "kling-3.0-omni/image-to-video"
KLING_720 = {"resolution": "720p", "audio": False}

# Everything unlimited: each test turns on the limit it is about.
OPEN = QuotaDefaults(
    user_daily=None,
    user_concurrent=None,
    user_cooldown_seconds=0,
    guild_daily=None,
    guild_concurrent=None,
    guild_monthly_credits=None,
    user_daily_failures=None,
    owner_ids=[OWNER],
)

_ids = itertools.count(1)


async def reserve(
    q: Quotas,
    *,
    user: int = ALICE,
    guild: int = GUILD,
    now: float = NOON,
    board: Storyboard = BOARD,
    credits: int = 150,
    model: str = "sora-2-pro-storyboard",
    channel: int | None = CHANNEL,
    roles: tuple[int, ...] = (),
    job_id: str | None = None,
    segments: int | None = None,
) -> str:
    job_id = job_id or f"job{next(_ids)}"
    await q.reserve(
        job_id=job_id,
        guild_id=guild,
        user_id=user,
        channel_id=channel,
        role_ids=list(roles),
        board=board,
        model_name=model,
        credits=credits,
        now=now,
        segments=segments,
    )
    return job_id


async def refused(q: Quotas, code: str, **kw: Any) -> QuotaRefused:
    with pytest.raises(QuotaRefused) as info:
        await reserve(q, **kw)
    assert info.value.code == code, (info.value.code, str(info.value))
    return info.value


async def count_rows(store: Store, state: str | None = None) -> int:
    sql = "SELECT COUNT(*) FROM usage" + (" WHERE state = ?" if state else "")
    async with store.db.execute(sql, (state,) if state else ()) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def usage_row(store: Store, job_id: str) -> tuple[Any, ...]:
    """The reservation's model, credits, state and outcome."""
    async with store.db.execute(
        "SELECT model, credits, state, outcome FROM usage WHERE job_id = ?", (job_id,)
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return tuple(row)


def local(zone: str, *args: int) -> float:
    return dt.datetime(*args, tzinfo=zoneinfo.ZoneInfo(zone)).timestamp()
