"""The persistent components on the bot's messages, and private answers to interactions.

Every button and select is a DynamicItem whose custom_id carries the draft or job id, so it
keeps working after a restart. A component only routes: the cog named in :data:`ACTIONS` handles
the click; a long storyboard's **Retry from segment k**, **Redo a segment** and their
**Confirm** go to the Generate cog's ``on_chain``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.chain.record import ChainRecord
from bot.domain.storyboard import fmt_tenths
from bot.drafts.store import Draft
from bot.i18n.strings import t
from bot.jobs.intake import retry_segment
from bot.jobs.store import Job, JobState
from cogs.utils.ui import user_lang

log = logging.getLogger(__name__)

#: action -> (style, emoji, label key, the cog that handles it)
ACTIONS: dict[str, tuple[discord.ButtonStyle, str, str, str]] = {
    "gen": (discord.ButtonStyle.primary, "🎬", "button.generate", "Generate"),
    "edit": (discord.ButtonStyle.secondary, "✏️", "button.edit", "DraftControls"),
    "add": (discord.ButtonStyle.secondary, "➕", "button.add_shot", "DraftControls"),
    "undo": (discord.ButtonStyle.secondary, "↩️", "button.undo", "DraftControls"),
    "set": (discord.ButtonStyle.secondary, "⚙️", "button.settings", "DraftControls"),
    "discard": (discord.ButtonStyle.secondary, "🗑️", "button.discard", "DraftControls"),
    "regen": (discord.ButtonStyle.primary, "🔁", "button.regenerate", "Generate"),
    "delete": (discord.ButtonStyle.secondary, "🗑️", "button.delete", "Generate"),
    "dl": (discord.ButtonStyle.secondary, "⬇️", "button.download", "Generate"),
    "cancel": (discord.ButtonStyle.secondary, "✖️", "button.cancel", "Generate"),
}


async def _guarded(
    interaction: discord.Interaction[Any],
    handler: Callable[[], Awaitable[None]],
    what: str,
    *args: object,
) -> None:
    """Await a cog's handler of a click; an unexpected error is logged and told to the user."""
    try:
        await handler()
    except Exception:
        log.exception(what, *args)
        await safe_reply(interaction, t("error.unexpected", user_lang(interaction)))


def _select(
    custom_id: str, placeholder: str, options: list[discord.SelectOption], *, row: int | None = None
) -> discord.ui.Select[Any]:
    """A persistent select; Discord refuses one without options, so an empty list gets ``1``."""
    return discord.ui.Select(
        custom_id=custom_id,
        placeholder=placeholder[:150],
        options=options or [discord.SelectOption(label="1", value="1")],
        row=row,
    )


def _options_of(item: discord.ui.Item[Any]) -> list[discord.SelectOption]:
    """The options of the select a click came from (to rebuild it after a restart)."""
    return list(item.options) if isinstance(item, discord.ui.Select) else []


def _chosen(select: discord.ui.Select[Any]) -> int:
    """The number the user picked in a select whose values are numbers (1 if none)."""
    value = select.values[0] if select.values else "1"
    return int(value) if value.isdigit() else 1


async def _route(interaction: discord.Interaction[Any], action: str, target: str) -> None:
    cog: Any = interaction.client.get_cog(ACTIONS[action][3])
    await _guarded(
        interaction,
        lambda: cog.on_action(interaction, action, target),
        "component %s:%s failed",
        action,
        target,
    )


class ActionButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"sb:(?P<action>gen|edit|add|undo|set|discard|regen|delete|dl|cancel)"
    r":(?P<target>[0-9a-f]+)",
):
    """Every persistent button: ``sb:<action>:<draft or job id>``."""

    def __init__(self, action: str, target: str, lang: str = "en", *, row: int | None = None):
        style, emoji, key, _cog = ACTIONS[action]
        super().__init__(
            discord.ui.Button(
                style=style,
                emoji=emoji,
                label=t(key, lang),
                custom_id=f"sb:{action}:{target}",
                row=row,
            )
        )
        self.action = action
        self.target = target

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: Any,
        /,
    ) -> ActionButton:
        if match["action"] not in ACTIONS:
            raise ValueError(f"unknown action {match['action']}")
        return cls(match["action"], match["target"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _route(interaction, self.action, self.target)


class ShotSelect(
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=r"sb:shot:(?P<target>[0-9a-f]+)",
):
    """The card's "edit one shot" menu: ``sb:shot:<draft id>``; the value is the shot number."""

    def __init__(self, target: str, options: list[discord.SelectOption], lang: str = "en") -> None:
        super().__init__(_select(f"sb:shot:{target}", t("select.shot", lang), options, row=1))
        self.target = target

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: Any,
        /,
    ) -> ShotSelect:
        return cls(match["target"], _options_of(item))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        cog: Any = interaction.client.get_cog("DraftControls")
        await _guarded(
            interaction,
            lambda: cog.on_shot_selected(interaction, self.target, _chosen(self.item)),
            "shot select on %s failed",
            self.target,
        )


async def _route_chain(
    interaction: discord.Interaction[Any], kind: str, job_id: str, n: int, new: str | None
) -> None:
    cog: Any = interaction.client.get_cog("Generate")
    await _guarded(
        interaction,
        lambda: cog.on_chain(interaction, kind, job_id, n, new),
        "chain %s:%s:%s failed",
        kind,
        job_id,
        n,
    )


class ChainButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"sb:(?P<kind>retry|okretry|okredo):(?P<job>[0-9a-f]+):(?P<n>[0-9]+)"
    r"(?::(?P<new>[0-9a-f]+))?",
):
    """**Retry from segment n** on a failed chain's status (``sb:retry:<job>:<n>``), and the
    **Confirm** of a retry or redo (``sb:okretry:<job>:<n>:<new job id>``, ``sb:okredo:...``)
    on the private confirmation that showed its cost."""

    def __init__(self, kind: str, job_id: str, n: int, new: str | None = None, lang: str = "en"):
        confirm = kind.startswith("ok")
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.success if confirm else discord.ButtonStyle.primary,
                emoji="✔️" if confirm else "🔁",
                label=t(
                    "chain.button.confirm" if confirm else "chain.button.retry", lang, segment=n
                )[:80],
                custom_id=f"sb:{kind}:{job_id}:{n}" + (f":{new}" if new else ""),
            )
        )
        self.kind, self.job_id, self.n, self.new = kind, job_id, n, new

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: Any,
        /,
    ) -> ChainButton:
        return cls(match["kind"], match["job"], int(match["n"]), match["new"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _route_chain(interaction, self.kind, self.job_id, self.n, self.new)


class RedoSelect(
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=r"sb:redo:(?P<job>[0-9a-f]+)",
):
    """**Redo a segment** on a delivered chain's result: ``sb:redo:<job id>``; the value is
    the segment's number."""

    def __init__(self, job_id: str, options: list[discord.SelectOption], lang: str = "en") -> None:
        super().__init__(_select(f"sb:redo:{job_id}", t("chain.select.redo", lang), options))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: Any,
        /,
    ) -> RedoSelect:
        return cls(match["job"], _options_of(item))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _route_chain(interaction, "redo", self.job_id, _chosen(self.item), None)


def redo_options(job: Job, lang: str) -> list[discord.SelectOption]:
    """One option per segment of a chain: ``Redo segment 2`` · its shots."""
    if job.chain is None:
        return []
    options = []
    for k, seg in enumerate(ChainRecord.load(job.chain).segments, 1):
        first, count = seg.start + 1, len(seg.board.shots)
        shots = str(first) if count == 1 else f"{first}-{first + count - 1}"
        options.append(
            discord.SelectOption(
                label=t("chain.option.redo", lang, segment=k)[:100],
                description=t("chain.option.redo_shots", lang, count=count, shots=shots)[:100],
                value=str(k),
            )
        )
    return options[:25]


def confirm_view(kind: str, job_id: str, n: int, new: str, lang: str) -> discord.ui.View:
    """The private confirmation's **Confirm**: the new chain's id is chosen here, once."""
    return _view(ChainButton(f"ok{kind}", job_id, n, new, lang))


def shot_options(draft: Draft, lang: str) -> list[discord.SelectOption]:
    options = []
    for n, shot in enumerate(draft.board.shots, 1):
        auto = f" {t('card.auto', lang)}" if shot.auto else ""
        label = f"{n} · {fmt_tenths(shot.tenths)} s{auto} · {shot.scene}"
        options.append(
            discord.SelectOption(
                label=label if len(label) <= 100 else label[:99] + "…", value=str(n)
            )
        )
    return options


def _view(*items: discord.ui.Item[Any]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    return view


def draft_view(draft: Draft, lang: str) -> discord.ui.View:
    """The card's controls: every edit is possible without typing."""
    return _view(
        *(ActionButton(a, draft.id, lang, row=0) for a in ("gen", "edit", "add", "undo")),
        ShotSelect(draft.id, shot_options(draft, lang), lang),
        *(ActionButton(a, draft.id, lang, row=2) for a in ("set", "discard")),
    )


def status_view(job: Job, lang: str) -> discord.ui.View | None:
    if job.state == JobState.QUEUED:
        return _view(ActionButton("cancel", job.id, lang))
    segment = retry_segment(job)
    if segment is not None:
        return _view(ChainButton("retry", job.id, segment, lang=lang))
    return None


#: The result's buttons that carry its job id (and appear on no other message).
RESULT_ACTIONS = ("regen", "delete", "dl", "redo")


def result_custom_ids(job_id: str) -> frozenset[str]:
    """The custom ids only a result message of ``job_id`` carries: only the bot sets them."""
    return frozenset(f"sb:{action}:{job_id}" for action in RESULT_ACTIONS)


def result_view(job: Job, lang: str, *, downloadable: bool = False) -> discord.ui.View:
    buttons = [ActionButton("regen", job.id, lang)]
    if job.draft_id:
        buttons.append(ActionButton("edit", job.draft_id, lang))
    buttons.append(ActionButton("delete", job.id, lang))
    if downloadable:
        buttons.append(ActionButton("dl", job.id, lang))
    if job.is_chain:
        # A long storyboard's video: one segment (and those after it) can be made again.
        return _view(*buttons, RedoSelect(job.id, redo_options(job, lang), lang))
    return _view(*buttons)


async def safe_reply(interaction: discord.Interaction[Any], text: str) -> None:
    """Last resort after an unexpected error: tell the user, never raise."""
    try:
        await reply(interaction, text)
    except discord.HTTPException:
        pass


async def reply(interaction: discord.Interaction[Any], text: str, **kwargs: Any) -> None:
    """An ephemeral answer, whether or not the interaction was answered already."""
    text = text if len(text) <= 2000 else text[:1999] + "…"
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, **kwargs)
    else:
        await interaction.response.send_message(text, ephemeral=True, **kwargs)
