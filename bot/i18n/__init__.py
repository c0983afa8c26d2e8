"""Translations: every string a member reads, in each supported language (catalogs in locales/)."""

from bot.i18n import catalog as catalog  # installs the English renderer of core errors
