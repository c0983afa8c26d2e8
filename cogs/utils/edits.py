"""What the card's controls and the thread both do with an edit: a new reference image, the
card redrawn after one, and the words that confirm it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.domain.markdown import code_safe
from bot.domain.storyboard import fmt_tenths
from bot.drafts.editing import Outcome
from bot.i18n.strings import error_text, t
from bot.media.images import ImageError, prepare_image_async
from cogs.utils.checks import storage_refusal

if TYPE_CHECKING:
    from bot.client import StoryboardBot


async def new_image(
    bot: StoryboardBot, data: bytes, draft_id: str, editor_id: int, source_id: int, lang: str
) -> str:
    """Check and store a new reference image; what to tell the member."""
    model = bot.runtime.models.primary
    try:
        prepared = await prepare_image_async(data, model.image_spec)
    except ImageError as exc:
        return t("error.image", lang, reason=error_text(exc, lang))
    # The image is stored with the draft: it counts against its author's storage.
    draft = await bot.drafts.get(draft_id)
    guild = bot.get_guild(draft.guild_id) if draft and draft.guild_id else None
    if draft is not None and guild is not None and draft.author_id is not None:
        refusal = await storage_refusal(
            bot, guild, draft.author_id, len(prepared.data), lang, new_draft=False
        )
        if refusal is not None:
            return refusal
    outcome = await bot.editor.replace_image(
        draft_id, prepared, editor_id=editor_id, source_id=source_id
    )
    await bot.cards.refresh(outcome.draft, new_image=True)
    text = t("edit.image_replaced", lang, revision=outcome.draft.revision)
    if not prepared.untouched:
        text += "\n" + t("draft.image_note", lang, summary=prepared.summary())
    return text


async def redraw(bot: StoryboardBot, outcome: Outcome) -> None:
    """The card after an edit or an undo (with the image again when an undo changed it)."""
    new = outcome.undone is not None and outcome.draft.image_path != outcome.undone.image_path
    await bot.cards.refresh(outcome.draft, new_image=new)


def accepted_text(outcome: Outcome, lang: str) -> str:
    """An accepted edit; with the shares when automatic durations were shared anew."""
    text = t("edit.accepted", lang, revision=outcome.draft.revision)
    if outcome.applied is not None and outcome.applied.resplit:
        autos = ", ".join(
            f"#{n} {fmt_tenths(s.tenths)} s"
            for n, s in enumerate(outcome.draft.board.shots, 1)
            if s.auto
        )
        text = t("edit.resplit", lang, revision=outcome.draft.revision, shots=autos)
    return text


def undone_text(outcome: Outcome, lang: str) -> str:
    assert outcome.undone is not None
    note = outcome.undone.note.strip().splitlines()[0] if outcome.undone.note.strip() else ""
    return t(
        "edit.undone",
        lang,
        undone=outcome.undone.revision,
        note=code_safe(note[:80]),  # the member's words, shown in code
        revision=outcome.draft.revision,
    )
