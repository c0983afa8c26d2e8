"""The draft card on Discord: its embed, its image, and redrawing it, one redraw at a time.

One :class:`Cards` per bot (``bot.cards``): every cog that changes a draft redraws its card
through it, so a slow redraw never shows an older revision over a newer one.
"""

from __future__ import annotations

import asyncio
import io
import logging
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord

from bot.chain.plan import Plan
from bot.domain.errors import Ref
from bot.domain.storyboard import StoryboardError
from bot.drafts.store import Draft
from bot.i18n.strings import error_text, t
from bot.media.images import ImageError, PreparedImage, shrink_to_fit, sniff_format
from bot.models.base import VideoModel
from bot.present.cards import draft_card
from cogs.utils.checks import draft_rules
from cogs.utils.ui import guild_lang, to_embed
from cogs.utils.views import draft_view

if TYPE_CHECKING:
    from bot.client import StoryboardBot

log = logging.getLogger(__name__)

IMAGE_NAME = "reference.{ext}"
#: Every guild takes files this large: a card Discord refused as too large is tried again with
#: a copy shrunk to this (the cached guild may still show boosts it just lost).
CARD_UPLOAD_FLOOR = discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES


def card_image_name(draft: Draft) -> str | None:
    """The card's attachment name for the draft's image (None: the draft has none)."""
    if not draft.image_path:
        return None
    return IMAGE_NAME.format(ext=Path(draft.image_path).suffix.lstrip("."))


class Cards:
    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot
        # One redraw of a card at a time (a lock lives while someone holds or awaits it).
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def lock(self, draft_id: str) -> asyncio.Lock:
        """Held while a card is redrawn (or its draft is discarded)."""
        lock = self._locks.get(draft_id)
        if lock is None:
            lock = self._locks[draft_id] = asyncio.Lock()
        return lock

    def embed(
        self,
        draft: Draft,
        lang: str,
        *,
        has_thread: bool,
        image_name: str | None = None,
        discarded_by: str | None = None,
        availability: str | None = None,
    ) -> discord.Embed:
        model, plan = self.plan(draft)
        card = draft_card(
            draft_id=draft.id,
            revision=draft.revision,
            board=draft.board,
            model=model,
            plan=plan,
            author_mention=f"<@{draft.author_id}>",
            credit_usd=self.bot.settings.prices.credit_usd,
            lang=lang,
            has_thread=has_thread,
            discarded_by=discarded_by,
            image_removed=bool(draft.image_path) and not Path(draft.image_path or "").exists(),
            availability=availability,
        )
        return to_embed(card, image_name=image_name)

    def plan(self, draft: Draft) -> tuple[VideoModel, Plan | None]:
        """The model Generate would send the draft to and its plan of segments (None: it
        breaks a rule now, e.g. the model that was free became unavailable)."""
        models = self.bot.runtime.models
        try:
            plan = draft_rules(self.bot).plan(draft.board)
        except StoryboardError:
            return models.primary, None
        return models.get(plan.model), plan

    async def availability(self, draft: Draft, lang: str) -> str | None:
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

    async def refresh(self, draft: Draft, *, new_image: bool = False) -> None:
        """Redraw an active draft's card (after an edit, or when a job of it ended), always
        from the latest revision. ``new_image``: upload the reference image again."""
        async with self.lock(draft.id):
            latest = await self.bot.drafts.get(draft.id)
            if latest is not None and latest.active:  # a discarded card stays as drawn
                await self.redraw(latest, new_image=new_image)

    async def parts(
        self, draft: Draft
    ) -> tuple[discord.Embed, discord.File | None, discord.ui.View | None]:
        """The card as it stands (to post again, e.g. for ``show`` in the thread)."""
        guild = self.bot.get_guild(draft.guild_id) if draft.guild_id else None
        lang = guild_lang(guild)
        active = draft.active
        embed = self.embed(
            draft,
            lang,
            has_thread=draft.thread_id is not None,
            image_name=card_image_name(draft),
            availability=await self.availability(draft, lang) if active else None,
        )
        return embed, await self._image_file(draft), draft_view(draft, lang) if active else None

    async def _image_file(self, draft: Draft) -> discord.File | None:
        name = card_image_name(draft)
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
                    raise ImageError("not_image", what=Ref("image.kind.unknown"))
                stored = PreparedImage(data, fmt, 0, 0, fmt, len(data))
                data = (await shrink_to_fit(stored, limit)).data
            except ImageError as exc:
                log.info("draft %s: image left off the card: %s", draft.id, exc)
                return None
        return discord.File(io.BytesIO(data), filename=name)

    async def redraw(
        self, draft: Draft, *, discarded_by: str | None = None, new_image: bool = False
    ) -> None:
        """Edit the card to show ``draft`` as given; call it holding :meth:`lock`."""
        if draft.card_message_id is None or draft.channel_id is None:
            return
        channel = self.bot.get_channel(draft.channel_id)
        if not isinstance(channel, discord.abc.Messageable) or not hasattr(
            channel, "get_partial_message"
        ):
            return
        guild = self.bot.get_guild(draft.guild_id) if draft.guild_id else None
        lang = guild_lang(guild)
        embed = self.embed(
            draft,
            lang,
            has_thread=draft.thread_id is not None,
            discarded_by=discarded_by,
            image_name=card_image_name(draft),
            availability=None if discarded_by else await self.availability(draft, lang),
        )
        view = None if discarded_by else draft_view(draft, lang)
        kwargs: dict[str, Any] = {"embed": embed, "view": view}
        if new_image and (file := await self._image_file(draft)) is not None:
            kwargs["attachments"] = [file]
        try:
            await channel.get_partial_message(draft.card_message_id).edit(**kwargs)
        except discord.HTTPException as exc:
            log.info("draft %s: card not updated: %s", draft.id, exc)
