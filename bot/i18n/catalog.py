"""The message catalogs: one folder of Fluent files per language, found on disk.

``locales/<catalog>/*.ftl`` holds a language's messages (``en``, ``zh-CN``...), split by area
(commands, cards, jobs, errors, quota, edits, admin, storage). A new folder is a new language:
:data:`CATALOGS` lists the folders found, and :func:`catalog_of` maps a Discord locale to one.
Discord locales without a catalog of their own borrow one (:data:`BORROWED`), and anything else
reads English.

A key is written with dots in the code (``err.edit.shot_count``) and with dashes in the files
(``err-edit-shot_count``): Fluent ids do not allow dots. Importing this module installs
:func:`english` as the renderer of :class:`bot.domain.errors.UserError`, so ``str(err)`` is the
English catalog's wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from fluent.runtime import FluentBundle, FluentResource
from fluent.runtime.types import FluentInt, FluentType
from fluent.syntax import FluentParser, ast
from fluent.syntax.visitor import Visitor

from bot.domain import errors

LOCALES_DIR = Path(__file__).parent / "locales"
DEFAULT = "en"

# Discord locales read in a catalog of a related language until they have their own: Traditional
# Chinese members get the Simplified catalog rather than English.
BORROWED: Mapping[str, str] = {"zh-TW": "zh-CN", "zh-HK": "zh-CN", "zh": "zh-CN"}


def _discover() -> tuple[str, ...]:
    found = sorted(p.name for p in LOCALES_DIR.iterdir() if p.is_dir() and any(p.glob("*.ftl")))
    return (DEFAULT, *(name for name in found if name != DEFAULT))


CATALOGS: tuple[str, ...] = _discover()


def catalog_of(locale: object) -> str:
    """A Discord locale (``zh-CN``, ``zh-TW``, ``en-US``, a ``discord.Locale``) or None -> the
    catalog its reader reads. A catalog name (or ``"zh"``, as older callers write it) maps to
    itself."""
    value = str(getattr(locale, "value", locale) or "")
    if not value:
        return DEFAULT
    lowered = {name.lower(): name for name in CATALOGS}
    borrowed = {k.lower(): v for k, v in BORROWED.items()}
    for candidate in (value, value.split("-")[0]):
        key = candidate.lower()
        if key in lowered:
            return lowered[key]
        if key in borrowed and borrowed[key] in CATALOGS:
            return borrowed[key]
    return DEFAULT


def message_id(key: str) -> str:
    """``err.edit.shot_count`` -> ``err-edit-shot_count`` (the id in the .ftl files)."""
    return key.replace(".", "-")


def files(catalog: str) -> list[Path]:
    return sorted((LOCALES_DIR / catalog).glob("*.ftl"))


@cache
def _bundle(catalog: str) -> FluentBundle:
    bundle = FluentBundle([catalog], use_isolating=False)
    for path in files(catalog):
        bundle.add_resource(FluentResource(path.read_text(encoding="utf-8")))
    return bundle


@cache
def keys(catalog: str = DEFAULT) -> frozenset[str]:
    """The message ids a catalog defines."""
    return frozenset(_messages(catalog))


def dotted_keys(catalog: str = DEFAULT) -> frozenset[str]:
    """The keys a catalog defines, as the code writes them (``err.edit.shot_count``)."""
    return frozenset(name.replace("-", ".") for name in keys(catalog))


@cache
def variables(key: str, catalog: str = DEFAULT) -> frozenset[str]:
    """The ``$parameters`` message ``key`` uses in ``catalog`` (in any of its variants)."""
    message = _messages(catalog).get(message_id(key))
    if message is None:
        return frozenset()
    found: set[str] = set()

    class Variables(Visitor):
        def visit_VariableReference(self, node: ast.VariableReference) -> None:
            found.add(node.id.name)

    Variables().visit(message)
    return frozenset(found)


@cache
def _messages(catalog: str) -> dict[str, ast.Message]:
    parser = FluentParser()
    out: dict[str, ast.Message] = {}
    for path in files(catalog):
        for entry in parser.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(entry, ast.Message):
                out[entry.id.name] = entry
    return out


def has(key: str, catalog: str = DEFAULT) -> bool:
    return message_id(key) in keys(catalog)


def _arg(value: Any, catalog: str) -> Any:
    if isinstance(value, FluentType | str):
        return value
    if isinstance(value, errors.Ref):
        return render(value.key, catalog, value.params)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        # Still a number to the plural selectors; shown as Python shows it (no grouping, so
        # ids and <t:...> timestamps stay intact).
        return FluentInt(value, useGrouping=False)
    if isinstance(value, float):
        return format(value)
    if isinstance(value, errors.OneOf):
        return join(value, catalog, word="or")
    if isinstance(value, list | tuple):
        return join(value, catalog, word=None)
    return "" if value is None else str(value)


def join(items: list[Any] | tuple[Any, ...], catalog: str, *, word: str | None = "or") -> str:
    """``a, b or c`` (``word=None``: ``a, b, c``) in ``catalog``'s words. An item the catalog
    words (``value-<item>``, e.g. an aspect's name) is shown in them."""
    words = [
        render(f"value.{item}", catalog) if has(f"value.{item}", catalog) else str(item)
        for item in items
    ]
    if len(words) <= 1:
        return "".join(words)
    sep = render("list.separator", catalog)
    last = sep if word is None else render(f"list.{word}", catalog)
    if _wide(words[-2][-1:]):
        last = last.lstrip(" ")  # 横屏或竖屏, but 10、15 或 25: no space beside a CJK word
    if _wide(words[-1][:1]):
        last = last.rstrip(" ")
    return sep.join(words[:-1]) + last + words[-1]


def _wide(char: str) -> bool:
    """A CJK character (no space is put between it and a CJK connective)."""
    return bool(char) and ord(char) >= 0x2E80


def render(key: str, catalog: str = DEFAULT, params: Mapping[str, Any] | None = None) -> str:
    """The message ``key`` in ``catalog`` (English where that catalog lacks it), formatted with
    ``params``; the key itself when no catalog has it. Lists become ``a, b or c``."""
    if not has(key, catalog):
        if catalog == DEFAULT or not has(key, DEFAULT):
            return key
        catalog = DEFAULT
    bundle = _bundle(catalog)
    message = bundle.get_message(message_id(key))
    if message.value is None:  # pragma: no cover - every message in the catalogs has a value
        return key
    args = {name: _arg(value, catalog) for name, value in (params or {}).items()}
    # A parameter the caller forgot stays visible as {name} instead of failing the message.
    args.update({name: "{" + name + "}" for name in variables(key, catalog) if name not in args})
    text, _errors = bundle.format_pattern(message.value, args)
    return str(text)


def render_error(key: str, catalog: str, params: Mapping[str, Any]) -> str:
    """A core error's message: as :func:`render`, with a ``where`` that is a shot number worded
    as the catalog's ``where.shot`` ("Shot 3")."""
    values = dict(params)
    where = values.get("where")
    if isinstance(where, int) and not isinstance(where, bool):
        values["where"] = render("where.shot", catalog, {"shot": where})
    return render(key, catalog, values)


def english(key: str, params: Mapping[str, Any]) -> str | None:
    """A core error's English text (``None`` when the catalog has no such message)."""
    return render_error(key, DEFAULT, params) if has(key, DEFAULT) else None


errors.use_renderer(english)
