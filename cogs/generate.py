"""The job buttons: Generate on the card, Cancel on a queued status, the result's
Regenerate, Delete and Download, and a long storyboard's Retry from segment k (on a failed
chain's status) and Redo segment N (on its result), each confirmed privately with its cost.

Thin: Generate's rules are :class:`bot.jobs.intake.Intake`'s (through cogs/utils/generating.py);
here a click becomes a request and an answer.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord.ext import commands

from bot.chain.record import ChainRecord
from bot.db.connection import new_id
from bot.i18n.strings import reason_text, t
from bot.jobs.intake import Again
from bot.kie import KieError, KieUnreachable
from bot.present.chains import confirm_text
from cogs.utils.access import draft_for, job_for
from cogs.utils.generating import (
    button_requester,
    generate,
    generate_draft,
    intake_of,
    job_channel,
    start_again,
)
from cogs.utils.ui import user_lang
from cogs.utils.views import confirm_view, reply

if TYPE_CHECKING:
    from bot.client import StoryboardBot

log = logging.getLogger(__name__)


class GenerateCog(commands.Cog, name="Generate"):
    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot

    async def on_action(
        self, interaction: discord.Interaction[Any], action: str, target: str
    ) -> None:
        handler = {
            "gen": self._generate,
            "regen": self._regenerate,
            "delete": self._delete,
            "dl": self._download,
            "cancel": self._cancel,
        }[action]
        await handler(interaction, target)

    async def _generate(self, interaction: discord.Interaction[Any], draft_id: str) -> None:
        draft = await draft_for(self.bot, interaction, draft_id)
        who = await button_requester(interaction) if draft is not None else None
        if draft is None or who is None:
            return
        here = interaction.channel
        assert isinstance(here, discord.abc.Messageable)
        await generate_draft(self.bot, who, draft, here)

    async def _regenerate(self, interaction: discord.Interaction[Any], job_id: str) -> None:
        job = await job_for(self.bot, interaction, job_id)
        who = await button_requester(interaction) if job is not None else None
        if job is None or who is None:
            return
        here = job_channel(self.bot, job.channel_id) or interaction.channel
        assert isinstance(here, discord.abc.Messageable)
        await generate(
            self.bot,
            who,
            here,
            job.storyboard,
            job.image_path,
            draft_id=job.draft_id,
            revision=job.revision,
            card_message_id=job.card_message_id,
        )

    async def on_chain(
        self,
        interaction: discord.Interaction[Any],
        kind: str,
        job_id: str,
        n: int,
        new: str | None,
    ) -> None:
        """``retry`` / ``redo``: the private confirmation with the cost; ``okretry`` /
        ``okredo``: confirmed, start it. The same people as Regenerate may."""
        job = await job_for(self.bot, interaction, job_id)
        who = await button_requester(interaction) if job is not None else None
        if job is None or who is None:
            return
        if kind in ("okretry", "okredo") and new is not None:
            request = Again(
                kind="retry" if kind == "okretry" else "redo",
                source_id=job.id,
                segment=n,
                job_id=new,
                user_id=who.member.id,
                role_ids=tuple(r.id for r in who.member.roles),
            )
            await start_again(self.bot, who, job, request)
            return
        action: Literal["retry", "redo"] = "retry" if kind == "retry" else "redo"
        cost = await intake_of(self.bot).cost(action, job.id, n)
        if cost is None or job.chain is None:
            return await reply(interaction, t("chain.gone", who.lang))
        segments = ChainRecord.load(job.chain).count
        credit_usd = self.bot.settings.prices.credit_usd
        text = confirm_text(action, n, segments, cost, credit_usd, who.lang)
        await reply(interaction, text, view=confirm_view(action, job.id, n, new_id(), who.lang))

    async def _delete(self, interaction: discord.Interaction[Any], job_id: str) -> None:
        job = await job_for(self.bot, interaction, job_id)
        if job is None or interaction.message is None:
            return
        await reply(interaction, t("delete.done", user_lang(interaction)))
        await interaction.message.delete()

    async def _download(self, interaction: discord.Interaction[Any], job_id: str) -> None:
        # Like the other result buttons: the author or a moderator. Each press asks kie.ai for
        # a fresh link, which no one else's clicks should spend.
        lang = user_lang(interaction)
        job = await job_for(self.bot, interaction, job_id)
        if job is None:
            return
        if not job.result_url:
            return await reply(interaction, t("error.job_gone", lang))
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            url = await self.bot.runtime.kie.download_url(job.result_url)
        except KieError as exc:
            log.warning("job %s: download-url failed: %s", job.id, exc.meaning)
            reason = reason_text(exc.reason, None, lang)
            return await reply(interaction, t("download.failed", lang, reason=reason))
        except KieUnreachable as exc:
            log.warning("job %s: download-url failed: %s", job.id, exc)
            reason = reason_text("unreachable", {"host": exc.host}, lang)
            return await reply(interaction, t("download.failed", lang, reason=reason))
        await reply(interaction, t("download.link", lang, url=url))

    async def _cancel(self, interaction: discord.Interaction[Any], job_id: str) -> None:
        job = await job_for(self.bot, interaction, job_id)
        if job is None:
            return
        lang = user_lang(interaction)
        if await self.bot.runtime.tracker.cancel(job.id):
            await reply(interaction, t("cancel.done", lang))
        else:
            await reply(interaction, t("cancel.too_late", lang))


async def setup(bot: StoryboardBot) -> None:
    await bot.add_cog(GenerateCog(bot))
