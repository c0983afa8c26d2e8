"""Quota refusals and setting errors (bot.quota.policy) as a reader sees them."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import itertools
import re
import tempfile
from collections.abc import Awaitable
from pathlib import Path

import pytest

from bot.config.settings import QuotaDefaults
from bot.domain.errors import UserError
from bot.domain.storyboard import (
    Shot,
    Storyboard,
)
from bot.i18n.strings import (
    STRINGS,
    error_text,
)
from bot.jobs.store import Store
from bot.models import known_models
from bot.models.kling import KlingOmni
from bot.models.sora import SoraStoryboard
from bot.quota.policy import QuotaRefused, Quotas, QuotaSettingError, check_terms
from tests.bot.i18n.shared import ROOT

# -- quota refusals and setting errors (bot.quota.policy) -----------------------------------------

ADMIN, ALICE, BOB, CAROL = 1, 2, 3, 4
CHANNEL = 10
SORA_NAME = SoraStoryboard.name
KLING_NAME = KlingOmni.name
# Noon UTC, 2025-03-10: the day resets at midnight, the month on April 1st (UTC by default).
NOON = dt.datetime(2025, 3, 10, 12, tzinfo=dt.UTC).timestamp()
TOMORROW = int(dt.datetime(2025, 3, 11, tzinfo=dt.UTC).timestamp())
NEXT_MONTH = int(dt.datetime(2025, 4, 1, tzinfo=dt.UTC).timestamp())
KITTEN = Storyboard(shots=(Shot(scene="A kitten with headphones", tenths=100),), length=10)
# Everything unlimited: each case turns on, in a server of its own, the limit it is about.
QUOTA_OPEN = QuotaDefaults(
    user_daily=None,
    user_concurrent=None,
    user_cooldown_seconds=0,
    guild_daily=None,
    guild_concurrent=None,
    guild_monthly_credits=None,
)


async def _quota_errors(db: Path) -> dict[str, UserError]:
    """Every quota refusal and setting error, raised by the real quota policy on a real store."""
    store = await Store.open(db)
    try:
        q = Quotas(store, QUOTA_OPEN)
        guilds = itertools.count(100)
        jobs = itertools.count(1)

        async def server(**settings: str) -> int:
            guild = next(guilds)
            for name, value in settings.items():
                await q.set(guild, name, value, actor_id=ADMIN)
            return guild

        async def reserve(
            guild: int,
            user: int = ALICE,
            *,
            board: Storyboard = KITTEN,
            model: str = SORA_NAME,
            credits: int = 150,
            roles: tuple[int, ...] = (),
            options: dict[str, object] | None = None,
            now: float = NOON,
            segments: int | None = None,
        ) -> None:
            await q.reserve(
                job_id=f"job{next(jobs)}",
                guild_id=guild,
                user_id=user,
                channel_id=CHANNEL,
                role_ids=list(roles),
                board=board,
                model_name=model,
                credits=credits,
                now=now,
                options=options,
                segments=segments,
            )

        async def refusal(action: Awaitable[object]) -> UserError:
            with pytest.raises((QuotaRefused, QuotaSettingError)) as info:
                await action
            return info.value

        out: dict[str, UserError] = {}
        out["disabled"] = await refusal(reserve(await server(enabled="off")))
        out["channel"] = await refusal(reserve(await server(channels="11, 12")))
        out["role"] = await refusal(reserve(await server(roles="21, 22"), roles=(5,)))
        out["model"] = await refusal(reserve(await server(models=KLING_NAME)))
        guild = await server(resolutions="720p, 4k")
        out["resolution"] = await refusal(
            reserve(guild, model=KLING_NAME, options={"resolution": "1080p"})
        )
        guild = await server(audio="false")
        out["audio"] = await refusal(reserve(guild, model=KLING_NAME, options={"audio": True}))
        long = Storyboard(shots=(Shot(scene="a cat", tenths=250),), length=25)
        out["length"] = await refusal(reserve(await server(lengths="10, 15"), board=long))
        tall = Storyboard(shots=(Shot(scene="a cat", tenths=100),), length=10, aspect="portrait")
        out["aspect"] = await refusal(reserve(await server(aspects="landscape"), board=tall))
        out["segments"] = await refusal(reserve(await server(max_segments="2"), segments=3))
        guild = await server(blocked_terms="Headphones, 耳机")
        out["blocked_term"] = await refusal(reserve(guild))
        # A thread edit checks the terms on its own (cogs.editing).
        with pytest.raises(QuotaRefused) as info:
            check_terms(await q.get(guild), ["一只戴着耳机的小猫"])
        out["blocked_term_in_an_edit"] = info.value

        guild = await server(guild_monthly_credits="200")
        await reserve(guild, ALICE)
        out["guild_budget"] = await refusal(reserve(guild, BOB))
        guild = await server(guild_monthly_credits="150")
        await reserve(guild, ALICE)
        # /storyboard-usage and the card ask without a video, so without its cost.
        spent = (await q.usage(guild, BOB, NOON)).refusal
        assert spent is not None
        out["guild_budget_spent"] = spent
        guild = await server(guild_daily="2")
        await reserve(guild, ALICE)
        await reserve(guild, BOB)
        out["guild_daily"] = await refusal(reserve(guild, CAROL))
        guild = await server(user_daily="1")
        await reserve(guild, ALICE)
        out["user_daily"] = await refusal(reserve(guild, ALICE))
        guild = await server(guild_concurrent="2")
        await reserve(guild, ALICE)
        await reserve(guild, BOB)
        out["guild_concurrent"] = await refusal(reserve(guild, CAROL))
        guild = await server(user_concurrent="1")
        await reserve(guild, ALICE)
        out["user_concurrent"] = await refusal(reserve(guild, ALICE))
        guild = await server(user_cooldown_seconds="30")
        await reserve(guild, ALICE)
        out["cooldown"] = await refusal(reserve(guild, ALICE, now=NOON + 10))
        guild = await server(user_daily_failures="1")
        await reserve(guild, ALICE, now=NOON)
        await q.settle(f"job{next(jobs) - 1}", outcome="failed", now=NOON + 5)
        out["user_daily_failures"] = await refusal(reserve(guild, ALICE, now=NOON + 10))

        guild = await server()
        out["unknown_setting"] = await refusal(q.set(guild, "videos", "3", actor_id=ADMIN))
        bad_values = {
            "not_int": ("user_daily", "lots"),
            "not_bool": ("enabled", "maybe"),
            "negative": ("user_cooldown_seconds", "-5"),
            "not_positive": ("lengths", "10, 0"),
            "aspects": ("aspects", "square"),
            "resolutions": ("resolutions", "8k"),
            "timezone": ("timezone", "Mars/Base"),
            "models": ("models", f"{SORA_NAME}, veo-3"),
        }
        for case, (name, value) in bad_values.items():
            out[f"bad_value_{case}"] = await refusal(q.set(guild, name, value, actor_id=ADMIN))
        out["days"] = await refusal(q.report(guild, days=0, now=NOON))

        await q.pause(ADMIN, True)  # bot-wide: last
        out["paused"] = await refusal(reserve(await server()))
        return out
    finally:
        await store.close()


@functools.cache
def quota_errors() -> dict[str, UserError]:
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(_quota_errors(Path(tmp) / "quota.db"))


# name: (the string that words it; what the Chinese reader sees)
QUOTA_CASES: dict[str, tuple[str, str]] = {
    "paused": (
        "err.quota.paused",
        "机器人的所有者已暂停所有新视频。请稍后再试。",
    ),
    "disabled": ("err.quota.disabled", "本服务器已关闭视频生成。"),
    "channel": ("err.quota.channel", "在本服务器中，只能在 <#11>、<#12> 生成视频。"),
    "role": ("err.quota.role", "在本服务器生成视频需要以下身份组之一：<@&21>、<@&22>。"),
    "model": (
        "err.quota.model",
        f"本服务器不允许使用模型 {SORA_NAME}；允许的模型：{KLING_NAME}。",
    ),
    "resolution": (
        "err.quota.resolution",
        f"本服务器只允许 720p、4k 的视频；{KLING_NAME} 当前设置为 1080p。",
    ),
    "audio": (
        "err.quota.audio",
        f"本服务器不允许带音频的视频；{KLING_NAME} 当前设置为生成带音频的视频。",
    ),
    "length": ("err.quota.length", "本服务器只允许时长为 10、15 秒的视频；不允许 25 秒。"),
    "aspect": ("err.quota.aspect", "本服务器只允许横屏画幅；不允许竖屏画幅。"),
    "segments": (
        "err.quota.segments",
        "这个故事板需要 3 个片段；本服务器每个视频最多允许 2 个片段。请缩短镜头或删掉一些。",
    ),
    "blocked_term": (
        "err.quota.blocked_term",
        "本服务器不允许在场景中使用“Headphones”。请删除后再试。",
    ),
    "blocked_term_in_an_edit": (
        "err.quota.blocked_term",
        "本服务器不允许在场景中使用“耳机”。请删除后再试。",
    ),
    "guild_budget": (
        "err.quota.guild_budget",
        "本服务器本月已用 150/200 积分，而这个视频需要 150 积分；"
        f"预算将在 <t:{NEXT_MONTH}:R>重置。",
    ),
    "guild_budget_spent": (
        "err.quota.guild_budget.spent",
        f"本服务器本月已用 150/150 积分；预算将在 <t:{NEXT_MONTH}:R>重置。",
    ),
    "guild_daily": (
        "err.quota.guild_daily",
        f"本服务器今天已用 2/2 个视频；限额将在 <t:{TOMORROW}:R>重置。",
    ),
    "user_daily": (
        "err.quota.user_daily",
        f"你今天已用 1/1 个视频；限额将在 <t:{TOMORROW}:R>重置。",
    ),
    "guild_concurrent": (
        "err.quota.guild_concurrent",
        "本服务器正在生成 2 个视频，同时最多 2 个。请等其中一个完成后再试。",
    ),
    "user_concurrent": (
        "err.quota.user_concurrent",
        "你正在生成 1 个视频，同时最多 1 个。请等其中一个完成后再试。",
    ),
    "cooldown": (
        "err.quota.cooldown",
        f"两次生成之间需间隔 30 秒；你可以在 <t:{int(NOON) + 30}:R>再次生成。",
    ),
    "user_daily_failures": (
        "err.quota.user_daily_failures",
        f"你今天已有 1 个视频生成失败，每天最多允许 1 次失败。你可以在 <t:{TOMORROW}:R>再次生成。",
    ),
    "unknown_setting": (
        "err.quota_unknown_setting",
        "没有名为“videos”的配额设置。可用的设置：enabled、channels、roles、user_daily、"
        "user_concurrent、user_cooldown_seconds、guild_daily、guild_concurrent、"
        "guild_monthly_credits、lengths、aspects、models、resolutions、audio、blocked_terms、"
        "log_channel、timezone、failed_counts、user_daily_failures、user_active_drafts、"
        "user_storage_mb、max_segments。",
    ),
    "bad_value_not_int": (
        "err.quota_bad_value",
        "user_daily 不能设为“lots”：“lots”不是整数。应为：每位成员每天的视频数（数字或 none）。",
    ),
    "bad_value_not_bool": (
        "err.quota_bad_value",
        "enabled 不能设为“maybe”：“maybe”不是 true 或 false。"
        "应为：本服务器的成员能否生成视频（true/false）。",
    ),
    "bad_value_negative": (
        "err.quota_bad_value",
        "user_cooldown_seconds 不能设为“-5”：不能小于 0。应为：成员两次生成之间需等待的秒数。",
    ),
    "bad_value_not_positive": (
        "err.quota_bad_value",
        "lengths 不能设为“10, 0”：必须大于 0。"
        "应为：允许的视频时长（秒），例如 10,15（留空：全部）。",
    ),
    "bad_value_aspects": (
        "err.quota_bad_value",
        "aspects 不能设为“square”：只能是 landscape 或 portrait。"
        "应为：允许的画幅：landscape、portrait（留空：全部）。",
    ),
    "bad_value_resolutions": (
        "err.quota_bad_value",
        "resolutions 不能设为“8k”：只能是 720p、1080p 或 4k。"
        "应为：允许的分辨率（适用于有此选项的模型）：720p、1080p、4k（留空：全部）。",
    ),
    "bad_value_timezone": (
        "err.quota_bad_value",
        "timezone 不能设为“Mars/Base”：未知的时区“Mars/Base”；请使用 IANA 时区名称，"
        "例如 UTC、Europe/Paris 或 Asia/Shanghai。应为：“每天”和“每月”所用的 IANA 时区，"
        "例如 Asia/Shanghai。",
    ),
    "bad_value_models": (
        "err.quota_bad_value.models",
        f"models 不能包含 veo-3：已知的模型有 {'、'.join(known_models())}。",
    ),
    "days": ("err.quota_days", "统计周期至少为 1 天。"),
}


@pytest.mark.parametrize("name", sorted(QUOTA_CASES))
def test_quota_error_in_chinese(name):
    key, expected = QUOTA_CASES[name]
    err = quota_errors()[name]
    text = error_text(err, "zh")
    assert text == expected
    assert "{" not in text and "}" not in text
    # None of the English sentence is left (quoted values and model names may be English).
    words = re.sub(r"“[^”]*”", "", text)
    for model in known_models():
        words = words.replace(model, "")
    assert not re.search(
        r"\b(?:the|this|server|videos?|credits|limit|resets|allowed|cannot|Expected|Input)\b",
        words,
    ), text
    # The message is the one the error names: its code and shape, nothing read back.
    assert err.key == key


@pytest.mark.parametrize("name", sorted(QUOTA_CASES))
def test_quota_error_in_english_is_unchanged(name):
    err = quota_errors()[name]
    assert error_text(err, "en") == str(err)
    assert error_text(err, "fr") == str(err)


def test_quota_errors_keep_their_english_words_and_markup():
    errors = quota_errors()
    assert str(errors["user_daily"]) == (
        f"You have used 1 of your 1 videos today; the limit resets <t:{TOMORROW}:R>."
    )
    assert str(errors["guild_budget"]) == (
        "This server has used 150 of its 200 credits this month and this video costs 150; "
        f"the budget resets <t:{NEXT_MONTH}:R>."
    )
    assert str(errors["bad_value_not_int"]) == (
        "user_daily cannot be 'lots': 'lots' is not a whole number. "
        "Expected videos per member per day (a number or none)."
    )


@pytest.mark.parametrize("name", sorted(QUOTA_CASES))
def test_quota_error_keeps_the_numbers_and_the_reset_time(name):
    err = quota_errors()[name]
    text = error_text(err, "zh")
    for number in re.findall(r"\d+", str(err)):
        assert number in text, (number, text)
    # Discord shows <t:UNIX:R> as "in 5 hours" in the reader's own language.
    for stamp in re.findall(r"<t:\d+:R>", str(err)):
        assert stamp in text


def quota_codes(cls: str) -> set[str]:
    """The codes bot.quota.policy raises as ``cls("code", ...)``, read from the source."""
    source = "".join(
        f.read_text(encoding="utf-8") for f in sorted((ROOT / "bot" / "quota").glob("*.py"))
    )
    return set(re.findall(cls + r"\(\s*\"([a-z_]+)\"", source))


def test_the_quota_codes_are_found():
    # Guards the grep itself: if it found nothing, the checks below would pass vacuously.
    assert {"paused", "user_daily", "cooldown", "blocked_term"} <= quota_codes("QuotaRefused")
    assert {"quota_bad_value", "quota_days"} <= quota_codes("QuotaSettingError")


@pytest.mark.parametrize("code", sorted(quota_codes("QuotaRefused")))
def test_every_quota_refusal_has_a_chinese_string(code):
    assert STRINGS[f"err.quota.{code}"]["zh-CN"].strip()


@pytest.mark.parametrize("code", sorted(quota_codes("QuotaSettingError")))
def test_every_quota_setting_error_has_a_chinese_string(code):
    assert STRINGS[f"err.{code}"]["zh-CN"].strip()


def test_every_quota_code_is_triggered():
    errors = quota_errors()
    assert set(QUOTA_CASES) == set(errors)
    triggered = {(type(e).__name__, e.code) for e in errors.values()}
    assert triggered == {
        *(("QuotaRefused", c) for c in quota_codes("QuotaRefused")),
        *(("QuotaSettingError", c) for c in quota_codes("QuotaSettingError")),
    }


def test_every_quota_string_has_a_case():
    assert {key for key, _ in QUOTA_CASES.values()} == {
        key for key in STRINGS if key.startswith("err.quota")
    }
    reasons = {e.params["reason"].key for e in quota_errors().values() if "reason" in e.params}
    # "other": a refusal pydantic words in a way no reason names (a fallback, not a case).
    assert reasons | {"quota.reason.other"} == {
        key for key in STRINGS if key.startswith("quota.reason.")
    }


def test_a_quota_error_the_catalogs_do_not_know_yet_is_shown_as_raised():
    assert error_text(QuotaRefused("new_limit", "Plain English."), "zh") == "Plain English."
    # A known code is the catalog's wording, whatever sentence came with it.
    old_form = QuotaRefused("user_daily", "No more today.", used=1, limit=1, until=TOMORROW)
    assert error_text(old_form, "zh") == f"你今天已用 1/1 个视频；限额将在 <t:{TOMORROW}:R>重置。"
