"""Translations: every string a member reads, in each supported language."""
