"""The thread's keywords: the words a whole message may be (``undo``, 撤销...), the aspect
names, and the form a line is matched in (full-width letters and digits read as ASCII)."""

from __future__ import annotations

import unicodedata
from typing import Literal

from bot.domain.shot_grammar import normalize

CommandKind = Literal["edit", "undo", "show", "generate", "add_editors", "remove_editors"]

#: A whole message that is a command, in English or Chinese (matched in :func:`keyword_form`).
WORDS: dict[str, CommandKind] = {
    "undo": "undo",
    "show": "show",
    "generate": "generate",
    "go": "generate",
    "撤销": "undo",
    "显示": "show",
    "生成": "generate",
}

#: Aspect names as typed (``aspect 竖屏``) -> the aspect.
ASPECT_WORDS: dict[str, str] = {"横屏": "landscape", "竖屏": "portrait"}


def keyword_form(text: str) -> str:
    """``text`` as keywords are matched: each character NFKC-normalized where that keeps it one
    character (full-width letters and digits, the ideographic space), then the full-width
    grammar characters. Same length as ``text``, so offsets in one are offsets in the other."""
    chars = (unicodedata.normalize("NFKC", c) for c in text)
    return normalize("".join(n if len(n) == 1 else c for n, c in zip(chars, text, strict=True)))
