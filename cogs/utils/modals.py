"""The forms: the whole shot list, one shot, a new shot, and the storyboard's settings.

A form only collects what was typed and hands it to a callback; when the callback refuses it,
:class:`FixView` reopens the same form with the values as typed, so nothing typed is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord

from bot.i18n.strings import t
from cogs.utils.ui import user_lang
from cogs.utils.views import safe_reply

log = logging.getLogger(__name__)

OnText = Callable[[discord.Interaction[Any], str], Awaitable[None]]
#: What a form hands on: field name -> text (or bool for a checkbox, an Attachment or None for
#: a file upload).
Values = dict[str, Any]
OnValues = Callable[[discord.Interaction[Any], Values], Awaitable[None]]


class _Form(discord.ui.Modal):
    # discord.py's Modal.on_error takes (interaction, error) where its base BaseView's takes
    # (interaction, error, item): the override below is Modal's own signature, and mypy holds
    # the library's narrowing against BaseView.
    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[Any], error: Exception, /
    ) -> None:
        log.error("form %s failed", type(self).__name__, exc_info=error)
        await safe_reply(interaction, t("error.unexpected", user_lang(interaction)))

    def _label(
        self, lang: str, key: str, component: discord.ui.Item[Any], *, describe: bool = False
    ) -> None:
        self.add_item(
            discord.ui.Label(
                text=t(key, lang)[:45],
                description=t(f"{key}.description", lang)[:100] if describe else None,
                component=component,
            )
        )


class _ShotForm(_Form):
    """The scene and duration fields both shot forms share."""

    def _scene_and_duration(self, lang: str, values: Values) -> None:
        self.scene: discord.ui.TextInput[Any] = discord.ui.TextInput(
            style=discord.TextStyle.paragraph,
            default=str(values.get("scene", ""))[:4000] or None,
            max_length=4000,
            custom_id="scene",
        )
        self.duration: discord.ui.TextInput[Any] = discord.ui.TextInput(
            default=str(values.get("duration", ""))[:20] or None,
            required=False,
            max_length=20,
            placeholder=t("modal.duration.placeholder", lang)[:100],
            custom_id="duration",
        )
        self._label(lang, "modal.scene", self.scene)
        self._label(lang, "modal.duration", self.duration, describe=True)


class ShotsModal(_Form):
    """One paragraph field, a shot per line."""

    def __init__(self, lang: str, text: str, on_text: OnText) -> None:
        super().__init__(title=t("modal.title", lang)[:45], timeout=900)
        self.on_text = on_text
        self.shots: discord.ui.TextInput[Any] = discord.ui.TextInput(
            style=discord.TextStyle.paragraph,
            default=text[:4000],
            max_length=4000,
            custom_id="shots",
        )
        self.add_item(
            discord.ui.Label(
                text=t("modal.label", lang)[:45],
                description=t("modal.description", lang)[:100],
                component=self.shots,
            )
        )

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self.on_text(interaction, self.shots.value)


def _positions(count: int, current: int) -> discord.ui.Select[Any]:
    return discord.ui.Select(
        custom_id="position",
        required=False,  # left alone: the shot stays where it is
        options=[
            discord.SelectOption(label=f"#{n}", value=str(n), default=n == current)
            for n in range(1, count + 1)
        ][:25],
    )


class ShotModal(_ShotForm):
    """One shot: its scene, its duration (blank: automatic), its position, or delete it."""

    def __init__(
        self,
        lang: str,
        *,
        number: int,
        count: int,
        values: Values,
        on_done: OnValues,
    ) -> None:
        super().__init__(title=t("modal.shot.title", lang, shot=number)[:45], timeout=900)
        self.on_done = on_done
        self._scene_and_duration(lang, values)
        self.position: discord.ui.Select[Any] | None = None
        if count > 1:
            self.position = _positions(count, int(values.get("position") or number))
            self._label(lang, "modal.position", self.position)
        self.delete: discord.ui.Checkbox[Any] = discord.ui.Checkbox(
            custom_id="delete", default=bool(values.get("delete"))
        )
        self._label(lang, "modal.delete", self.delete)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        values: Values = {
            "scene": self.scene.value,
            "duration": self.duration.value,
            "position": self.position.values[0] if self.position and self.position.values else "",
            "delete": self.delete.value,
        }
        await self.on_done(interaction, values)


class AddShotModal(_ShotForm):
    """A new shot: scene, duration (blank: automatic) and where it goes."""

    def __init__(self, lang: str, *, count: int, values: Values, on_done: OnValues) -> None:
        super().__init__(title=t("modal.add.title", lang)[:45], timeout=900)
        self.on_done = on_done
        self._scene_and_duration(lang, values)
        self.position = _positions(count + 1, int(values.get("position") or count + 1))
        self._label(lang, "modal.position", self.position)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        values: Values = {
            "scene": self.scene.value,
            "duration": self.duration.value,
            "position": self.position.values[0] if self.position.values else "",
        }
        await self.on_done(interaction, values)


class SettingsModal(_Form):
    """The video's length and aspect, and a new reference image."""

    def __init__(
        self,
        lang: str,
        *,
        lengths: Sequence[int],
        values: Values,
        on_done: OnValues,
    ) -> None:
        super().__init__(title=t("modal.settings.title", lang)[:45], timeout=900)
        self.on_done = on_done
        length = int(values["length"])
        self.length: discord.ui.Select[Any] = discord.ui.Select(
            custom_id="length",
            required=False,
            options=[
                discord.SelectOption(label=f"{n} s", value=str(n), default=n == length)
                for n in lengths
            ],
        )
        self.aspect: discord.ui.Select[Any] = discord.ui.Select(
            custom_id="aspect",
            required=False,
            options=[
                discord.SelectOption(
                    label=t(f"aspect.{a}", lang), value=a, default=a == values["aspect"]
                )
                for a in ("landscape", "portrait")
            ],
        )
        self.image: discord.ui.FileUpload[Any] = discord.ui.FileUpload(
            custom_id="image", required=False, max_values=1
        )
        self._label(lang, "modal.length", self.length)
        self._label(lang, "modal.aspect", self.aspect)
        self._label(lang, "modal.image", self.image, describe=True)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        values: Values = {
            "length": self.length.values[0] if self.length.values else "",
            "aspect": self.aspect.values[0] if self.aspect.values else "",
            "image": self.image.values[0] if self.image.values else None,
        }
        await self.on_done(interaction, values)


class FixView(discord.ui.View):
    """Reopens a form with the values as typed, so nothing typed is lost."""

    def __init__(self, lang: str, make_modal: Callable[[], discord.ui.Modal]) -> None:
        super().__init__(timeout=900)
        self.make_modal = make_modal
        button: discord.ui.Button[Any] = discord.ui.Button(
            label=t("button.fix", lang), style=discord.ButtonStyle.primary, emoji="✏️"
        )
        button.callback = self._fix  # type: ignore[method-assign]
        self.add_item(button)

    async def _fix(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_modal(self.make_modal())
