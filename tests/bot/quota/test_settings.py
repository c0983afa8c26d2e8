"""bot.quota.settings: a guild's settings (defaults and overrides), the values an admin types."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config.settings import QuotaDefaults
from bot.domain.errors import UserError
from bot.jobs.store import Store
from bot.quota.errors import QuotaSettingError
from bot.quota.policy import Quotas
from bot.quota.settings import SETTING_NAMES
from tests.bot.quota.shared import ALICE, GUILD, OTHER_GUILD


async def test_defaults_come_from_the_config(store: Store) -> None:
    q = Quotas(store, QuotaDefaults())
    quota = await q.get(GUILD)
    assert (quota.user_daily, quota.user_concurrent, quota.user_cooldown_seconds) == (5, 1, 30)
    assert (quota.guild_daily, quota.guild_concurrent, quota.guild_monthly_credits) == (50, 5, None)
    assert quota.timezone == "UTC" and quota.enabled and not quota.failed_counts
    assert quota.user_daily_failures == 3
    assert quota.max_segments is None  # no cap: as many segments as the storyboard needs
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
        ("max_segments", "3", 3),
        ("max_segments", "none", None),
        ("max_segments", 1, 1),
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
        ("max_segments", "0", ["max_segments", "greater than 0", "segments a long storyboard"]),
        ("max_segments", "many", ["max_segments", "not a whole number"]),
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
