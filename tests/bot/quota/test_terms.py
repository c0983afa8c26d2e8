"""bot.quota.terms: blocked terms, whatever disguises them."""

from __future__ import annotations

import pytest

from bot.quota.errors import QuotaRefused
from bot.quota.settings import GuildQuota
from bot.quota.terms import check_terms


@pytest.mark.parametrize(
    ("terms", "texts", "hit"),
    [
        (["blood"], ["ＢＬＯＯＤ everywhere"], "blood"),
        (["Blood"], ["a BloodBath"], "Blood"),
        (["血腥"], ["一个非常血腥的场景"], "血腥"),
        (["ｇｕｎ"], ["a water gun"], "ｇｕｎ"),
        (["straße"], ["STRASSE"], "straße"),
        (["blood"], ["calm sea", "lovely"], None),
        ([], ["blood"], None),
        # Invisible characters inside a word (format characters, a variation selector).
        (["gore"], ["so much go\u200bre"], "gore"),
        (["gore"], ["so much go\u00adre"], "gore"),
        (["gore"], ["g\u2060o\ufe0fr\u200de"], "gore"),
        (["血腥"], ["一个血\u200b腥的场景"], "血腥"),
        (["血腥"], ["一个血\ufeff腥的场景"], "血腥"),
        # Look-alike letters from other scripts, in the text or in the term.
        (["gore"], ["so much g\u043ere"], "gore"),  # Cyrillic о
        (["gore"], ["GОRЕ"], "gore"),  # Cyrillic О and Е
        (["blood"], ["a bl\u03bf\u03bfd bath"], "blood"),  # Greek ο
        (["g\u043ere"], ["so much gore"], "g\u043ere"),
        (["gore"], ["𝐠𝐨𝐫𝐞"], "gore"),  # mathematical bold
        (["gore"], ["ｇ\u200bｏｒｅ"], "gore"),
        (["kill"], ["KI\u04c0\u04c0"], "kill"),  # Cyrillic Ӏ for l
        (["kill"], ["\u039a\u0399LL"], "kill"),  # Greek Κ and Ι for K and I
        # Plain ASCII text is never folded: these are different words, not disguises.
        (["dick"], ["click the button"], None),
        (["porn"], ["a pomegranate"], None),
    ],
)
def test_blocked_terms(terms: list[str], texts: list[str], hit: str | None) -> None:
    quota = GuildQuota(blocked_terms=terms)
    if hit is None:
        check_terms(quota, texts)
        return
    with pytest.raises(QuotaRefused) as info:
        check_terms(quota, texts)
    assert info.value.code == "blocked_term" and info.value.params == {"term": hit}
    assert hit in str(info.value)
