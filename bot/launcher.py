"""``storyboard-bot run`` and ``sync``: start the Discord bot (tracker and web server inside)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.config import Settings

if TYPE_CHECKING:
    from bot.client import StoryboardBot

log = logging.getLogger(__name__)

#: Logged once when Discord refuses the privileged intent and the bot restarts without it.
DEGRADED_WARNING = (
    "Discord refused the Message Content intent; running without it: thread edits need a ping "
    "or the card's buttons. Fix: Developer Portal > your application > Bot > Privileged "
    "Gateway Intents > Message Content, or set DISCORD_MESSAGE_CONTENT=false to silence this"
)

BotFactory = Callable[..., "StoryboardBot"]


async def run_bot(settings: Settings, *, factory: BotFactory | None = None) -> int:
    """Run until stopped. The tracker and the callback server start in the bot's setup_hook.

    When the setting asks for the Message Content intent and the Developer Portal does not
    grant it, Discord closes the gateway (``PrivilegedIntentsRequired``) after ``login`` has
    run setup_hook. That bot is closed completely (tracker, web server, store) and a new one
    starts without the intent, once: if that one fails too, the error propagates.
    ``factory`` builds the bot as ``factory(settings, message_content=...)``.
    """
    import discord

    from bot.client import StoryboardBot

    settings.require("discord.token", "kie.api_key")
    assert settings.discord.token is not None
    token = settings.discord.token.get_secret_value()
    build: BotFactory = factory or StoryboardBot
    mode = "callbacks" if settings.callbacks_enabled else "polling"
    log.info("starting; kie.ai results by %s", mode)
    bot = build(settings, message_content=settings.discord.message_content)
    try:
        async with bot:  # leaving it closes the bot, and the bot closes its runtime
            await bot.start(token)
        return 0
    except discord.PrivilegedIntentsRequired:
        if not bot.intents.message_content:
            raise  # nothing left to give up: not ours to work around
    log.warning(DEGRADED_WARNING)
    bot = build(settings, message_content=False)
    async with bot:
        await bot.start(token)
    return 0


async def sync_commands(settings: Settings, guild: int | None) -> int:
    """Log in, sync the slash commands (globally or to one guild), and exit."""
    from bot.client import StoryboardBot

    settings.require("discord.token")
    assert settings.discord.token is not None
    bot = StoryboardBot(settings, sync_only=True, sync_guild=guild)
    async with bot:
        await bot.login(settings.discord.token.get_secret_value())  # setup_hook syncs
    print(f"slash commands synced {'to guild ' + str(guild) if guild else 'globally'}")
    return 0
