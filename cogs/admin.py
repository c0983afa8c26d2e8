"""``/storyboard-admin``: a server's quota settings, its usage, and the owners' kill switch.

Thin: every command is one core call on :class:`bot.quota.policy.Quotas` and a private answer.
Discord hides the group from members without Manage Server (``default_permissions``), and
every command checks again at run time, since a server can grant the command to anyone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.errors import UserError
from bot.i18n.strings import error_text, t
from bot.quota.ledger import RELEASE_POLICY
from bot.quota.policy import Quotas
from bot.quota.reports import UsageReport
from bot.quota.settings import SETTING_NAMES
from cogs.utils.localization import ls
from cogs.utils.settings_text import (
    FIELD_CHARS,
    Change,
    clip,
    fmt_value,
    join_lines,
    setting_autocomplete,
)
from cogs.utils.ui import admin_log, guild_lang, user_lang

if TYPE_CHECKING:
    from bot.client import StoryboardBot

log = logging.getLogger(__name__)

CHANGES_SHOWN = 10
USERS_SHOWN = 20


async def say(interaction: discord.Interaction[Any], text: str = "", **kwargs: Any) -> None:
    """A private answer, whether or not the interaction was deferred."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, **kwargs)
    else:
        await interaction.response.send_message(text, ephemeral=True, **kwargs)


class AdminCog(commands.Cog, name="StoryboardAdmin"):
    admin = app_commands.Group(
        name="storyboard-admin",
        description=ls("admin.cmd.group"),
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    quota = app_commands.Group(name="quota", description=ls("admin.cmd.quota"), parent=admin)
    channels = app_commands.Group(
        name="channels", description=ls("admin.cmd.channels"), parent=admin
    )
    roles = app_commands.Group(name="roles", description=ls("admin.cmd.roles"), parent=admin)

    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot

    @property
    def quotas(self) -> Quotas:
        quotas = self.bot.runtime.quotas
        assert quotas is not None
        return quotas

    # -- who may ---------------------------------------------------------------------------
    async def _allowed(
        self, interaction: discord.Interaction[Any], *, owner_only: bool = False
    ) -> discord.Guild | None:
        """The guild when the caller may use this command; otherwise answers and returns None."""
        lang = user_lang(interaction)
        guild = interaction.guild
        if guild is None:
            await say(interaction, t("error.guild_only", lang))
            return None
        owner = self.quotas.is_owner(interaction.user.id)
        if owner_only:
            if not owner:
                await say(interaction, t("admin.owner_only", lang))
                return None
            return guild
        perms = interaction.permissions
        if not (owner or perms.manage_guild or perms.administrator):
            await say(interaction, t("admin.denied", lang))
            return None
        return guild

    # -- the admin log channel -------------------------------------------------------------
    async def _announce(
        self, guild: discord.Guild, user: discord.abc.User, changes: Sequence[Change]
    ) -> None:
        """One line per change in the guild's log channel, if it has one; never raises."""
        if not changes:
            return
        lang = guild_lang(guild)
        lines = [
            t(
                "admin.log.line",
                lang,
                user=user.mention,
                setting=name,
                old=fmt_value(name, old, lang),
                new=fmt_value(name, new, lang),
            )
            for name, old, new in changes
        ]
        await admin_log(self.bot, guild, "\n".join(lines))

    # -- quota -----------------------------------------------------------------------------
    @quota.command(name="show", description=ls("admin.cmd.quota.show"))
    async def quota_show(self, interaction: discord.Interaction[Any]) -> None:
        guild = await self._allowed(interaction)
        if guild is None:
            return
        lang = user_lang(interaction)
        quota = await self.quotas.get(guild.id)
        overridden = await self.quotas.overrides(guild.id)
        lines = []
        for name in SETTING_NAMES:
            mark = "✏️" if name in overridden else "▫️"
            which = t("admin.show.overridden" if name in overridden else "admin.show.default", lang)
            value = fmt_value(name, getattr(quota, name), lang)
            lines.append(f"{mark} `{name}`: {value} · *{which}*")
        embed = discord.Embed(
            title=t("admin.show.title", lang, guild=guild.name),
            description=join_lines(lines, 4096),
        )
        if await self.quotas.paused():
            embed.add_field(name="⏸️", value=t("admin.show.paused", lang), inline=False)
        policy = RELEASE_POLICY if lang == "en" else t("admin.release_policy", lang)
        embed.add_field(
            name=t("admin.show.policy", lang), value=clip(policy, FIELD_CHARS), inline=False
        )
        changes = await self.quotas.changes(guild.id, CHANGES_SHOWN)
        change_lines = [
            t(
                "admin.show.change",
                lang,
                when=f"<t:{int(c.at)}:R>",
                user=f"<@{c.actor_id}>" if c.actor_id is not None else "?",
                setting=c.setting,
                old=fmt_value(c.setting, c.old, lang),
                new=fmt_value(c.setting, c.new, lang),
            )
            for c in changes
        ]
        embed.add_field(
            name=t("admin.show.changes", lang),
            value=join_lines(change_lines) or t("admin.show.no_changes", lang),
            inline=False,
        )
        await say(interaction, embed=embed)

    @quota.command(name="set", description=ls("admin.cmd.quota.set"))
    @app_commands.describe(
        setting=ls("admin.cmd.quota.set.setting"), value=ls("admin.cmd.quota.set.value")
    )
    @app_commands.autocomplete(setting=setting_autocomplete)
    async def quota_set(
        self, interaction: discord.Interaction[Any], setting: str, value: str
    ) -> None:
        guild = await self._allowed(interaction)
        if guild is None:
            return
        lang = user_lang(interaction)
        name = setting.strip()
        try:
            old, new = await self.quotas.set(guild.id, name, value, actor_id=interaction.user.id)
        except UserError as exc:
            await say(interaction, error_text(exc, lang))
            return
        await say(
            interaction,
            t(
                "admin.set.done",
                lang,
                setting=name,
                old=fmt_value(name, old, lang),
                new=fmt_value(name, new, lang),
            ),
        )
        await self._announce(guild, interaction.user, [(name, old, new)])

    @quota.command(name="reset", description=ls("admin.cmd.quota.reset"))
    @app_commands.describe(setting=ls("admin.cmd.quota.reset.setting"))
    @app_commands.autocomplete(setting=setting_autocomplete)
    async def quota_reset(
        self, interaction: discord.Interaction[Any], setting: str | None = None
    ) -> None:
        guild = await self._allowed(interaction)
        if guild is None:
            return
        lang = user_lang(interaction)
        name = setting.strip() if setting else None
        before = await self.quotas.get(guild.id)
        overridden = await self.quotas.overrides(guild.id)
        try:
            await self.quotas.reset(guild.id, actor_id=interaction.user.id, name=name)
        except UserError as exc:
            await say(interaction, error_text(exc, lang))
            return
        after = await self.quotas.get(guild.id)
        names = [name] if name is not None else sorted(overridden)
        changes = [(n, getattr(before, n), getattr(after, n)) for n in names if n in overridden]
        if not changes:
            if name is not None:
                text = t(
                    "admin.reset.not_overridden",
                    lang,
                    setting=name,
                    value=fmt_value(name, getattr(after, name), lang),
                )
            else:
                text = t("admin.reset.nothing", lang)
            await say(interaction, text)
            return
        lines = [
            t(
                "admin.set.done",
                lang,
                setting=n,
                old=fmt_value(n, old, lang),
                new=fmt_value(n, new, lang),
            )
            for n, old, new in changes
        ]
        await say(interaction, clip(t("admin.reset.done", lang, lines="\n".join(lines)), 2000))
        await self._announce(guild, interaction.user, changes)

    # -- channels and roles ----------------------------------------------------------------
    async def _edit_list(
        self,
        interaction: discord.Interaction[Any],
        setting: str,
        item_id: int,
        mention: str,
        *,
        add: bool,
    ) -> None:
        guild = await self._allowed(interaction)
        if guild is None:
            return
        lang = user_lang(interaction)
        change = self.quotas.add_item if add else self.quotas.remove_item
        try:
            old, new = await change(guild.id, setting, item_id, actor_id=interaction.user.id)
        except UserError as exc:
            await say(interaction, error_text(exc, lang))
            return
        if old == new:
            key = "already" if add else "absent"
            await say(interaction, t(f"admin.{setting}.{key}", lang, item=mention))
            return
        key = "added" if add else "removed"
        items = self._items(setting, new, lang)
        await say(interaction, t(f"admin.{setting}.{key}", lang, item=mention, items=items))
        await self._announce(guild, interaction.user, [(setting, old, new)])

    async def _show_list(self, interaction: discord.Interaction[Any], setting: str) -> None:
        guild = await self._allowed(interaction)
        if guild is None:
            return
        lang = user_lang(interaction)
        quota = await self.quotas.get(guild.id)
        items = self._items(setting, getattr(quota, setting), lang)
        await say(interaction, t(f"admin.{setting}.list", lang, items=items))

    @staticmethod
    def _items(setting: str, values: list[int], lang: str) -> str:
        if not values:
            return t(f"admin.{setting}.all", lang)
        fmt = "<#{}>" if setting == "channels" else "<@&{}>"
        return clip(", ".join(fmt.format(v) for v in values), 1500)

    @channels.command(name="add", description=ls("admin.cmd.channels.add"))
    @app_commands.describe(channel=ls("admin.cmd.channels.channel"))
    async def channels_add(
        self, interaction: discord.Interaction[Any], channel: discord.abc.GuildChannel
    ) -> None:
        await self._edit_list(interaction, "channels", channel.id, channel.mention, add=True)

    @channels.command(name="remove", description=ls("admin.cmd.channels.remove"))
    @app_commands.describe(channel=ls("admin.cmd.channels.channel"))
    async def channels_remove(
        self, interaction: discord.Interaction[Any], channel: discord.abc.GuildChannel
    ) -> None:
        await self._edit_list(interaction, "channels", channel.id, channel.mention, add=False)

    @channels.command(name="list", description=ls("admin.cmd.channels.list"))
    async def channels_list(self, interaction: discord.Interaction[Any]) -> None:
        await self._show_list(interaction, "channels")

    @roles.command(name="add", description=ls("admin.cmd.roles.add"))
    @app_commands.describe(role=ls("admin.cmd.roles.role"))
    async def roles_add(self, interaction: discord.Interaction[Any], role: discord.Role) -> None:
        await self._edit_list(interaction, "roles", role.id, role.mention, add=True)

    @roles.command(name="remove", description=ls("admin.cmd.roles.remove"))
    @app_commands.describe(role=ls("admin.cmd.roles.role"))
    async def roles_remove(self, interaction: discord.Interaction[Any], role: discord.Role) -> None:
        await self._edit_list(interaction, "roles", role.id, role.mention, add=False)

    @roles.command(name="list", description=ls("admin.cmd.roles.list"))
    async def roles_list(self, interaction: discord.Interaction[Any]) -> None:
        await self._show_list(interaction, "roles")

    # -- usage -----------------------------------------------------------------------------
    @admin.command(name="usage", description=ls("admin.cmd.usage"))
    @app_commands.describe(days=ls("admin.cmd.usage.days"))
    async def usage(
        self, interaction: discord.Interaction[Any], days: app_commands.Range[int, 1, 366] = 30
    ) -> None:
        guild = await self._allowed(interaction)
        if guild is None:
            return
        lang = user_lang(interaction)
        owner = self.quotas.is_owner(interaction.user.id)
        if owner:
            # Reading the kie.ai balance is a network call.
            await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            report = await self.quotas.report(guild.id, days=days, now=self.bot.clock.now())
        except UserError as exc:
            await say(interaction, error_text(exc, lang))
            return
        lines = []
        for u in report.users[:USERS_SHOWN]:
            line = t("admin.usage.user", lang, user=f"<@{u.user_id}>", videos=u.videos)
            line += t("admin.usage.credits", lang, credits=u.credits)
            if u.running:
                line += t("admin.usage.running", lang, running=u.running)
            lines.append(line)
        if len(report.users) > USERS_SHOWN:
            lines.append(t("admin.usage.more", lang, count=len(report.users) - USERS_SHOWN))
        embed = discord.Embed(
            title=t("admin.usage.title", lang, days=days),
            description=join_lines(lines, 4096) or t("admin.usage.none", lang),
        )
        embed.add_field(
            name=t("admin.usage.totals", lang),
            value=t(
                "admin.usage.totals_value",
                lang,
                videos=report.videos,
                credits=report.credits,
                since=report.since,
            ),
            inline=False,
        )
        embed.add_field(
            name=t("admin.usage.limits", lang),
            value=self._limits(report, lang),
            inline=False,
        )
        if owner:
            embed.add_field(
                name=t("admin.usage.balance", lang), value=await self._balance(lang), inline=False
            )
        await say(interaction, embed=embed)

    @staticmethod
    def _limits(report: UsageReport, lang: str) -> str:
        quota = report.quota

        def limit(value: int | None) -> str:
            return t("admin.usage.unlimited", lang) if value is None else str(value)

        return t(
            "admin.usage.limits_value",
            lang,
            today=report.today_videos,
            daily=limit(quota.guild_daily),
            running=report.running,
            concurrent=limit(quota.guild_concurrent),
            credits=report.month_credits,
            budget=limit(quota.guild_monthly_credits),
        )

    async def _balance(self, lang: str) -> str:
        try:
            credits = await self.bot.runtime.kie.credits()
        except Exception as exc:
            log.warning("could not read the kie.ai credit balance", exc_info=True)
            return clip(
                t("admin.usage.balance_error", lang, error=str(exc) or type(exc).__name__),
                FIELD_CHARS,
            )
        return t("admin.usage.balance_value", lang, credits=f"{credits:g}")

    # -- the kill switch -------------------------------------------------------------------
    @admin.command(name="pause", description=ls("admin.cmd.pause"))
    async def pause(self, interaction: discord.Interaction[Any]) -> None:
        await self._switch(interaction, paused=True)

    @admin.command(name="resume", description=ls("admin.cmd.resume"))
    async def resume(self, interaction: discord.Interaction[Any]) -> None:
        await self._switch(interaction, paused=False)

    async def _switch(self, interaction: discord.Interaction[Any], *, paused: bool) -> None:
        guild = await self._allowed(interaction, owner_only=True)
        if guild is None:
            return
        lang = user_lang(interaction)
        await self.quotas.pause(interaction.user.id, paused)
        await say(interaction, t("admin.pause.done" if paused else "admin.resume.done", lang))
        key = "admin.log.pause" if paused else "admin.log.resume"
        await admin_log(self.bot, guild, t(key, guild_lang(guild), user=interaction.user.mention))


async def setup(bot: StoryboardBot) -> None:
    await bot.add_cog(AdminCog(bot))
