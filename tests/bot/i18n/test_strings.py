"""t() and lang_of(): a message in the reader's language, and which language that is."""

from __future__ import annotations

from enum import Enum
from types import SimpleNamespace

import pytest

from bot.i18n.strings import (
    LANGS,
    lang_of,
    t,
)

# -- the languages ---------------------------------------------------------------------------


def test_languages_are_english_and_chinese():
    assert LANGS == ("en", "zh-CN")


# -- t() -------------------------------------------------------------------------------------


def test_t_formats_in_each_language():
    assert t("card.title", "en", shots=2, length=15) == "Storyboard · 2 shots · 15 s"
    assert t("card.title", "zh", shots=2, length=15) == "分镜 · 2 个镜头 · 15 秒"
    assert t("draft.updated", "zh", revision=3) == "已更新为第 3 版。"


def test_t_defaults_to_english():
    assert t("button.generate") == "Generate"


def test_t_falls_back_to_english_for_a_missing_language():
    assert t("button.generate", "fr") == "Generate"
    assert t("card.footer", "de", draft="ab12", revision=4) == "Draft ab12 · revision 4"


def test_t_returns_the_key_for_an_unknown_key():
    assert t("no.such.key", "zh") == "no.such.key"
    assert t("no.such.key", "en", x=1) == "no.such.key"


def test_t_leaves_a_missing_parameter_visible_instead_of_raising():
    assert t("card.footer", "zh", draft="ab12") == "草稿 ab12 · 第 {revision} 版"
    assert t("card.footer", "en", draft="ab12") == "Draft ab12 · revision {revision}"


# -- lang_of ---------------------------------------------------------------------------------


class FakeLocale(Enum):
    chinese = "zh-CN"
    taiwan_chinese = "zh-TW"
    american_english = "en-US"


@pytest.mark.parametrize(
    ("locale", "lang"),
    [
        ("zh-CN", "zh-CN"),
        ("zh-TW", "zh-CN"),
        ("ZH-cn", "zh-CN"),
        (FakeLocale.chinese, "zh-CN"),
        (FakeLocale.taiwan_chinese, "zh-CN"),
        (SimpleNamespace(value="zh-CN"), "zh-CN"),
        (SimpleNamespace(value="en-US"), "en"),
        (FakeLocale.american_english, "en"),
        (None, "en"),
        ("", "en"),
        ("en-US", "en"),
        ("en-GB", "en"),
        ("fr", "en"),
        ("zh-HK", "zh-CN"),
        ("zh", "zh-CN"),
    ],
)
def test_lang_of(locale, lang):
    assert lang_of(locale) == lang


def test_lang_of_a_real_discord_locale():
    discord = pytest.importorskip("discord")
    assert lang_of(discord.Locale.chinese) == "zh-CN"
    assert lang_of(discord.Locale.taiwan_chinese) == "zh-CN"
    assert lang_of(discord.Locale.american_english) == "en"
    assert lang_of(discord.Locale.french) == "en"
