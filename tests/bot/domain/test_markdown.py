"""bot.domain.markdown: members' text shown by the bot renders as nothing but text."""

from __future__ import annotations

import re

import pytest

from bot.domain.markdown import clip, code_safe, escape_markdown, escape_outside_code
from bot.domain.storyboard import Shot, Storyboard
from bot.models.sora import SoraStoryboard
from bot.present.cards import DESCRIPTION_LIMIT, draft_card


def shown(escaped: str) -> str:
    """What a reader sees of escaped text."""
    return re.sub(r"\\(.)", r"\1", escaped).replace("@\u200b", "@")


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("[free nitro](https://evil.example)", r"\[free nitro\](https://evil.example)"),
        ("**bold** __u__ ~~s~~ ||spoiler||", r"\*\*bold\*\* \_\_u\_\_ \~\~s\~\~ \|\|spoiler\|\|"),
        ("`code` \\ back", r"\`code\` \\ back"),
        ("<@123> <#45> <@&6> <t:1:R> <:e:7>", r"\<@123\> \<#45\> \<@&6\> \<t:1:R\> \<:e:7\>"),
        ("@everyone and @here", "@\u200beveryone and @\u200bhere"),
        ("# head\n-# small\n- item\n+ item\n  12. item\n> quote", "\\# head\n\\-# small\n"
         "\\- item\n\\+ item\n  12\\. item\n\\> quote"),
        ("a kitten (#1-#3), 7.5 s; it's 猫", "a kitten (#1-#3), 7.5 s; it's 猫"),
    ],
)  # fmt: skip
def test_escape_markdown(text: str, escaped: str) -> None:
    assert escape_markdown(text) == escaped
    assert shown(escaped) == text


def test_escape_outside_code_keeps_the_bots_code_spans() -> None:
    text = '`#1 = [a](b)`: "[a](b)" is not a duration; write `7.5s`.'
    assert escape_outside_code(text) == (
        '`#1 = [a](b)`: "\\[a\\](b)" is not a duration; write `7.5s`.'
    )
    assert escape_outside_code("no code <@1>") == "no code \\<@1\\>"


def test_code_safe_cannot_close_a_code_span() -> None:
    assert code_safe("x` [a](b) `y") == "xˋ [a](b) ˋy"


def test_clip_never_cuts_an_escape_in_half() -> None:
    assert clip("abc", 5) == "abc"
    assert clip(r"ab\*cd", 4) == "ab…"
    assert clip(r"abc\*d", 5) == "abc…"
    assert clip(r"abc\*de", 6) == "abc\\*…"
    assert clip(r"a\\\\", 4) == "a\\\\…"


def test_the_card_fits_discord_however_much_there_is_to_escape() -> None:
    model = SoraStoryboard()
    board = Storyboard(
        shots=(
            *(Shot(scene="*" * 350, tenths=20) for _ in range(9)),
            Shot(scene="a calm sea", tenths=20),
        ),
        length=25,
    )
    card = draft_card(
        draft_id="d1",
        revision=1,
        board=board,
        model=model,
        author_mention="<@1>",
        credit_usd=0.005,
        lang="en",
        has_thread=True,
        availability="✅ <@1> can generate now.",
    )
    assert len(card.description) <= DESCRIPTION_LIMIT
    lines = card.description.splitlines()
    assert lines[9] == "**10.** `2 s` a calm sea"  # short scenes stay whole
    assert all(line.endswith("…") and "\\*" in line for line in lines[:9])
    assert "\n\n-# ✅ <@1> can generate now.\n-# " in card.description
