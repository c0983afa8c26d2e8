"""Who may use a control: the draft or job a button acts on, or None after saying why not."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from bot.drafts.store import Draft
from bot.i18n.strings import t
from bot.jobs.store import Job
from cogs.utils.ui import can_edit, can_moderate, user_lang
from cogs.utils.views import reply

if TYPE_CHECKING:
    from bot.client import StoryboardBot


async def draft_for(
    bot: StoryboardBot,
    interaction: discord.Interaction[Any],
    draft_id: str,
    *,
    editors: bool = True,
) -> Draft | None:
    """The active draft a control acts on, or None after telling the member why not.
    ``editors``: members the author added may use it too (not so for Discard)."""
    lang = user_lang(interaction)
    draft = await bot.drafts.get(draft_id)
    if draft is None:
        await reply(interaction, t("error.draft_gone", lang))
        return None
    allowed = (
        await can_edit(
            bot.drafts,
            draft,
            interaction.user.id,
            getattr(interaction, "permissions", None),
        )
        if editors
        else can_moderate(interaction, draft.author_id)
    )
    if not allowed:
        key = "error.not_editor" if editors else "error.not_author"
        await reply(interaction, t(key, lang, author=f"<@{draft.author_id}>"))
        return None
    if not draft.active:
        await reply(interaction, t("error.draft_discarded", lang))
        return None
    return draft


async def job_for(
    bot: StoryboardBot, interaction: discord.Interaction[Any], job_id: str
) -> Job | None:
    """The job a result or status button acts on, for its author or a moderator; None after
    telling the member why not."""
    lang = user_lang(interaction)
    job = await bot.runtime.store.get_job(job_id)
    if job is None:
        await reply(interaction, t("error.job_gone", lang))
        return None
    if not can_moderate(interaction, job.owner_id):
        await reply(interaction, t("error.not_author", lang))
        return None
    return job
