"""bot.quota.policy: every limit at reservation, owners, time zones, fallbacks and segments."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.config.settings import QuotaDefaults
from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.store import Store
from bot.quota.policy import QuotaRefused, Quotas
from tests.bot.quota.shared import (
    ALICE,
    BOARD,
    BOB,
    CHANNEL,
    GUILD,
    KLING,
    KLING_720,
    NOON,
    OTHER_GUILD,
    OWNER,
    count_rows,
    local,
    refused,
    reserve,
)


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


async def test_a_reservation_repriced_for_a_switch_the_job_never_made_settles_at_its_own(
    quotas: Quotas,
) -> None:
    # Repriced for Kling, then the job stayed on Sora (a crash before it was switched) and
    # Sora made it: charged at Sora's 270, not Kling's 140.
    job = await reserve(quotas, credits=270)
    await quotas.switch_model(job, KLING, 140, board=BOARD, options=KLING_720, now=NOON)
    sora = "sora-2-pro-storyboard"
    state = await quotas.settle(job, outcome="delivered", model=sora, credits=270, now=NOON)
    assert state == "charged"
    assert (await quotas.report(GUILD, days=1, now=NOON)).month_credits == 270
    # A job switched as the reservation says settles at the repriced price.
    other = await reserve(quotas, credits=270, user=BOB)
    await quotas.switch_model(other, KLING, 140, board=BOARD, options=KLING_720, now=NOON)
    await quotas.settle(other, outcome="delivered", model=KLING, credits=140, now=NOON)
    assert (await quotas.report(GUILD, days=1, now=NOON)).month_credits == 270 + 140


async def test_model_options_are_limited_per_guild(tmp_path):
    from bot.domain.storyboard import Shot
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


# --------------------------------------------------------------------------- segments


async def test_a_long_storyboard_over_the_segment_cap_is_refused(quotas: Quotas) -> None:
    assert await quotas.max_segments(GUILD) is None  # no cap by default
    await reserve(quotas, segments=9)
    await quotas.set(GUILD, "max_segments", "3", actor_id=ALICE)
    assert await quotas.max_segments(GUILD) == 3
    err = await refused(quotas, "segments", segments=4, user=BOB)
    assert err.params == {"segments": 4, "limit": 3}
    assert str(err) == (
        "This storyboard needs 4 segments; this server allows at most 3 segments per video. "
        "Shorten the shots or remove some."
    )
    assert await count_rows(quotas.store) == 1  # nothing reserved for the refused one
    await reserve(quotas, segments=3, user=BOB)  # at the cap
    await reserve(quotas, user=BOB)  # one video: no segments to count


async def test_the_segment_cap_does_not_limit_owners(quotas: Quotas) -> None:
    await quotas.set(GUILD, "max_segments", "1", actor_id=ALICE)
    assert await quotas.max_segments(GUILD, ALICE) == 1
    assert await quotas.max_segments(GUILD, OWNER) is None
    await reserve(quotas, user=OWNER, segments=5)
    assert str((await refused(quotas, "segments", segments=2)).params["limit"]) == "1"
