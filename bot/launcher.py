"""``storyboard-bot run`` and ``sync``: start the Discord bot (tracker and web server inside)."""

from __future__ import annotations

import logging

from bot.config import Settings

log = logging.getLogger(__name__)


async def run_bot(settings: Settings) -> int:
    """Run until stopped. The tracker and the callback server start in the bot's setup_hook."""
    from bot.client import StoryboardBot

    settings.require("discord.token", "kie.api_key")
    assert settings.discord.token is not None
    bot = StoryboardBot(settings)
    mode = "callbacks" if settings.callbacks_enabled else "polling"
    log.info("starting; kie.ai results by %s", mode)
    async with bot:
        await bot.start(settings.discord.token.get_secret_value())
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
