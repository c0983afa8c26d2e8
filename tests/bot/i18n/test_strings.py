"""The string table and the translation of core errors, as a reader sees them."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import itertools
import re
import string
import tempfile
from collections.abc import Awaitable, Callable
from enum import Enum
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.chain.plan import check_long_storyboard, plan_segments
from bot.config.settings import QuotaDefaults
from bot.domain.edit_grammar import EditError, apply, parse_line, parse_message
from bot.domain.errors import UserError
from bot.domain.shot_grammar import parse_duration, parse_lines, parse_shot_line, resolve
from bot.domain.storyboard import (
    Limits,
    Shot,
    Storyboard,
    StoryboardError,
    rebalance,
    share_time,
    validate,
)
from bot.drafts.editing import DraftEditor, NothingToUndo, StaleEdit
from bot.drafts.store import Drafts
from bot.i18n.strings import (
    LANGS,
    STRINGS,
    error_text,
    lang_of,
    t,
)
from bot.jobs.store import Store
from bot.models import known_models
from bot.models.kling import KlingOmni
from bot.models.sora import SoraStoryboard
from bot.quota.policy import QuotaRefused, Quotas, QuotaSettingError, check_terms
from tests.helpers import TestClock

ROOT = Path(__file__).resolve().parents[3]
SORA = SoraStoryboard.limits


# Latin-script words a Chinese text may hold: names, formats, the grammar's own keywords.
ALLOWED_LATIN = re.compile(r"kie\.ai|Sora|Kling|Omni|mp4|https?://\S+|`[^`]*`|“[^”]*”|<[^>]*>")


def latin_words(text: str) -> list[str]:
    """Runs of 3+ Latin letters left in ``text`` once the allowed tokens are taken out."""
    return re.findall(r"[A-Za-z]{3,}", ALLOWED_LATIN.sub("", text))


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def board(*tenths: int, length: int = 15, aspect: str = "landscape", scene: str = "a cat"):
    return Storyboard(
        shots=tuple(Shot(scene=scene, tenths=x) for x in tenths), length=length, aspect=aspect
    )


def raised(fn, *args, **kwargs) -> StoryboardError:
    with pytest.raises(StoryboardError) as info:
        fn(*args, **kwargs)
    return info.value


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


# -- core errors -----------------------------------------------------------------------------


def core_errors() -> dict[str, StoryboardError]:
    """Every StoryboardError the core raises, triggered through the real code paths."""
    one_aspect = Limits(
        max_shots=10, min_shot_tenths=1, max_shot_tenths=150, lengths=(10, 15, 25),
        aspects=("landscape",),
    )  # fmt: skip
    return {
        "shot_count": raised(validate, board(*[10] * 11, length=15), SORA),
        "shot_count_none": raised(resolve, [], 15, SORA),
        "length": raised(validate, board(50, length=12), SORA),
        "aspect": raised(validate, board(50, aspect="portrait"), one_aspect),
        "scene_empty": raised(validate, board(50, 50, scene="  "), SORA),
        "scene_empty_after_duration": raised(parse_lines, ["5 | a cat", "7.5 |  "]),
        "scene_long": raised(validate, board(50, scene="x" * 351), SORA),
        "shot_duration": raised(validate, board(160, length=25), SORA),
        "shot_duration_auto": raised(
            validate, Storyboard(shots=(Shot(scene="a", tenths=250, auto=True),), length=25), SORA
        ),
        "total_over": raised(validate, board(100, 75, length=15), SORA),
        "total_over_kling": raised(KlingOmni().validate, board(80, 80, length=15)),
        "no_time_left": raised(share_time, [140, None, None], 15, min_tenths=10),
        "bad_duration": raised(parse_shot_line, "7.x | a cat", where=3),
        "bad_duration_bare": raised(parse_duration, "1..5"),
        "duration_precision": raised(parse_lines, ["5 | a", "5 | b", "7.55 | a cat"]),
        "duration_precision_bare": raised(parse_duration, "2.25s"),
        "shot_over_segment": raised(plan_segments, board(30, 160, length=25), KlingOmni()),
        "segments_over": raised(
            plan_segments, board(*[30] * 20, length=60), KlingOmni(), max_segments=3
        ),
        "long_total": raised(check_long_storyboard, board(*[31] * 20, length=60)),
    }


ERRORS = core_errors()

# What the Chinese reader must see: the numbers (and positions) of each error.
EXPECTED_ZH = {
    "shot_count": "一个分镜包含 1 到 10 个镜头；当前有 11 个。",
    "shot_count_none": "请至少写一个镜头。",
    "length": "视频时长可选 10、15 或 25 秒；不支持 12 秒。",
    "aspect": "画幅只能是横屏，不支持竖屏。",
    "scene_empty": "第 1 个镜头没有场景描述。",
    "scene_empty_after_duration": "第 2 个镜头：时长后面没有场景描述。",
    "scene_long": "第 1 个镜头的场景描述有 351 个字符，上限为 350。请缩短或拆成两个镜头。",
    "shot_duration": "第 1 个镜头时长为 16 秒；每个镜头应为 0.1 到 15 秒。",
    "shot_duration_auto": "第 1 个镜头时长为 25 秒；每个镜头应为 0.1 到 15 秒。"
    "请再添加一个镜头来分担时长。",
    "total_over": "各镜头总时长为 17.5 秒，超过了 15 秒的视频时长。"
    "请缩短镜头，或选择 25 秒的时长。",
    "total_over_kling": "各镜头总时长为 16 秒，超过了 15 秒的视频时长。请缩短镜头。",
    "no_time_left": "已写明的时长共 14 秒（视频 15 秒），只剩 1 秒分给 2 个未写时长的镜头；"
    "每个至少需要 1 秒。请缩短已写明的时长，或选择更长的视频。",
    "bad_duration": "第 3 个镜头：“7.x”不是有效时长；请写成 7.5 或 7.5s 这样的秒数。",
    "bad_duration_bare": "“1..5”不是有效时长；请写成 7.5 或 7.5s 这样的秒数。",
    "duration_precision": "第 3 个镜头：7.55 的小数超过一位；时长精确到 0.1 秒（例如 7.5）。",
    "duration_precision_bare": "2.25s 的小数超过一位；时长精确到 0.1 秒（例如 7.5）。",
    "shot_over_segment": "第 2 个镜头时长为 16 秒；Kling 3.0 Omni 的一个片段最长 15 秒，"
    "镜头不会拆到两个片段里。"
    "请把它拆成两个镜头。",
    "segments_over": "这 20 个镜头（60 秒）在 Kling 3.0 Omni 上需要 4 个片段"
    "（每个最多 6 个镜头、15 秒）；"
    "最多允许 3 个。请缩短镜头或删掉一些。",
    "long_total": "一个分镜最长 60 秒；这些镜头共 62 秒。请缩短或删掉一个镜头。",
}


def test_the_expected_table_covers_every_triggered_error():
    assert set(EXPECTED_ZH) == set(ERRORS)


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error_in_chinese(name):
    err = ERRORS[name]
    text = error_text(err, "zh")
    assert text == EXPECTED_ZH[name]
    assert "{" not in text and "}" not in text
    assert "Shot " not in text
    assert text != str(err)
    assert not latin_words(text), text


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error_in_english_is_the_core_message(name):
    err = ERRORS[name]
    assert error_text(err, "en") == str(err)
    assert str(err)  # the CLI and logs print this


def test_english_core_messages_carry_the_numbers():
    assert str(ERRORS["shot_count"]) == "A storyboard has 1 to 10 shots; this one has 11."
    assert str(ERRORS["length"]) == "A video is 10, 15 or 25 s long; 12 s is not available."
    assert str(ERRORS["bad_duration"]).startswith('Shot 3: "7.x" is not a duration')
    assert str(ERRORS["shot_duration_auto"]).endswith("Add another shot to share the time.")


def test_length_error_for_a_model_with_two_lengths_in_chinese():
    err = raised(KlingOmni().validate, board(50, length=25))
    assert error_text(err, "zh") == "视频时长可选 10 或 15 秒；不支持 25 秒。"


def test_error_text_leaves_other_exceptions_alone():
    assert error_text(ValueError("boom"), "zh") == "boom"
    assert error_text(UserError("no_such_code", "plain English"), "zh") == "plain English"


def test_error_text_for_an_unknown_language_is_english():
    err = ERRORS["shot_count"]
    assert error_text(err, "fr") == str(err)


# -- error codes in the table vs the core -----------------------------------------------------


def codes_used_by_the_core() -> set[str]:
    codes: set[str] = set()
    pattern = re.compile(r"(?:StoryboardError|UserError)\(\s*\"([a-z_]+)\"")
    for folder in ("bot", "cogs"):
        for path in (ROOT / folder).rglob("*.py"):
            codes.update(pattern.findall(path.read_text(encoding="utf-8")))
    return codes


def test_the_core_codes_are_found():
    # Guards the grep itself: if it found nothing, the two checks below would pass vacuously.
    assert {"shot_count", "total_over", "bad_duration", "no_time_left"} <= codes_used_by_the_core()


def test_every_error_key_is_a_code_the_core_uses():
    used = codes_used_by_the_core()
    # "err.<code>" or a variant "err.<code>.<shape>" for a code raised with other parameters;
    # an edit refusal's strings ("err.edit.<code>"), a quota refusal's ("err.quota.<code>") and
    # a quota setting error's ("err.quota_<...>") are checked against their own codes below.
    keyed = {
        key.split(".")[1]
        for key in STRINGS
        if key.startswith("err.") and not key.startswith(("err.edit.", "err.quota"))
    }
    assert keyed <= used, keyed - used


def test_every_code_the_core_uses_has_an_error_key():
    used = codes_used_by_the_core()
    assert {f"err.{code}" for code in used} <= set(STRINGS), used


def test_every_triggered_code_was_triggered():
    assert {e.code for e in ERRORS.values()} == codes_used_by_the_core()


# -- thread edit refusals (bot.domain.edit_grammar, bot.drafts.editing) ---------------------------

KLING = KlingOmni.limits
TIGHT = Limits(max_shots=10, min_shot_tenths=1, max_shot_tenths=100, lengths=(10, 15, 25))
LANDSCAPE_ONLY = Limits(
    max_shots=10, min_shot_tenths=1, max_shot_tenths=150, lengths=(10, 15, 25),
    aspects=("landscape",),
)  # fmt: skip


def shots_board(*shots: tuple[str, int | None], length: int = 15, aspect: str = "landscape"):
    """Shots as (scene, tenths); tenths None is an automatic shot."""
    raw = tuple(Shot(scene=s, tenths=x or 0, auto=x is None) for s, x in shots)
    return Storyboard(shots=rebalance(raw, length, SORA), length=length, aspect=aspect)


# a, b automatic (5 s each), c 3 s, d 2 s: 15 s.
MIXED = shots_board(("a", None), ("b", None), ("c", 30), ("d", 20))
# Every duration typed: 4 + 5 + 3.5 = 12.5 s of 15.
TYPED = shots_board(("a", 40), ("b", 50), ("c", 35))
ONE = shots_board(("only", None), length=10)


def refused(start: Storyboard, text: str, limits: Limits = SORA) -> EditError:
    """The refusal of a thread message, read and applied as the thread does."""
    with pytest.raises(EditError) as info:
        command = parse_message(text)
        assert command is not None and command.kind == "edit", text
        apply(start, command.edits, limits)
    return info.value


def edit_refusal(fn: Callable[..., object], *args: object) -> EditError:
    with pytest.raises(EditError) as info:
        fn(*args)
    return info.value


def editor_refusal(act: Callable[[DraftEditor, str], Awaitable[object]]) -> EditError:
    """``act`` on a real DraftEditor, store and fresh draft (MIXED at revision 1): its refusal."""

    async def run() -> EditError:
        with tempfile.TemporaryDirectory() as tmp:
            store = await Store.open(Path(tmp) / "store.db")
            try:
                drafts = Drafts(store, TestClock())
                editor = DraftEditor(drafts, model=SoraStoryboard, media_dir=Path(tmp))
                draft = await drafts.create(
                    MIXED, guild_id=1, channel_id=2, author_id=100, image_path=None
                )
                with pytest.raises(EditError) as info:
                    await act(editor, draft.id)
                return info.value
            finally:
                await store.close()

    return asyncio.run(run())


def thread_edits(text: str):
    command = parse_message(text)
    assert command is not None
    return command.edits


async def stale_edit(editor: DraftEditor, draft_id: str) -> None:
    # Someone moves a shot while another person types "#1 ..." looking at revision 1.
    await editor.edit(draft_id, thread_edits("move #2 #1"), editor_id=300, base_revision=1)
    await editor.edit(draft_id, thread_edits("#1 a tiger"), editor_id=200, base_revision=1)


async def undo_at_creation(editor: DraftEditor, draft_id: str) -> None:
    await editor.undo(draft_id, editor_id=100)


async def list_form_stale(editor: DraftEditor, draft_id: str) -> None:
    draft = await editor.get(draft_id)
    await editor.edit(draft_id, parse_message("#1 a dog").edits, editor_id=100)
    await editor.replace_shots(draft_id, draft.board, editor_id=100, base_revision=draft.revision)


async def edit_discarded(editor: DraftEditor, draft_id: str) -> None:
    await editor.drafts.update(draft_id, state="discarded")
    await editor.edit(draft_id, parse_message("#1 a dog").edits, editor_id=100)


# name: (the refusal, triggered for real; the string that words it; what the Chinese reader sees)
EDIT_CASES: dict[str, tuple[Callable[[], EditError], str, str]] = {
    "word_alone": (
        lambda: refused(MIXED, "#3 = 5\nUndo"),
        "err.edit.edit_word_alone",
        "`Undo` 只能单独作为一条消息发送，因此未做任何更改。请先发送修改，再单独发送 `undo`。",
    ),
    "mixed": (
        lambda: refused(MIXED, "#3 new scene\nthanks!"),
        "err.edit.edit_mixed",
        "`thanks!` 不是编辑指令，因此未做任何更改。编辑指令以 `#3`、`+`、`-#3`、`move`、`swap`、"
        "`length`、`aspect` 或 `shots:` 开头；聊天内容请另发一条消息。",
    ),
    "bad_duration": (
        lambda: refused(MIXED, "#3 = soon"),
        "err.edit.bad_duration",
        "`#3 = soon`：“soon”不是有效时长；请写成 7.5 或 7.5s 这样的秒数。",
    ),
    "bad_duration_fullwidth": (  # the line is quoted as typed, full-width forms and all
        lambda: refused(MIXED, "＃3 ＝ 5x"),
        "err.edit.bad_duration",
        "`＃3 ＝ 5x`：“5x”不是有效时长；请写成 7.5 或 7.5s 这样的秒数。",
    ),
    "duration_precision": (
        lambda: refused(MIXED, "#3 = 4.25"),
        "err.edit.duration_precision",
        "`#3 = 4.25`：4.25 的小数超过一位；时长精确到 0.1 秒（例如 7.5）。",
    ),
    "duration_precision_in_shots": (  # the shot line is quoted, not `shots:`
        lambda: refused(MIXED, "shots:\n5 | a\n4.55 | b"),
        "err.edit.duration_precision",
        "`4.55 | b`：4.55 的小数超过一位；时长精确到 0.1 秒（例如 7.5）。",
    ),
    "scene_empty": (
        lambda: refused(MIXED, "+ 4s |"),
        "err.edit.scene_empty.after_duration",
        "`+ 4s |`：时长后面没有场景描述。",
    ),
    "scene_empty_shot": (  # a storyboard saved with an empty scene, then edited
        lambda: refused(shots_board((" ", 50), ("b", 50), length=10), "#2 a dog"),
        "err.edit.scene_empty",
        "`#2 a dog`：第 1 个镜头没有场景描述。",
    ),
    "syntax_add": (
        lambda: edit_refusal(parse_line, "+"),
        "err.edit.edit_syntax.add",
        "`+`：请在后面写上新镜头，例如 `+ 4秒 | 场景`。",
    ),
    "syntax_insert": (
        lambda: refused(MIXED, "+#2"),
        "err.edit.edit_syntax.insert",
        "`+#2`：请在后面写上新镜头，例如 `+#2 4秒 | 场景`。",
    ),
    "syntax_move": (
        lambda: refused(MIXED, "move #3"),
        "err.edit.edit_syntax.move",
        "`move #3`：请这样写：`move #3 #1` 把第 3 个镜头移到第 1 位。",
    ),
    "syntax_swap": (
        lambda: refused(MIXED, "swap #1 with the last"),
        "err.edit.edit_syntax.swap",
        "`swap #1 with the last`：请这样写：`swap #1 #2` 交换第 1 和第 2 个镜头。",
    ),
    "syntax_shots": (
        lambda: refused(MIXED, "shots:"),
        "err.edit.edit_syntax.shots",
        "`shots:`：请在同一条消息的后续行中写镜头，每行一个。",
    ),
    "empty": (
        lambda: edit_refusal(apply, MIXED, (), SORA),
        "err.edit.edit_empty",
        "没有可应用的修改。",
    ),
    "no_shot": (
        lambda: refused(MIXED, "#7 new text"),
        "err.edit.edit_no_shot",
        "`#7 new text`：没有第 7 个镜头；此分镜有 4 个镜头（#1-#4）。",
    ),
    "no_shot_of_one": (
        lambda: refused(ONE, "#2 = 3"),
        "err.edit.edit_no_shot",
        "`#2 = 3`：没有第 2 个镜头；此分镜只有 1 个镜头（#1）。",
    ),
    "no_shot_of_none": (
        lambda: refused(ONE, "-#1\n#1 a dog"),
        "err.edit.edit_no_shot",
        "`#1 a dog`：没有第 1 个镜头；此分镜没有镜头。",
    ),
    "no_position": (
        lambda: refused(MIXED, "+#6 x"),
        "err.edit.edit_no_position",
        "`+#6 x`：新镜头只能放在 #1 到 #5；此分镜有 4 个镜头（#1-#4）。写 `+ 场景` 可添加到末尾。",
    ),
    "shot_duration": (
        lambda: refused(MIXED, "#1 = 20"),
        "err.edit.shot_duration",
        "`#1 = 20`：每个镜头应为 0.1 到 15 秒，不能是 20 秒；请输入此范围内的时长。",
    ),
    "shot_duration_listed": (
        lambda: refused(MIXED, "shots:\na\n16 | b"),
        "err.edit.shot_duration.listed",
        "`shots:`：每个镜头应为 0.1 到 15 秒，不能是 16 秒（第 2 个镜头）；请输入此范围内的时长。",
    ),
    "shot_duration_after": (  # a 12 s shot, and now a model that takes at most 10 s
        lambda: refused(shots_board(("a", 120), ("b", None)), "#2 a dog", TIGHT),
        "err.edit.shot_duration.after",
        "`#2 a dog`：第 1 个镜头将为 12 秒；每个镜头应为 0.1 到 10 秒。请输入此范围内的时长。",
    ),
    "shot_duration_after_auto": (
        lambda: refused(shots_board(("a", None), length=10), "length 25"),
        "err.edit.shot_duration.after_auto",
        "`length 25`：第 1 个镜头将为 25 秒；每个镜头应为 0.1 到 15 秒。"
        "请再添加一个镜头来分担时长，或写明它的时长。",
    ),
    "total_over": (
        lambda: refused(TYPED, "#2 = 14"),
        "err.edit.total_over",
        "`#2 = 14`：各镜头总时长将为 21.5 秒，超过了 15 秒的视频时长；"
        "请缩短一个镜头，或写 `length 25`。",
    ),
    "total_over_of_length": (
        lambda: refused(TYPED, "length 10"),
        "err.edit.total_over",
        "`length 10`：各镜头总时长将为 12.5 秒，超过了 10 秒的视频时长；"
        "请缩短一个镜头，或写 `length 15`。",
    ),
    "total_over_longest": (
        lambda: refused(shots_board(("a", 150), ("b", 50), length=25), "+ 9 | c"),
        "err.edit.total_over.shorten",
        "`+ 9 | c`：各镜头总时长将为 29 秒，超过了 25 秒的视频时长；请缩短或删除一个镜头。",
    ),
    "no_time_left": (
        lambda: refused(MIXED, "#3 = 13"),
        "err.edit.no_time_left",
        "`#3 = 13`：已写明的时长合计将为 15 秒（视频 15 秒），只剩 0 秒分给 2 个未写时长的镜头"
        "（每个至少需要 0.1 秒）；请缩短一个镜头，或写 `length 25`。",
    ),
    "no_time_left_longest": (
        lambda: refused(shots_board(("a", 150), ("b", None), length=25), "+ 10 | c"),
        "err.edit.no_time_left.shorten",
        "`+ 10 | c`：已写明的时长合计将为 25 秒（视频 25 秒），只剩 0 秒分给 1 个未写时长的镜头"
        "（每个至少需要 0.1 秒）；请缩短或删除一个镜头。",
    ),
    "shot_count": (
        lambda: refused(shots_board(*[(str(i), 10) for i in range(10)]), "+ x"),
        "err.edit.shot_count",
        "`+ x`：一个分镜最多 10 个镜头；这次修改后将有 11 个。请先删除一个镜头（`-#3`）。",
    ),
    "shot_count_none": (
        lambda: refused(ONE, "-#1"),
        "err.edit.shot_count.none",
        "`-#1`：一个分镜至少需要一个镜头；请先添加一个（`+ 场景`）。",
    ),
    "scene_long": (
        lambda: refused(MIXED, "#2 " + "x" * 351),
        "err.edit.scene_long",
        f"`#2 {'x' * 351}`：第 2 个镜头的场景描述将有 351 个字符，上限为 350。"
        "请缩短或拆成两个镜头。",
    ),
    "length": (
        lambda: refused(MIXED, "length 20"),
        "err.edit.length",
        "`length 20`：视频时长可选 10、15 或 25 秒；不支持 20 秒。",
    ),
    "length_of_another_model": (  # a 25 s storyboard, and now a model of 10 or 15 s
        lambda: refused(shots_board(("a", None), length=25), "#1 a dog", KLING),
        "err.edit.length",
        "`#1 a dog`：视频时长可选 10 或 15 秒；不支持 25 秒。",
    ),
    "aspect": (
        lambda: refused(MIXED, "aspect square"),
        "err.edit.aspect",
        "`aspect square`：画幅只能是横屏 或 竖屏，不支持“square”。",
    ),
    "aspect_of_another_model": (  # a portrait storyboard, and now a landscape-only model
        lambda: refused(shots_board(("a", None), aspect="portrait"), "#1 a dog", LANDSCAPE_ONLY),
        "err.edit.aspect",
        "`#1 a dog`：画幅只能是横屏，不支持竖屏。",
    ),
    "stale": (
        lambda: editor_refusal(stale_edit),
        "err.edit.edit_stale",
        "`#1 a tiger`：你编写期间镜头已被重新编号（第 2 版：`move #2 #1`），"
        "#编号现在可能指向其他镜头。未做任何更改；请核对第 2 版中的编号后重新发送。",
    ),
    "form_stale": (
        lambda: editor_refusal(list_form_stale),
        "err.edit.form_stale",
        "表单打开期间分镜已被修改（现为第 2 版），因此未做任何更改。请先查看卡片，"
        "再点“修改”重新提交你的列表。",
    ),
    "draft_discarded": (
        lambda: editor_refusal(edit_discarded),
        "err.edit.draft_discarded",
        "此草稿已丢弃，无法再修改。请用 `/storyboard` 新建一个。",
    ),
    "nothing_to_undo": (
        lambda: editor_refusal(undo_at_creation),
        "err.edit.nothing_to_undo",
        "没有可撤销的修改：这是分镜最初创建时的版本。",
    ),
}


@pytest.mark.parametrize("name", sorted(EDIT_CASES))
def test_edit_refusal_in_chinese(name):
    make, key, expected = EDIT_CASES[name]
    err = make()
    text = error_text(err, "zh")
    assert text == expected
    assert "{" not in text and "}" not in text
    # Only the quoted line (and a quoted value it holds) may be in English.
    assert not re.search(r"[A-Za-z]{3,}", re.sub(r"`[^`]*`|“[^”]*”", "", text)), text
    # The string chosen is the one whose English is the core's message, word for word.
    assert err.key == key


@pytest.mark.parametrize("name", sorted(EDIT_CASES))
def test_edit_refusal_quotes_the_line_as_the_english_does(name):
    err = EDIT_CASES[name][0]()
    if "line" not in err.params:
        return  # "nothing to apply" / "nothing to undo" are about no line
    quoted = err.params.get("where") or f"`{err.params['line']}`"
    assert str(err).startswith(quoted)
    assert error_text(err, "zh").startswith(quoted)


@pytest.mark.parametrize("name", sorted(EDIT_CASES))
def test_edit_refusal_in_english_is_unchanged(name):
    err = EDIT_CASES[name][0]()
    assert error_text(err, "en") == str(err)
    assert error_text(err, "fr") == str(err)


def test_editor_refusals_are_their_own_classes():
    assert isinstance(EDIT_CASES["stale"][0](), StaleEdit)
    assert isinstance(EDIT_CASES["nothing_to_undo"][0](), NothingToUndo)


def test_every_edit_string_has_a_case():
    assert {key for _, key, _ in EDIT_CASES.values()} == {
        key for key in STRINGS if key.startswith("err.edit.")
    }


def edit_codes() -> set[str]:
    """Every code an edit refusal can carry, read from the source."""
    bot = ROOT / "bot"
    edits_source = (bot / "domain" / "edit_grammar.py").read_text(encoding="utf-8")
    raised = re.compile(
        r"(?:EditError|StaleEdit|NothingToUndo|DraftDiscarded|FormStale)\(\s*\"([a-z_]+)\""
    )
    codes = set(raised.findall(edits_source))
    codes |= set(raised.findall((bot / "drafts" / "editing.py").read_text(encoding="utf-8")))
    # ``EditError(err.code, ...)`` passes on the code of a shot line's refusal
    # (bot.domain.shot_grammar) or of a storyboard rule an edit breaks (bot.domain.storyboard).
    assert "EditError(err.code," in edits_source
    inner = re.compile(r"StoryboardError\(\s*\"([a-z_]+)\"")
    for name in ("shot_grammar.py", "storyboard.py"):
        codes |= set(inner.findall((bot / "domain" / name).read_text(encoding="utf-8")))
    return codes


def test_the_edit_codes_are_found():
    # Guards the grep itself: if it found nothing, the checks below would pass vacuously.
    assert {
        "edit_mixed", "edit_syntax", "edit_no_shot", "edit_stale", "nothing_to_undo",
        "total_over", "bad_duration", "scene_empty", "aspect",
    } <= edit_codes()  # fmt: skip


def edit_keys(code: str) -> list[str]:
    return [k for k in STRINGS if k == f"err.edit.{code}" or k.startswith(f"err.edit.{code}.")]


@pytest.mark.parametrize("code", sorted(edit_codes()))
def test_every_edit_code_has_a_chinese_string(code):
    keys = edit_keys(code)
    assert keys, code
    assert all(STRINGS[k]["zh-CN"].strip() for k in keys)


def test_every_edit_string_is_a_code_an_edit_can_carry():
    codes = edit_codes()
    keyed = {key.split(".")[2] for key in STRINGS if key.startswith("err.edit.")}
    assert keyed <= codes, keyed - codes


def test_every_edit_code_is_triggered():
    assert {EDIT_CASES[name][0]().code for name in EDIT_CASES} == edit_codes()


def test_an_edit_refusal_the_catalogs_do_not_know_yet_is_shown_as_raised():
    # A code with a message is always worded by the catalog, never by a sentence it was given.
    known = EditError(
        "shot_duration", "`#1 = 20`: too long.", line="#1 = 20", seconds=20, min=1, max=15
    )
    assert str(known) == (
        "`#1 = 20`: a shot lasts 1 to 15 s, not 20 s; type a duration in that range."
    )
    assert error_text(EditError("edit_new_code", "Plain English.", line="x"), "zh") == (
        "Plain English."
    )


def test_storyboard_errors_keep_their_strings_beside_the_edit_ones():
    # The same code from the storyboard's rules (no line) still reads err.<code>.
    assert error_text(ERRORS["total_over"], "zh") == EXPECTED_ZH["total_over"]
    assert error_text(ERRORS["shot_duration"], "zh") == EXPECTED_ZH["shot_duration"]


# -- quota refusals and setting errors (bot.quota.policy) -----------------------------------------

ADMIN, ALICE, BOB, CAROL = 1, 2, 3, 4
CHANNEL = 10
SORA_NAME = SoraStoryboard.name
KLING_NAME = KlingOmni.name
# Noon UTC, 2025-03-10: the day resets at midnight, the month on April 1st (UTC by default).
NOON = dt.datetime(2025, 3, 10, 12, tzinfo=dt.UTC).timestamp()
TOMORROW = int(dt.datetime(2025, 3, 11, tzinfo=dt.UTC).timestamp())
NEXT_MONTH = int(dt.datetime(2025, 4, 1, tzinfo=dt.UTC).timestamp())
KITTEN = Storyboard(shots=(Shot(scene="A kitten with headphones", tenths=100),), length=10)
# Everything unlimited: each case turns on, in a server of its own, the limit it is about.
QUOTA_OPEN = QuotaDefaults(
    user_daily=None,
    user_concurrent=None,
    user_cooldown_seconds=0,
    guild_daily=None,
    guild_concurrent=None,
    guild_monthly_credits=None,
)


async def _quota_errors(db: Path) -> dict[str, UserError]:
    """Every quota refusal and setting error, raised by the real quota policy on a real store."""
    store = await Store.open(db)
    try:
        q = Quotas(store, QUOTA_OPEN)
        guilds = itertools.count(100)
        jobs = itertools.count(1)

        async def server(**settings: str) -> int:
            guild = next(guilds)
            for name, value in settings.items():
                await q.set(guild, name, value, actor_id=ADMIN)
            return guild

        async def reserve(
            guild: int,
            user: int = ALICE,
            *,
            board: Storyboard = KITTEN,
            model: str = SORA_NAME,
            credits: int = 150,
            roles: tuple[int, ...] = (),
            options: dict[str, object] | None = None,
            now: float = NOON,
        ) -> None:
            await q.reserve(
                job_id=f"job{next(jobs)}",
                guild_id=guild,
                user_id=user,
                channel_id=CHANNEL,
                role_ids=list(roles),
                board=board,
                model_name=model,
                credits=credits,
                now=now,
                options=options,
            )

        async def refusal(action: Awaitable[object]) -> UserError:
            with pytest.raises((QuotaRefused, QuotaSettingError)) as info:
                await action
            return info.value

        out: dict[str, UserError] = {}
        out["disabled"] = await refusal(reserve(await server(enabled="off")))
        out["channel"] = await refusal(reserve(await server(channels="11, 12")))
        out["role"] = await refusal(reserve(await server(roles="21, 22"), roles=(5,)))
        out["model"] = await refusal(reserve(await server(models=KLING_NAME)))
        guild = await server(resolutions="720p, 4k")
        out["resolution"] = await refusal(
            reserve(guild, model=KLING_NAME, options={"resolution": "1080p"})
        )
        guild = await server(audio="false")
        out["audio"] = await refusal(reserve(guild, model=KLING_NAME, options={"audio": True}))
        long = Storyboard(shots=(Shot(scene="a cat", tenths=250),), length=25)
        out["length"] = await refusal(reserve(await server(lengths="10, 15"), board=long))
        tall = Storyboard(shots=(Shot(scene="a cat", tenths=100),), length=10, aspect="portrait")
        out["aspect"] = await refusal(reserve(await server(aspects="landscape"), board=tall))
        guild = await server(blocked_terms="Headphones, 耳机")
        out["blocked_term"] = await refusal(reserve(guild))
        # A thread edit checks the terms on its own (cogs.editing).
        with pytest.raises(QuotaRefused) as info:
            check_terms(await q.get(guild), ["一只戴着耳机的小猫"])
        out["blocked_term_in_an_edit"] = info.value

        guild = await server(guild_monthly_credits="200")
        await reserve(guild, ALICE)
        out["guild_budget"] = await refusal(reserve(guild, BOB))
        guild = await server(guild_monthly_credits="150")
        await reserve(guild, ALICE)
        # /storyboard-usage and the card ask without a video, so without its cost.
        spent = (await q.usage(guild, BOB, NOON)).refusal
        assert spent is not None
        out["guild_budget_spent"] = spent
        guild = await server(guild_daily="2")
        await reserve(guild, ALICE)
        await reserve(guild, BOB)
        out["guild_daily"] = await refusal(reserve(guild, CAROL))
        guild = await server(user_daily="1")
        await reserve(guild, ALICE)
        out["user_daily"] = await refusal(reserve(guild, ALICE))
        guild = await server(guild_concurrent="2")
        await reserve(guild, ALICE)
        await reserve(guild, BOB)
        out["guild_concurrent"] = await refusal(reserve(guild, CAROL))
        guild = await server(user_concurrent="1")
        await reserve(guild, ALICE)
        out["user_concurrent"] = await refusal(reserve(guild, ALICE))
        guild = await server(user_cooldown_seconds="30")
        await reserve(guild, ALICE)
        out["cooldown"] = await refusal(reserve(guild, ALICE, now=NOON + 10))
        guild = await server(user_daily_failures="1")
        await reserve(guild, ALICE, now=NOON)
        await q.settle(f"job{next(jobs) - 1}", outcome="failed", now=NOON + 5)
        out["user_daily_failures"] = await refusal(reserve(guild, ALICE, now=NOON + 10))

        guild = await server()
        out["unknown_setting"] = await refusal(q.set(guild, "videos", "3", actor_id=ADMIN))
        bad_values = {
            "not_int": ("user_daily", "lots"),
            "not_bool": ("enabled", "maybe"),
            "negative": ("user_cooldown_seconds", "-5"),
            "not_positive": ("lengths", "10, 0"),
            "aspects": ("aspects", "square"),
            "resolutions": ("resolutions", "8k"),
            "timezone": ("timezone", "Mars/Base"),
            "models": ("models", f"{SORA_NAME}, veo-3"),
        }
        for case, (name, value) in bad_values.items():
            out[f"bad_value_{case}"] = await refusal(q.set(guild, name, value, actor_id=ADMIN))
        out["days"] = await refusal(q.report(guild, days=0, now=NOON))

        await q.pause(ADMIN, True)  # bot-wide: last
        out["paused"] = await refusal(reserve(await server()))
        return out
    finally:
        await store.close()


@functools.cache
def quota_errors() -> dict[str, UserError]:
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(_quota_errors(Path(tmp) / "quota.db"))


# name: (the string that words it; what the Chinese reader sees)
QUOTA_CASES: dict[str, tuple[str, str]] = {
    "paused": (
        "err.quota.paused",
        "机器人的所有者已暂停所有新视频。请稍后再试。",
    ),
    "disabled": ("err.quota.disabled", "本服务器已关闭视频生成。"),
    "channel": ("err.quota.channel", "在本服务器中，只能在 <#11>、<#12> 生成视频。"),
    "role": ("err.quota.role", "在本服务器生成视频需要以下身份组之一：<@&21>、<@&22>。"),
    "model": (
        "err.quota.model",
        f"本服务器不允许使用模型 {SORA_NAME}；允许的模型：{KLING_NAME}。",
    ),
    "resolution": (
        "err.quota.resolution",
        f"本服务器只允许 720p、4k 的视频；{KLING_NAME} 当前设置为 1080p。",
    ),
    "audio": (
        "err.quota.audio",
        f"本服务器不允许带音频的视频；{KLING_NAME} 当前设置为生成带音频的视频。",
    ),
    "length": ("err.quota.length", "本服务器只允许时长为 10、15 秒的视频；不允许 25 秒。"),
    "aspect": ("err.quota.aspect", "本服务器只允许横屏画幅；不允许竖屏画幅。"),
    "blocked_term": (
        "err.quota.blocked_term",
        "本服务器不允许在场景中使用“Headphones”。请删除后再试。",
    ),
    "blocked_term_in_an_edit": (
        "err.quota.blocked_term",
        "本服务器不允许在场景中使用“耳机”。请删除后再试。",
    ),
    "guild_budget": (
        "err.quota.guild_budget",
        "本服务器本月已用 150/200 积分，而这个视频需要 150 积分；"
        f"预算将在 <t:{NEXT_MONTH}:R>重置。",
    ),
    "guild_budget_spent": (
        "err.quota.guild_budget.spent",
        f"本服务器本月已用 150/150 积分；预算将在 <t:{NEXT_MONTH}:R>重置。",
    ),
    "guild_daily": (
        "err.quota.guild_daily",
        f"本服务器今天已用 2/2 个视频；限额将在 <t:{TOMORROW}:R>重置。",
    ),
    "user_daily": (
        "err.quota.user_daily",
        f"你今天已用 1/1 个视频；限额将在 <t:{TOMORROW}:R>重置。",
    ),
    "guild_concurrent": (
        "err.quota.guild_concurrent",
        "本服务器正在生成 2 个视频，同时最多 2 个。请等其中一个完成后再试。",
    ),
    "user_concurrent": (
        "err.quota.user_concurrent",
        "你正在生成 1 个视频，同时最多 1 个。请等其中一个完成后再试。",
    ),
    "cooldown": (
        "err.quota.cooldown",
        f"两次生成之间需间隔 30 秒；你可以在 <t:{int(NOON) + 30}:R>再次生成。",
    ),
    "user_daily_failures": (
        "err.quota.user_daily_failures",
        f"你今天已有 1 个视频生成失败，每天最多允许 1 次失败。你可以在 <t:{TOMORROW}:R>再次生成。",
    ),
    "unknown_setting": (
        "err.quota_unknown_setting",
        "没有名为“videos”的配额设置。可用的设置：enabled、channels、roles、user_daily、"
        "user_concurrent、user_cooldown_seconds、guild_daily、guild_concurrent、"
        "guild_monthly_credits、lengths、aspects、models、resolutions、audio、blocked_terms、"
        "log_channel、timezone、failed_counts、user_daily_failures、user_active_drafts、"
        "user_storage_mb。",
    ),
    "bad_value_not_int": (
        "err.quota_bad_value",
        "user_daily 不能设为“lots”：“lots”不是整数。应为：每位成员每天的视频数（数字或 none）。",
    ),
    "bad_value_not_bool": (
        "err.quota_bad_value",
        "enabled 不能设为“maybe”：“maybe”不是 true 或 false。"
        "应为：本服务器的成员能否生成视频（true/false）。",
    ),
    "bad_value_negative": (
        "err.quota_bad_value",
        "user_cooldown_seconds 不能设为“-5”：不能小于 0。应为：成员两次生成之间需等待的秒数。",
    ),
    "bad_value_not_positive": (
        "err.quota_bad_value",
        "lengths 不能设为“10, 0”：必须大于 0。"
        "应为：允许的视频时长（秒），例如 10,15（留空：全部）。",
    ),
    "bad_value_aspects": (
        "err.quota_bad_value",
        "aspects 不能设为“square”：只能是 landscape 或 portrait。"
        "应为：允许的画幅：landscape、portrait（留空：全部）。",
    ),
    "bad_value_resolutions": (
        "err.quota_bad_value",
        "resolutions 不能设为“8k”：只能是 720p、1080p 或 4k。"
        "应为：允许的分辨率（适用于有此选项的模型）：720p、1080p、4k（留空：全部）。",
    ),
    "bad_value_timezone": (
        "err.quota_bad_value",
        "timezone 不能设为“Mars/Base”：未知的时区“Mars/Base”；请使用 IANA 时区名称，"
        "例如 UTC、Europe/Paris 或 Asia/Shanghai。应为：“每天”和“每月”所用的 IANA 时区，"
        "例如 Asia/Shanghai。",
    ),
    "bad_value_models": (
        "err.quota_bad_value.models",
        f"models 不能包含 veo-3：已知的模型有 {'、'.join(known_models())}。",
    ),
    "days": ("err.quota_days", "统计周期至少为 1 天。"),
}


@pytest.mark.parametrize("name", sorted(QUOTA_CASES))
def test_quota_error_in_chinese(name):
    key, expected = QUOTA_CASES[name]
    err = quota_errors()[name]
    text = error_text(err, "zh")
    assert text == expected
    assert "{" not in text and "}" not in text
    # None of the English sentence is left (quoted values and model names may be English).
    words = re.sub(r"“[^”]*”", "", text)
    for model in known_models():
        words = words.replace(model, "")
    assert not re.search(
        r"\b(?:the|this|server|videos?|credits|limit|resets|allowed|cannot|Expected|Input)\b",
        words,
    ), text
    # The string chosen is the one whose English is bot.quota.policy's message, word for word.
    assert err.key == key


@pytest.mark.parametrize("name", sorted(QUOTA_CASES))
def test_quota_error_in_english_is_unchanged(name):
    err = quota_errors()[name]
    assert error_text(err, "en") == str(err)
    assert error_text(err, "fr") == str(err)


def test_quota_errors_keep_their_english_words_and_markup():
    errors = quota_errors()
    assert str(errors["user_daily"]) == (
        f"You have used 1 of your 1 videos today; the limit resets <t:{TOMORROW}:R>."
    )
    assert str(errors["guild_budget"]) == (
        "This server has used 150 of its 200 credits this month and this video costs 150; "
        f"the budget resets <t:{NEXT_MONTH}:R>."
    )
    assert str(errors["bad_value_not_int"]) == (
        "user_daily cannot be 'lots': 'lots' is not a whole number. "
        "Expected videos per member per day (a number or none)."
    )


@pytest.mark.parametrize("name", sorted(QUOTA_CASES))
def test_quota_error_keeps_the_numbers_and_the_reset_time(name):
    err = quota_errors()[name]
    text = error_text(err, "zh")
    for number in re.findall(r"\d+", str(err)):
        assert number in text, (number, text)
    # Discord shows <t:UNIX:R> as "in 5 hours" in the reader's own language.
    for stamp in re.findall(r"<t:\d+:R>", str(err)):
        assert stamp in text


def quota_codes(cls: str) -> set[str]:
    """The codes bot.quota.policy raises as ``cls("code", ...)``, read from the source."""
    source = "".join(
        f.read_text(encoding="utf-8") for f in sorted((ROOT / "bot" / "quota").glob("*.py"))
    )
    return set(re.findall(cls + r"\(\s*\"([a-z_]+)\"", source))


def test_the_quota_codes_are_found():
    # Guards the grep itself: if it found nothing, the checks below would pass vacuously.
    assert {"paused", "user_daily", "cooldown", "blocked_term"} <= quota_codes("QuotaRefused")
    assert {"quota_bad_value", "quota_days"} <= quota_codes("QuotaSettingError")


@pytest.mark.parametrize("code", sorted(quota_codes("QuotaRefused")))
def test_every_quota_refusal_has_a_chinese_string(code):
    assert STRINGS[f"err.quota.{code}"]["zh-CN"].strip()


@pytest.mark.parametrize("code", sorted(quota_codes("QuotaSettingError")))
def test_every_quota_setting_error_has_a_chinese_string(code):
    assert STRINGS[f"err.{code}"]["zh-CN"].strip()


def test_every_quota_code_is_triggered():
    errors = quota_errors()
    assert set(QUOTA_CASES) == set(errors)
    triggered = {(type(e).__name__, e.code) for e in errors.values()}
    assert triggered == {
        *(("QuotaRefused", c) for c in quota_codes("QuotaRefused")),
        *(("QuotaSettingError", c) for c in quota_codes("QuotaSettingError")),
    }


def test_every_quota_string_has_a_case():
    assert {key for key, _ in QUOTA_CASES.values()} == {
        key for key in STRINGS if key.startswith("err.quota")
    }
    reasons = {e.params["reason"].key for e in quota_errors().values() if "reason" in e.params}
    # "other": a refusal pydantic words in a way no reason names (a fallback, not a case).
    assert reasons | {"quota.reason.other"} == {
        key for key in STRINGS if key.startswith("quota.reason.")
    }


def test_a_quota_error_the_catalogs_do_not_know_yet_is_shown_as_raised():
    assert error_text(QuotaRefused("new_limit", "Plain English."), "zh") == "Plain English."
    # A known code is the catalog's wording, whatever sentence came with it.
    old_form = QuotaRefused("user_daily", "No more today.", used=1, limit=1, until=TOMORROW)
    assert error_text(old_form, "zh") == f"你今天已用 1/1 个视频；限额将在 <t:{TOMORROW}:R>重置。"
