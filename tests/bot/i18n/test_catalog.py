"""The catalogs as files a translator edits: every language has every message with the same
parameters, every error code the bot raises has a message, and a Chinese server reads no
English sentence in a status, a refusal or a failure."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from fluent.syntax import FluentParser, ast
from fluent.syntax.visitor import Visitor

from bot.domain.errors import UserError
from bot.i18n import catalog
from bot.i18n.strings import LANGS, error_text, lang_of, t

ROOT = Path(__file__).resolve().parents[3]
LOCALES = ROOT / "bot" / "i18n" / "locales"


class _Variables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def visit_VariableReference(self, node: ast.VariableReference) -> None:
        self.names.add(node.id.name)


def read_folder(folder: Path) -> dict[str, set[str]]:
    """Each message id of a catalog folder -> the ``$parameters`` it uses (parsed from the
    .ftl files themselves, as a translator's tools would)."""
    out: dict[str, set[str]] = {}
    for path in sorted(folder.glob("*.ftl")):
        resource = FluentParser().parse(path.read_text(encoding="utf-8"))
        junk = [e for e in resource.body if isinstance(e, ast.Junk)]
        assert not junk, (path, [j.content[:80] for j in junk])
        for entry in resource.body:
            if isinstance(entry, ast.Message):
                assert entry.id.name not in out, (path, entry.id.name)
                found = _Variables()
                found.visit(entry)
                out[entry.id.name] = found.names
    return out


FOLDERS = sorted(p for p in LOCALES.iterdir() if p.is_dir())
ENGLISH = read_folder(LOCALES / "en")


def test_the_languages_are_the_folders():
    assert set(LANGS) == {p.name for p in FOLDERS}
    assert LANGS[0] == "en"
    assert {"en", "zh-CN"} <= set(LANGS)


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_every_language_has_every_message_with_the_same_parameters(folder: Path):
    messages = read_folder(folder)
    assert set(messages) == set(ENGLISH), set(messages) ^ set(ENGLISH)
    differ = {k: (ENGLISH[k], v) for k, v in messages.items() if v != ENGLISH[k]}
    assert not differ, differ


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_a_language_is_split_into_files_of_one_area_each(folder: Path):
    files = {p.stem for p in folder.glob("*.ftl")}
    assert {"commands", "cards", "jobs", "errors", "quota", "edits"} <= files
    for path in folder.glob("*.ftl"):
        assert len(path.read_text(encoding="utf-8").splitlines()) < 450, path


def test_chinese_is_not_a_copy_of_the_english():
    same = {
        key
        for key in catalog.dotted_keys()
        if t(key, "en", **{n: 7 for n in catalog.variables(key)})
        == t(key, "zh-CN", **{n: 7 for n in catalog.variables(key)})
    }
    # "{error}" / "⛔ {reason}": the text inside is already translated
    assert same == {"error.invalid", "usage.blocked"}


def test_the_ids_in_the_files_are_the_keys_in_the_code_with_dashes():
    assert catalog.message_id("err.edit.shot_count") == "err-edit-shot_count"
    assert catalog.has("err.edit.shot_count")
    assert all(catalog.has(key) for key in catalog.dotted_keys())
    assert not any("-" in key for key in catalog.dotted_keys())


@pytest.mark.parametrize(
    ("locale", "lang"),
    [("zh-CN", "zh-CN"), ("zh-TW", "zh-CN"), ("zh-HK", "zh-CN"), ("en-GB", "en"), ("ja", "en")],
)
def test_discord_locales_map_to_catalogs(locale: str, lang: str):
    assert lang_of(locale) == lang


def test_a_new_folder_is_a_new_language(tmp_path, monkeypatch):
    for name in ("en", "zh-CN"):
        (tmp_path / name).mkdir()
        for path in (LOCALES / name).glob("*.ftl"):
            (tmp_path / name / path.name).write_text(path.read_text(encoding="utf-8"))
    (tmp_path / "ja").mkdir()
    (tmp_path / "ja" / "cards.ftl").write_text("button-generate = 生成する\n", encoding="utf-8")
    monkeypatch.setattr(catalog, "LOCALES_DIR", tmp_path)
    monkeypatch.setattr(catalog, "CATALOGS", catalog._discover())
    for cached in (catalog._bundle, catalog._messages, catalog.keys, catalog.variables):
        cached.cache_clear()
    try:
        assert catalog.catalog_of("ja") == "ja"
        assert catalog.render("button.generate", "ja") == "生成する"
        # A message the new catalog lacks yet reads in English.
        assert catalog.render("button.discard", "ja") == catalog.render("button.discard", "en")
    finally:
        for cached in (catalog._bundle, catalog._messages, catalog.keys, catalog.variables):
            cached.cache_clear()


def test_plurals_come_from_the_catalog():
    one = t("err.quota.user_concurrent", "en", running=1, limit=1)
    two = t("err.quota.user_concurrent", "en", running=2, limit=1)
    assert one.startswith("You have 1 video running;")
    assert two.startswith("You have 2 videos running;")
    assert "for 1 shot without" in t(
        "err.no_time_left", "en", fixed=15, length=15, left=0, autos=1, min=1
    )
    assert "for 3 shots without" in t(
        "err.no_time_left", "en", fixed=15, length=15, left=0, autos=3, min=1
    )


def test_numbers_are_shown_as_written():
    # No grouping: a Discord timestamp or an id must stay one number.
    text = t("err.quota.cooldown", "en", seconds=30, until=1741608030)
    assert "<t:1741608030:R>" in text


# -- every error code the bot raises has a message ---------------------------------------------

MODULES = (
    "bot.domain.storyboard",
    "bot.domain.edit_grammar",
    "bot.drafts.editing",
    "bot.quota.policy",
    "bot.storage.retention",
    "bot.chain.plan",
    "bot.models.kling",
    "bot.media.images",
)


def error_classes() -> dict[str, type[UserError]]:
    for name in MODULES:
        importlib.import_module(name)
    found: dict[str, type[UserError]] = {}
    todo: list[type[UserError]] = [UserError]
    while todo:
        cls = todo.pop()
        found[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return found


def raised_keys() -> set[str]:
    """``<prefix>.<code>[.<shape>]`` of every error raised with a literal code in bot/."""
    classes = error_classes()
    call = re.compile(r"\b(" + "|".join(classes) + r')\(\s*"([a-z_]+)"(?P<rest>[^)]*)')
    keys: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for m in call.finditer(source):
            prefix = classes[m[1]].prefix
            shape = re.search(r"shape=([^,\n]+)", m["rest"])
            literals = re.findall(r'"(\w+)"', shape[1] if shape else "")
            if shape is None or "None" in shape[1]:
                keys.add(f"{prefix}.{m[2]}")
            keys.update(f"{prefix}.{m[2]}.{literal}" for literal in literals)
        # A syntax refusal's shape is the example it gives: _syntax(line, "move").
        for args in re.findall(r"_syntax\(line, ([^\n]+)", source):
            keys.update(f"err.edit.edit_syntax.{shape}" for shape in re.findall(r'"(\w+)"', args))
    return keys


def test_the_registry_reads_the_raise_sites():
    keys = raised_keys()
    # Guards the scan: a few codes of each kind of error, with and without a shape.
    assert {
        "err.shot_count", "err.shot_count.none", "err.total_over.model", "err.bad_duration.bare",
        "err.edit.edit_syntax.swap", "err.edit.edit_syntax.move", "err.edit.nothing_to_undo",
        "err.quota.cooldown", "err.quota.guild_budget.spent", "err.quota_bad_value",
        "storage.user_drafts",
    } <= keys  # fmt: skip


@pytest.mark.parametrize("lang", LANGS)
def test_every_raised_code_has_a_message(lang: str):
    missing = {key for key in raised_keys() if not catalog.has(key, lang)}
    assert not missing, missing


# -- a Chinese server reads Chinese ------------------------------------------------------------

# What a Chinese sentence may hold in Latin letters: names (kie.ai, Sora, Kling, Discord),
# formats, what a member or admin types (quoted, or a value like true / none / landscape), ids,
# links, mentions and timestamps.
ALLOWED_LATIN = re.compile(
    r"kie\.ai|Sora|Kling|Omni|Discord|HTTP|API|IANA|UTC|mp4|png|jpe?g|webp|JPEG|PNG|WebP|WEBP"
    r"|AVIF|GIF|PDF|SVG|https?\(s\)"
    r"|\b(?:true|false|none|landscape|portrait)\b|[A-Z][a-z]+/[A-Za-z_]+"
    r"|https?://\S+|`[^`]*`|“[^”]*”|<[^>]*>|/storyboard[\w-]*"
)
SENTENCES = (
    "err.", "error.", "storage.", "reason.", "status.", "state.", "quota.", "edit.", "image.",
)  # fmt: skip


def latin_words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]{3,}", ALLOWED_LATIN.sub("", text))


@pytest.mark.parametrize(
    "key", sorted(k for k in catalog.dotted_keys("zh-CN") if k.startswith(SENTENCES))
)
def test_every_status_refusal_and_failure_reads_chinese(key: str):
    names = catalog.variables(key, "zh-CN")
    for value in (1, 7):  # both sides of every plural
        text = t(key, "zh-CN", **{n: value for n in names})
        assert not latin_words(text), (key, text)


@pytest.mark.parametrize("key", sorted(raised_keys()))
def test_every_raised_error_reads_chinese(key: str):
    names = catalog.variables(key, "zh-CN")
    cls = next(c for c in error_classes().values() if key.startswith(c.prefix + "."))
    code, _, shape = key.removeprefix(cls.prefix + ".").partition(".")
    err = cls.__new__(cls)
    UserError.__init__(err, code, shape=shape or None, **{n: 7 for n in names})
    text = error_text(err, "zh")
    assert text and not latin_words(text), (key, text)
    assert str(err) != text  # English for the log, Chinese for the reader
