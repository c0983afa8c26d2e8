"""Members' text shown in the bot's messages, made inert: Discord renders none of its Markdown.

A scene or a quoted edit line is the member's, shown as typed: never a masked link
(``[free nitro](https://...)``), never bold, spoilers, headings or quotes, never a mention
(``<@id>``, ``<#id>``, ``@everyone``), a timestamp or a custom emoji. Everything here is plain
string work, so the core can use it without Discord's types.
"""

from __future__ import annotations

import re

# What Discord reads as Markdown anywhere in a line: emphasis, strikethrough, spoilers, code,
# masked links, and the angle brackets of mentions, timestamps, emoji and hidden-embed links.
_INLINE = re.compile(r"[\\*_~|`\[\]<>]")
# What it reads only at the start of a line: headings, subtext (``-#``), lists.
_LINE_SIGN = re.compile(r"^(\s*)([#+-])", re.MULTILINE)
_LINE_NUMBER = re.compile(r"^(\s*\d+)\.", re.MULTILINE)
# ``@everyone`` and ``@here`` are broken by a zero-width space, as Discord's own clients do.
_EVERYONE = re.compile(r"@(?=everyone|here)")
_CODE_SPAN = re.compile(r"(`[^`]*`)")
# Looks like a backtick, and cannot end a code span.
GRAVE_LOOKALIKE = "\u02cb"


def escape_markdown(text: str) -> str:
    """``text`` as Discord shows it literally, character for character (a backslash before a
    punctuation mark shows the mark itself)."""
    text = _INLINE.sub(r"\\\g<0>", text)
    text = _LINE_SIGN.sub(r"\1\\\2", text)
    text = _LINE_NUMBER.sub(r"\1\\.", text)
    return _EVERYONE.sub("@\u200b", text)


def escape_outside_code(text: str) -> str:
    """Escape everything but the inline code spans of ``text``: for the bot's own messages
    that quote a member's words in code (where nothing renders) and elsewhere. Only sound
    when every backtick in ``text`` is the bot's: otherwise use :func:`escape_markdown`."""
    parts = _CODE_SPAN.split(text)
    return "".join(part if i % 2 else escape_markdown(part) for i, part in enumerate(parts))


def code_safe(text: str) -> str:
    """``text`` to put between backticks: a backtick of its own would end the code span and
    let the rest render, so it becomes a look-alike."""
    return text.replace("`", GRAVE_LOOKALIKE)


def clip(escaped: str, limit: int) -> str:
    """Escaped text cut to at most ``limit`` characters (with an ellipsis), never in the
    middle of an escape."""
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: max(limit - 1, 0)]
    trailing = len(cut) - len(cut.rstrip("\\"))
    if trailing % 2:
        cut = cut[:-1]
    return cut + "…"


__all__ = ["GRAVE_LOOKALIKE", "clip", "code_safe", "escape_markdown", "escape_outside_code"]
