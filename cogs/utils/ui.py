"""Shared Discord pieces: languages, permissions, embeds and the persistent buttons' ids."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.drafts.store import Draft, Drafts
from bot.i18n.strings import lang_of
from bot.present.cards import Card

if TYPE_CHECKING:
    from bot.client import StoryboardBot

log = logging.getLogger(__name__)

# What the bot needs in a channel, and the invite URL's permission integer (see the README).
REQUIRED_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    add_reactions=True,
    create_public_threads=True,
    send_messages_in_threads=True,
    manage_threads=True,
)

# What /storyboard needs to post a card; threads are optional (the card works without one).
CARD_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
)
THREAD_PERMISSIONS = discord.Permissions(create_public_threads=True, send_messages_in_threads=True)
assert CARD_PERMISSIONS.is_subset(REQUIRED_PERMISSIONS)


def user_lang(interaction: discord.Interaction) -> str:
    """Private answers follow the user's client language."""
    return lang_of(interaction.locale)


def guild_lang(guild: discord.Guild | None) -> str:
    """Public messages (card, status, result) follow the server's language."""
    return lang_of(guild.preferred_locale if guild else None)


def missing_permissions(
    channel: discord.abc.GuildChannel | discord.Thread,
    member: discord.Member,
    needed: discord.Permissions = CARD_PERMISSIONS,
) -> list[str]:
    have = channel.permissions_for(member)
    return [
        name.replace("_", " ").title()
        for name, value in needed
        if value and not getattr(have, name)
    ]


def can_moderate(interaction: discord.Interaction, owner_id: int | None) -> bool:
    """The author, or a member with Manage Messages in this channel."""
    if owner_id is not None and interaction.user.id == owner_id:
        return True
    perms = getattr(interaction, "permissions", None)
    return bool(perms and perms.manage_messages)


async def can_edit(
    drafts: Drafts, draft: Draft, user_id: int, permissions: discord.Permissions | None
) -> bool:
    """Who may edit a draft: its author, members with Manage Messages, and members the author
    added (``add @user`` in the thread)."""
    if user_id == draft.author_id or (permissions is not None and permissions.manage_messages):
        return True
    return user_id in await drafts.editors(draft.id)


def to_embed(card: Card, *, image_name: str | None = None) -> discord.Embed:
    embed = discord.Embed(title=card.title, description=card.description, color=card.color)
    for name, value, inline in card.fields:
        embed.add_field(name=name, value=value, inline=inline)
    if card.footer:
        embed.set_footer(text=card.footer)
    if image_name:
        embed.set_image(url=f"attachment://{image_name}")
    return embed


def message_link(guild_id: int | None, channel_id: int | None, message_id: int | None) -> str:
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


async def admin_log(bot: StoryboardBot, guild: discord.Guild, text: str) -> None:
    """A line in the guild's admin log channel, if it has one. Pings nobody; never raises."""
    quotas = bot.runtime.quotas
    if quotas is None:
        return
    try:
        channel_id = (await quotas.get(guild.id)).log_channel
        if channel_id is None:
            return
        channel = guild.get_channel_or_thread(channel_id) or await guild.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            log.warning("guild %s: log channel %s cannot receive messages", guild.id, channel_id)
            return
        await channel.send(text[:2000], allowed_mentions=discord.AllowedMentions.none())
    except Exception:
        log.warning("guild %s: could not post to the admin log channel", guild.id, exc_info=True)
