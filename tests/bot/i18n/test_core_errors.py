"""The storyboard's errors (bot.domain) as a reader sees them, in English and in Chinese."""

from __future__ import annotations

import re

import pytest

from bot.chain.plan import check_long_storyboard, plan_segments
from bot.domain.errors import UserError
from bot.domain.shot_grammar import parse_duration, parse_lines, parse_shot_line, resolve
from bot.domain.storyboard import (
    Limits,
    Shot,
    Storyboard,
    StoryboardError,
    share_time,
    validate,
)
from bot.i18n.strings import (
    STRINGS,
    error_text,
)
from bot.models.kling import KlingOmni
from tests.bot.i18n.shared import ROOT, SORA, board, latin_words, raised

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


def test_storyboard_errors_keep_their_strings_beside_the_edit_ones():
    # The same code from the storyboard's rules (no line) still reads err.<code>.
    assert error_text(ERRORS["total_over"], "zh") == EXPECTED_ZH["total_over"]
    assert error_text(ERRORS["shot_duration"], "zh") == EXPECTED_ZH["shot_duration"]
