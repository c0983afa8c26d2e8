"""Refining a draft in its thread: the messages typed there, read as edits and commands.

Thin: a message becomes a :class:`bot.domain.edit_grammar.Command`, the editor
(:class:`bot.drafts.editing.DraftEditor`, ``bot.editor``) applies it as a new revision, and the
card is redrawn (``bot.cards``). Every refusal names the rule and the fix; the draft is
unchanged. Anything that is not an edit is conversation and is left alone.
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.domain.edit_grammar import Command, EditError, parse_message
from bot.domain.markdown import escape_markdown, escape_outside_code
from bot.domain.storyboard import StoryboardError
from bot.drafts.editing import Outcome
from bot.drafts.store import Draft
from bot.i18n.strings import error_text, t
from bot.quota.policy import QuotaRefused
from cogs.utils.checks import precheck, terms_check
from cogs.utils.edits import accepted_text, new_image, redraw, undone_text
from cogs.utils.generating import Requester, generate_draft
from cogs.utils.ui import can_edit, guild_lang

if TYPE_CHECKING:
    from bot.client import StoryboardBot

log = logging.getLogger(__name__)

ACCEPTED = "✅"
#: Thread ids known not to belong to a draft (a draft's thread exists only after its card).
NOT_DRAFTS_CACHE = 1024


def _leading_mentions(user_id: int) -> re.Pattern[str]:
    return re.compile(rf"^\s*(?:<@!?{user_id}>\s*)+")


class DraftThread(commands.Cog, name="DraftThread"):
    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot
        self._not_drafts: OrderedDict[int, None] = OrderedDict()
        self._message_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.guild is None or message.webhook_id is not None:
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        draft = await self._draft_of(message)
        if draft is None:
            return
        try:
            # One message of a draft at a time, in the order they came: `#2 ...` then `go`
            # generates the edited storyboard.
            async with self._message_lock(draft.id):
                await self._on_draft_message(message, draft)
        except Exception:
            log.exception("draft %s: message %s failed", draft.id, message.id)
            await self._answer(message, t("error.unexpected", guild_lang(message.guild)))

    def _message_lock(self, draft_id: str) -> asyncio.Lock:
        lock = self._message_locks.get(draft_id)
        if lock is None:
            lock = self._message_locks[draft_id] = asyncio.Lock()
        return lock

    async def _draft_of(self, message: discord.Message) -> Draft | None:
        """The draft a message is about: its thread, or a reply to its card."""
        channel = message.channel
        # An archived thread is not in the cache: its messages come with a partial channel.
        if not isinstance(channel, discord.abc.GuildChannel):
            if channel.id in self._not_drafts:
                return None
            # A thread started from the card has the card's id (before its row says so, too).
            draft = await self.bot.drafts.by_thread(channel.id) or (
                await self.bot.drafts.by_card(channel.id)
            )
            if draft is None:
                self._not_drafts[channel.id] = None
                while len(self._not_drafts) > NOT_DRAFTS_CACHE:
                    self._not_drafts.popitem(last=False)
            return draft
        ref = message.reference
        if ref is not None and ref.message_id is not None and ref.channel_id == channel.id:
            return await self.bot.drafts.by_card(ref.message_id)
        return None

    def _addressed(self, message: discord.Message) -> bool:
        """Whether the message is meant for the bot: it mentions the bot or replies to it."""
        me = self.bot.user
        if me is None:
            return False
        if any(u.id == me.id for u in message.mentions):
            return True
        resolved = message.reference.resolved if message.reference else None
        return isinstance(resolved, discord.Message) and resolved.author.id == me.id

    async def _on_draft_message(self, message: discord.Message, draft: Draft) -> None:
        assert message.guild is not None and self.bot.user is not None
        lang = guild_lang(message.guild)
        addressed = self._addressed(message)
        text = _leading_mentions(self.bot.user.id).sub("", message.content)
        if not message.content and not message.attachments and not self.bot.reads_content:
            # A plain message whose text Discord withholds (no Message Content intent).
            if message.channel.id == draft.thread_id and (
                await self.bot.drafts.claim_content_notice(draft.id)
            ):
                await message.channel.send(t("thread.degraded", lang))
            return
        command: Command | None = None
        refusal: EditError | None = None
        try:
            command = parse_message(text) if text.strip() else None
        except EditError as exc:
            refusal = exc
        images = [a for a in message.attachments if _is_image(a)]
        meant = command is not None or refusal is not None or (images and not text.strip())
        if not draft.active:
            if meant or addressed:
                await self._answer(message, t("thread.discarded", lang))
            return
        if command is not None and command.kind == "show":
            return await self._show(message, draft)
        if not meant:
            if addressed and await self._may_edit(message, draft):
                await self._answer(message, t("thread.grammar", lang))
            return
        if not await self._may_edit(message, draft):
            await self._answer(
                message, t("thread.not_editor", lang, author=f"<@{draft.author_id}>")
            )
            return
        if refusal is not None:
            return await self._refuse(message, refusal, lang)
        if command is None:  # an image on its own
            problem = precheck(images[0], lang)
            if problem:
                return await self._answer(message, problem)
            told = await new_image(
                self.bot, await images[0].read(), draft.id, message.author.id, message.id, lang
            )
            return await self._answer(message, told)
        await self._command(message, draft, command, lang)

    async def _command(
        self, message: discord.Message, draft: Draft, command: Command, lang: str
    ) -> None:
        if command.kind == "edit":
            base = await self.bot.drafts.revision_at(
                draft.id, _sent_at(message), source_id=message.id
            )
            try:
                outcome = await self.bot.editor.edit(
                    draft.id,
                    command.edits,
                    editor_id=message.author.id,
                    source_id=message.id,
                    base_revision=base,
                    extra_check=terms_check(self.bot, message.guild),
                )
            except (StoryboardError, QuotaRefused) as exc:
                return await self._refuse(message, exc, lang)
            await self.bot.cards.refresh(outcome.draft)
            if outcome.applied is not None and outcome.applied.resplit:
                await self._answer(message, accepted_text(outcome, lang))
            else:
                await self._react(message, lang, outcome)
        elif command.kind == "undo":
            try:
                outcome = await self.bot.editor.undo(
                    draft.id, editor_id=message.author.id, source_id=message.id
                )
            except EditError as exc:
                return await self._refuse(message, exc, lang)
            await redraw(self.bot, outcome)
            await self._answer(message, undone_text(outcome, lang))
        elif command.kind == "generate":
            await self._generate(message, draft, lang)
        elif command.kind in ("add_editors", "remove_editors"):
            await self._editors(message, draft, command, lang)

    async def _generate(self, message: discord.Message, draft: Draft, lang: str) -> None:
        assert isinstance(message.author, discord.Member)

        async def answer(text: str) -> None:
            await self._answer(message, text)

        who = Requester(message.author, lang, answer, started="thread.started")
        await generate_draft(self.bot, who, draft, message.channel)

    async def _editors(
        self, message: discord.Message, draft: Draft, command: Command, lang: str
    ) -> None:
        author = message.author
        perms = self._permissions(message, draft)
        if author.id != draft.author_id and not (perms and perms.manage_messages):
            return await self._answer(
                message, t("editors.only_author", lang, author=f"<@{draft.author_id}>")
            )
        me = self.bot.user
        lines: list[str] = []
        for user_id in command.users:
            who = f"<@{user_id}>"
            if me is not None and user_id == me.id:
                continue
            if command.kind == "add_editors":
                if user_id == draft.author_id:
                    lines.append(t("editors.is_author", lang, user=who))
                elif await self.bot.drafts.add_editor(draft.id, user_id, added_by=author.id):
                    lines.append(t("editors.added", lang, user=who))
                else:
                    lines.append(t("editors.already", lang, user=who))
            elif await self.bot.drafts.remove_editor(draft.id, user_id):
                lines.append(t("editors.removed", lang, user=who))
            else:
                lines.append(t("editors.not_added", lang, user=who))
        if lines:
            await self._answer(message, "\n".join(lines))

    async def _show(self, message: discord.Message, draft: Draft) -> None:
        # A copy to read: its controls would go stale, the card's stay current.
        embed, file, _view = await self.bot.cards.parts(draft)
        kwargs: dict[str, Any] = {"embed": embed}
        if file is not None:
            kwargs["file"] = file
        await message.channel.send(**kwargs)

    async def _may_edit(self, message: discord.Message, draft: Draft) -> bool:
        perms = self._permissions(message, draft)
        return await can_edit(self.bot.drafts, draft, message.author.id, perms)

    def _permissions(self, message: discord.Message, draft: Draft) -> discord.Permissions | None:
        """The author's permissions where the card is (a draft's thread inherits them)."""
        author = message.author
        if not isinstance(author, discord.Member):
            return None
        channel = self.bot.get_channel(draft.channel_id or 0) or message.channel
        if isinstance(channel, discord.Thread | discord.abc.GuildChannel):
            return channel.permissions_for(author)
        return author.guild_permissions

    async def _answer(self, message: discord.Message, text: str) -> None:
        """A reply in the thread; it pings nobody (the bot's allowed_mentions)."""
        try:
            await message.reply(text[:2000], mention_author=False)
        except discord.HTTPException as exc:
            log.info("could not answer message %s: %s", message.id, exc)

    async def _refuse(self, message: discord.Message, exc: Exception, lang: str) -> None:
        """Why an edit was refused. It quotes the member's words: in code spans, where
        nothing renders, and elsewhere escaped. A backtick the member typed would pair with
        the bot's own, so then the whole answer is escaped."""
        text = error_text(exc, lang)
        if "`" in message.content:
            text = escape_markdown(text)
        else:
            text = escape_outside_code(text)
        await self._answer(message, text)

    async def _react(self, message: discord.Message, lang: str, outcome: Outcome) -> None:
        try:
            await message.add_reaction(ACCEPTED)
        except discord.HTTPException:  # no Add Reactions here: say it in words
            await self._answer(message, accepted_text(outcome, lang))


# ------------------------------------------------------------------ helpers


def _sent_at(message: discord.Message) -> float:
    # A snowflake keeps milliseconds: anything stored within that millisecond came before.
    return message.created_at.timestamp() + 0.001


def _is_image(attachment: discord.Attachment) -> bool:
    kind = attachment.content_type
    if kind:
        return kind.startswith("image/")
    return Path(attachment.filename).suffix.lower() in {
        ".png",
        ".jpg",
        ".jpeg",
        ".webp",
        ".gif",
        ".bmp",
        ".heic",
        ".avif",
        ".tif",
        ".tiff",
    }


async def setup(bot: StoryboardBot) -> None:
    await bot.add_cog(DraftThread(bot))
