"""Localizing slash commands (names stay English; descriptions and choices are translated)."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.i18n import catalog
from bot.i18n.strings import lang_of, t


def ls(key: str) -> app_commands.locale_str:
    """A command string whose translations are the catalogs' message ``key``."""
    return app_commands.locale_str(t(key, "en"), key=key)


class StoryboardTranslator(app_commands.Translator):
    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        key = string.extras.get("key")
        lang = lang_of(locale)
        if key is None or lang == catalog.DEFAULT or not catalog.has(key, lang):
            return None
        return t(key, lang)
