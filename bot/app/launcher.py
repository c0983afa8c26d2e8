"""``storyboard-bot run`` and ``sync``: start the Discord bot (tracker and web server inside)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.config.settings import Settings

if TYPE_CHECKING:
    from bot.client import BotFactory

log = logging.getLogger(__name__)


async def run_bot(settings: Settings, *, factory: BotFactory | None = None) -> int:
    """Run until stopped. The tracker and the callback server start in the bot's setup_hook;
    :func:`bot.client.run` starts again without Message Content if Discord refuses it."""
    from bot.client import run

    settings.require("discord.token", "kie.api_key")
    assert settings.discord.token is not None
    mode = "callbacks" if settings.callbacks_enabled else "polling"
    log.info("starting; kie.ai results by %s", mode)
    await run(settings, settings.discord.token.get_secret_value(), factory=factory)
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
