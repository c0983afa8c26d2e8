"""Discord-level fixtures: the real bot under simcord, an in-memory kie.ai, a temp database."""

from __future__ import annotations

from pathlib import Path

import discord
import pytest

from bot.client import StoryboardBot
from bot.config.settings import Settings
from tests.fakes.memkie import URL, MemoryKie
from tests.helpers import make_settings


def sim_now() -> float:
    return discord.utils.utcnow().timestamp()


@pytest.fixture
def bot_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, URL)


@pytest.fixture
def memkie() -> MemoryKie:
    return MemoryKie(sim_now)


@pytest.fixture
async def make_bot(bot_settings: Settings, memkie: MemoryKie):
    """Builds bots; after the test (and simcord's detach) each one's runtime is closed, so no
    database connection outlives its event loop."""
    built: list[StoryboardBot] = []

    def build(settings: Settings | None = None, **kwargs) -> StoryboardBot:
        bot = StoryboardBot(settings or bot_settings, kie=memkie, serve_http=False, **kwargs)
        built.append(bot)
        return bot

    yield build
    for bot in built:
        runtime = getattr(bot, "runtime", None)
        if runtime is not None:
            await runtime.close()


@pytest.fixture
def simcord_bot(make_bot) -> StoryboardBot:
    return make_bot()
