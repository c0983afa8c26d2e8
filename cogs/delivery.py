"""The tracker's delivery on Discord: status messages and the finished video.

Everything goes through normal channel messages (an interaction token dies after 15 minutes).
Posting is idempotent: a result is posted only if the job has no result message recorded, and
not if the channel already holds a message carrying the job's marker (the write of the message
id may have been lost in a crash).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import discord

from bot.cards import result_marker, result_text, status_text
from bot.delivery import UndeliverableError
from bot.i18n import reason_text, t
from bot.store import Job, JobState
from bot.webhooks import media_url
from cogs.ui import admin_log, guild_lang, message_link

if TYPE_CHECKING:
    from bot.client import StoryboardBot

log = logging.getLogger(__name__)

# Ends reported in the guild's admin log channel (cancellations are the member's own choice).
LOGGED_ENDS = frozenset(
    {JobState.FAILED, JobState.REFUSED, JobState.EXPIRED, JobState.UNKNOWN, JobState.UNDELIVERABLE}
)
MIN_EDIT_INTERVAL = 5.0  # seconds between two edits of one status message
MARKER_SCAN = 30  # recent messages searched for a result posted before a crash


class DiscordDelivery:
    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot
        self._shown: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    # -- helpers --------------------------------------------------------------------------
    async def _channel(self, job: Job) -> discord.abc.Messageable | None:
        if job.channel_id is None:
            return None
        channel = self.bot.get_channel(job.channel_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(job.channel_id)
            except (discord.NotFound, discord.Forbidden):
                return None
        return channel if isinstance(channel, discord.abc.Messageable) else None

    async def _guild(self, job: Job) -> discord.Guild | None:
        """The job's guild; fetched when the cache is not filled yet (jobs resume before the
        gateway is ready), so public messages keep the guild's language."""
        if job.guild_id is None:
            return None
        guild = self.bot.get_guild(job.guild_id)
        if guild is None:
            try:
                guild = await self.bot.fetch_guild(job.guild_id)
            except discord.HTTPException:
                return None
        return guild

    async def _edit_status(self, job: Job, *, force: bool = False) -> None:
        if job.status_message_id is None:
            return
        lang = guild_lang(await self._guild(job))
        position = None
        if job.state == JobState.QUEUED:
            position = await self.bot.runtime.store.queue_position(job.id)
        counted = False
        quotas = self.bot.runtime.quotas
        if not job.active and quotas is not None:
            counted = await quotas.usage_state(job.id) == "charged"
        text = status_text(job, lang, position=position, counted=counted)
        now = self.bot.clock.now()
        last = self._shown.get(job.id)
        if last is not None and last[0] == text:
            return
        if not force and last is not None and now - last[1] < MIN_EDIT_INTERVAL:
            return
        channel = await self._channel(job)
        if channel is None or not hasattr(channel, "get_partial_message"):
            return
        from cogs.views import status_view

        msg = channel.get_partial_message(job.status_message_id)  # type: ignore[attr-defined]
        try:
            await msg.edit(content=text, view=status_view(job, lang))
        except discord.NotFound:
            log.info("job %s: status message is gone", job.id)
        except discord.HTTPException as exc:
            log.warning("job %s: could not edit the status message: %s", job.id, exc)
            return
        self._shown[job.id] = (text, now)

    # -- Delivery ---------------------------------------------------------------------------
    async def job_updated(self, job: Job) -> None:
        state_changed = self._shown.get(job.id) is None or job.state != JobState.RUNNING
        await self._edit_status(job, force=state_changed)

    async def deliver_video(self, job: Job, path: Path) -> None:
        lock = self._locks.setdefault(job.id, asyncio.Lock())
        async with lock:
            await self._deliver(job, path)

    async def _deliver(self, job: Job, path: Path) -> None:
        store = self.bot.runtime.store
        fresh = await store.get_job(job.id)
        if fresh is not None and fresh.result_message_id is not None:
            return
        channel = await self._channel(job)
        if channel is None:
            raise UndeliverableError("the channel is gone or I can no longer see it")
        guild = await self._guild(job)
        lang = guild_lang(guild)
        marker = result_marker(job.id)
        existing = await self._find_marker(channel, marker)
        if existing is not None:
            await store.update_job(job.id, result_message_id=existing.id)
            return

        size = (await asyncio.to_thread(path.stat)).st_size
        limit = guild.filesize_limit if guild else 10 * 1024 * 1024
        mention = f"<@{job.owner_id}>" if job.owner_id else ""
        file = None
        note = ""
        downloadable = False
        if size <= limit:
            name = f"storyboard-{job.draft_id or job.id}.mp4"
            file = discord.File(path, filename=name)
        else:
            size_mb, limit_mb = f"{size / 1048576:.1f}", f"{limit / 1048576:.0f}"
            public = self.bot.settings.http.public_url
            if public is not None:
                secret = await self.bot.runtime.tracker.callback_secret()
                url = media_url(str(public), secret, job.id)
                note = t("result.too_large_link", lang, size=size_mb, limit=limit_mb, url=url)
            else:
                downloadable = True
                note = t("result.too_large_button", lang, size=size_mb, limit=limit_mb)
        from cogs.views import result_view

        reference = None
        if job.card_message_id and hasattr(channel, "get_partial_message"):
            reference = channel.get_partial_message(job.card_message_id)  # type: ignore[attr-defined]
            reference = reference.to_reference(fail_if_not_exists=False)
        kwargs: dict[str, object] = {
            "content": result_text(
                job,
                mention,
                lang,
                link_note=note,
                source_link=message_link(job.guild_id, job.channel_id, job.card_message_id)
                if job.card_message_id
                else "",
            ),
            "view": result_view(job, lang, downloadable=downloadable),
            "allowed_mentions": discord.AllowedMentions(
                everyone=False,
                roles=False,
                users=[discord.Object(job.owner_id)] if job.owner_id else False,
            ),
        }
        if reference is not None:
            kwargs["reference"] = reference
        if file is not None:
            kwargs["file"] = file
        try:
            msg = await channel.send(**kwargs)  # type: ignore[arg-type]
        except discord.Forbidden as exc:
            raise UndeliverableError(f"I am not allowed to post there ({exc.text})") from None
        except discord.NotFound:
            raise UndeliverableError("the channel is gone") from None
        await store.update_job(job.id, result_message_id=msg.id)
        done = await store.get_job(job.id)
        if done is not None:
            await self._link_status(done, msg)
        self._shown.pop(job.id, None)
        self._locks.pop(job.id, None)
        await self._refresh_card(job)

    async def _refresh_card(self, job: Job) -> None:
        """The draft card says whether its author can generate: redraw it when a job ends."""
        if job.draft_id is None:
            return
        from cogs.storyboard import StoryboardCog

        cog = self.bot.get_cog("Storyboard")
        draft = await self.bot.drafts.get(job.draft_id)
        if isinstance(cog, StoryboardCog) and draft is not None and draft.active:
            await cog.refresh_card(draft)

    async def _link_status(self, job: Job, result: discord.Message) -> None:
        """Point the status message at the result."""
        if job.status_message_id is None:
            return
        channel = result.channel
        lang = guild_lang(await self._guild(job))
        text = status_text(job.model_copy(update={"state": JobState.DELIVERED}), lang)
        link = message_link(job.guild_id, job.channel_id, result.id)
        msg = channel.get_partial_message(job.status_message_id)  # type: ignore[union-attr]
        try:
            await msg.edit(content=text.replace("\n", f" {link}\n", 1), view=None)
        except discord.HTTPException:
            pass

    async def _find_marker(
        self, channel: discord.abc.Messageable, marker: str
    ) -> discord.Message | None:
        me = self.bot.user
        try:
            async for msg in channel.history(limit=MARKER_SCAN):
                if me is not None and msg.author.id == me.id and marker in msg.content:
                    return msg
        except discord.HTTPException:
            return None
        return None

    async def job_ended(self, job: Job) -> None:
        await self._edit_status(job, force=True)
        guild = await self._guild(job)
        if guild is not None and job.state in LOGGED_ENDS:
            lang = guild_lang(guild)
            # The admin log keeps the operator's detail (kie.ai's own words).
            await admin_log(
                self.bot,
                guild,
                t(
                    "log.ended",
                    lang,
                    job=job.id,
                    user=f"<@{job.owner_id}>",
                    state=t(f"state.{job.state}", lang),
                    reason=job.fail_msg or "",
                ),
            )
        self._shown.pop(job.id, None)
        await self._refresh_card(job)
        if job.state == JobState.UNDELIVERABLE and job.owner_id:
            await self._dm_owner(job)

    async def _dm_owner(self, job: Job) -> None:
        assert job.owner_id is not None
        lang = guild_lang(await self._guild(job))
        try:
            user = self.bot.get_user(job.owner_id) or await self.bot.fetch_user(job.owner_id)
            reason = reason_text(job.fail_code, job.fail_params, lang)
            await user.send(t("dm.undeliverable", lang, job=job.id, reason=reason))
        except discord.HTTPException:
            log.info("job %s: could not DM the owner either", job.id)
