"""The quota settings as an admin reads them: values, their help, lists clipped to fit an
embed, and the setting names offered as an admin types."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord
from discord import app_commands

from bot.i18n.strings import STRINGS, t
from bot.quota.settings import SETTING_NAMES, SETTINGS_HELP
from cogs.utils.ui import user_lang

VALUE_CHARS = 150
FIELD_CHARS = 1024
# Settings whose empty list means "no restriction" (for blocked_terms it means "none").
_EMPTY_IS_ALL = {"channels", "roles", "lengths", "aspects", "models"}

Change = tuple[str, Any, Any]  # setting, old, new


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def join_lines(lines: Sequence[str], limit: int = FIELD_CHARS) -> str:
    """Whole lines, as many as fit in ``limit`` characters."""
    out: list[str] = []
    size = 0
    for line in lines:
        size += len(line) + 1
        if size > limit:
            break
        out.append(line)
    return "\n".join(out)


def setting_help(name: str, lang: str) -> str:
    if lang == "en" or f"admin.setting.{name}" not in STRINGS:
        return SETTINGS_HELP.get(name, "")
    return t(f"admin.setting.{name}", lang)


def fmt_value(name: str, value: Any, lang: str) -> str:
    """A setting's value as an admin reads (and could type) it."""
    if value is None:
        return t("admin.value.none", lang)
    if isinstance(value, bool):
        return t("admin.value.on" if value else "admin.value.off", lang)
    if isinstance(value, list):
        if not value:
            return t("admin.value.all" if name in _EMPTY_IS_ALL else "admin.value.none", lang)
        if name == "channels":
            items = [f"<#{v}>" for v in value]
        elif name == "roles":
            items = [f"<@&{v}>" for v in value]
        else:
            items = [str(v) for v in value]
        return clip(", ".join(items), VALUE_CHARS)
    if name == "log_channel":
        return f"<#{value}>"
    return clip(str(value), VALUE_CHARS)


async def setting_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    lang = user_lang(interaction)
    needle = current.strip().lower()
    choices = []
    for name in SETTING_NAMES:
        help_text = setting_help(name, lang)
        if needle and needle not in name and needle not in help_text.lower():
            continue
        choices.append(app_commands.Choice(name=clip(f"{name}: {help_text}", 100), value=name))
    return choices[:25]
