"""The one discord.py Bot subclass: wires the core (store, kie.ai, tracker, web) to Discord."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.config.settings import Settings
from bot.db.connection import CONTENT_MODE_KEY
from bot.domain.clock import Clock
from bot.drafts.editing import DraftEditor
from bot.drafts.store import Drafts
from bot.jobs.intake import DraftRules
from bot.kie import KieApi
from bot.runtime import Runtime
from bot.web.server import CHECKS_KEY
from cogs.delivery import DiscordDelivery
from cogs.utils.cards import Cards
from cogs.utils.localization import StoryboardTranslator
from cogs.utils.ui import REQUIRED_PERMISSIONS

log = logging.getLogger(__name__)

EXTENSIONS = (
    "cogs.storyboard",
    "cogs.generate",
    "cogs.controls",
    "cogs.thread",
    "cogs.meta",
    "cogs.admin",
)
COMMAND_HASH_KEY = "command_hash"


class DiscordClock(Clock):
    """discord.py's notion of now (real time in production; a harness may move it)."""

    def now(self) -> float:
        return discord.utils.utcnow().timestamp()


class StoryboardBot(commands.Bot):
    def __init__(
        self,
        settings: Settings,
        *,
        kie: KieApi | None = None,
        serve_http: bool = True,
        sync_only: bool = False,
        sync_guild: int | None = None,
        message_content: bool | None = None,
    ) -> None:
        """``message_content``: ask for the privileged intent (default: the setting). Started
        with False while the setting is on, the bot runs degraded: the portal refused it."""
        intents = discord.Intents.none()
        intents.guilds = True
        # Thread replies arrive as messages; their text needs MESSAGE_CONTENT, except in
        # messages that mention the bot (a reply with ping on) or carry it in a button.
        intents.guild_messages = True
        wanted = settings.discord.message_content
        intents.message_content = wanted if message_content is None else message_content
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            # Scene text is echoed everywhere: nothing pings unless a message allows it.
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
        )
        self.settings = settings
        self._kie = kie
        self._serve_http = serve_http
        self._sync_only = sync_only
        self._sync_guild = sync_guild
        self.clock = DiscordClock()
        #: The setting asks for message content but this bot runs without it.
        self.content_degraded = wanted and not intents.message_content
        self.runtime: Runtime
        self.delivery: DiscordDelivery
        #: Drafts, their revisions and editors.
        self.drafts: Drafts
        #: Applies edits to drafts, one at a time per draft (every cog edits through it).
        self.editor: DraftEditor
        #: Draws and redraws draft cards, one redraw at a time per card.
        self.cards: Cards

    @property
    def reads_content(self) -> bool:
        """Whether plain thread messages can be read (else only pings and buttons)."""
        return self.intents.message_content

    @property
    def content_mode(self) -> str:
        if self.reads_content:
            return "full"
        return "degraded" if self.content_degraded else "off"

    async def setup_hook(self) -> None:
        self.delivery = DiscordDelivery(self)
        self.runtime = await Runtime.build(
            self.settings,
            self.delivery,
            kie=self._kie,
            clock=self.clock,
            origin="discord",
            serve_http=self._serve_http and not self._sync_only,
        )
        self.drafts = Drafts(self.runtime.store, self.clock)
        self.editor = DraftEditor(
            self.drafts,
            # The model's rules, stretched by chaining segments (a long storyboard is allowed).
            lambda: DraftRules(self.runtime.tracker, lambda: self.runtime.models.primary),
            Path(self.settings.storage.media_dir),
        )
        self.cards = Cards(self)
        if self.runtime.web is not None:
            self.runtime.web.app[CHECKS_KEY]["discord"] = self._gateway_health
        await self.tree.set_translator(StoryboardTranslator())
        for ext in EXTENSIONS:
            await self.load_extension(ext)
        if self._sync_only:
            await self.sync_commands(force=True, guild=self._sync_guild)
            return
        await self.sync_commands()
        await self.runtime.store.set_meta(CONTENT_MODE_KEY, self.content_mode)
        await self._learn_owners()
        await self.runtime.start()
        self._retention.start()
        self._balance.start()

    @tasks.loop(minutes=30)
    async def _balance(self) -> None:
        """Warn the owners once when the kie.ai balance falls under the configured level."""
        from bot.i18n.strings import t
        from bot.kie.balance import check_balance

        quotas = self.runtime.quotas
        assert quotas is not None
        balance = await check_balance(
            self.runtime.kie, self.runtime.store, self.settings.quota.low_balance_credits
        )
        if balance is None:
            return
        text = t(
            "dm.low_balance",
            "en",
            credits=f"{balance:g}",
            threshold=self.settings.quota.low_balance_credits,
        )
        for owner_id in quotas.owners:
            try:
                user = self.get_user(owner_id) or await self.fetch_user(owner_id)
                await user.send(text)
            except discord.HTTPException as exc:
                log.info("could not tell owner %s about the balance: %s", owner_id, exc)

    @tasks.loop(minutes=60)
    async def _retention(self) -> None:
        from bot.storage.retention import sweep

        r = self.settings.retention
        try:
            await sweep(
                self.runtime.store,
                Path(self.settings.storage.media_dir),
                days=r.days,
                max_bytes=int(r.max_disk_mb * 1_000_000),
                now=self.clock.now(),
                min_free_bytes=int(r.min_free_mb * 1_000_000),
                quotas=self.runtime.quotas,
            )
        except Exception:
            log.exception("retention sweep failed")

    @_retention.before_loop
    async def _retention_interval(self) -> None:
        self._retention.change_interval(minutes=self.settings.retention.sweep_minutes)

    async def _learn_owners(self) -> None:
        """The application's owner (or team) is never limited by quotas."""
        try:
            app = await self.application_info()
        except discord.HTTPException as exc:
            log.warning("could not read the application's owners: %s", exc)
            return
        ids = {app.owner.id}
        if app.team is not None:
            ids |= {m.id for m in app.team.members}
        assert self.runtime.quotas is not None
        self.runtime.quotas.add_owners(ids)

    # -- command sync ---------------------------------------------------------------------
    async def command_hash(self) -> str:
        translator = self.tree.translator
        payloads: list[dict[str, Any]] = []
        for cmd in sorted(self.tree.get_commands(), key=lambda c: c.name):
            if translator is not None:
                payloads.append(await cmd.get_translated_payload(self.tree, translator))
            else:
                payloads.append(cmd.to_dict(self.tree))
        blob = json.dumps(payloads, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()

    async def sync_commands(self, *, force: bool = False, guild: int | None = None) -> bool:
        """Sync only when the command set changed since the last sync (or when forced)."""
        digest = await self.command_hash()
        store = self.runtime.store
        if not force and await store.get_meta(COMMAND_HASH_KEY) == digest:
            log.info("slash commands unchanged; not syncing")
            return False
        target = discord.Object(id=guild) if guild else None
        if target is not None:
            self.tree.copy_global_to(guild=target)
        await self.tree.sync(guild=target)
        if target is None:
            await store.set_meta(COMMAND_HASH_KEY, digest)
        log.info("slash commands synced%s", f" to guild {guild}" if guild else "")
        return True

    def _gateway_health(self) -> tuple[bool, str]:
        """For /healthz: connected to Discord's gateway and ready."""
        if self.is_closed():
            return False, "the gateway connection is closed"
        if not self.is_ready():
            return False, "not connected to Discord yet"
        return True, f"connected, latency {self.latency * 1000:.0f} ms"

    async def close(self) -> None:
        self._retention.cancel()
        self._balance.cancel()
        runtime = getattr(self, "runtime", None)
        if runtime is not None:
            await runtime.close()
        await super().close()

    async def on_message(self, message: discord.Message, /) -> None:
        """No text commands: thread messages are read by the editing cog's listener (a ping
        to the bot must not be taken for a prefix command and logged as unknown)."""
        return None

    async def on_ready(self) -> None:
        log.info("logged in as %s (%s)", self.user, self.user.id if self.user else "?")

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        from bot.storage.retention import forget_guild

        removed = await forget_guild(self.runtime.store, guild.id)
        log.info("left guild %s: removed %d stored files", guild.id, removed)


#: Builds the bot as ``factory(settings, message_content=...)`` (tests pass their own).
BotFactory = Callable[..., StoryboardBot]

#: Logged once when Discord refuses the privileged intent and the bot restarts without it.
DEGRADED_WARNING = (
    "Discord refused the Message Content intent; running without it: thread edits need a ping "
    "or the card's buttons. Fix: Developer Portal > your application > Bot > Privileged "
    "Gateway Intents > Message Content, or set DISCORD_MESSAGE_CONTENT=false to silence this"
)


async def run(settings: Settings, token: str, *, factory: BotFactory | None = None) -> None:
    """Run the bot until stopped.

    When the setting asks for the Message Content intent and the Developer Portal does not
    grant it, Discord closes the gateway (``PrivilegedIntentsRequired``) after ``login`` has
    run setup_hook. That bot is closed completely (tracker, web server, store) and a new one
    starts without the intent, once: if that one fails too, the error propagates.
    """
    build: BotFactory = factory or StoryboardBot
    bot = build(settings, message_content=settings.discord.message_content)
    try:
        async with bot:  # leaving it closes the bot, and the bot closes its runtime
            await bot.start(token)
        return
    except discord.PrivilegedIntentsRequired:
        if not bot.intents.message_content:
            raise  # nothing left to give up: not ours to work around
    log.warning(DEGRADED_WARNING)
    bot = build(settings, message_content=False)
    async with bot:
        await bot.start(token)


def invite_url(client_id: int | str) -> str:
    perms = REQUIRED_PERMISSIONS.value
    return (
        "https://discord.com/oauth2/authorize"
        f"?client_id={client_id}&scope=bot+applications.commands&permissions={perms}"
    )


def error_line(exc: app_commands.AppCommandError) -> str:
    return f"{type(exc).__name__}: {exc}"
