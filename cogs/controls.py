"""The card's editing controls: Edit (the whole list), Add shot, the one-shot menu, Undo,
Length/aspect/image, and Discard.

Thin: a form's values become edits (:mod:`bot.drafts.forms`), the editor applies them as a new
revision (:class:`bot.drafts.editing.DraftEditor`, ``bot.editor``), and the card is redrawn
(``bot.cards``). A refused form says why, with a Fix button that reopens it as typed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.domain.edit_grammar import Edit, EditError
from bot.domain.shot_grammar import format_block
from bot.domain.storyboard import Storyboard, StoryboardError
from bot.drafts.editing import FormStale
from bot.drafts.forms import add_edit, list_board, settings_edits, shot_edits, shot_values
from bot.drafts.store import Draft
from bot.i18n.strings import error_text, t
from bot.quota.policy import QuotaRefused
from cogs.utils.access import draft_for
from cogs.utils.checks import check_guild_terms, draft_rules, precheck, terms_check
from cogs.utils.edits import accepted_text, new_image, redraw, undone_text
from cogs.utils.modals import AddShotModal, FixView, SettingsModal, ShotModal, ShotsModal, Values
from cogs.utils.ui import user_lang
from cogs.utils.views import reply

if TYPE_CHECKING:
    from bot.client import StoryboardBot

log = logging.getLogger(__name__)


class DraftControls(commands.Cog, name="DraftControls"):
    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot

    async def on_action(
        self, interaction: discord.Interaction[Any], action: str, target: str
    ) -> None:
        if action == "discard":
            return await self._discard(interaction, target)
        draft = await draft_for(self.bot, interaction, target)
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
        draft = await draft_for(self.bot, interaction, draft_id)
        if draft is None:
            return
        lang = user_lang(interaction)
        if not 1 <= number <= len(draft.board.shots):
            return await reply(interaction, t("edit.card_stale", lang))
        values: Values = dict(shot_values(draft.board, number))
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
        if await draft_for(self.bot, interaction, draft_id) is None:
            return
        rules = draft_rules(self.bot)
        try:
            draft = await self.bot.editor.get(draft_id)
            board = list_board(draft.board, text, rules.limits)
            await check_guild_terms(self.bot, interaction.guild, board)
            outcome = await self.bot.editor.replace_shots(
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
        await self.bot.cards.refresh(outcome.draft)

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

        if await draft_for(self.bot, interaction, draft_id) is None:
            return
        try:
            shown = await self.bot.drafts.get(draft_id, base)
            if shown is None:
                raise KeyError(draft_id)
            edits = shot_edits(shown.board, number, values)
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

            if await draft_for(self.bot, inter, draft_id) is None:
                return
            try:
                edit = add_edit(count, typed)
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

        # Lengths up to the product's maximum: a long storyboard is made in segments.
        lengths = sorted(draft_rules(self.bot).limits.lengths)
        values: Values = {"length": draft.board.length, "aspect": draft.board.aspect}
        await interaction.response.send_modal(
            SettingsModal(lang, lengths=lengths, values=values, on_done=done)
        )

    async def _settings_done(
        self,
        interaction: discord.Interaction[Any],
        draft_id: str,
        shown: Storyboard,
        values: Values,
        lang: str,
    ) -> None:
        if await draft_for(self.bot, interaction, draft_id) is None:
            return
        # Only what the member changed in the form: a value left as shown must not undo
        # someone else's change made while the form was open.
        edits = settings_edits(shown, values)
        image = values.get("image")
        if not isinstance(image, discord.Attachment):
            image = None
        if not edits and image is None:
            return await reply(interaction, t("edit.nothing", lang))
        await interaction.response.defer(ephemeral=True, thinking=True)
        told: list[str] = []
        if edits:
            try:
                outcome = await self.bot.editor.edit(
                    draft_id,
                    edits,
                    editor_id=interaction.user.id,
                    source_id=interaction.id,
                    extra_check=terms_check(self.bot, interaction.guild),
                )
            except (StoryboardError, QuotaRefused) as exc:
                return await reply(interaction, error_text(exc, lang))
            told.append(t("draft.updated", lang, revision=outcome.draft.revision))
            await self.bot.cards.refresh(outcome.draft)
        if image is not None:
            problem = precheck(image, lang)
            result = (
                problem
                if problem
                else await new_image(
                    self.bot,
                    await image.read(),
                    draft_id,
                    interaction.user.id,
                    interaction.id,
                    lang,
                )
            )
            told.append(result)
        await reply(interaction, "\n".join(told))

    # -- undo
    async def _undo_button(
        self, interaction: discord.Interaction[Any], draft: Draft, lang: str
    ) -> None:
        try:
            outcome = await self.bot.editor.undo(
                draft.id, editor_id=interaction.user.id, source_id=interaction.id
            )
        except EditError as exc:
            return await reply(interaction, error_text(exc, lang))
        await reply(interaction, undone_text(outcome, lang))
        await redraw(self.bot, outcome)

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
            outcome = await self.bot.editor.edit(
                draft_id,
                edits,
                editor_id=interaction.user.id,
                source_id=interaction.id,
                base_revision=base,
                extra_check=terms_check(self.bot, interaction.guild),
            )
        except (StoryboardError, QuotaRefused) as exc:
            return await self._refuse_form(interaction, exc, lang, again)
        await reply(interaction, accepted_text(outcome, lang))
        await self.bot.cards.refresh(outcome.draft)

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

    # -- discard
    async def _discard(self, interaction: discord.Interaction[Any], draft_id: str) -> None:
        draft = await draft_for(self.bot, interaction, draft_id, editors=False)
        if draft is None:
            return
        cards = self.bot.cards
        async with cards.lock(draft.id):
            await self.bot.drafts.update(draft.id, state="discarded")
            await reply(interaction, t("draft.discarded", user_lang(interaction)))
            await cards.redraw(draft, discarded_by=interaction.user.mention)
        if draft.thread_id:
            try:
                # An archived thread is not in the cache: fetch it.
                thread = self.bot.get_channel(draft.thread_id) or await self.bot.fetch_channel(
                    draft.thread_id
                )
                if isinstance(thread, discord.Thread):
                    await thread.edit(locked=True, archived=True)
            except discord.HTTPException as exc:
                log.info("draft %s: thread not locked: %s", draft.id, exc)


async def setup(bot: StoryboardBot) -> None:
    await bot.add_cog(DraftControls(bot))
