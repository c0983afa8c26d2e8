"""Thread edit refusals (bot.domain.edit_grammar, bot.drafts.editing) as a reader sees them."""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.domain.edit_grammar import EditError, apply, parse_line, parse_message
from bot.domain.storyboard import (
    Limits,
    Shot,
    Storyboard,
    rebalance,
)
from bot.drafts.editing import DraftEditor, NothingToUndo, StaleEdit
from bot.drafts.store import Drafts
from bot.i18n.strings import (
    STRINGS,
    error_text,
)
from bot.jobs.store import Store
from bot.models.kling import KlingOmni
from bot.models.sora import SoraStoryboard
from tests.bot.i18n.shared import ROOT, SORA
from tests.helpers import TestClock

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
        "`aspect square`：画幅只能是横屏或竖屏，不支持“square”。",
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
    # The message is the one the error names: its code and shape, nothing read back.
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
