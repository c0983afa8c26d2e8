"""The thread's keywords (bot.domain.edit_words) in Chinese and in full-width letters, beside
the English ones."""

from __future__ import annotations

import pytest

from bot.domain.edit_grammar import Command, Edit, EditError, parse_message
from bot.domain.edit_words import keyword_form


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("撤销", "undo"),
        ("显示", "show"),
        ("生成", "generate"),
        (" 生成 ", "generate"),
        ("ｕｎｄｏ", "undo"),
        ("ＵＮＤＯ", "undo"),
        ("ｓｈｏｗ", "show"),
        ("ｇｅｎｅｒａｔｅ", "generate"),
        ("ｇｏ", "generate"),
    ],
)
def test_a_whole_message_keyword(text: str, kind: str) -> None:
    assert parse_message(text) == Command(kind=kind)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("时长 25", 25),
        ("时长25秒", 25),
        ("时长：15", 15),
        ("时长 ２５", 25),
        ("ｌｅｎｇｔｈ　２５", 25),
        ("ＬＥＮＧＴＨ １０ｓ", 10),
    ],
)
def test_length_in_chinese_and_full_width(text: str, length: int) -> None:
    assert parse_message(text) == Command(
        kind="edit", edits=(Edit(kind="length", line=text.strip(), length=length),)
    )


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        ("aspect 横屏", "landscape"),
        ("aspect 竖屏", "portrait"),
        ("画幅 竖屏", "portrait"),
        ("画幅：横屏", "landscape"),
        ("ａｓｐｅｃｔ ｐｏｒｔｒａｉｔ", "portrait"),
    ],
)
def test_aspect_in_chinese_and_full_width(text: str, aspect: str) -> None:
    assert parse_message(text) == Command(
        kind="edit", edits=(Edit(kind="aspect", line=text, aspect=aspect),)
    )


def test_a_keyword_in_a_list_of_edits_is_refused_with_its_word() -> None:
    with pytest.raises(EditError) as info:
        parse_message("#1 a cat\n撤销")
    assert info.value.code == "edit_word_alone"
    assert info.value.params["word"] == "撤销"


def test_full_width_move_and_swap() -> None:
    assert parse_message("ｍｏｖｅ ＃３ ＃１") == Command(
        kind="edit", edits=(Edit(kind="move", line="ｍｏｖｅ ＃３ ＃１", shot=3, to=1),)
    )
    assert parse_message("ｓｗａｐ #1 #2") == Command(
        kind="edit", edits=(Edit(kind="swap", line="ｓｗａｐ #1 #2", shot=1, to=2),)
    )


def test_the_scene_is_kept_as_typed() -> None:
    # Only keywords are normalized: a full-width scene stays full-width.
    command = parse_message("＃２ ＡＢＣ ｃａｔ")
    assert command is not None
    assert command.edits[0].scene == "ＡＢＣ ｃａｔ"


def test_chinese_chat_is_not_an_edit() -> None:
    assert parse_message("生成得很好") is None
    assert parse_message("时长是多少？") is None
    assert parse_message("横屏") is None


def test_keyword_form_keeps_offsets() -> None:
    for text in ("ｌｅｎｇｔｈ　２５", "＃３ ﬁne ①", "aspect 竖屏"):
        assert len(keyword_form(text)) == len(text)
    assert keyword_form("ｌｅｎｇｔｈ　２５") == "length 25"
