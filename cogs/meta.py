"""``/storyboard-status`` and ``/storyboard-help``: what a member asks about their videos.

``/storyboard-status`` lists a member's recent jobs; one waiting to be sent says its place in
the submit queue and its estimated start, as its status message does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.chain.plan import segment_max_tenths
from bot.domain.storyboard import fmt_tenths
from bot.i18n.strings import error_text, t
from bot.jobs.states import JobState
from bot.present.cards import job_line
from cogs.utils.localization import ls
from cogs.utils.ui import message_link, user_lang

if TYPE_CHECKING:
    from bot.client import StoryboardBot


class MetaCog(commands.Cog, name="StoryboardMeta"):
    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot

    @app_commands.command(name="storyboard-status", description=ls("cmd.status"))
    @app_commands.guild_only()
    async def status(self, interaction: discord.Interaction[Any]) -> None:
        lang = user_lang(interaction)
        guild_id = interaction.guild.id if interaction.guild else None
        # Answer Discord first: a queued job's place is read (and a newcomer placed) on the
        # writing connection, behind whatever the tracker has queued there.
        await interaction.response.defer(ephemeral=True, thinking=True)
        jobs = await self.bot.runtime.store.jobs_for_owner(guild_id, interaction.user.id, 10)
        if not jobs:
            await interaction.followup.send(t("status.list_empty", lang), ephemeral=True)
            return
        lines = []
        tracker = self.bot.runtime.tracker
        for job in jobs:
            target = job.result_message_id or job.status_message_id
            link = message_link(job.guild_id, job.channel_id, target) if target else None
            # A job waiting to be sent says its place in the queue and when it should start.
            spot = await tracker.queue_spot(job.id) if job.state == JobState.QUEUED else None
            lines.append(job_line(job, lang, link, spot))
        embed = discord.Embed(title=t("status.list_title", lang), description="\n".join(lines))
        await interaction.followup.send(embed=embed, ephemeral=True)

    @app_commands.command(name="storyboard-usage", description=ls("cmd.usage"))
    @app_commands.guild_only()
    async def usage(self, interaction: discord.Interaction[Any]) -> None:
        lang = user_lang(interaction)
        quotas = self.bot.runtime.quotas
        assert quotas is not None and interaction.guild is not None
        u = await quotas.usage(
            interaction.guild.id,
            interaction.user.id,
            self.bot.clock.now(),
            channel_id=interaction.channel_id,
            role_ids=[r.id for r in getattr(interaction.user, "roles", [])],
        )
        lines = []
        if u.owner:
            lines.append(t("usage.owner", lang))
        else:
            lines.append(
                t(
                    "usage.today",
                    lang,
                    used=u.used_today,
                    limit=_limit(u.daily_limit, lang),
                    reset=u.day_resets_at,
                )
            )
            lines.append(
                t("usage.running", lang, running=u.running, limit=_limit(u.concurrent_limit, lang))
            )
        lines.append(
            t(
                "usage.month",
                lang,
                videos=u.user_month_videos,
                credits=u.user_month_credits,
                reset=u.month_resets_at,
            )
        )
        if u.guild_monthly_credits is not None:
            lines.append(
                t(
                    "usage.guild_budget",
                    lang,
                    used=u.guild_month_credits,
                    budget=u.guild_monthly_credits,
                )
            )
        if u.refusal is not None:
            lines.append(t("usage.blocked", lang, reason=error_text(u.refusal, lang)))
        else:
            lines.append(t("usage.ok", lang))
        embed = discord.Embed(title=t("usage.title", lang), description="\n".join(lines))
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="storyboard-help", description=ls("cmd.help"))
    async def help(self, interaction: discord.Interaction[Any]) -> None:
        lang = user_lang(interaction)
        limits = []
        for model in self.bot.runtime.models.all():
            lim = model.limits
            limits.append(
                t(
                    "help.limits",
                    lang,
                    model=model.label,
                    shots=lim.max_shots,
                    min=fmt_tenths(lim.min_shot_tenths),
                    max=fmt_tenths(lim.max_shot_tenths),
                    lengths=lim.lengths_text(),
                )
            )
        body = t("help.body", lang, limits="\n".join(f"• {x}" for x in limits))
        embed = discord.Embed(title=t("help.title", lang), description=body)
        embed.add_field(name=t("help.thread", lang), value=t("thread.grammar", lang)[:1024])
        primary = self.bot.runtime.models.primary
        chains = self.bot.runtime.tracker.chains
        long_help = t(
            "chain.help.body",
            lang,
            seconds=chains.max_seconds,
            shots=chains.max_shots,
            model=primary.label,
            model_shots=primary.limits.max_shots,
            model_length=max(primary.limits.lengths),
            segment_max=fmt_tenths(segment_max_tenths(primary)),
        )
        embed.add_field(name=t("chain.help.title", lang), value=long_help[:1024], inline=False)
        await interaction.response.send_message(embed=embed, ephemeral=True)


def _limit(value: int | None, lang: str) -> str:
    return t("usage.unlimited", lang) if value is None else str(value)


async def setup(bot: StoryboardBot) -> None:
    await bot.add_cog(MetaCog(bot))
