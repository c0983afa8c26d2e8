"""``/storyboard``: the command, the draft card and its buttons, Generate and the result buttons.

Thin: Discord input becomes core calls (grammar, images, drafts, tracker) and core results
become messages. Buttons are DynamicItems whose custom_id carries the draft or job id, so they
keep working after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.db.files import write_private
from bot.domain.shot_grammar import ShotLine, parse_lines, resolve, split_block, split_option
from bot.domain.storyboard import Storyboard, StoryboardError
from bot.drafts.store import Draft
from bot.i18n.strings import error_text, reason_text, t
from bot.jobs.store import Job, new_id
from bot.kie import KieError, KieUnreachable
from bot.media.images import (
    ImageError,
    PreparedImage,
    prepare_image_async,
    reuse_prepared,
    shrink_to_fit,
    sniff_format,
)
from bot.models.base import VideoModel
from bot.present.cards import draft_card, status_text
from bot.quota.policy import QuotaRefused, check_terms
from bot.storage.retention import StorageRefused, check_room
from cogs.utils.localization import ls
from cogs.utils.modals import FixView, OnText, ShotsModal
from cogs.utils.ui import (
    THREAD_PERMISSIONS,
    admin_log,
    can_edit,
    can_moderate,
    guild_lang,
    missing_permissions,
    to_embed,
    user_lang,
)
from cogs.utils.views import (
    ActionButton,
    ShotSelect,
    draft_view,
    reply,
    safe_reply,
    status_view,
)

if TYPE_CHECKING:
    from bot.client import StoryboardBot

log = logging.getLogger(__name__)

MAX_ATTACHMENT = 50_000_000
MIB = 1024 * 1024
THREAD_ARCHIVE_MINUTES = 1440
IMAGE_NAME = "reference.{ext}"
#: Every guild takes files this large: a card Discord refused as too large is tried again with
#: a copy shrunk to this (the cached guild may still show boosts it just lost).
CARD_UPLOAD_FLOOR = discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
#: Drafts linked in a refusal over the cap on active drafts.
LINKED_DRAFTS = 5


@dataclass(frozen=True)
class Requester:
    """Who asked for a video and how to answer them (privately, or in the draft's thread)."""

    member: discord.Member
    lang: str
    answer: Callable[[str], Awaitable[None]]
    #: Called once the request is understood, before the slow part (a button defers here).
    acknowledge: Callable[[], Awaitable[None]] = field(default=lambda: _nothing())
    #: What to say once it started (``{link}``: the status message, ``{revision}``).
    started: str = "generate.started"


async def _nothing() -> None:
    return None


class StoryboardCog(commands.Cog, name="Storyboard"):
    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot
        # One redraw of a card at a time (a lock lives while someone holds or awaits it).
        self._card_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        lengths = sorted(set(self.model.limits.lengths))
        param = self.storyboard._params["length"]
        param.choices = [app_commands.Choice(name=f"{n} s", value=n) for n in lengths]
        self.default_length = 15 if 15 in lengths else lengths[-1]

    @property
    def model(self) -> VideoModel:
        return self.bot.runtime.models.primary

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
        problem = self.precheck(image, lang)
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
        board = Storyboard(
            shots=resolve(lines, length, self.model.limits),
            length=length,
            aspect=aspect or "landscape",  # type: ignore[arg-type]
        )
        self.model.validate(board)

    async def check_terms(self, guild: discord.Guild | None, board: Storyboard) -> None:
        """The server's blocked terms, checked when a draft is made or edited (and at Generate)."""
        quotas = self.bot.runtime.quotas
        if guild is not None and quotas is not None:
            check_terms(await quotas.get(guild.id), [s.scene for s in board.shots])

    def precheck(self, image: discord.Attachment, lang: str) -> str | None:
        """What Discord's metadata already says about the attachment (before downloading)."""
        kind = image.content_type or "unknown type"
        if image.content_type and not image.content_type.startswith("image/"):
            return t("error.not_image", lang, kind=kind)
        if image.size > MAX_ATTACHMENT:
            return t(
                "error.image_too_large",
                lang,
                size=f"{image.size / 1e6:.1f}",
                max=f"{MAX_ATTACHMENT / 1e6:.0f}",
            )
        return None

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
            board = Storyboard(
                shots=resolve(lines, length, self.model.limits),
                length=length,
                aspect=aspect or prepared.orientation,  # type: ignore[arg-type]
            )
            self.model.validate(board)
            await self.check_terms(interaction.guild, board)
        except (StoryboardError, QuotaRefused) as exc:
            return await reply(interaction, error_text(exc, lang))
        except ImageError as exc:
            return await reply(interaction, t("error.image", lang, reason=str(exc)))
        except discord.HTTPException:
            return await reply(interaction, t("error.unexpected", lang))

        assert interaction.guild is not None and interaction.channel is not None
        guild = interaction.guild
        refusal = await self.storage_refusal(
            guild, interaction.user.id, len(prepared.data), lang, new_draft=True
        )
        if refusal is not None:
            return await reply(interaction, refusal)
        try:
            # What the card shows must fit the server's upload limit (Kling takes 50 MB).
            shown = await shrink_to_fit(prepared, guild.filesize_limit)
        except ImageError as exc:
            refusal = _card_image_refusal(prepared, str(exc), guild.filesize_limit, lang)
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

    async def storage_refusal(
        self, guild: discord.Guild, author_id: int, need: int, lang: str, *, new_draft: bool
    ) -> str | None:
        """Why ``author_id`` may not store ``need`` more bytes here (and, with ``new_draft``,
        open another draft), in ``lang``; None when they may (bot owners have no caps)."""
        quotas = self.bot.runtime.quotas
        retention = self.bot.settings.retention
        drafts_cap = storage_cap = None
        if quotas is not None and not quotas.is_owner(author_id):
            quota = await quotas.get(guild.id)
            drafts_cap = quota.user_active_drafts if new_draft else None
            storage_cap = quota.user_storage_mb
        try:
            await check_room(
                self.bot.runtime.store,
                Path(self.bot.settings.storage.media_dir),
                guild_id=guild.id,
                user_id=author_id,
                need=need,
                now=self.bot.clock.now(),
                days=retention.days,
                active_drafts=drafts_cap,
                storage_mb=storage_cap,
                min_free_mb=retention.min_free_mb,
            )
        except StorageRefused as exc:
            links = " ".join(
                f"https://discord.com/channels/{guild.id}/{channel}/{card}"
                for channel, card in exc.cards[:LINKED_DRAFTS]
            )
            params = {**exc.params, "drafts": f"\n{links}" if links else ""}
            return t(f"storage.{exc.code}", lang, **params)
        return None

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
        assert channel is not None and guild is not None
        glang = guild_lang(guild)
        can_thread = isinstance(channel, discord.TextChannel) and not missing_permissions(
            channel, guild.me, THREAD_PERMISSIONS
        )
        name = IMAGE_NAME.format(ext=image.extension)
        available = await self._availability(draft, glang)
        embed = self._card_embed(
            draft, glang, has_thread=can_thread, image_name=name, availability=available
        )
        view = draft_view(draft, glang)
        try:
            msg = await channel.send(  # type: ignore[union-attr]
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
                raise _CardTooLarge(str(error), CARD_UPLOAD_FLOOR) from None
            log.info("draft %s: card refused as too large; posting a smaller copy", draft.id)
            msg = await channel.send(  # type: ignore[union-attr]
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
                        embed=self._card_embed(
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

    def _card_embed(
        self,
        draft: Draft,
        lang: str,
        *,
        has_thread: bool,
        image_name: str | None = None,
        discarded_by: str | None = None,
        availability: str | None = None,
    ) -> discord.Embed:
        card = draft_card(
            draft_id=draft.id,
            revision=draft.revision,
            board=draft.board,
            model=self.model,
            author_mention=f"<@{draft.author_id}>",
            credit_usd=self.bot.settings.prices.credit_usd,
            lang=lang,
            has_thread=has_thread,
            discarded_by=discarded_by,
            image_removed=bool(draft.image_path) and not Path(draft.image_path or "").exists(),
            availability=availability,
        )
        return to_embed(card, image_name=image_name)

    async def _availability(self, draft: Draft, lang: str) -> str | None:
        """Whether the author could press Generate now, for the card."""
        quotas = self.bot.runtime.quotas
        if quotas is None or draft.guild_id is None or draft.author_id is None:
            return None
        usage = await quotas.usage(
            draft.guild_id, draft.author_id, self.bot.clock.now(), channel_id=draft.channel_id
        )
        if usage.refusal is not None:
            return t("card.blocked", lang, reason=error_text(usage.refusal, lang))
        return t("card.can_generate", lang, user=f"<@{draft.author_id}>")

    async def refresh_card(self, draft: Draft, *, new_image: bool = False) -> None:
        """Redraw an active draft's card (after an edit, or when a job of it ended), always
        from the latest revision, one redraw at a time, so a slow redraw never shows an older
        revision over a newer one. ``new_image``: upload the reference image again."""
        async with self._card_lock(draft.id):
            latest = await self.bot.drafts.get(draft.id)
            if latest is not None and latest.active:  # a discarded card stays as drawn
                await self._refresh_card(latest, new_image=new_image)

    def _card_lock(self, draft_id: str) -> asyncio.Lock:
        lock = self._card_locks.get(draft_id)
        if lock is None:
            lock = self._card_locks[draft_id] = asyncio.Lock()
        return lock

    async def card_parts(
        self, draft: Draft
    ) -> tuple[discord.Embed, discord.File | None, discord.ui.View | None]:
        """The card as it stands (to post again, e.g. for ``show`` in the thread)."""
        guild = self.bot.get_guild(draft.guild_id) if draft.guild_id else None
        lang = guild_lang(guild)
        active = draft.active
        embed = self._card_embed(
            draft,
            lang,
            has_thread=draft.thread_id is not None,
            image_name=self._card_image_name(draft),
            availability=await self._availability(draft, lang) if active else None,
        )
        return embed, await self._image_file(draft), draft_view(draft, lang) if active else None

    async def _image_file(self, draft: Draft) -> discord.File | None:
        name = self._card_image_name(draft)
        if name is None or draft.image_path is None:
            return None
        try:
            data = await asyncio.to_thread(Path(draft.image_path).read_bytes)
        except OSError:
            return None
        guild = self.bot.get_guild(draft.guild_id) if draft.guild_id else None
        limit = guild.filesize_limit if guild is not None else CARD_UPLOAD_FLOOR
        if len(data) > limit:  # the card's copy must fit the server's upload limit
            fmt = sniff_format(data)
            try:
                if fmt is None:
                    raise ImageError("it is not an image any more")
                stored = PreparedImage(data, fmt, 0, 0, fmt, len(data))
                data = (await shrink_to_fit(stored, limit)).data
            except ImageError as exc:
                log.info("draft %s: image left off the card: %s", draft.id, exc)
                return None
        return discord.File(io.BytesIO(data), filename=name)

    async def _refresh_card(
        self, draft: Draft, *, discarded_by: str | None = None, new_image: bool = False
    ) -> None:
        if draft.card_message_id is None or draft.channel_id is None:
            return
        channel = self.bot.get_channel(draft.channel_id)
        if channel is None or not hasattr(channel, "get_partial_message"):
            return
        guild = self.bot.get_guild(draft.guild_id) if draft.guild_id else None
        lang = guild_lang(guild)
        embed = self._card_embed(
            draft,
            lang,
            has_thread=draft.thread_id is not None,
            discarded_by=discarded_by,
            image_name=self._card_image_name(draft),
            availability=None if discarded_by else await self._availability(draft, lang),
        )
        view = None if discarded_by else draft_view(draft, lang)
        kwargs: dict[str, Any] = {"embed": embed, "view": view}
        if new_image and (file := await self._image_file(draft)) is not None:
            kwargs["attachments"] = [file]
        try:
            await channel.get_partial_message(draft.card_message_id).edit(**kwargs)
        except discord.HTTPException as exc:
            log.info("draft %s: card not updated: %s", draft.id, exc)

    @staticmethod
    def _card_image_name(draft: Draft) -> str | None:
        if not draft.image_path:
            return None
        return IMAGE_NAME.format(ext=Path(draft.image_path).suffix.lstrip("."))

    # -- buttons ----------------------------------------------------------------------------
    async def on_action(
        self, interaction: discord.Interaction[Any], action: str, target: str
    ) -> None:
        handler = {
            "gen": self._generate,
            "discard": self._discard,
            "regen": self._regenerate,
            "delete": self._delete,
            "dl": self._download,
            "cancel": self._cancel,
        }[action]
        await handler(interaction, target)

    async def draft_for(
        self, interaction: discord.Interaction[Any], draft_id: str, *, editors: bool = True
    ) -> Draft | None:
        """The draft a control acts on, or None after telling the member why not. ``editors``:
        members the author added may use it too (not so for Discard)."""
        lang = user_lang(interaction)
        draft = await self.bot.drafts.get(draft_id)
        if draft is None:
            await reply(interaction, t("error.draft_gone", lang))
            return None
        allowed = (
            await can_edit(
                self.bot.drafts,
                draft,
                interaction.user.id,
                getattr(interaction, "permissions", None),
            )
            if editors
            else can_moderate(interaction, draft.author_id)
        )
        if not allowed:
            key = "error.not_editor" if editors else "error.not_author"
            await reply(interaction, t(key, lang, author=f"<@{draft.author_id}>"))
            return None
        if not draft.active:
            await reply(interaction, t("error.draft_discarded", lang))
            return None
        return draft

    async def _job_for(self, interaction: discord.Interaction[Any], job_id: str) -> Job | None:
        lang = user_lang(interaction)
        job = await self.bot.runtime.store.get_job(job_id)
        if job is None:
            await reply(interaction, t("error.job_gone", lang))
            return None
        if not can_moderate(interaction, job.owner_id):
            await reply(interaction, t("error.not_author", lang))
            return None
        return job

    async def _generate(self, interaction: discord.Interaction[Any], draft_id: str) -> None:
        draft = await self.draft_for(interaction, draft_id)
        who = await self._requester(interaction) if draft is not None else None
        if draft is None or who is None:
            return
        await self.generate_draft(who, draft, interaction.channel)  # type: ignore[arg-type]

    async def _regenerate(self, interaction: discord.Interaction[Any], job_id: str) -> None:
        job = await self._job_for(interaction, job_id)
        who = await self._requester(interaction) if job is not None else None
        if job is None or who is None:
            return
        await self.generate(
            who,
            self._job_channel(job.channel_id) or interaction.channel,  # type: ignore[arg-type]
            job.storyboard,
            job.image_path,
            draft_id=job.draft_id,
            revision=job.revision,
            card_message_id=job.card_message_id,
        )

    async def _requester(self, interaction: discord.Interaction[Any]) -> Requester | None:
        """A button's presser, answered privately; None (and told why) outside a server."""
        lang = user_lang(interaction)
        if (
            interaction.guild is None
            or interaction.channel is None
            or not isinstance(interaction.user, discord.Member)
        ):
            await reply(interaction, t("error.guild_only", lang))
            return None

        async def answer(text: str) -> None:
            await reply(interaction, text)

        async def acknowledge() -> None:
            # Answer Discord first: the reservation may wait on the database.
            await interaction.response.defer(ephemeral=True, thinking=True)

        return Requester(interaction.user, lang, answer, acknowledge)

    async def generate_draft(
        self, who: Requester, draft: Draft, here: discord.abc.Messageable
    ) -> discord.Message | None:
        """Generate a draft's current revision. Its jobs post in the card's channel (``here``
        only when that channel is gone), as replies to the card."""
        return await self.generate(
            who,
            self._job_channel(draft.channel_id) or here,
            draft.board,
            draft.image_path,
            draft_id=draft.id,
            revision=draft.revision,
            card_message_id=draft.card_message_id,
        )

    def _job_channel(self, channel_id: int | None) -> discord.abc.Messageable | None:
        """Where a draft's jobs post: the card's channel (a button may be pressed elsewhere)."""
        if channel_id is None:
            return None
        channel = self.bot.get_channel(channel_id)
        return channel if isinstance(channel, discord.abc.Messageable) else None

    async def generate(
        self,
        who: Requester,
        channel: discord.abc.Messageable,
        board: Storyboard,
        image_path: str | None,
        *,
        draft_id: str | None,
        revision: int | None,
        card_message_id: int | None,
    ) -> discord.Message | None:
        """Generate: checks, the quota, the status message, then the job (which the tracker
        follows). ``who`` is answered (privately from a button, in the thread from a word).
        Returns the status message, or None when nothing was started."""
        lang = who.lang
        guild = who.member.guild
        if not image_path or not await asyncio.to_thread(Path(image_path).exists):
            await who.answer(t("error.image_gone", lang))
            return None
        try:
            self.model.validate(board)
        except StoryboardError as exc:
            await who.answer(error_text(exc, lang))
            return None
        tracker = self.bot.runtime.tracker
        quotas = self.bot.runtime.quotas
        assert quotas is not None
        model = tracker.model_for(board)
        job_id = new_id()
        await who.acknowledge()
        try:
            # One write transaction checks every limit and records the reservation.
            await quotas.reserve(
                job_id=job_id,
                guild_id=guild.id,
                user_id=who.member.id,
                channel_id=getattr(channel, "id", None),
                role_ids=[r.id for r in who.member.roles],
                board=board,
                model_name=model.name,
                credits=model.price(board),
                now=self.bot.clock.now(),
                options=model.options,
            )
        except QuotaRefused as exc:
            await who.answer(error_text(exc, lang))
            text = t(
                "log.refused",
                guild_lang(guild),
                user=who.member.mention,
                reason=error_text(exc, guild_lang(guild)),
            )
            await admin_log(self.bot, guild, text)
            return None
        try:
            status = await self._submit(
                who,
                channel,
                board,
                image_path,
                job_id,
                model,
                draft_id=draft_id,
                revision=revision,
                card_message_id=card_message_id,
            )
        except BaseException:
            # Whatever went wrong before the job started: it never will (a stored job is
            # cancelled, so a restart does not start it), and nothing was spent.
            if not await tracker.cancel(job_id):
                await quotas.settle(job_id, outcome="cancelled")
            raise
        if status is not None:
            await who.answer(t(who.started, lang, link=status.jump_url, revision=revision))
            draft = await self.bot.drafts.get(draft_id) if draft_id else None
            if draft is not None and draft.active:
                await self.refresh_card(draft)
        return status

    async def _submit(
        self,
        who: Requester,
        channel: discord.abc.Messageable,
        board: Storyboard,
        image_path: str,
        job_id: str,
        model: VideoModel,
        *,
        draft_id: str | None,
        revision: int | None,
        card_message_id: int | None,
    ) -> discord.Message | None:
        """Post the status message, then hand the job to the tracker. None: not submitted
        (the member was told why, and the caller releases the reservation)."""
        lang = who.lang
        guild = who.member.guild
        quotas = self.bot.runtime.quotas
        assert quotas is not None
        data = await asyncio.to_thread(Path(image_path).read_bytes)
        # The draft's image was prepared when it was stored: not decoded again here.
        image = reuse_prepared(data, self.model.image_spec) or await prepare_image_async(
            data, self.model.image_spec
        )
        glang = guild_lang(guild)
        tracker = self.bot.runtime.tracker
        # The job is stored first (holding its reservation, not yet started), then its status
        # is posted, then it starts: a crash at any point leaves a job that a restart finishes
        # (and gives the status message it lacks), never a reservation without a job.
        try:
            job = await tracker.submit(
                board,
                image,
                origin="discord",
                model=model.name,
                hold=True,
                id=job_id,
                owner_id=who.member.id,
                guild_id=guild.id,
                channel_id=getattr(channel, "id", None),
                draft_id=draft_id,
                revision=revision,
                card_message_id=card_message_id,
            )
        except StoryboardError as exc:
            await quotas.settle(job_id, outcome="refused")
            await who.answer(error_text(exc, lang))
            return None
        kwargs: dict[str, Any] = {
            "content": status_text(job, glang),
            "view": status_view(job, glang),
        }
        if card_message_id is not None and hasattr(channel, "get_partial_message"):
            kwargs["reference"] = channel.get_partial_message(  # type: ignore[attr-defined]
                card_message_id
            ).to_reference(fail_if_not_exists=False)
        try:
            status = await channel.send(**kwargs)
        except discord.HTTPException as exc:
            await tracker.cancel(job_id)  # never sent: the reservation is released
            if not isinstance(exc, discord.Forbidden):
                log.warning("job %s: could not post its status message: %s", job_id, exc)
                await who.answer(t("error.unexpected", lang))
                return None
            missing = (
                missing_permissions(channel, guild.me)  # type: ignore[arg-type]
                or ["Send Messages"]
            )
            await who.answer(t("error.missing_permissions", lang, perms=", ".join(missing)))
            return None
        await tracker.release(job_id, status_message_id=status.id, channel_id=status.channel.id)
        return status

    async def _discard(self, interaction: discord.Interaction[Any], draft_id: str) -> None:
        draft = await self.draft_for(interaction, draft_id, editors=False)
        if draft is None:
            return
        async with self._card_lock(draft.id):
            await self.bot.drafts.update(draft.id, state="discarded")
            await reply(interaction, t("draft.discarded", user_lang(interaction)))
            await self._refresh_card(draft, discarded_by=interaction.user.mention)
        if draft.thread_id:
            try:
                # An archived thread is not in the cache: fetch it.
                thread = self.bot.get_channel(draft.thread_id) or await self.bot.fetch_channel(
                    draft.thread_id
                )
                if isinstance(thread, discord.Thread):
                    await thread.edit(locked=True, archived=True)
            except discord.HTTPException as exc:
                log.info("draft %s: thread not locked: %s", draft.id, exc)

    async def _delete(self, interaction: discord.Interaction[Any], job_id: str) -> None:
        job = await self._job_for(interaction, job_id)
        if job is None or interaction.message is None:
            return
        await reply(interaction, t("delete.done", user_lang(interaction)))
        await interaction.message.delete()

    async def _download(self, interaction: discord.Interaction[Any], job_id: str) -> None:
        # Like the other result buttons: the author or a moderator. Each press asks kie.ai for
        # a fresh link, which no one else's clicks should spend.
        lang = user_lang(interaction)
        job = await self._job_for(interaction, job_id)
        if job is None:
            return
        if not job.result_url:
            return await reply(interaction, t("error.job_gone", lang))
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            url = await self.bot.runtime.kie.download_url(job.result_url)
        except KieError as exc:
            log.warning("job %s: download-url failed: %s", job.id, exc.meaning)
            reason = reason_text(exc.reason, None, lang)
            return await reply(interaction, t("download.failed", lang, reason=reason))
        except KieUnreachable as exc:
            log.warning("job %s: download-url failed: %s", job.id, exc)
            reason = reason_text("unreachable", {"host": exc.host}, lang)
            return await reply(interaction, t("download.failed", lang, reason=reason))
        await reply(interaction, t("download.link", lang, url=url))

    async def _cancel(self, interaction: discord.Interaction[Any], job_id: str) -> None:
        job = await self._job_for(interaction, job_id)
        if job is None:
            return
        lang = user_lang(interaction)
        if await self.bot.runtime.tracker.cancel(job.id):
            await reply(interaction, t("cancel.done", lang))
        else:
            await reply(interaction, t("cancel.too_late", lang))


class _CardTooLarge(Exception):
    """Discord refused the card's image as too large, and no copy small enough can be made."""

    def __init__(self, reason: str, limit: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.limit = limit


def _card_image_refusal(image: PreparedImage, reason: str, limit: int, lang: str) -> str:
    def mib(n: int) -> str:
        return f"{n / MIB:.1f}".removesuffix(".0")

    return t("storage.card_image", lang, size=mib(len(image.data)), limit=mib(limit), reason=reason)


async def on_app_command_error(
    interaction: discord.Interaction[Any], error: app_commands.AppCommandError
) -> None:
    """No traceback reaches a user: log it, answer privately."""
    log.error("command %s failed", interaction.command and interaction.command.name, exc_info=error)
    await safe_reply(interaction, t("error.unexpected", user_lang(interaction)))


async def setup(bot: StoryboardBot) -> None:
    bot.tree.on_error = on_app_command_error  # type: ignore[method-assign]
    bot.add_dynamic_items(ActionButton, ShotSelect)
    await bot.add_cog(StoryboardCog(bot))


__all__ = ["Requester", "StoryboardCog"]
