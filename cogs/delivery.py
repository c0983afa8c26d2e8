"""The tracker's delivery on Discord: status messages and the finished video.

Everything goes through normal channel messages (an interaction token dies after 15 minutes).
A video is posted once: not if the job has a result message recorded, and not if the channel
already holds one (a crash may have come between the post and storing its id). A result is
recognised only by what the bot alone sets: its own author id, and the video's file name or a
result button's custom id, both made from the job id; never by text, since members can make the
bot repeat theirs. The search covers every message after the job's status message, and the post
carries the job id as its nonce, so Discord itself drops a quick repeat.

A queued job's status shows its place in the queue; any change the tracker reports (a job sent,
refused, cancelled) has the places redrawn soon, and then every 5 s while jobs wait, front first
within the edit budgets (bot.present.queue).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import discord

from bot.i18n.strings import reason_text, t
from bot.jobs.delivery import DeliveryRetry, UndeliverableError
from bot.jobs.queue import QueueSpot
from bot.jobs.store import Job, JobState
from bot.present.cards import result_text, status_text
from bot.present.queue import QueueBoard, waiting_line
from cogs.utils.ui import admin_log, guild_lang, message_link
from cogs.utils.views import result_custom_ids, result_view, status_view

if TYPE_CHECKING:
    from bot.client import StoryboardBot

log = logging.getLogger(__name__)

# Ends reported in the guild's admin log channel (cancellations are the member's own choice).
LOGGED_ENDS = frozenset(
    {JobState.FAILED, JobState.REFUSED, JobState.EXPIRED, JobState.UNKNOWN, JobState.UNDELIVERABLE}
)
MIN_EDIT_INTERVAL = 5.0  # seconds between two edits of one status message
QUEUE_EDITS_PER_CHANNEL = 5  # queue place edits in one channel per MIN_EDIT_INTERVAL
QUEUE_SETTLE = 1.0  # after the queue moved, wait this long (a batch sent together) to redraw
MIB = 1024 * 1024
#: Discord's upload limits (no boost or tier 1, tier 2, tier 3).
UPLOAD_LIMITS = (10 * MIB, 50 * MIB, 100 * MIB)
#: A job without a status or card message is searched from this long before it was created.
CLOCK_SLACK = 3600.0


def video_filename(job_id: str) -> str:
    """The result's attachment name; with the bot's author id it identifies the result."""
    return f"storyboard-{job_id}.mp4"


class _TooLarge(Exception):
    """Discord refused the upload as too large (413): the file is over the guild's limit."""


class DiscordDelivery:
    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot
        self._shown: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.queue = QueueBoard(interval=MIN_EDIT_INTERVAL, per_channel=QUEUE_EDITS_PER_CHANNEL)
        self._queue_task: asyncio.Task[None] | None = None
        self._queue_moved = False
        self._edit_locks: dict[str, asyncio.Lock] = {}  # one status edit of a job at a time

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

    async def _edit_status(
        self, job: Job, *, force: bool = False, spot: QueueSpot | None = None
    ) -> bool:
        """Show ``job`` as it is (a queued job with its ``spot``, read when not given); False
        when Discord refused the edit."""
        if job.status_message_id is None:
            job = await self._post_status(job)
            if job.status_message_id is None:
                return False
        lang = guild_lang(await self._guild(job))
        if job.state == JobState.QUEUED and spot is None:
            spot = await self.bot.runtime.tracker.queue_spot(job.id)
        elif job.state != JobState.QUEUED:
            spot = None
        counted = False
        quotas = self.bot.runtime.quotas
        if not job.active and quotas is not None:
            counted = await quotas.usage_state(job.id) == "charged"
        now = self.bot.clock.now()
        text = status_text(job, lang, spot=spot, counted=counted, now=now)
        last = self._shown.get(job.id)
        if last is not None and last[0] == text:
            return True
        if not force and last is not None and now - last[1] < MIN_EDIT_INTERVAL:
            return True
        channel = await self._channel(job)
        if channel is None or not hasattr(channel, "get_partial_message"):
            return False
        msg = channel.get_partial_message(job.status_message_id)
        try:
            await msg.edit(content=text, view=status_view(job, lang))
        except discord.NotFound:
            log.info("job %s: status message is gone", job.id)
        except discord.HTTPException as exc:
            log.warning("job %s: could not edit the status message: %s", job.id, exc)
            return False
        self._shown[job.id] = (text, now)
        self.queue.drawn(job.id, spot.position if spot is not None else None)
        return True

    # -- the queue's places -----------------------------------------------------------------
    def _queue_changed(self) -> None:
        """A job changed state, so the queue may have moved: look at the places shown soon."""
        self._queue_moved = True
        if self._queue_task is None or self._queue_task.done():
            self._queue_task = asyncio.create_task(self._follow_queue(), name="storyboard-queue")

    async def _follow_queue(self) -> None:
        """Redraw the places shown while jobs wait in the queue, then end."""
        while not self.bot.is_closed():
            await self.bot.clock.sleep(QUEUE_SETTLE if self._queue_moved else MIN_EDIT_INTERVAL)
            self._queue_moved = False
            try:
                waiting = await self._redraw_queue()
            except Exception:
                log.exception("redrawing the queue's places failed")
                waiting = True
            if not waiting and not self._queue_moved:
                return

    async def _redraw_queue(self) -> bool:
        """Redraw the places that changed (bot.present.queue); whether any job still waits."""
        runtime = self.bot.runtime
        line, any_waiting = await waiting_line(runtime.store, runtime.tracker)
        edited = {job_id: at for job_id, (_text, at) in self._shown.items()}
        picks, _ = self.queue.redraws(line, edited, self.bot.clock.now())
        for pick in picks:
            async with self._edit_locks.setdefault(pick.job_id, asyncio.Lock()):
                fresh = await runtime.store.get_job(pick.job_id)
                if fresh is None or fresh.state != JobState.QUEUED:
                    continue  # sent meanwhile: its own notice shows it
                if not await self._edit_status(fresh, force=True, spot=pick.spot):
                    break  # the places behind it must not pass the one it still shows
        return any_waiting

    async def _post_status(self, job: Job) -> Job:
        """A Discord job without a status message: the bot stopped between storing the job
        and posting its status (Generate stores the job first). Post it now, once."""
        store = self.bot.runtime.store
        fresh = await store.get_job(job.id)
        if fresh is None or fresh.status_message_id is not None or job.origin != "discord":
            return fresh or job
        channel = await self._channel(job)
        if channel is None:
            return fresh
        lang = guild_lang(await self._guild(job))
        kwargs: dict[str, Any] = {
            "content": status_text(fresh, lang),
            "view": status_view(fresh, lang),
        }
        if job.card_message_id and hasattr(channel, "get_partial_message"):
            card = channel.get_partial_message(job.card_message_id)
            kwargs["reference"] = card.to_reference(fail_if_not_exists=False)
        try:
            msg = await channel.send(**kwargs)
        except discord.HTTPException as exc:
            log.warning("job %s: could not post its status message: %s", job.id, exc)
            return fresh
        return await store.update_job(job.id, status_message_id=msg.id) or fresh

    # -- Delivery ---------------------------------------------------------------------------
    async def job_updated(self, job: Job) -> None:
        # Notices can arrive late (they queue behind Discord's rate limits): show the job as it
        # is stored now, and never after it ended (the end and the result edit it themselves),
        # and after a queue redraw of it, never beside one.
        self._queue_changed()
        async with self._edit_locks.setdefault(job.id, asyncio.Lock()):
            fresh = await self.bot.runtime.store.get_job(job.id)
            if fresh is None or not fresh.active:
                return
            # Progress alone (a job at kie.ai, a chain's segment generating) waits for the edit
            # interval; any other change is shown at once.
            progress_only = fresh.state == JobState.RUNNING or (
                fresh.state == JobState.CHAINING and fresh.kie_state == "generating"
            )
            state_changed = self._shown.get(job.id) is None or not progress_only
            await self._edit_status(fresh, force=state_changed)

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
        existing = await self._find_result(channel, job)
        if existing is not None:
            log.info("job %s: already posted as message %s", job.id, existing.id)
            return await self._posted(job, existing)

        guild = await self._guild(job)
        lang = guild_lang(guild)
        size = (await asyncio.to_thread(path.stat)).st_size
        limit = guild.filesize_limit if guild else UPLOAD_LIMITS[0]
        msg = None
        if size <= limit:
            file = discord.File(path, filename=video_filename(job.id))
            try:
                msg = await self._post(channel, job, lang, file=file)
            except _TooLarge:
                # The guild's limit is lower than the cache says (its boosts ran out): the one
                # that applied is the largest below the file's size.
                limit = max((x for x in UPLOAD_LIMITS if x < size), default=limit)
                log.info(
                    "job %s: Discord refused the %.1f MB video as too large; posting a link",
                    job.id,
                    size / MIB,
                )
        if msg is None:
            size_mb, limit_mb = f"{size / MIB:.1f}", f"{limit / MIB:.0f}"
            public = self.bot.settings.http.public_url
            if public is not None:
                url = await self.bot.runtime.tracker.media_url(job.id)
                note = t("result.too_large_link", lang, size=size_mb, limit=limit_mb, url=url)
                msg = await self._post(channel, job, lang, note=note)
            else:
                note = t("result.too_large_button", lang, size=size_mb, limit=limit_mb)
                msg = await self._post(channel, job, lang, note=note, downloadable=True)
        await self._posted(job, msg)

    async def _post(
        self,
        channel: discord.abc.Messageable,
        job: Job,
        lang: str,
        *,
        file: discord.File | None = None,
        note: str = "",
        downloadable: bool = False,
    ) -> discord.Message:
        """Post the result. Raises UndeliverableError (never possible), DeliveryRetry (not now)
        or _TooLarge (``file`` is over the guild's upload limit)."""
        mention = f"<@{job.owner_id}>" if job.owner_id else ""
        source = message_link(job.guild_id, job.channel_id, job.card_message_id)
        kwargs: dict[str, Any] = {
            "content": result_text(
                job,
                mention,
                lang,
                link_note=note,
                source_link=source if job.card_message_id else "",
            ),
            "view": result_view(job, lang, downloadable=downloadable),
            "allowed_mentions": discord.AllowedMentions(
                everyone=False,
                roles=False,
                users=[discord.Object(job.owner_id)] if job.owner_id else False,
            ),
            # A repeat of this post within a few minutes is answered with the first message.
            "nonce": job.id,
        }
        if job.card_message_id and hasattr(channel, "get_partial_message"):
            card = channel.get_partial_message(job.card_message_id)
            kwargs["reference"] = card.to_reference(fail_if_not_exists=False)
        if file is not None:
            kwargs["file"] = file
        try:
            return await channel.send(**kwargs)
        except discord.Forbidden as exc:
            raise UndeliverableError(f"I am not allowed to post there ({exc.text})") from None
        except discord.NotFound:
            raise UndeliverableError("the channel is gone") from None
        except discord.HTTPException as exc:
            if file is not None and (exc.status == 413 or exc.code == 40005):
                raise _TooLarge from None
            raise DeliveryRetry(f"Discord answered the post with {_http_error(exc)}") from None
        except discord.RateLimited as exc:
            raise DeliveryRetry(
                f"Discord rate limits the post for {exc.retry_after:.0f} s"
            ) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryRetry(f"Discord could not be reached ({_one_line(exc)})") from None

    async def _find_result(
        self, channel: discord.abc.Messageable, job: Job
    ) -> discord.Message | None:
        """The result an earlier attempt posted, if there is one: a message of the bot's after
        the job's status message (posted before the job was submitted) with the job's video
        file or result buttons. Text is never looked at."""
        me = self.bot.user
        if me is None:
            raise DeliveryRetry("not logged in to Discord yet")
        anchor = job.status_message_id or job.card_message_id
        if anchor is None:
            since = datetime.fromtimestamp(job.created_at - CLOCK_SLACK, tz=UTC)
            anchor = discord.utils.time_snowflake(since)
        filename = video_filename(job.id)
        custom_ids = result_custom_ids(job.id)
        try:
            async for msg in channel.history(
                limit=None, after=discord.Object(anchor), oldest_first=True
            ):
                if msg.author.id != me.id:
                    continue
                if any(
                    a.filename == filename for a in msg.attachments
                ) or not custom_ids.isdisjoint(_custom_ids(msg.components)):
                    return msg
        except discord.Forbidden as exc:
            # Without Read Message History there is nothing to check against; the nonce still
            # covers a quick repeat.
            log.warning("job %s: cannot read the channel to check for a result: %s", job.id, exc)
            return None
        except discord.NotFound:
            raise UndeliverableError("the channel is gone") from None
        except discord.HTTPException as exc:
            raise DeliveryRetry(
                f"Discord answered the check for an earlier post with {_http_error(exc)}"
            ) from None
        except discord.RateLimited as exc:
            raise DeliveryRetry(
                f"Discord rate limits reading the channel for {exc.retry_after:.0f} s"
            ) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryRetry(f"Discord could not be reached ({_one_line(exc)})") from None
        return None

    async def _posted(self, job: Job, msg: discord.Message) -> None:
        """The result is in the channel: record it, point the status message at it."""
        store = self.bot.runtime.store
        await store.update_job(job.id, result_message_id=msg.id)
        done = await store.get_job(job.id)
        if done is not None:
            await self._link_status(done, msg)
        self._shown.pop(job.id, None)
        self._locks.pop(job.id, None)
        self._edit_locks.pop(job.id, None)
        self._finished(job)

    def _finished(self, job: Job) -> None:
        """Tell the cogs a job is done with (the draft's card says whether its author can
        generate again)."""
        self.bot.dispatch("storyboard_job_finished", job)

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

    async def job_ended(self, job: Job) -> None:
        self._queue_changed()
        async with self._edit_locks.setdefault(job.id, asyncio.Lock()):
            await self._edit_status(job, force=True)
        self.queue.forget(job.id)
        self._edit_locks.pop(job.id, None)
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
        self._finished(job)
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


def _custom_ids(components: Iterable[Any]) -> Iterator[str]:
    """Every custom id on a message's components, nested ones included."""
    for component in components:
        custom_id = getattr(component, "custom_id", None)
        if custom_id:
            yield custom_id
        yield from _custom_ids(getattr(component, "children", None) or ())
        accessory = getattr(component, "accessory", None)
        if accessory is not None:
            yield from _custom_ids([accessory])


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _http_error(exc: discord.HTTPException) -> str:
    """``503 (Service Unavailable)``: the status and Discord's own words, on one line."""
    words = " ".join((exc.text or "").split())
    return f"{exc.status} ({words})" if words else str(exc.status)
