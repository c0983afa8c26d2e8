"""Refining a draft after it was made: messages in its thread, and the card's editing controls.

Thin: a message or a form becomes a :class:`bot.domain.edit_grammar.Command` or a list of
:class:`bot.domain.edit_grammar.Edit`, :class:`bot.drafts.editing.DraftEditor` applies it as a
new revision, and the card is redrawn. Every refusal names the rule and the fix; the draft is
unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.domain.edit_grammar import Command, Edit, EditError, parse_message
from bot.domain.markdown import code_safe, escape_markdown, escape_outside_code
from bot.domain.shot_grammar import format_block, parse_duration, parse_lines, resolve, split_block
from bot.domain.storyboard import Storyboard, StoryboardError, fmt_tenths
from bot.drafts.editing import Check, DraftEditor, FormStale, Outcome
from bot.drafts.store import Draft
from bot.i18n.strings import error_text, t
from bot.media.images import ImageError, prepare_image_async
from bot.quota.policy import QuotaRefused
from cogs.storyboard import Requester, StoryboardCog
from cogs.utils.modals import AddShotModal, FixView, SettingsModal, ShotModal, ShotsModal, Values
from cogs.utils.ui import can_edit, guild_lang, user_lang
from cogs.utils.views import reply

if TYPE_CHECKING:
    from bot.client import StoryboardBot

log = logging.getLogger(__name__)

ACCEPTED = "✅"
#: Thread ids known not to belong to a draft (a draft's thread exists only after its card).
NOT_DRAFTS_CACHE = 1024


def _leading_mentions(user_id: int) -> re.Pattern[str]:
    return re.compile(rf"^\s*(?:<@!?{user_id}>\s*)+")


class DraftEditing(commands.Cog, name="DraftEditing"):
    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot
        self.editor = DraftEditor(
            bot.drafts,
            lambda: bot.runtime.models.primary,
            Path(bot.settings.storage.media_dir),
        )
        self._not_drafts: OrderedDict[int, None] = OrderedDict()
        self._message_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    @property
    def cards(self) -> StoryboardCog:
        cog = self.bot.get_cog("Storyboard")
        assert isinstance(cog, StoryboardCog)
        return cog

    def _terms(self, guild: discord.Guild | None) -> Check:
        """The server's blocked terms, as a check every edit must pass."""

        async def check(board: Storyboard) -> None:
            await self.cards.check_terms(guild, board)

        return check

    # ================================================================ the card's controls
    async def on_action(
        self, interaction: discord.Interaction[Any], action: str, target: str
    ) -> None:
        draft = await self.cards.draft_for(interaction, target)
        if draft is None:
            return
        lang = user_lang(interaction)
        if action == "edit":
            await self._open_list(interaction, draft, format_block(draft.board.shots), lang)
        elif action == "add":
            await self._open_add(interaction, draft, {}, lang)
        elif action == "undo":
            await self._undo_button(interaction, draft, lang)
        elif action == "set":
            await self._open_settings(interaction, draft, lang)

    async def on_shot_selected(
        self, interaction: discord.Interaction[Any], draft_id: str, number: int
    ) -> None:
        draft = await self.cards.draft_for(interaction, draft_id)
        if draft is None:
            return
        lang = user_lang(interaction)
        if not 1 <= number <= len(draft.board.shots):
            return await reply(interaction, t("edit.card_stale", lang))
        shot = draft.board.shots[number - 1]
        values: Values = {
            "scene": shot.scene,
            "duration": "" if shot.auto else fmt_tenths(shot.tenths),
            "position": str(number),
        }
        await self._open_shot(interaction, draft, number, draft.revision, values, lang)

    # -- the whole list
    async def _open_list(
        self, interaction: discord.Interaction[Any], draft: Draft, text: str, lang: str
    ) -> None:
        await interaction.response.send_modal(
            self._list_modal(draft.id, draft.revision, text, lang)
        )

    def _list_modal(self, draft_id: str, base: int, text: str, lang: str) -> ShotsModal:
        async def on_text(inter: discord.Interaction[Any], typed: str) -> None:
            await self._list_done(inter, draft_id, base, typed, lang)

        return ShotsModal(lang, text, on_text)

    async def _list_done(
        self, interaction: discord.Interaction[Any], draft_id: str, base: int, text: str, lang: str
    ) -> None:
        if await self.cards.draft_for(interaction, draft_id) is None:
            return
        model = self.bot.runtime.models.primary
        try:
            draft = await self.editor.get(draft_id)
            lines = parse_lines(split_block(text))
            board = draft.board.with_shots(resolve(lines, draft.board.length, model.limits))
            await self.cards.check_terms(interaction.guild, board)
            outcome = await self.editor.replace_shots(
                draft_id,
                board,
                editor_id=interaction.user.id,
                base_revision=base,
                source_id=interaction.id,
            )
        except FormStale as exc:
            # Fix reopens the form with the text as typed, now based on the latest revision.
            latest = int(exc.params["revision"])
            return await self._refuse_form(
                interaction, exc, lang, lambda: self._list_modal(draft_id, latest, text, lang)
            )
        except (StoryboardError, QuotaRefused) as exc:
            return await self._refuse_form(
                interaction, exc, lang, lambda: self._list_modal(draft_id, base, text, lang)
            )
        await reply(interaction, t("draft.updated", lang, revision=outcome.draft.revision))
        await self.cards.refresh_card(outcome.draft)

    # -- one shot
    async def _open_shot(
        self,
        interaction: discord.Interaction[Any],
        draft: Draft,
        number: int,
        base: int,
        values: Values,
        lang: str,
    ) -> None:
        await interaction.response.send_modal(
            self._shot_modal(draft.id, number, len(draft.board.shots), base, values, lang)
        )

    def _shot_modal(
        self, draft_id: str, number: int, count: int, base: int, values: Values, lang: str
    ) -> ShotModal:
        async def done(inter: discord.Interaction[Any], typed: Values) -> None:
            await self._shot_done(inter, draft_id, number, count, base, typed, lang)

        return ShotModal(lang, number=number, count=count, values=values, on_done=done)

    async def _shot_done(
        self,
        interaction: discord.Interaction[Any],
        draft_id: str,
        number: int,
        count: int,
        base: int,
        values: Values,
        lang: str,
    ) -> None:
        def again() -> ShotModal:
            return self._shot_modal(draft_id, number, count, base, values, lang)

        if await self.cards.draft_for(interaction, draft_id) is None:
            return
        try:
            shown = await self.bot.drafts.get(draft_id, base)
            if shown is None:
                raise KeyError(draft_id)
            edits = _shot_form_edits(shown.board, number, values)
        except StoryboardError as exc:
            return await self._refuse_form(interaction, exc, lang, again)
        if not edits:
            return await reply(interaction, t("edit.nothing", lang))
        await self._apply_form(interaction, draft_id, edits, base, lang, again)

    # -- a new shot
    async def _open_add(
        self, interaction: discord.Interaction[Any], draft: Draft, values: Values, lang: str
    ) -> None:
        await interaction.response.send_modal(
            self._add_modal(draft.id, len(draft.board.shots), draft.revision, values, lang)
        )

    def _add_modal(
        self, draft_id: str, count: int, base: int, values: Values, lang: str
    ) -> AddShotModal:
        async def done(inter: discord.Interaction[Any], typed: Values) -> None:
            def again() -> AddShotModal:
                return self._add_modal(draft_id, count, base, typed, lang)

            if await self.cards.draft_for(inter, draft_id) is None:
                return
            try:
                edit = _add_form_edit(count, typed)
            except StoryboardError as exc:
                return await self._refuse_form(inter, exc, lang, again)
            await self._apply_form(inter, draft_id, [edit], base, lang, again)

        return AddShotModal(lang, count=count, values=values, on_done=done)

    # -- length, aspect, image
    async def _open_settings(
        self, interaction: discord.Interaction[Any], draft: Draft, lang: str
    ) -> None:
        async def done(inter: discord.Interaction[Any], typed: Values) -> None:
            await self._settings_done(inter, draft.id, draft.board, typed, lang)

        model = self.bot.runtime.models.primary
        values: Values = {"length": draft.board.length, "aspect": draft.board.aspect}
        await interaction.response.send_modal(
            SettingsModal(lang, lengths=sorted(model.limits.lengths), values=values, on_done=done)
        )

    async def _settings_done(
        self,
        interaction: discord.Interaction[Any],
        draft_id: str,
        shown: Storyboard,
        values: Values,
        lang: str,
    ) -> None:
        if await self.cards.draft_for(interaction, draft_id) is None:
            return
        # Only what the member changed in the form: a value left as shown must not undo
        # someone else's change made while the form was open.
        edits: list[Edit] = []
        if values["length"] and int(values["length"]) != shown.length:
            n = int(values["length"])
            edits.append(Edit(kind="length", line=f"length {n}", length=n))
        if values["aspect"] and values["aspect"] != shown.aspect:
            a = values["aspect"]
            edits.append(Edit(kind="aspect", line=f"aspect {a}", aspect=a))
        image: discord.Attachment | None = values.get("image")
        if not edits and image is None:
            return await reply(interaction, t("edit.nothing", lang))
        await interaction.response.defer(ephemeral=True, thinking=True)
        told: list[str] = []
        if edits:
            try:
                outcome = await self.editor.edit(
                    draft_id,
                    edits,
                    editor_id=interaction.user.id,
                    source_id=interaction.id,
                    extra_check=self._terms(interaction.guild),
                )
            except (StoryboardError, QuotaRefused) as exc:
                return await reply(interaction, error_text(exc, lang))
            told.append(t("draft.updated", lang, revision=outcome.draft.revision))
            await self.cards.refresh_card(outcome.draft)
        if image is not None:
            problem = self.cards.precheck(image, lang)
            result = (
                problem
                if problem
                else await self._new_image(
                    await image.read(), draft_id, interaction.user.id, interaction.id, lang
                )
            )
            told.append(result)
        await reply(interaction, "\n".join(told))

    # -- undo
    async def _undo_button(
        self, interaction: discord.Interaction[Any], draft: Draft, lang: str
    ) -> None:
        try:
            outcome = await self.editor.undo(
                draft.id, editor_id=interaction.user.id, source_id=interaction.id
            )
        except EditError as exc:
            return await reply(interaction, error_text(exc, lang))
        await reply(interaction, _undone_text(outcome, lang))
        await self._redraw(outcome)

    # -- shared
    async def _apply_form(
        self,
        interaction: discord.Interaction[Any],
        draft_id: str,
        edits: list[Edit],
        base: int,
        lang: str,
        again: Callable[[], discord.ui.Modal],
    ) -> None:
        try:
            outcome = await self.editor.edit(
                draft_id,
                edits,
                editor_id=interaction.user.id,
                source_id=interaction.id,
                base_revision=base,
                extra_check=self._terms(interaction.guild),
            )
        except (StoryboardError, QuotaRefused) as exc:
            return await self._refuse_form(interaction, exc, lang, again)
        await reply(interaction, _accepted_text(outcome, lang))
        await self.cards.refresh_card(outcome.draft)

    async def _refuse_form(
        self,
        interaction: discord.Interaction[Any],
        exc: Exception,
        lang: str,
        again: Callable[[], discord.ui.Modal],
    ) -> None:
        await reply(
            interaction,
            f"{error_text(exc, lang)}\n{t('error.fix_hint', lang)}",
            view=FixView(lang, again),
        )

    async def _new_image(
        self, data: bytes, draft_id: str, editor_id: int, source_id: int, lang: str
    ) -> str:
        """Check and store a new reference image; what to tell the member."""
        model = self.bot.runtime.models.primary
        try:
            prepared = await prepare_image_async(data, model.image_spec)
        except ImageError as exc:
            return t("error.image", lang, reason=str(exc))
        # The image is stored with the draft: it counts against its author's storage.
        draft = await self.bot.drafts.get(draft_id)
        guild = self.bot.get_guild(draft.guild_id) if draft and draft.guild_id else None
        if draft is not None and guild is not None and draft.author_id is not None:
            refusal = await self.cards.storage_refusal(
                guild, draft.author_id, len(prepared.data), lang, new_draft=False
            )
            if refusal is not None:
                return refusal
        outcome = await self.editor.replace_image(
            draft_id, prepared, editor_id=editor_id, source_id=source_id
        )
        await self.cards.refresh_card(outcome.draft, new_image=True)
        text = t("edit.image_replaced", lang, revision=outcome.draft.revision)
        if not prepared.untouched:
            text += "\n" + t("draft.image_note", lang, summary=prepared.summary())
        return text

    async def _redraw(self, outcome: Outcome) -> None:
        new_image = outcome.undone is not None and outcome.draft.image_path != (
            outcome.undone.image_path
        )
        await self.cards.refresh_card(outcome.draft, new_image=new_image)

    # ================================================================ the thread
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
        try:
            command = parse_message(text) if text.strip() else None
        except EditError as exc:
            command, refusal = None, exc
        else:
            refusal = None
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
            problem = self.cards.precheck(images[0], lang)
            if problem:
                return await self._answer(message, problem)
            told = await self._new_image(
                await images[0].read(), draft.id, message.author.id, message.id, lang
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
                outcome = await self.editor.edit(
                    draft.id,
                    command.edits,
                    editor_id=message.author.id,
                    source_id=message.id,
                    base_revision=base,
                    extra_check=self._terms(message.guild),
                )
            except (StoryboardError, QuotaRefused) as exc:
                return await self._refuse(message, exc, lang)
            await self.cards.refresh_card(outcome.draft)
            if outcome.applied is not None and outcome.applied.resplit:
                await self._answer(message, _accepted_text(outcome, lang))
            else:
                await self._react(message, lang, outcome)
        elif command.kind == "undo":
            try:
                outcome = await self.editor.undo(
                    draft.id, editor_id=message.author.id, source_id=message.id
                )
            except EditError as exc:
                return await self._refuse(message, exc, lang)
            await self._redraw(outcome)
            await self._answer(message, _undone_text(outcome, lang))
        elif command.kind == "generate":
            await self._generate(message, draft, lang)
        elif command.kind in ("add_editors", "remove_editors"):
            await self._editors(message, draft, command, lang)

    async def _generate(self, message: discord.Message, draft: Draft, lang: str) -> None:
        assert isinstance(message.author, discord.Member)

        async def answer(text: str) -> None:
            await self._answer(message, text)

        who = Requester(message.author, lang, answer, started="thread.started")
        await self.cards.generate_draft(who, draft, message.channel)

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
        embed, file, _view = await self.cards.card_parts(draft)
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
            await self._answer(message, _accepted_text(outcome, lang))


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


def _shot_form_edits(shown: Storyboard, number: int, values: Values) -> list[Edit]:
    """The edits the one-shot form asks for (compared with the revision it showed), written
    as the thread grammar would."""
    if values.get("delete"):
        return [Edit(kind="delete", line=f"-#{number}", shot=number)]
    shot = shown.shots[number - 1] if number <= len(shown.shots) else None
    edits: list[Edit] = []
    scene = str(values.get("scene", "")).strip()
    typed = str(values.get("duration", "")).strip()
    tenths = parse_duration(typed, where=f"Shot {number}") if typed else None
    if shot is None or scene != shot.scene:
        edits.append(Edit(kind="scene", line=f"#{number} {scene}", shot=number, scene=scene))
    if (
        shot is None
        or (tenths is None) != shot.auto
        or (tenths is not None and tenths != shot.tenths)
    ):
        line = f"#{number} = {fmt_tenths(tenths) + 's' if tenths is not None else 'auto'}"
        edits.append(Edit(kind="duration", line=line, shot=number, tenths=tenths))
    position = str(values.get("position") or "")
    if position.isdigit() and int(position) != number:
        to = int(position)
        edits.append(Edit(kind="move", line=f"move #{number} #{to}", shot=number, to=to))
    return edits


def _add_form_edit(count: int, values: Values) -> Edit:
    scene = str(values.get("scene", "")).strip()
    typed = str(values.get("duration", "")).strip()
    tenths = parse_duration(typed, where="New shot") if typed else None
    position = str(values.get("position") or "")
    at = int(position) if position.isdigit() and int(position) <= count else None
    head = "+" if at is None else f"+#{at}"
    line = f"{head} {fmt_tenths(tenths)}s | {scene}" if tenths is not None else f"{head} {scene}"
    return Edit(kind="add", line=line, shot=at, scene=scene, tenths=tenths)


def _accepted_text(outcome: Outcome, lang: str) -> str:
    text = t("edit.accepted", lang, revision=outcome.draft.revision)
    if outcome.applied is not None and outcome.applied.resplit:
        autos = ", ".join(
            f"#{n} {fmt_tenths(s.tenths)} s"
            for n, s in enumerate(outcome.draft.board.shots, 1)
            if s.auto
        )
        text = t("edit.resplit", lang, revision=outcome.draft.revision, shots=autos)
    return text


def _undone_text(outcome: Outcome, lang: str) -> str:
    assert outcome.undone is not None
    note = outcome.undone.note.strip().splitlines()[0] if outcome.undone.note.strip() else ""
    return t(
        "edit.undone",
        lang,
        undone=outcome.undone.revision,
        note=code_safe(note[:80]),  # the member's words, shown in code
        revision=outcome.draft.revision,
    )


async def setup(bot: StoryboardBot) -> None:
    await bot.add_cog(DraftEditing(bot))
