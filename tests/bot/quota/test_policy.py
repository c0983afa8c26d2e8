"""bot.quota.policy: per-guild settings, every limit, time zones, release policy, terms, reports."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from typing import Any

import pytest

from bot.config.settings import QuotaDefaults
from bot.domain.errors import UserError
from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.store import Store
from bot.quota.policy import (
    SETTING_NAMES,
    GuildQuota,
    QuotaRefused,
    Quotas,
    QuotaSettingError,
    check_terms,
    day_bounds,
    month_bounds,
)

GUILD = 100
OTHER_GUILD = 200
ALICE = 1
BOB = 2
OWNER = 99
CHANNEL = 10
BOARD = Storyboard(shots=(Shot(scene="A kitten with headphones", tenths=100),), length=10)
# Noon UTC, 2025-03-10.
NOON = dt.datetime(2025, 3, 10, 12, 0, tzinfo=dt.UTC).timestamp()

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


@pytest.fixture
def quotas(store: Store) -> Quotas:
    return Quotas(store, OPEN)


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


# --------------------------------------------------------------------------- settings


async def test_defaults_come_from_the_config(store: Store) -> None:
    q = Quotas(store, QuotaDefaults())
    quota = await q.get(GUILD)
    assert (quota.user_daily, quota.user_concurrent, quota.user_cooldown_seconds) == (5, 1, 30)
    assert (quota.guild_daily, quota.guild_concurrent, quota.guild_monthly_credits) == (50, 5, None)
    assert quota.timezone == "UTC" and quota.enabled and not quota.failed_counts
    assert quota.user_daily_failures == 3
    assert set(SETTING_NAMES) == set(QuotaDefaults.model_fields) - {
        "owner_ids",
        "low_balance_credits",
    }


async def test_overrides_keep_unspecified_defaults(store: Store) -> None:
    q = Quotas(store, QuotaDefaults(user_daily=7, guild_daily=70))
    assert await q.set(GUILD, "user_daily", "3", actor_id=ALICE) == (7, 3)
    quota = await q.get(GUILD)
    assert (quota.user_daily, quota.guild_daily) == (3, 70)
    assert (await q.get(OTHER_GUILD)).user_daily == 7  # other guilds untouched
    # The defaults changing later still reach every key the guild did not override.
    q2 = Quotas(store, QuotaDefaults(user_daily=9, guild_daily=90))
    quota = await q2.get(GUILD)
    assert (quota.user_daily, quota.guild_daily) == (3, 90)


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("user_daily", "5", 5),
        ("user_daily", "none", None),
        ("user_daily", "Unlimited", None),
        ("guild_monthly_credits", "20_000", 20000),
        ("user_cooldown_seconds", "0", 0),
        ("enabled", "off", False),
        ("failed_counts", "yes", True),
        ("user_daily_failures", "2", 2),
        ("user_daily_failures", "none", None),
        ("channels", "<#11>, <#12>", [11, 12]),
        ("channels", "none", []),
        ("roles", "<@&5> 6", [5, 6]),
        ("lengths", "10,15", [10, 15]),
        ("aspects", "Portrait", ["portrait"]),
        ("models", "sora-2-pro-storyboard", ["sora-2-pro-storyboard"]),
        ("blocked_terms", "blood, 血腥 ", ["blood", "血腥"]),
        ("log_channel", "<#77>", 77),
        ("log_channel", "none", None),
        ("timezone", "Asia/Shanghai", "Asia/Shanghai"),
        ("user_daily", 4, 4),
        ("user_daily", None, None),
        ("roles", [1, 2], [1, 2]),
    ],
)
async def test_set_parses_values(quotas: Quotas, name: str, raw: Any, expected: Any) -> None:
    _old, new = await quotas.set(GUILD, name, raw, actor_id=ALICE)
    assert new == expected
    assert getattr(await quotas.get(GUILD), name) == expected


@pytest.mark.parametrize(
    ("name", "raw", "words"),
    [
        ("user_daily", "abc", ["user_daily", "abc"]),
        ("user_daily", "-1", ["user_daily", "greater than or equal to 0"]),
        ("enabled", "maybe", ["enabled", "true or false"]),
        ("timezone", "Mars/Olympus", ["timezone", "unknown time zone"]),
        ("aspects", "square", ["aspects", "square"]),
        ("lengths", "0", ["lengths", "greater than 0"]),
        ("models", "nope-model", ["models", "nope-model", "sora-2-pro-storyboard"]),
        ("channels", "general", ["channels", "not a whole number"]),
    ],
)
async def test_set_refuses_bad_values(quotas: Quotas, name: str, raw: str, words: list) -> None:
    with pytest.raises(UserError) as info:
        await quotas.set(GUILD, name, raw, actor_id=ALICE)
    assert info.value.code == "quota_bad_value"
    for word in words:
        assert word in str(info.value)
    assert await quotas.changes(GUILD) == []
    assert await quotas.get(GUILD) == await quotas.get(OTHER_GUILD)


async def test_set_refuses_an_unknown_setting(quotas: Quotas) -> None:
    with pytest.raises(UserError) as info:
        await quotas.set(GUILD, "videos_per_hour", "3", actor_id=ALICE)
    assert info.value.code == "quota_unknown_setting"
    assert "videos_per_hour" in str(info.value) and "user_daily" in str(info.value)
    with pytest.raises(UserError):
        await quotas.reset(GUILD, actor_id=ALICE, name="videos_per_hour")


async def test_change_log_and_reset(quotas: Quotas) -> None:
    await quotas.set(GUILD, "user_daily", "3", actor_id=ALICE)
    await quotas.set(GUILD, "user_daily", "4", actor_id=BOB)
    await quotas.set(GUILD, "timezone", "Asia/Shanghai", actor_id=ALICE)
    changes = await quotas.changes(GUILD)
    assert [(c.actor_id, c.setting, c.old, c.new) for c in changes] == [
        (ALICE, "timezone", "UTC", "Asia/Shanghai"),
        (BOB, "user_daily", 3, 4),
        (ALICE, "user_daily", None, 3),
    ]
    assert all(c.at > 0 for c in changes)
    assert len(await quotas.changes(GUILD, limit=1)) == 1

    await quotas.reset(GUILD, actor_id=BOB, name="timezone")
    assert (await quotas.get(GUILD)).timezone == "UTC"
    assert (await quotas.get(GUILD)).user_daily == 4
    await quotas.reset(GUILD, actor_id=BOB)
    assert await quotas.get(GUILD) == GuildQuota.model_validate(
        OPEN.model_dump(include=set(SETTING_NAMES))
    )
    latest = await quotas.changes(GUILD, limit=2)
    assert [(c.actor_id, c.setting, c.old, c.new) for c in latest] == [
        (BOB, "user_daily", 4, None),
        (BOB, "timezone", "Asia/Shanghai", "UTC"),
    ]
    assert await quotas.changes(OTHER_GUILD) == []


async def test_list_items_add_and_remove(quotas: Quotas) -> None:
    await quotas.add_item(GUILD, "channels", "<#11>", actor_id=ALICE)
    await quotas.add_item(GUILD, "channels", 12, actor_id=ALICE)
    await quotas.add_item(GUILD, "channels", "11", actor_id=ALICE)  # already there
    assert (await quotas.get(GUILD)).channels == [11, 12]
    await quotas.remove_item(GUILD, "channels", "<#11>", actor_id=ALICE)
    assert (await quotas.get(GUILD)).channels == [12]


# --------------------------------------------------------------------------- every limit


async def test_disabled(quotas: Quotas) -> None:
    await quotas.set(GUILD, "enabled", "false", actor_id=ALICE)
    err = await refused(quotas, "disabled")
    assert "turned off" in str(err)
    await reserve(quotas, guild=OTHER_GUILD)


async def test_kill_switch_pauses_new_submissions_bot_wide(quotas: Quotas) -> None:
    running = await reserve(quotas)
    await quotas.pause(OWNER, True)
    assert await quotas.paused()
    assert "paused" in str(await refused(quotas, "paused"))
    await refused(quotas, "paused", guild=OTHER_GUILD, user=BOB)
    # Running jobs are untouched; owners are never limited.
    assert await quotas.settle(running, outcome="delivered") == "charged"
    await reserve(quotas, user=OWNER)
    await quotas.pause(OWNER, False)
    assert not await quotas.paused()
    await reserve(quotas, user=BOB)
    log = await quotas.changes(0)
    assert [(c.setting, c.old, c.new) for c in log] == [
        ("paused", True, False),
        ("paused", False, True),
    ]


async def test_channel(quotas: Quotas) -> None:
    await quotas.set(GUILD, "channels", "<#11>, <#12>", actor_id=ALICE)
    err = await refused(quotas, "channel", channel=CHANNEL)
    assert "<#11>" in str(err) and "<#12>" in str(err)
    await reserve(quotas, channel=12)


async def test_role(quotas: Quotas) -> None:
    await quotas.set(GUILD, "roles", "<@&5>", actor_id=ALICE)
    assert "<@&5>" in str(await refused(quotas, "role", roles=(4,)))
    await reserve(quotas, roles=(4, 5))


async def test_model(quotas: Quotas) -> None:
    await quotas.set(GUILD, "models", "sora-2-pro-storyboard", actor_id=ALICE)
    err = await refused(quotas, "model", model="kling-3.0-omni/image-to-video")
    assert "kling-3.0-omni/image-to-video" in str(err) and "sora-2-pro-storyboard" in str(err)
    await reserve(quotas)


async def test_length(quotas: Quotas) -> None:
    await quotas.set(GUILD, "lengths", "10, 15", actor_id=ALICE)
    long = BOARD.model_copy(update={"length": 25})
    err = await refused(quotas, "length", board=long)
    assert "10, 15 s" in str(err) and "25 s" in str(err)
    assert err.params == {"length": 25, "allowed": [10, 15]}
    await reserve(quotas)


async def test_aspect(quotas: Quotas) -> None:
    await quotas.set(GUILD, "aspects", "portrait", actor_id=ALICE)
    err = await refused(quotas, "aspect")
    assert "portrait" in str(err) and "landscape" in str(err)
    await reserve(quotas, board=BOARD.model_copy(update={"aspect": "portrait"}))


async def test_blocked_term_at_reservation(quotas: Quotas) -> None:
    await quotas.set(GUILD, "blocked_terms", "blood", actor_id=ALICE)
    bloody = BOARD.with_shots(
        [Shot(scene="calm sea", tenths=50), Shot(scene="ＢＬＯＯＤ", tenths=50)]
    )
    err = await refused(quotas, "blocked_term", board=bloody)
    assert "blood" in str(err) and err.params == {"term": "blood"}
    assert await count_rows(quotas.store) == 0


async def test_cooldown(quotas: Quotas) -> None:
    await quotas.set(GUILD, "user_cooldown_seconds", "30", actor_id=ALICE)
    await reserve(quotas, now=NOON)
    err = await refused(quotas, "cooldown", now=NOON + 10)
    assert err.until == int(NOON) + 30
    assert f"<t:{int(NOON) + 30}:R>" in str(err) and "30 s" in str(err)
    await reserve(quotas, user=BOB, now=NOON + 10)  # per user
    await reserve(quotas, now=NOON + 30)


@pytest.mark.parametrize("failed_counts", [False, True])
async def test_a_failed_generation_never_starts_the_cooldown(
    quotas: Quotas, failed_counts: bool
) -> None:
    await quotas.set(GUILD, "user_cooldown_seconds", "60", actor_id=ALICE)
    await quotas.set(GUILD, "failed_counts", str(failed_counts), actor_id=ALICE)
    job = await reserve(quotas, now=NOON)
    await refused(quotas, "cooldown", now=NOON + 5)  # while it runs, it holds the cooldown
    await quotas.settle(job, outcome="failed", now=NOON + 10)
    # Failed, whether or not it counts against the day: the member may try again at once.
    await reserve(quotas, now=NOON + 11)


@pytest.mark.parametrize("outcome", ["delivered", "unknown"])
async def test_a_reservation_that_reached_kie_starts_the_cooldown(
    quotas: Quotas, outcome: str
) -> None:
    await quotas.set(GUILD, "user_cooldown_seconds", "60", actor_id=ALICE)
    job = await reserve(quotas, now=NOON)
    await quotas.settle(job, outcome=outcome, now=NOON + 10)  # type: ignore[arg-type]
    err = await refused(quotas, "cooldown", now=NOON + 30)
    assert err.until == int(NOON) + 60
    await reserve(quotas, now=NOON + 60)


async def test_failures_per_member_per_day_are_capped(quotas: Quotas) -> None:
    await quotas.set(GUILD, "user_daily_failures", "2", actor_id=ALICE)
    await quotas.set(GUILD, "user_cooldown_seconds", "60", actor_id=ALICE)
    # Refused and cancelled reservations never reached kie.ai: they are not failures.
    for outcome in ("refused", "cancelled"):
        await quotas.settle(await reserve(quotas, now=NOON), outcome=outcome)  # type: ignore[arg-type]
    for i in range(2):
        await quotas.settle(await reserve(quotas, now=NOON + i), outcome="failed")
    err = await refused(quotas, "user_daily_failures", now=NOON + 5)
    midnight = int(dt.datetime(2025, 3, 11, tzinfo=dt.UTC).timestamp())
    assert err.params == {"failed": 2, "limit": 2, "until": midnight}
    assert str(err) == (
        "You have had 2 failed videos today; the limit is 2 failures a day. "
        f"You can generate again <t:{midnight}:R>."
    )
    assert (await quotas.usage(GUILD, ALICE, NOON + 5)).refusal.code == "user_daily_failures"  # type: ignore[union-attr]
    # Counting against the day or not, a failure is a failure.
    await quotas.set(GUILD, "failed_counts", "true", actor_id=ALICE)
    await quotas.set(GUILD, "user_daily_failures", "3", actor_id=ALICE)
    await quotas.settle(await reserve(quotas, now=NOON + 6), outcome="failed")
    await refused(quotas, "user_daily_failures", now=NOON + 7)
    await reserve(quotas, user=BOB, now=NOON + 8)  # per member
    await reserve(quotas, guild=OTHER_GUILD, now=NOON + 8)  # per server
    await reserve(quotas, user=OWNER, now=NOON + 8)  # owners are never limited
    await reserve(quotas, now=midnight)  # a new day


async def test_user_concurrent(quotas: Quotas) -> None:
    await quotas.set(GUILD, "user_concurrent", "1", actor_id=ALICE)
    first = await reserve(quotas)
    err = await refused(quotas, "user_concurrent")
    assert err.params == {"running": 1, "limit": 1}
    assert "1 at once" in str(err)
    await reserve(quotas, user=BOB)
    await reserve(quotas, guild=OTHER_GUILD)  # per guild
    await quotas.settle(first, outcome="delivered")
    await reserve(quotas)


async def test_user_daily(quotas: Quotas) -> None:
    await quotas.set(GUILD, "user_daily", "2", actor_id=ALICE)
    for i in range(2):
        await quotas.settle(await reserve(quotas, now=NOON + i), outcome="delivered")
    err = await refused(quotas, "user_daily", now=NOON + 5)
    midnight = int(dt.datetime(2025, 3, 11, tzinfo=dt.UTC).timestamp())
    assert err.params == {"used": 2, "limit": 2, "until": midnight}
    assert "2 of your 2 videos today" in str(err) and f"<t:{midnight}:R>" in str(err)
    await reserve(quotas, user=BOB, now=NOON + 5)
    await reserve(quotas, now=midnight)  # a new day


async def test_guild_concurrent(quotas: Quotas) -> None:
    await quotas.set(GUILD, "guild_concurrent", "2", actor_id=ALICE)
    await reserve(quotas, user=1)
    await reserve(quotas, user=2)
    err = await refused(quotas, "guild_concurrent", user=3)
    assert err.params == {"running": 2, "limit": 2} and "2 at once" in str(err)
    await reserve(quotas, user=3, guild=OTHER_GUILD)


async def test_guild_daily(quotas: Quotas) -> None:
    await quotas.set(GUILD, "guild_daily", "3", actor_id=ALICE)
    for user in (1, 2, 3):
        await reserve(quotas, user=user)
    err = await refused(quotas, "guild_daily", user=4)
    assert err.params["used"] == 3 and err.params["limit"] == 3
    assert f"<t:{err.until}:R>" in str(err)


async def test_guild_budget(quotas: Quotas) -> None:
    await quotas.set(GUILD, "guild_monthly_credits", "400", actor_id=ALICE)
    await reserve(quotas, credits=150)
    await reserve(quotas, credits=150, user=BOB)
    err = await refused(quotas, "guild_budget", credits=150, user=3)
    april = int(dt.datetime(2025, 4, 1, tzinfo=dt.UTC).timestamp())
    assert err.params == {"used": 300, "limit": 400, "credits": 150, "until": april}
    assert "300 of its 400 credits" in str(err) and "costs 150" in str(err)
    assert f"<t:{april}:R>" in str(err)
    await reserve(quotas, credits=100, user=3)  # exactly the budget is fine


async def test_limit_changes_apply_to_new_submissions_only(quotas: Quotas) -> None:
    a = await reserve(quotas, user=1)
    b = await reserve(quotas, user=2)
    await quotas.set(GUILD, "guild_concurrent", "1", actor_id=ALICE)
    await refused(quotas, "guild_concurrent", user=3)
    assert await quotas.usage_state(a) == await quotas.usage_state(b) == "reserved"


# --------------------------------------------------------------------------- owners


async def test_owners_are_never_limited_and_do_not_count(quotas: Quotas) -> None:
    await quotas.set(GUILD, "enabled", "false", actor_id=ALICE)
    await quotas.set(GUILD, "channels", "1", actor_id=ALICE)
    await quotas.set(GUILD, "lengths", "15", actor_id=ALICE)
    await quotas.set(GUILD, "blocked_terms", "kitten", actor_id=ALICE)
    await quotas.set(GUILD, "guild_concurrent", "1", actor_id=ALICE)
    await quotas.set(GUILD, "user_daily", "0", actor_id=ALICE)
    for _ in range(3):
        await reserve(quotas, user=OWNER)
    assert quotas.is_owner(OWNER) and not quotas.is_owner(ALICE) and not quotas.is_owner(None)
    await quotas.reset(GUILD, actor_id=ALICE)
    await quotas.set(GUILD, "guild_concurrent", "1", actor_id=ALICE)
    await reserve(quotas, user=ALICE)  # the owner's running videos take no slot
    report = await quotas.report(GUILD, days=1, now=NOON)
    assert {u.user_id: u.videos for u in report.users} == {OWNER: 3, ALICE: 1}


async def test_owners_added_at_runtime(quotas: Quotas) -> None:
    await quotas.set(GUILD, "enabled", "false", actor_id=ALICE)
    await refused(quotas, "disabled", user=55)
    quotas.add_owners([55])
    await reserve(quotas, user=55)


# --------------------------------------------------------------------------- time zones


def local(zone: str, *args: int) -> float:
    return dt.datetime(*args, tzinfo=zoneinfo.ZoneInfo(zone)).timestamp()


async def test_shanghai_day_boundary(quotas: Quotas) -> None:
    await quotas.set(GUILD, "timezone", "Asia/Shanghai", actor_id=ALICE)
    await quotas.set(GUILD, "user_daily", "1", actor_id=ALICE)
    late = local("Asia/Shanghai", 2025, 3, 10, 23, 30)  # 15:30 UTC, same UTC day as 00:30
    await reserve(quotas, now=late)
    err = await refused(quotas, "user_daily", now=late + 20 * 60)  # 23:50: same local day
    midnight = local("Asia/Shanghai", 2025, 3, 11, 0, 0)
    assert err.until == int(midnight)
    assert (
        dt.datetime.fromtimestamp(late, dt.UTC).date()
        == dt.datetime.fromtimestamp(late + 3600, dt.UTC).date()
    )
    await reserve(quotas, now=late + 3600)  # 00:30 the next local day: a new day


async def test_utc_guild_counts_by_utc_day(quotas: Quotas) -> None:
    # The same two moments fall on one UTC day: a UTC guild refuses the second.
    await quotas.set(GUILD, "user_daily", "1", actor_id=ALICE)
    late = local("Asia/Shanghai", 2025, 3, 10, 23, 30)
    await reserve(quotas, now=late)
    await refused(quotas, "user_daily", now=late + 3600)


async def test_month_rollover_in_the_guild_zone(quotas: Quotas) -> None:
    zone = "America/New_York"
    await quotas.set(GUILD, "timezone", zone, actor_id=ALICE)
    await quotas.set(GUILD, "guild_monthly_credits", "300", actor_id=ALICE)
    jan31 = local(zone, 2025, 1, 31, 22, 0)  # already Feb 1 in UTC
    await reserve(quotas, now=jan31, credits=300)
    err = await refused(quotas, "guild_budget", now=jan31 + 3600, credits=10, user=BOB)
    assert err.until == int(local(zone, 2025, 2, 1, 0, 0))
    await reserve(quotas, now=local(zone, 2025, 2, 1, 0, 0), credits=300, user=BOB)


def test_bounds_across_dst_and_december() -> None:
    zone = zoneinfo.ZoneInfo("Europe/Paris")
    # The day DST starts is 23 hours long.
    start, end = day_bounds(local("Europe/Paris", 2025, 3, 30, 12, 0), zone)
    assert end - start == 23 * 3600
    start, end = month_bounds(local("Europe/Paris", 2025, 12, 15, 12, 0), zone)
    assert start == int(local("Europe/Paris", 2025, 12, 1, 0, 0))
    assert end == int(local("Europe/Paris", 2026, 1, 1, 0, 0))


# --------------------------------------------------------------------------- release policy


@pytest.mark.parametrize("outcome", ["refused", "cancelled"])
async def test_never_reached_kie_is_released(quotas: Quotas, outcome: str) -> None:
    await quotas.set(GUILD, "user_daily", "1", actor_id=ALICE)
    await quotas.set(GUILD, "user_concurrent", "1", actor_id=ALICE)
    await quotas.set(GUILD, "user_cooldown_seconds", "60", actor_id=ALICE)
    job = await reserve(quotas, now=NOON)
    assert await quotas.settle(job, outcome=outcome) == "released"  # type: ignore[arg-type]
    # Counts for nothing: not the day, not the slot, not the cooldown.
    await reserve(quotas, now=NOON + 1)


@pytest.mark.parametrize(("failed_counts", "state"), [(False, "released"), (True, "charged")])
async def test_failed_counts_only_when_set(quotas: Quotas, failed_counts: bool, state: str) -> None:
    await quotas.set(GUILD, "user_daily", "1", actor_id=ALICE)
    await quotas.set(GUILD, "failed_counts", str(failed_counts), actor_id=ALICE)
    job = await reserve(quotas)
    assert await quotas.settle(job, outcome="failed") == state
    if failed_counts:
        await refused(quotas, "user_daily")
    else:
        await reserve(quotas)


async def test_delivered_is_charged_and_frees_the_slot(quotas: Quotas) -> None:
    await quotas.set(GUILD, "user_daily", "2", actor_id=ALICE)
    await quotas.set(GUILD, "user_concurrent", "1", actor_id=ALICE)
    job = await reserve(quotas)
    await refused(quotas, "user_concurrent")
    assert await quotas.settle(job, outcome="delivered") == "charged"
    await reserve(quotas)
    await refused(quotas, "user_daily")
    # Settling again changes nothing.
    assert await quotas.settle(job, outcome="refused") == "charged"


async def test_unknown_keeps_the_slot_until_resolved(quotas: Quotas) -> None:
    await quotas.set(GUILD, "user_concurrent", "1", actor_id=ALICE)
    job = await reserve(quotas)
    assert await quotas.settle(job, outcome="unknown") == "reserved"
    err = await refused(quotas, "user_concurrent")
    assert err.params["running"] == 1
    assert await quotas.settle(job, outcome="refused") == "released"
    await reserve(quotas)


async def test_settle_edge_cases(quotas: Quotas) -> None:
    assert await quotas.settle("nope", outcome="delivered") is None
    with pytest.raises(ValueError, match="outcome"):
        await quotas.settle("nope", outcome="exploded")  # type: ignore[arg-type]


async def test_reserving_the_same_job_twice_is_one_reservation(quotas: Quotas) -> None:
    await quotas.set(GUILD, "user_concurrent", "1", actor_id=ALICE)
    await reserve(quotas, job_id="same")
    await reserve(quotas, job_id="same")
    assert await count_rows(quotas.store) == 1
    await quotas.settle("same", outcome="cancelled")
    await reserve(quotas, job_id="same")  # released: reserved afresh
    assert await quotas.usage_state("same") == "reserved"


KLING = "kling-3.0-omni/image-to-video"
KLING_720 = {"resolution": "720p", "audio": False}


async def test_switching_to_a_fallback_reprices_the_reservation(quotas: Quotas) -> None:
    await quotas.set(GUILD, "guild_monthly_credits", "300", actor_id=ALICE)
    job = await reserve(quotas, credits=270)
    await quotas.switch_model(job, KLING, 140, board=BOARD, options=KLING_720, now=NOON)
    report = await quotas.report(GUILD, days=1, now=NOON)
    assert (report.credits, report.month_credits) == (140, 140)
    await reserve(quotas, credits=160, user=BOB)  # 140 + 160 = 300
    await refused(quotas, "guild_budget", credits=1, user=3)


@pytest.mark.parametrize(
    ("setting", "value", "options", "code"),
    [
        ("models", "sora-2-pro-storyboard", KLING_720, "model"),
        ("resolutions", "720p", {"resolution": "4k", "audio": False}, "resolution"),
        ("audio", "false", {"resolution": "720p", "audio": True}, "audio"),
        ("guild_monthly_credits", "300", {"resolution": "4k", "audio": True}, "guild_budget"),
    ],
)
async def test_a_fallback_the_guild_forbids_is_refused_and_changes_nothing(
    quotas: Quotas, setting: str, value: str, options: dict[str, object], code: str
) -> None:
    await quotas.set(GUILD, setting, value, actor_id=ALICE)
    job = await reserve(quotas, credits=150)
    with pytest.raises(QuotaRefused) as info:
        # 4k with audio, 10 s: 670 credits, over a budget of 300 (this job's 150 not counted twice)
        await quotas.switch_model(job, KLING, 670, board=BOARD, options=options, now=NOON)
    assert info.value.code == code
    async with quotas.store.db.execute(
        "SELECT model, credits, state FROM usage WHERE job_id = ?", (job,)
    ) as cur:
        row = await cur.fetchone()
    assert tuple(row) == ("sora-2-pro-storyboard", 150, "reserved")


async def test_a_fallback_within_the_budget_counts_only_its_own_price(quotas: Quotas) -> None:
    await quotas.set(GUILD, "guild_monthly_credits", "300", actor_id=ALICE)
    job = await reserve(quotas, credits=270)
    # 270 reserved at Sora's price; Kling at 300 fits because the old 270 is replaced.
    await quotas.switch_model(job, KLING, 300, board=BOARD, options=KLING_720, now=NOON)
    assert (await quotas.report(GUILD, days=1, now=NOON)).month_credits == 300


# --------------------------------------------------------------------------- terms


@pytest.mark.parametrize(
    ("terms", "texts", "hit"),
    [
        (["blood"], ["ＢＬＯＯＤ everywhere"], "blood"),
        (["Blood"], ["a BloodBath"], "Blood"),
        (["血腥"], ["一个非常血腥的场景"], "血腥"),
        (["ｇｕｎ"], ["a water gun"], "ｇｕｎ"),
        (["straße"], ["STRASSE"], "straße"),
        (["blood"], ["calm sea", "lovely"], None),
        ([], ["blood"], None),
        # Invisible characters inside a word (format characters, a variation selector).
        (["gore"], ["so much go\u200bre"], "gore"),
        (["gore"], ["so much go\u00adre"], "gore"),
        (["gore"], ["g\u2060o\ufe0fr\u200de"], "gore"),
        (["血腥"], ["一个血\u200b腥的场景"], "血腥"),
        (["血腥"], ["一个血\ufeff腥的场景"], "血腥"),
        # Look-alike letters from other scripts, in the text or in the term.
        (["gore"], ["so much g\u043ere"], "gore"),  # Cyrillic о
        (["gore"], ["GОRЕ"], "gore"),  # Cyrillic О and Е
        (["blood"], ["a bl\u03bf\u03bfd bath"], "blood"),  # Greek ο
        (["g\u043ere"], ["so much gore"], "g\u043ere"),
        (["gore"], ["𝐠𝐨𝐫𝐞"], "gore"),  # mathematical bold
        (["gore"], ["ｇ\u200bｏｒｅ"], "gore"),
        (["kill"], ["KI\u04c0\u04c0"], "kill"),  # Cyrillic Ӏ for l
        (["kill"], ["\u039a\u0399LL"], "kill"),  # Greek Κ and Ι for K and I
        # Plain ASCII text is never folded: these are different words, not disguises.
        (["dick"], ["click the button"], None),
        (["porn"], ["a pomegranate"], None),
    ],
)
def test_blocked_terms(terms: list[str], texts: list[str], hit: str | None) -> None:
    quota = GuildQuota(blocked_terms=terms)
    if hit is None:
        check_terms(quota, texts)
        return
    with pytest.raises(QuotaRefused) as info:
        check_terms(quota, texts)
    assert info.value.code == "blocked_term" and info.value.params == {"term": hit}
    assert hit in str(info.value)


# --------------------------------------------------------------------------- usage, report


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


async def test_setting_errors_are_their_own_user_error(quotas: Quotas) -> None:
    with pytest.raises(QuotaSettingError):
        await quotas.set(GUILD, "user_daily", "lots", actor_id=ALICE)


async def test_a_stored_value_no_longer_valid_is_ignored(quotas: Quotas) -> None:
    await quotas.set(GUILD, "user_daily", "3", actor_id=ALICE)
    await quotas.store.write(
        "INSERT INTO quota_settings(guild_id, name, value) VALUES (?, 'timezone', '\"Nowhere/X\"')",
        (GUILD,),
    )
    quota = await quotas.get(GUILD)
    assert (quota.timezone, quota.user_daily) == ("UTC", 3)


async def test_model_options_are_limited_per_guild(tmp_path):
    from bot.config.settings import QuotaDefaults
    from bot.domain.storyboard import Shot, Storyboard
    from bot.jobs.store import Store
    from bot.quota.policy import QuotaRefused, Quotas

    store = await Store.open(tmp_path / "opts.db")
    quotas = Quotas(store, QuotaDefaults())
    board = Storyboard(shots=(Shot(scene="a", tenths=100),), length=10)
    common = dict(
        guild_id=1,
        user_id=2,
        channel_id=3,
        role_ids=[],
        board=board,
        model_name="kling-3.0-omni/image-to-video",
        credits=140,
        now=1000.0,
    )
    await quotas.set(1, "resolutions", "720p", actor_id=9)
    await quotas.set(1, "audio", "false", actor_id=9)
    try:
        await quotas.reserve(job_id="a1", options={"resolution": "1080p", "audio": False}, **common)
        raise AssertionError("1080p was allowed")
    except QuotaRefused as exc:
        assert str(exc) == (
            "This server allows 720p videos; kling-3.0-omni/image-to-video is set to 1080p."
        )
    try:
        await quotas.reserve(job_id="a2", options={"resolution": "720p", "audio": True}, **common)
        raise AssertionError("audio was allowed")
    except QuotaRefused as exc:
        assert exc.code == "audio"
    await quotas.reserve(job_id="a3", options={"resolution": "720p", "audio": False}, **common)
    assert await quotas.usage_state("a3") == "reserved"
    await store.close()
