"""/storyboard-admin: quota settings, channels, usage and the kill switch, as an admin sees them."""

from __future__ import annotations

import discord
import pytest

from bot.i18n.strings import error_text
from bot.quota.errors import QuotaSettingError
from bot.quota.ledger import RELEASE_POLICY

ADMIN = "storyboard-admin"


def world(env):
    guild = env.create_guild()
    channel = guild.create_text_channel("general")
    role = guild.create_role("mods", permissions=discord.Permissions(manage_guild=True))
    admin = guild.add_member(env.create_user("ada"), roles=[role])
    member = guild.add_member(env.create_user("bob"))
    return guild, channel, admin, member


def said(r) -> str:
    if r.followups:
        return r.followups[-1].content
    return r.response.content if r.response else ""


def embed_of(r) -> discord.Embed:
    answer = r.followups[-1] if r.followups else r.response
    assert r.ephemeral or answer.ephemeral
    return answer.embeds[0]


def fields(embed: discord.Embed) -> dict[str, str]:
    return {f.name: f.value for f in embed.fields}


def setting_line(embed: discord.Embed, name: str) -> str:
    return next(line for line in embed.description.splitlines() if f"`{name}`" in line)


async def quota_of(env, guild):
    return await env.bot.runtime.quotas.get(guild.id)


async def test_set_shows_as_overridden_with_the_change_logged(simcord_env):
    env = simcord_env
    guild, channel, admin, _ = world(env)

    r = await admin.slash(channel, f"{ADMIN} quota set", setting="user_daily", value="1")
    assert r.ephemeral
    assert said(r) == "`user_daily`: 5 → 1"
    assert (await quota_of(env, guild)).user_daily == 1

    show = embed_of(await admin.slash(channel, f"{ADMIN} quota show"))
    assert "`user_daily`: 1 · *set here*" in setting_line(show, "user_daily")
    assert "`user_concurrent`: 1 · *default*" in setting_line(show, "user_concurrent")
    assert "`channels`: all · *default*" in setting_line(show, "channels")
    f = fields(show)
    assert f["What counts"] == RELEASE_POLICY
    assert f"<@{admin.id}> `user_daily`: 5 → 1" in f["Latest changes"]
    assert "<t:" in f["Latest changes"]


async def test_bad_values_and_unknown_settings_are_refused(simcord_env):
    env = simcord_env
    guild, channel, admin, _ = world(env)

    r = await admin.slash(channel, f"{ADMIN} quota set", setting="user_daily", value="lots")
    assert r.ephemeral
    assert said(r).startswith("user_daily cannot be 'lots': 'lots' is not a whole number.")
    assert "Traceback" not in said(r)
    r = await admin.slash(channel, f"{ADMIN} quota set", setting="timezone", value="Mars/Base")
    assert "unknown time zone" in said(r)
    r = await admin.slash(channel, f"{ADMIN} quota set", setting="videos", value="3")
    assert said(r).startswith("There is no quota setting 'videos'.")
    assert await env.bot.runtime.quotas.overrides(guild.id) == {}
    assert await env.bot.runtime.quotas.changes(guild.id) == []


async def test_chinese_texts(simcord_env):
    env = simcord_env
    quotas = env.bot.runtime.quotas
    with pytest.raises(QuotaSettingError) as bad:
        quotas.validate_value("user_daily", "lots")
    assert error_text(bad.value, "zh").startswith("user_daily 不能设为“lots”：")
    assert error_text(bad.value, "zh").endswith("应为：每位成员每天的视频数（数字或 none）。")
    # A Chinese server's log channel gets its line in Chinese.
    guild = env.create_guild(preferred_locale="zh-CN")
    channel = guild.create_text_channel("general")
    logs = guild.create_text_channel("log")
    role = guild.create_role("mods", permissions=discord.Permissions(manage_guild=True))
    admin = guild.add_member(env.create_user("ada"), roles=[role])
    await admin.slash(channel, f"{ADMIN} quota set", setting="log_channel", value=str(logs.id))
    await admin.slash(channel, f"{ADMIN} quota set", setting="enabled", value="off")
    assert logs.history()[-1].content == f"⚙️ <@{admin.id}> 修改了 `enabled`：开启 → 关闭"


async def test_autocomplete_offers_setting_names(simcord_env):
    env = simcord_env
    _guild, channel, admin, _ = world(env)
    choices = await admin.autocomplete(channel, f"{ADMIN} quota set", "setting", "")
    assert [c["value"] for c in choices][:3] == ["enabled", "channels", "roles"]
    assert all(len(c["name"]) <= 100 for c in choices)
    daily = await admin.autocomplete(channel, f"{ADMIN} quota set", "setting", "daily")
    assert {c["value"] for c in daily} == {"user_daily", "guild_daily", "user_daily_failures"}
    assert any(c["name"].startswith("user_daily: videos per member per day") for c in daily)


async def test_reset_restores_the_default(simcord_env):
    env = simcord_env
    guild, channel, admin, _ = world(env)
    await admin.slash(channel, f"{ADMIN} quota set", setting="user_daily", value="1")
    await admin.slash(channel, f"{ADMIN} quota set", setting="guild_daily", value="none")

    r = await admin.slash(channel, f"{ADMIN} quota reset", setting="user_daily")
    assert said(r) == "Back to the defaults:\n`user_daily`: 1 → 5"
    assert (await quota_of(env, guild)).user_daily == 5
    assert (await quota_of(env, guild)).guild_daily is None

    r = await admin.slash(channel, f"{ADMIN} quota reset")
    assert said(r) == "Back to the defaults:\n`guild_daily`: none → 50"
    r = await admin.slash(channel, f"{ADMIN} quota reset")
    assert said(r) == "Nothing to reset: this server already uses the defaults."
    show = embed_of(await admin.slash(channel, f"{ADMIN} quota show"))
    assert "*set here*" not in show.description


async def test_the_segment_cap_is_set_shown_and_reset(simcord_env):
    env = simcord_env
    guild, channel, admin, _ = world(env)
    show = embed_of(await admin.slash(channel, f"{ADMIN} quota show"))
    assert "`max_segments`: none · *default*" in setting_line(show, "max_segments")
    choices = await admin.autocomplete(channel, f"{ADMIN} quota set", "setting", "segment")
    assert [c["value"] for c in choices] == ["max_segments"]
    assert choices[0]["name"].startswith("max_segments: segments a long storyboard may be")

    r = await admin.slash(channel, f"{ADMIN} quota set", setting="max_segments", value="3")
    assert said(r) == "`max_segments`: none → 3"
    assert await env.bot.runtime.quotas.max_segments(guild.id) == 3
    show = embed_of(await admin.slash(channel, f"{ADMIN} quota show"))
    assert "`max_segments`: 3 · *set here*" in setting_line(show, "max_segments")
    assert f"<@{admin.id}> `max_segments`: none → 3" in fields(show)["Latest changes"]

    r = await admin.slash(channel, f"{ADMIN} quota set", setting="max_segments", value="0")
    assert said(r) == (
        "max_segments cannot be '0': Input should be greater than 0. Expected segments a long "
        "storyboard may be made of, one video each (a number or none)."
    )
    assert (await quota_of(env, guild)).max_segments == 3

    r = await admin.slash(channel, f"{ADMIN} quota reset", setting="max_segments")
    assert said(r) == "Back to the defaults:\n`max_segments`: 3 → none"
    assert await env.bot.runtime.quotas.max_segments(guild.id) is None


async def test_channels_add_list_remove(simcord_env):
    env = simcord_env
    guild, channel, admin, _ = world(env)
    art = guild.create_text_channel("art")

    r = await admin.slash(channel, f"{ADMIN} channels list")
    assert said(r) == "Videos can be generated in: every channel."
    r = await admin.slash(channel, f"{ADMIN} channels add", channel=art)
    assert r.ephemeral
    assert said(r) == f"<#{art.id}> added. Videos can be generated in: <#{art.id}>."
    r = await admin.slash(channel, f"{ADMIN} channels add", channel=art)
    assert said(r) == f"<#{art.id}> is already in the list."
    r = await admin.slash(channel, f"{ADMIN} channels list")
    assert said(r) == f"Videos can be generated in: <#{art.id}>."
    assert (await quota_of(env, guild)).channels == [art.id]

    r = await admin.slash(channel, f"{ADMIN} channels remove", channel=art)
    assert said(r) == f"<#{art.id}> removed. Videos can be generated in: every channel."
    r = await admin.slash(channel, f"{ADMIN} channels remove", channel=art)
    assert said(r) == f"<#{art.id}> is not in the list."
    assert (await quota_of(env, guild)).channels == []


async def test_roles_add_and_list(simcord_env):
    env = simcord_env
    guild, channel, admin, _ = world(env)
    artists = guild.create_role("artists")
    r = await admin.slash(channel, f"{ADMIN} roles add", role=artists)
    assert said(r) == f"<@&{artists.id}> added. Roles allowed to generate: <@&{artists.id}>."
    r = await admin.slash(channel, f"{ADMIN} roles list")
    assert said(r) == f"Roles allowed to generate: <@&{artists.id}>."


async def test_a_member_without_manage_server_is_refused_at_run_time(simcord_env):
    env = simcord_env
    guild, channel, admin, member = world(env)
    # Discord hides the group from bob by default...
    assert f"{ADMIN} quota set" in admin.available_commands(channel)
    assert f"{ADMIN} quota set" not in member.available_commands(channel)
    # ...but the server lets bob see the command (Integrations settings); the bot still checks.
    root = env.backend.find_command(ADMIN, guild.id, type=1)
    guild.set_command_permissions(int(root["id"]), {member: True})

    refusal = "You need the Manage Server permission to use the storyboard bot's admin commands."
    r = await member.slash(channel, f"{ADMIN} quota set", setting="user_daily", value="100")
    assert r.ephemeral and said(r) == refusal
    r = await member.slash(channel, f"{ADMIN} channels add", channel=channel)
    assert said(r) == refusal
    r = await member.slash(channel, f"{ADMIN} quota reset")
    assert said(r) == refusal
    r = await member.slash(channel, f"{ADMIN} usage")
    assert said(r) == refusal
    assert await env.bot.runtime.quotas.overrides(guild.id) == {}
    assert await env.bot.runtime.quotas.changes(guild.id) == []


async def test_usage_shows_the_guild_totals(simcord_env):
    env = simcord_env
    guild, channel, admin, member = world(env)
    quotas = env.bot.runtime.quotas
    await quotas.set(guild.id, "guild_daily", "10", actor_id=admin.id)
    await quotas.set(guild.id, "guild_monthly_credits", "1000", actor_id=admin.id)
    await quotas.set(guild.id, "user_cooldown_seconds", "0", actor_id=admin.id)
    now = env.bot.clock.now()
    for i, (user, credits) in enumerate([(member, 270), (member, 270), (admin, 100)]):
        await quotas.reserve(
            job_id=f"job{i}",
            guild_id=guild.id,
            user_id=user.id,
            channel_id=channel.id,
            role_ids=[],
            board=None,  # type: ignore[arg-type]  # no length/aspect limits set
            model_name="sora-2-pro-storyboard",
            credits=credits,
            now=now,
        )
        await quotas.settle(f"job{i}", outcome="delivered")

    r = await admin.slash(channel, f"{ADMIN} usage", days=7)
    embed = embed_of(r)
    assert embed.title == "Videos in this server, last 7 days"
    assert embed.description.splitlines() == [
        f"<@{member.id}>: 2 videos, 540 credits",
        f"<@{admin.id}>: 1 videos, 100 credits",
    ]
    f = fields(embed)
    assert f["Total"].startswith("3 videos, 640 credits since <t:")
    assert f["This server against its limits"] == (
        "Today: 3 of 10 videos\nRunning now: 0 of 5\nThis month: 640 of 1000 credits"
    )
    assert "kie.ai balance" not in f  # not an owner


async def test_owners_see_the_kie_balance_and_can_pause(simcord_env, memkie):
    env = simcord_env
    _guild, channel, admin, _ = world(env)
    quotas = env.bot.runtime.quotas
    quotas.add_owners([admin.id])
    memkie.fake.credits = 1234.5

    f = fields(embed_of(await admin.slash(channel, f"{ADMIN} usage")))
    assert f["kie.ai balance"] == "1234.5 credits"

    r = await admin.slash(channel, f"{ADMIN} pause")
    assert r.ephemeral and said(r).startswith("⏸️ New videos are paused in every server.")
    assert await quotas.paused()
    r = await admin.slash(channel, f"{ADMIN} resume")
    assert said(r) == "▶️ New videos are allowed again."
    assert not await quotas.paused()


async def test_kie_balance_errors_are_shown_plainly(simcord_env, memkie, monkeypatch):
    env = simcord_env
    _guild, channel, admin, _ = world(env)
    env.bot.runtime.quotas.add_owners([admin.id])

    async def broken() -> float:
        raise RuntimeError("kie.ai is unreachable")

    monkeypatch.setattr(memkie, "credits", broken)
    f = fields(embed_of(await admin.slash(channel, f"{ADMIN} usage")))
    assert f["kie.ai balance"] == "Could not read the balance: kie.ai is unreachable"


async def test_pause_is_refused_for_a_non_owner(simcord_env):
    env = simcord_env
    _guild, channel, admin, _ = world(env)
    refusal = "Only the bot's owners can pause or resume new videos: it applies to every server."
    r = await admin.slash(channel, f"{ADMIN} pause")
    assert r.ephemeral and said(r) == refusal
    r = await admin.slash(channel, f"{ADMIN} resume")
    assert said(r) == refusal
    assert not await env.bot.runtime.quotas.paused()


async def test_the_log_channel_receives_the_change_line(simcord_env):
    env = simcord_env
    guild, channel, admin, _ = world(env)
    logs = guild.create_text_channel("bot-log")

    await admin.slash(channel, f"{ADMIN} quota set", setting="log_channel", value=f"<#{logs.id}>")
    await admin.slash(channel, f"{ADMIN} quota set", setting="user_daily", value="2")
    await admin.slash(channel, f"{ADMIN} channels add", channel=channel)
    lines = [m.content for m in logs.history() if m.author.id == env.bot.user.id]
    assert lines == [
        f"⚙️ <@{admin.id}> changed `log_channel`: none → <#{logs.id}>",
        f"⚙️ <@{admin.id}> changed `user_daily`: 5 → 2",
        f"⚙️ <@{admin.id}> changed `channels`: all → <#{channel.id}>",
    ]
    # Nothing in the command channel: the answers are private.
    assert not [m for m in channel.history() if m.author.id == env.bot.user.id]


async def test_a_log_channel_that_is_gone_does_not_break_the_command(simcord_env):
    env = simcord_env
    guild, channel, admin, _ = world(env)
    await admin.slash(channel, f"{ADMIN} quota set", setting="log_channel", value="123456")
    r = await admin.slash(channel, f"{ADMIN} quota set", setting="user_daily", value="3")
    assert said(r) == "`user_daily`: 5 → 3"
    assert (await quota_of(env, guild)).user_daily == 3
