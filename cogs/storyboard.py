"""``/storyboard``: the command, and the draft card it posts (with the draft's thread).

Thin: Discord input becomes core calls (grammar, images, drafts) and core results become
messages. The card's buttons are DynamicItems whose custom_id carries the draft or job id, so
they keep working after a restart; the cogs named in ``cogs.utils.views.ACTIONS`` handle them.
The card is redrawn through ``bot.cards`` (cogs/utils/cards.py), here also when a job of the
draft finished (the ``storyboard_job_finished`` event).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import discord
from discord import app_commands
from discord.ext import commands

from bot.db.files import write_private
from bot.domain.shot_grammar import ShotLine, parse_lines, resolve, split_block, split_option
from bot.domain.storyboard import Storyboard, StoryboardError
from bot.drafts.store import Draft
from bot.i18n.strings import error_text, t
from bot.jobs.store import Job
from bot.media.images import ImageError, PreparedImage, prepare_image_async, shrink_to_fit
from bot.models.base import VideoModel
from bot.quota.policy import QuotaRefused
from cogs.utils.cards import CARD_UPLOAD_FLOOR, IMAGE_NAME
from cogs.utils.checks import check_guild_terms, draft_rules, precheck, storage_refusal
from cogs.utils.localization import ls
from cogs.utils.modals import FixView, OnText, ShotsModal
from cogs.utils.ui import THREAD_PERMISSIONS, guild_lang, missing_permissions, user_lang
from cogs.utils.views import (
    ActionButton,
    ChainButton,
    RedoSelect,
    ShotSelect,
    draft_view,
    reply,
    safe_reply,
)

if TYPE_CHECKING:
    from bot.client import StoryboardBot

log = logging.getLogger(__name__)

MIB = 1024 * 1024
THREAD_ARCHIVE_MINUTES: Final = 1440


class StoryboardCog(commands.Cog, name="Storyboard"):
    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot
        # A storyboard longer than the model takes is made in segments: its lengths too.
        lengths = sorted(set(self.rules.limits.lengths))
        param = self.storyboard._params["length"]
        param.choices = [app_commands.Choice(name=f"{n} s", value=n) for n in lengths]
        self.default_length = 15 if 15 in lengths else lengths[-1]

    @property
    def model(self) -> VideoModel:
        """The primary model: its image rules are the reference image's."""
        return self.bot.runtime.models.primary

    @property
    def rules(self) -> VideoModel:
        """The storyboard's rules: the model's, stretched by chaining segments."""
        return draft_rules(self.bot)

    # -- /storyboard ------------------------------------------------------------------------
    @app_commands.command(name="storyboard", description=ls("cmd.storyboard"))
    @app_commands.guild_only()
    @app_commands.describe(
        image=ls("cmd.storyboard.image"),
        shots=ls("cmd.storyboard.shots"),
        length=ls("cmd.storyboard.length"),
        aspect=ls("cmd.storyboard.aspect"),
    )
    @app_commands.choices(
        aspect=[
            app_commands.Choice(name=ls("aspect.landscape"), value="landscape"),
            app_commands.Choice(name=ls("aspect.portrait"), value="portrait"),
        ]
    )
    async def storyboard(
        self,
        interaction: discord.Interaction[Any],
        image: discord.Attachment,
        shots: str | None = None,
        length: int | None = None,
        aspect: str | None = None,
    ) -> None:
        lang = user_lang(interaction)
        channel = interaction.channel
        guild = interaction.guild
        if guild is None or channel is None or isinstance(channel, discord.DMChannel):
            return await reply(interaction, t("error.guild_only", lang))
        missing = missing_permissions(channel, guild.me)  # type: ignore[arg-type]
        if missing:
            return await reply(
                interaction, t("error.missing_permissions", lang, perms=", ".join(missing))
            )
        problem = precheck(image, lang)
        if problem:
            return await reply(interaction, problem)
        length = length or self.default_length

        async def from_text(inter: discord.Interaction[Any], text: str) -> None:
            await self._from_text(inter, text, image, length, aspect, lang)

        if shots is None:
            await interaction.response.send_modal(
                ShotsModal(lang, t("modal.example", lang), from_text)
            )
            return
        try:
            lines = parse_lines(split_option(shots))
            self._check(lines, length, aspect)
        except StoryboardError as exc:
            return await reply(interaction, error_text(exc, lang))
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._create_draft(interaction, image, lines, length, aspect, lang)

    def _check(self, lines: list[ShotLine], length: int, aspect: str | None) -> None:
        """Every storyboard rule that does not need the image (its aspect comes later)."""
        rules = self.rules
        board = Storyboard(
            shots=resolve(lines, length, rules.limits),
            length=length,
            aspect=aspect or "landscape",  # type: ignore[arg-type]
        )
        rules.validate(board)

    async def _from_text(
        self,
        interaction: discord.Interaction[Any],
        text: str,
        image: discord.Attachment,
        length: int,
        aspect: str | None,
        lang: str,
    ) -> None:
        async def again(inter: discord.Interaction[Any], new: str) -> None:
            await self._from_text(inter, new, image, length, aspect, lang)

        try:
            lines = parse_lines(split_block(text))
            self._check(lines, length, aspect)
        except StoryboardError as exc:
            return await self._refuse_text(interaction, exc, text, again, lang)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._create_draft(interaction, image, lines, length, aspect, lang)

    async def _refuse_text(
        self,
        interaction: discord.Interaction[Any],
        exc: StoryboardError,
        text: str,
        again: OnText,
        lang: str,
    ) -> None:
        await reply(
            interaction,
            f"{error_text(exc, lang)}\n{t('error.fix_hint', lang)}",
            view=FixView(lang, lambda: ShotsModal(lang, text, again)),
        )

    async def _create_draft(
        self,
        interaction: discord.Interaction[Any],
        image: discord.Attachment,
        lines: list[ShotLine],
        length: int,
        aspect: str | None,
        lang: str,
    ) -> None:
        try:
            data = await image.read()
            prepared = await prepare_image_async(data, self.model.image_spec)
            rules = self.rules
            board = Storyboard(
                shots=resolve(lines, length, rules.limits),
                length=length,
                aspect=aspect or prepared.orientation,  # type: ignore[arg-type]
            )
            rules.validate(board)
            await check_guild_terms(self.bot, interaction.guild, board)
        except (StoryboardError, QuotaRefused) as exc:
            return await reply(interaction, error_text(exc, lang))
        except ImageError as exc:
            return await reply(interaction, t("error.image", lang, reason=error_text(exc, lang)))
        except discord.HTTPException:
            return await reply(interaction, t("error.unexpected", lang))

        assert interaction.guild is not None and interaction.channel is not None
        guild = interaction.guild
        refusal = await storage_refusal(
            self.bot, guild, interaction.user.id, len(prepared.data), lang, new_draft=True
        )
        if refusal is not None:
            return await reply(interaction, refusal)
        try:
            # What the card shows must fit the server's upload limit (Kling takes 50 MB).
            shown = await shrink_to_fit(prepared, guild.filesize_limit)
        except ImageError as exc:
            refusal = _card_image_refusal(prepared, exc, guild.filesize_limit, lang)
            return await reply(interaction, refusal)
        drafts = self.bot.drafts
        draft = await drafts.create(
            board,
            guild_id=guild.id,
            channel_id=interaction.channel.id,
            author_id=interaction.user.id,
            image_path=None,
            source_id=interaction.id,
        )
        path = (
            Path(self.bot.settings.storage.media_dir)
            / "drafts"
            / f"{draft.id}.{prepared.extension}"
        )
        try:
            await asyncio.to_thread(write_private, path, prepared.data)
            await drafts.update(draft.id, image_path=str(path))
            card = await self._post_card(interaction, draft, prepared, shown)
        except (discord.HTTPException, _CardTooLarge) as exc:
            # No card, no draft: nothing half-made is left behind (nor counts against anyone).
            await self._forget_draft(draft.id, path)
            if isinstance(exc, _CardTooLarge):
                refusal = _card_image_refusal(prepared, exc.reason, exc.limit, lang)
                return await reply(interaction, refusal)
            log.warning("draft %s: the card could not be posted: %s", draft.id, exc)
            return await reply(interaction, t("storage.card_failed", lang, status=exc.status))
        except BaseException:
            await self._forget_draft(draft.id, path)
            raise
        text = t("draft.created", lang, link=card.jump_url)
        if not prepared.untouched:
            text += "\n" + t("draft.image_note", lang, summary=prepared.summary())
        await reply(interaction, text)

    async def _forget_draft(self, draft_id: str, path: Path) -> None:
        await self.bot.drafts.delete(draft_id)
        await asyncio.to_thread(path.unlink, missing_ok=True)

    async def _post_card(
        self,
        interaction: discord.Interaction[Any],
        draft: Draft,
        image: PreparedImage,
        shown: PreparedImage,
    ) -> discord.Message:
        """Post the card with ``shown``, ``image``'s copy that fits the server's upload limit;
        one Discord refuses as too large anyway is tried once more with a smaller copy."""
        channel = interaction.channel
        guild = interaction.guild
        assert isinstance(channel, discord.abc.Messageable) and guild is not None
        glang = guild_lang(guild)
        can_thread = isinstance(channel, discord.TextChannel) and not missing_permissions(
            channel, guild.me, THREAD_PERMISSIONS
        )
        name = IMAGE_NAME.format(ext=image.extension)
        available = await self.bot.cards.availability(draft, glang)
        embed = self.bot.cards.embed(
            draft, glang, has_thread=can_thread, image_name=name, availability=available
        )
        view = draft_view(draft, glang)
        try:
            msg = await channel.send(
                embed=embed, file=discord.File(io.BytesIO(shown.data), filename=name), view=view
            )
        except discord.HTTPException as exc:
            if not (exc.status == 413 or exc.code == 40005):
                raise
            if len(shown.data) <= CARD_UPLOAD_FLOOR:
                raise
            try:
                shown = await shrink_to_fit(image, CARD_UPLOAD_FLOOR)
            except ImageError as error:
                raise _CardTooLarge(error, CARD_UPLOAD_FLOOR) from None
            log.info("draft %s: card refused as too large; posting a smaller copy", draft.id)
            msg = await channel.send(
                embed=embed, file=discord.File(io.BytesIO(shown.data), filename=name), view=view
            )
        try:
            thread_id = None
            if can_thread:
                try:
                    thread = await msg.create_thread(
                        name=t("thread.name", glang, draft=draft.id)[:100],
                        auto_archive_duration=THREAD_ARCHIVE_MINUTES,
                    )
                    thread_id = thread.id
                    await self.bot.drafts.update(
                        draft.id, card_message_id=msg.id, thread_id=thread_id
                    )
                    intro = t("thread.intro", glang, grammar=t("thread.grammar", glang))
                    if not self.bot.reads_content:
                        intro += "\n\n" + t("thread.degraded", glang)
                        await self.bot.drafts.claim_content_notice(draft.id)
                    await thread.send(intro[:2000])
                except discord.HTTPException as exc:
                    log.info("draft %s: no thread (%s)", draft.id, exc)
                    thread_id = None
                    await msg.edit(
                        embed=self.bot.cards.embed(
                            draft, glang, has_thread=False, image_name=name, availability=available
                        )
                    )
            await self.bot.drafts.update(draft.id, card_message_id=msg.id, thread_id=thread_id)
        except BaseException:
            # The draft is forgotten by the caller: so is its card.
            with contextlib.suppress(discord.HTTPException):
                await msg.delete()
            raise
        return msg

    @commands.Cog.listener()
    async def on_storyboard_job_finished(self, job: Job) -> None:
        """The card says whether its author can generate: redraw it when a job of it ends."""
        if job.draft_id is None:
            return
        draft = await self.bot.drafts.get(job.draft_id)
        if draft is not None and draft.active:
            await self.bot.cards.refresh(draft)


class _CardTooLarge(Exception):
    """Discord refused the card's image as too large, and no copy small enough can be made."""

    def __init__(self, reason: ImageError, limit: int) -> None:
        super().__init__(str(reason))
        self.reason = reason
        self.limit = limit


def _card_image_refusal(image: PreparedImage, reason: ImageError, limit: int, lang: str) -> str:
    def mib(n: int) -> str:
        return f"{n / MIB:.1f}".removesuffix(".0")

    return t(
        "storage.card_image",
        lang,
        size=mib(len(image.data)),
        limit=mib(limit),
        reason=error_text(reason, lang),
    )


async def on_app_command_error(
    interaction: discord.Interaction[Any], error: app_commands.AppCommandError
) -> None:
    """No traceback reaches a user: log it, answer privately."""
    log.error("command %s failed", interaction.command and interaction.command.name, exc_info=error)
    await safe_reply(interaction, t("error.unexpected", user_lang(interaction)))


async def setup(bot: StoryboardBot) -> None:
    bot.tree.on_error = on_app_command_error  # type: ignore[method-assign]
    bot.add_dynamic_items(ActionButton, ShotSelect, ChainButton, RedoSelect)
    await bot.add_cog(StoryboardCog(bot))


__all__ = ["StoryboardCog"]
