"""Blocked terms: the form they are matched in, and the check of a storyboard's scenes.

A term is refused wherever it appears in a scene, as a substring of the scene's normalized form
(:func:`normalize`): invisible characters, full-width forms, case and look-alike letters from
other scripts do not hide it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

from bot.domain.storyboard import is_ignorable
from bot.quota.errors import QuotaRefused
from bot.quota.settings import GuildQuota

_SPACES = re.compile(r"\s+")


@functools.cache
def _prototypes() -> dict[str, str]:
    """Each non-ASCII character of Unicode's confusables.txt -> the character it is folded to.

    confusable_homoglyphs ships confusables.txt as pairs listed both ways (a character and the
    prototype it can be mistaken for). A character has one prototype and no prototype is itself
    mapped, so the pairs form stars: each character folds to the centre of its star (of a lone
    pair, the ASCII side, else either one; the same for the terms and the text).
    """
    from confusable_homoglyphs.confusables import confusables_data

    def clean(text: str) -> str:  # right-to-left entries come wrapped in direction marks
        return "".join(ch for ch in text if not is_ignorable(ch))

    links: dict[str, set[str]] = {}
    for char, glyphs in confusables_data.items():
        a = clean(char)
        for glyph in glyphs:
            b = clean(glyph["c"])
            if a and b and a != b:
                links.setdefault(a, set()).add(b)
                links.setdefault(b, set()).add(a)
    table: dict[str, str] = {}
    seen: set[str] = set()
    for start in links:
        if start in seen:
            continue
        group, todo = [], [start]
        seen.add(start)
        while todo:
            node = todo.pop()
            group.append(node)
            for other in links[node] - seen:
                seen.add(other)
                todo.append(other)
        centre = max(group, key=lambda g: (len(links[g]), g.isascii(), g))
        for member in group:
            if len(member) == 1 and not member.isascii() and member != centre:
                table[member] = centre
    return table


@functools.cache
def _prototypes_as_i() -> dict[str, str]:
    """The same, reading the characters Unicode folds to ``l`` (Greek Ι, Cyrillic І...) as
    the capital I they also look like."""
    return {k: "i" if v == "l" else v for k, v in _prototypes().items()}


def normalize(text: str, *, capital_i: bool = False) -> str:
    """The form blocked terms are matched in, for the terms and the scenes alike.

    Invisible characters are dropped (format characters such as zero-width spaces, soft hyphens
    and direction marks; variation selectors), then NFKC (full-width forms become ASCII) and
    casefold; then every non-ASCII character that Unicode lists as confusable with another is
    replaced by its prototype (a Cyrillic ``о`` by a Latin ``o``), and runs of whitespace become
    one space. ASCII is kept as typed: ``click`` is not a disguised ``dick``, nor ``pom`` one of
    ``porn``. ``capital_i``: read look-alikes of ``l`` and ``I`` as ``i`` (``ΚΙLL``), not ``l``.
    """
    table = _prototypes_as_i() if capital_i else _prototypes()
    text = "".join(ch for ch in text if not is_ignorable(ch))
    # Folded before casefolding (the table tells capitals apart: Cyrillic Ӏ looks like l, its
    # small form like i), and again after it.
    for _ in range(2):
        text = unicodedata.normalize("NFKC", text)
        text = "".join(ch if ch.isascii() else table.get(ch, ch) for ch in text).casefold()
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold())


def check_terms(quota: GuildQuota, texts: Iterable[str]) -> None:
    """Raise QuotaRefused ``blocked_term`` naming the first blocked term found in ``texts``
    (compared in their :func:`normalize` forms, as substrings)."""
    if not quota.blocked_terms:
        return
    haystacks = [h for t in texts for h in {normalize(t), normalize(t, capital_i=True)}]
    for term in quota.blocked_terms:
        needle = normalize(term)
        if needle and any(needle in h for h in haystacks):
            raise QuotaRefused("blocked_term", term=term)
