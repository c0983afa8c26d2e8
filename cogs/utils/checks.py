"""The checks a new draft, an edit or a new image passes before anything is stored: what
Discord says of an attachment, the storyboard's rules (the model's, stretched by chaining
segments: :func:`draft_rules`), the server's blocked terms, and a member's room to store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import discord

from bot.domain.storyboard import Storyboard
from bot.drafts.editing import Check
from bot.i18n.strings import t
from bot.jobs.intake import DraftRules
from bot.quota.policy import check_terms
from bot.storage.retention import StorageRefused, check_room

if TYPE_CHECKING:
    from bot.client import StoryboardBot

MAX_ATTACHMENT = 50_000_000
#: Drafts linked in a refusal over the cap on active drafts.
LINKED_DRAFTS = 5


def draft_rules(bot: StoryboardBot) -> DraftRules:
    """The rules a draft follows: the primary model's, for storyboards up to the product's
    maximum, checked and priced by the plan of segments Generate would make."""
    runtime = bot.runtime
    return DraftRules(runtime.tracker, lambda: runtime.models.primary)


def precheck(image: discord.Attachment, lang: str) -> str | None:
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


async def check_guild_terms(
    bot: StoryboardBot, guild: discord.Guild | None, board: Storyboard
) -> None:
    """The server's blocked terms, checked when a draft is made or edited (and at Generate).
    Raises QuotaRefused."""
    quotas = bot.runtime.quotas
    if guild is not None and quotas is not None:
        check_terms(await quotas.get(guild.id), [s.scene for s in board.shots])


def terms_check(bot: StoryboardBot, guild: discord.Guild | None) -> Check:
    """The server's blocked terms, as a check every edit must pass."""

    async def check(board: Storyboard) -> None:
        await check_guild_terms(bot, guild, board)

    return check


async def storage_refusal(
    bot: StoryboardBot,
    guild: discord.Guild,
    author_id: int,
    need: int,
    lang: str,
    *,
    new_draft: bool,
) -> str | None:
    """Why ``author_id`` may not store ``need`` more bytes here (and, with ``new_draft``,
    open another draft), in ``lang``; None when they may (bot owners have no caps)."""
    quotas = bot.runtime.quotas
    retention = bot.settings.retention
    drafts_cap = storage_cap = None
    if quotas is not None and not quotas.is_owner(author_id):
        quota = await quotas.get(guild.id)
        drafts_cap = quota.user_active_drafts if new_draft else None
        storage_cap = quota.user_storage_mb
    try:
        await check_room(
            bot.runtime.store,
            Path(bot.settings.storage.media_dir),
            guild_id=guild.id,
            user_id=author_id,
            need=need,
            now=bot.clock.now(),
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
