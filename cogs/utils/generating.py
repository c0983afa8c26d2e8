"""Generate on Discord: who asked and how to answer them, the status message, and the words
for what :class:`bot.jobs.intake.Intake` decided. Shared by the Generate button, Regenerate,
``generate`` typed in a draft's thread, and a long storyboard's Retry from segment k and Redo
segment N (:func:`start_again`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.storyboard import Storyboard
from bot.drafts.store import Draft
from bot.i18n.strings import error_text, t
from bot.jobs.intake import Again, Intake, Order, Outcome, Refused, StatusPosted
from bot.jobs.store import Job
from bot.present.cards import status_text
from cogs.utils.ui import admin_log, guild_lang, missing_permissions, user_lang
from cogs.utils.views import reply, status_view

if TYPE_CHECKING:
    from bot.client import StoryboardBot

log = logging.getLogger(__name__)


async def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Requester:
    """Who asked for a video and how to answer them (privately, or in the draft's thread)."""

    member: discord.Member
    lang: str
    answer: Callable[[str], Awaitable[None]]
    #: Called once the request is understood, before the slow part (a button defers here).
    acknowledge: Callable[[], Awaitable[None]] = field(default=_nothing)
    #: What to say once it started (``{link}``: the status message, ``{revision}``).
    started: str = "generate.started"


async def button_requester(interaction: discord.Interaction[Any]) -> Requester | None:
    """A button's presser, answered privately; None (and told why) outside a server."""
    lang = user_lang(interaction)
    if (
        interaction.guild is None
        or interaction.channel is None
        or not isinstance(interaction.user, discord.Member)
    ):
        await reply(interaction, t("error.guild_only", lang))
        return None

    async def answer(text: str) -> None:
        await reply(interaction, text)

    async def acknowledge() -> None:
        # Answer Discord first: the reservation may wait on the database.
        await interaction.response.defer(ephemeral=True, thinking=True)

    return Requester(interaction.user, lang, answer, acknowledge)


def job_channel(bot: StoryboardBot, channel_id: int | None) -> discord.abc.Messageable | None:
    """Where a draft's jobs post: the card's channel (a button may be pressed elsewhere)."""
    if channel_id is None:
        return None
    channel = bot.get_channel(channel_id)
    return channel if isinstance(channel, discord.abc.Messageable) else None


async def generate_draft(
    bot: StoryboardBot, who: Requester, draft: Draft, here: discord.abc.Messageable
) -> discord.Message | None:
    """Generate a draft's current revision. Its jobs post in the card's channel (``here``
    only when that channel is gone), as replies to the card."""
    return await generate(
        bot,
        who,
        job_channel(bot, draft.channel_id) or here,
        draft.board,
        draft.image_path,
        draft_id=draft.id,
        revision=draft.revision,
        card_message_id=draft.card_message_id,
    )


async def generate(
    bot: StoryboardBot,
    who: Requester,
    channel: discord.abc.Messageable,
    board: Storyboard,
    image_path: str | None,
    *,
    draft_id: str | None,
    revision: int | None,
    card_message_id: int | None,
) -> discord.Message | None:
    """Generate: the intake's checks, the quota, the status message, then the job (which
    the tracker follows). ``who`` is answered (privately from a button, in the thread from a
    word). Returns the status message, or None when nothing was started."""
    guild = who.member.guild
    channel_id = getattr(channel, "id", None)
    posting = _Posting(who, channel)
    outcome = await intake_of(bot).generate(
        Order(
            board=board,
            image_path=image_path,
            guild_id=guild.id,
            user_id=who.member.id,
            channel_id=channel_id if isinstance(channel_id, int) else None,
            role_ids=tuple(r.id for r in who.member.roles),
            draft_id=draft_id,
            revision=revision,
            card_message_id=card_message_id,
        ),
        post_status=posting.post,
        acknowledge=who.acknowledge,
    )
    return await _answer(bot, who, outcome, posting, draft_id, revision)


def intake_of(bot: StoryboardBot) -> Intake:
    quotas = bot.runtime.quotas
    assert quotas is not None
    return Intake(
        tracker=bot.runtime.tracker,
        quotas=quotas,
        clock=bot.clock,
        model=lambda: bot.runtime.models.primary,
    )


class _Posting:
    """Posts a held job's status for the intake, and remembers what happened."""

    def __init__(self, who: Requester, channel: discord.abc.Messageable) -> None:
        self.who = who
        self.channel = channel
        self.posted: list[discord.Message] = []
        self.unposted: list[str] = []  # why not: told once the job is cancelled

    async def post(self, job: Job) -> StatusPosted | None:
        status = await _post_status(self.who, self.channel, job)
        if isinstance(status, str):
            self.unposted.append(status)
            return None
        self.posted.append(status)
        return StatusPosted(status.id, status.channel.id)


async def _answer(
    bot: StoryboardBot,
    who: Requester,
    outcome: Outcome,
    posting: _Posting,
    draft_id: str | None,
    revision: int | None,
) -> discord.Message | None:
    if isinstance(outcome, Refused):
        await _refused(bot, who, outcome, posting.unposted)
        return None
    status = posting.posted[0]
    await who.answer(t(who.started, who.lang, link=status.jump_url, revision=revision))
    draft = await bot.drafts.get(draft_id) if draft_id else None
    if draft is not None and draft.active:
        await bot.cards.refresh(draft)
    return status


async def start_again(
    bot: StoryboardBot, who: Requester, source: Job, request: Again
) -> discord.Message | None:
    """A chain's retry or redo, confirmed: the cost reserved under the new id, its status
    posted (replying to the card, in the source's channel), then it starts. A retry's old
    status loses its Retry button once the new chain is started."""
    channel = job_channel(bot, source.channel_id)
    if channel is None:
        await who.answer(t("error.job_gone", who.lang))
        return None
    posting = _Posting(who, channel)
    outcome = await intake_of(bot).again(
        request, post_status=posting.post, acknowledge=who.acknowledge
    )
    status = await _answer(bot, who, outcome, posting, source.draft_id, source.revision)
    if status is not None and request.kind == "retry" and source.status_message_id:
        get = getattr(channel, "get_partial_message", None)
        if get is not None:
            try:
                await get(source.status_message_id).edit(view=None)
            except discord.HTTPException:
                pass  # the old status may be gone: the new one is what counts
    return status


async def _refused(
    bot: StoryboardBot, who: Requester, refused: Refused, unposted: list[str]
) -> None:
    """Tell ``who`` why nothing started; a server's limit also goes to its admin log.
    ``unposted``: why the status message could not be posted."""
    if refused.stage == "not_posted":
        for text in unposted:
            await who.answer(text)
        return
    if refused.stage in ("already", "gone"):
        await who.answer(t(f"chain.{refused.stage}", who.lang))
        return
    if refused.error is None:
        await who.answer(t("error.image_gone", who.lang))
        return
    await who.answer(error_text(refused.error, who.lang))
    if refused.stage == "quota":
        guild = who.member.guild
        glang = guild_lang(guild)
        text = t(
            "log.refused",
            glang,
            user=who.member.mention,
            reason=error_text(refused.error, glang),
        )
        await admin_log(bot, guild, text)


async def _post_status(
    who: Requester, channel: discord.abc.Messageable, job: Job
) -> discord.Message | str:
    """The job's status message, replying to the card; or what to tell ``who`` when Discord
    refused it."""
    guild = who.member.guild
    glang = guild_lang(guild)
    kwargs: dict[str, Any] = {
        "content": status_text(job, glang),
        "view": status_view(job, glang),
    }
    reference = _card_reference(channel, job.card_message_id)
    if reference is not None:
        kwargs["reference"] = reference
    try:
        return await channel.send(**kwargs)
    except discord.HTTPException as exc:
        if not isinstance(exc, discord.Forbidden):
            log.warning("job %s: could not post its status message: %s", job.id, exc)
            return t("error.unexpected", who.lang)
        missing: list[str] = []
        if isinstance(channel, discord.abc.GuildChannel | discord.Thread):
            missing = missing_permissions(channel, guild.me)
        perms = ", ".join(missing or ["Send Messages"])
        return t("error.missing_permissions", who.lang, perms=perms)


def _card_reference(
    channel: discord.abc.Messageable, card_message_id: int | None
) -> discord.MessageReference | None:
    """A reply's reference to the card (none when the card is gone: the post goes on)."""
    if card_message_id is None:
        return None
    get = getattr(channel, "get_partial_message", None)
    if get is None:
        return None
    card: discord.PartialMessage = get(card_message_id)
    return card.to_reference(fail_if_not_exists=False)
