"""``run_bot``: a portal that refuses the Message Content intent restarts the bot without it.

The bots are real StoryboardBots (real runtime: store, tracker, callback web server on a real
local port) with only Discord's side cut off: ``login`` runs setup_hook without HTTP, and
``connect`` plays the gateway, refusing the privileged intent the way discord.py reports it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.app.launcher import run_bot
from bot.client import StoryboardBot
from bot.config.settings import Settings
from bot.db.connection import CONTENT_MODE_KEY
from bot.jobs.store import Store
from tests.fakes.memkie import URL, MemoryKie
from tests.helpers import free_port, make_settings


class OfflineBot(StoryboardBot):
    """Discord grants the intent: ``connect`` returns at once (so ``start`` returns)."""

    refuses = False  # the portal's answer to MESSAGE_CONTENT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connected = False
        self.tracker_task: asyncio.Task[None] | None = None
        self.bound: list[int] = []

    async def login(self, token: str) -> None:
        await self.setup_hook()  # no HTTP: straight to the runtime

    async def sync_commands(self, *, force: bool = False, guild: int | None = None) -> bool:
        return False

    async def _learn_owners(self) -> None:
        return None

    async def connect(self, *, reconnect: bool = True) -> None:
        # What setup_hook started, seen while it runs.
        self.tracker_task = self.runtime.tracker._loop_task
        web = self.runtime.web
        assert web is not None and web._runner is not None
        self.bound = [addr[1] for addr in web._runner.addresses]
        if self.intents.message_content and self.refuses:
            raise discord.PrivilegedIntentsRequired(shard_id=None)
        self.connected = True


class RefusingBot(OfflineBot):
    """The portal does not grant Message Content (discord.py raises from ``connect``)."""

    refuses = True


class BrokenBot(OfflineBot):
    """Every gateway connection fails the same way, whatever the intents."""

    async def connect(self, *, reconnect: bool = True) -> None:
        await super().connect(reconnect=reconnect)
        raise discord.PrivilegedIntentsRequired(shard_id=None)


@dataclass
class Seen:
    """The previous bot's state at the moment the next one is built."""

    closed: bool
    tracker_done: bool
    web_stopped: bool
    port_free: bool


class Factory:
    def __init__(self, cls: type[OfflineBot], kie: MemoryKie) -> None:
        self.cls = cls
        self.kie = kie
        self.bots: list[OfflineBot] = []
        self.calls: list[bool | None] = []
        self.seen: list[Seen] = []

    def __call__(self, settings: Settings, *, message_content: bool | None = None) -> OfflineBot:
        self.calls.append(message_content)
        if self.bots:
            prev = self.bots[-1]
            web = prev.runtime.web
            assert web is not None and prev.tracker_task is not None
            self.seen.append(
                Seen(
                    closed=prev.is_closed(),
                    tracker_done=prev.tracker_task.done(),
                    web_stopped=web._runner is None,
                    port_free=_port_free(settings.http.port),
                )
            )
        bot = self.cls(settings, kie=self.kie, serve_http=True, message_content=message_content)
        self.bots.append(bot)
        return bot


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def settings(tmp_path: Path, port: int) -> Settings:
    return make_settings(
        tmp_path,
        URL,
        discord={"token": "test-token"},
        http={"host": "127.0.0.1", "port": port},
    )


@pytest.fixture
def memkie() -> MemoryKie:
    return MemoryKie(time.time)


async def _last_mode(settings: Settings) -> str | None:
    store = await Store.open(settings.storage.db)
    try:
        return await store.get_meta(CONTENT_MODE_KEY)
    finally:
        await store.close()


def _launcher_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.levelno >= logging.WARNING and "Message Content" in r.message
    ]


async def test_refused_intent_restarts_once_without_it(settings, memkie, port, caplog):
    caplog.set_level(logging.INFO)
    factory = Factory(RefusingBot, memkie)

    assert await run_bot(settings, factory=factory) == 0

    first, second = factory.bots
    assert factory.calls == [True, False]
    # (a) the second bot runs without the intent, degraded, and says so in the database.
    assert first.intents.message_content and first.content_mode == "full"
    assert not second.intents.message_content
    assert second.content_degraded and second.content_mode == "degraded"
    assert second.connected and not first.connected
    assert await _last_mode(settings) == "degraded"
    # (b) the first bot was closed completely before the second was built ...
    [seen] = factory.seen
    assert seen.closed and seen.tracker_done and seen.web_stopped and seen.port_free
    assert first.tracker_task is not None and first.tracker_task.done()
    assert first.runtime.tracker._loop_task is None
    with pytest.raises(ValueError):  # aiosqlite: the store's connection is closed
        await first.runtime.store.get_meta(CONTENT_MODE_KEY)
    # ... so the second bound the very same port, and both really listened on it.
    assert first.bound == [port] and second.bound == [port]
    assert second.is_closed() and second.tracker_task is not None and second.tracker_task.done()
    # (c) one warning, with the fix.
    [warning] = _launcher_warnings(caplog)
    assert warning.levelno == logging.WARNING and warning.name == "bot.client"
    assert "Privileged Gateway Intents" in warning.message
    assert "DISCORD_MESSAGE_CONTENT=false" in warning.message


async def test_a_second_failure_propagates_without_a_third_attempt(settings, memkie, caplog):
    caplog.set_level(logging.INFO)
    factory = Factory(BrokenBot, memkie)

    with pytest.raises(discord.PrivilegedIntentsRequired):
        await run_bot(settings, factory=factory)

    assert factory.calls == [True, False]
    assert len(factory.bots) == 2
    assert all(bot.is_closed() for bot in factory.bots)
    assert all(bot.tracker_task is not None and bot.tracker_task.done() for bot in factory.bots)
    assert len(_launcher_warnings(caplog)) == 1


async def test_granted_intent_runs_one_bot_in_full_mode(settings, memkie, caplog):
    caplog.set_level(logging.INFO)
    factory = Factory(OfflineBot, memkie)

    assert await run_bot(settings, factory=factory) == 0

    [bot] = factory.bots
    assert factory.calls == [True]
    assert bot.connected and bot.content_mode == "full"
    assert await _last_mode(settings) == "full"
    assert _launcher_warnings(caplog) == []


async def test_setting_off_asks_for_nothing_and_never_retries(settings, memkie, caplog):
    caplog.set_level(logging.INFO)
    off = settings.model_copy(
        update={"discord": settings.discord.model_copy(update={"message_content": False})}
    )
    factory = Factory(RefusingBot, memkie)
    assert await run_bot(off, factory=factory) == 0
    [bot] = factory.bots
    assert factory.calls == [False]
    assert bot.content_mode == "off" and not bot.content_degraded
    assert await _last_mode(off) == "off"

    # Without the privileged intent there is nothing to give up: the error is not ours.
    broken = Factory(BrokenBot, memkie)
    with pytest.raises(discord.PrivilegedIntentsRequired):
        await run_bot(off, factory=broken)
    assert broken.calls == [False]
    assert _launcher_warnings(caplog) == []
