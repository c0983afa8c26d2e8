"""What a member reads, in their language: the public face of the catalogs.

``t(key, lang, **params)`` renders a message of the catalogs (``bot/i18n/locales``, see
:mod:`bot.i18n.catalog`); a message a catalog lacks is read in English. ``lang`` is a catalog
name as :func:`lang_of` gives it (``"en"``, ``"zh-CN"``; ``"zh"`` is read as ``"zh-CN"``).

Core errors (:class:`bot.domain.errors.UserError` and its subclasses) carry a code and their
parameters, and :func:`error_text` renders their message (``err.<code>``, ``err.edit.<code>``,
``err.quota.<code>``, ``storage.<code>``) in the reader's language: the English text is the same
catalog's (``str(err)``). :func:`reason_text` words why a job ended.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from bot.domain.errors import UserError
from bot.i18n import catalog
from bot.quota.policy import QuotaRefused

# The catalogs there are, English first (one folder each under bot/i18n/locales).
LANGS: tuple[str, ...] = catalog.CATALOGS


def lang_of(locale: object) -> str:
    """A Discord locale (``zh-CN``, ``zh-TW``, ``en-US``...) or None -> the catalog to read."""
    return catalog.catalog_of(locale)


def t(key: str, lang: str = "en", /, **params: Any) -> str:
    """The message ``key`` (``status.queued``) in ``lang``, formatted with ``params``."""
    return catalog.render(key, catalog.catalog_of(lang), params)


def reason_text(code: str | None, params: Mapping[str, Any] | None, lang: str) -> str:
    """Why a job ended (``Job.fail_code`` + ``Job.fail_params``, see bot.jobs.reasons) as a clause
    in ``lang``; never kie.ai's or the operator's English detail."""
    values: dict[str, Any] = dict(params or {})
    if code == "fallback_refused":
        # The rule the fallback broke is a quota refusal of its own: its code and parameters.
        rule = QuotaRefused(str(values.get("rule", "")), **dict(values.get("rule_params") or {}))
        values["rule"] = error_text(rule, lang).rstrip("。.")
    if code == "segment_failed":
        # The segment's own reason, with its own values, inside the chain's sentence.
        inner = values.get("reason")
        inner = inner if isinstance(inner, str) and inner != "segment_failed" else None
        values["reason"] = reason_text(inner, values, lang)
    key = f"reason.{code}"
    return t(key if catalog.has(key) else "reason.other", lang, **values)


def error_text(err: Exception, lang: str) -> str:
    """A core error in the reader's language; any other exception as its English text."""
    if not isinstance(err, UserError):
        return str(err)
    lang = catalog.catalog_of(lang)
    if not catalog.has(err.key):
        return str(err)  # a code the catalogs do not know yet: the raiser's own words
    return catalog.render_error(err.key, lang, err.params)


class _Table(Mapping[str, Mapping[str, str]]):
    """``STRINGS[key][lang]``: a message with its parameters shown as ``{name}``.

    For code written against the old string table (is there a message ``key``; its wording with
    placeholders). New code calls :func:`t` and :func:`bot.i18n.catalog.has`.
    """

    def __getitem__(self, key: str) -> Mapping[str, str]:
        if not catalog.has(key):
            raise KeyError(key)
        names = catalog.variables(key)
        return {
            lang: catalog.render(key, lang, {n: "{" + n + "}" for n in names})
            for lang in LANGS
            if catalog.has(key, lang)
        }

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(catalog.dotted_keys()))

    def __len__(self) -> int:
        return len(catalog.keys())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and catalog.has(key)


STRINGS: Mapping[str, Mapping[str, str]] = _Table()
