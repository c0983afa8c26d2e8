"""bot.domain.shot_grammar: ``[DURATION[s|秒] |] SCENE``, the one grammar people type shots in."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.shot_grammar import (
    ShotLine,
    format_block,
    format_shot,
    normalize,
    parse_duration,
    parse_lines,
    parse_shot_line,
    resolve,
    split_block,
    split_option,
)
from bot.domain.storyboard import Shot, Storyboard, StoryboardError, fmt_tenths, is_blank, validate
from bot.models.kling import KlingOmni
from bot.models.sora import SoraStoryboard

SORA = SoraStoryboard.limits
KITTEN = "A fluffy orange kitten wearing orange headphones"
SEED_SCENE = (
    "一只可爱的蓬松橘白相间的小猫戴着橘色耳机，坐在舒适的室内桌子旁，盘子里有一小块蛋糕，"
    "附近有一个玩具鱼和银色麦克风，温暖柔和的光线，电影特写，浅景深，温柔的ASMR氛围。"
)


# --------------------------------------------------------------------------- one line


@pytest.mark.parametrize(
    ("line", "scene", "tenths"),
    [
        (f"7.5 | {KITTEN}", KITTEN, 75),
        (f"7.5s | {KITTEN}", KITTEN, 75),
        (f"7.5S | {KITTEN}", KITTEN, 75),
        (f"7.5秒 | {KITTEN}", KITTEN, 75),
        (f"7.5 sec | {KITTEN}", KITTEN, 75),
        (f"7.5 s|{KITTEN}", KITTEN, 75),
        (f"  10 |   {KITTEN}  ", KITTEN, 100),
        (f"0.1|{KITTEN}", KITTEN, 1),
        (f"15 | {KITTEN}", KITTEN, 150),
        (f"3 | {KITTEN}", KITTEN, 30),
        # A trailing zero is still whole tenths.
        (f"1.20 | {KITTEN}", KITTEN, 12),
        # Bare scene: automatic.
        (KITTEN, KITTEN, None),
        # Full-width forms typed by Chinese keyboards.
        ("７．５｜场景", "场景", 75),
        ("７．５秒｜场景", "场景", 75),
        ("１０ｓ｜场景", "场景", 100),
        ("１２ ｜ 场景", "场景", 120),
        ("7.5｜场景", "场景", 75),
        ("７．５ | 场景", "场景", 75),
        # Scene text is kept exactly: full-width punctuation is not normalised inside it.
        (f"7.5 | {SEED_SCENE}", SEED_SCENE, 75),
        (SEED_SCENE, SEED_SCENE, None),
        ("2｜小猫，戴着耳机。１２３；ｓ", "小猫，戴着耳机。１２３；ｓ", 20),
        # A bar inside the scene after a duration belongs to the scene.
        ("7.5 | left | right ｜ more", "left | right ｜ more", 75),
        # A bar inside a long scene with no duration is part of the scene.
        (
            "The kitten looks at the camera 2 times | then sleeps",
            "The kitten looks at the camera 2 times | then sleeps",
            None,
        ),
        # A short left-hand side with no digit is not a duration either.
        ("Wide | kitten", "Wide | kitten", None),
        ("远景｜小猫", "远景｜小猫", None),
    ],
)
def test_parse_shot_line(line: str, scene: str, tenths: int | None) -> None:
    assert parse_shot_line(line, where="Shot 1") == ShotLine(scene=scene, tenths=tenths)


@pytest.mark.parametrize(
    ("line", "code", "message"),
    [
        (
            "7,5 | x",
            "bad_duration",
            'Shot 4: "7,5" is not a duration; write seconds like 7.5 or 7.5s.',
        ),
        (
            "７，５｜x",
            "bad_duration",
            'Shot 4: "７，５" is not a duration; write seconds like 7.5 or 7.5s.',
        ),
        (
            "7.5 secs | x",
            "bad_duration",
            'Shot 4: "7.5 secs" is not a duration; write seconds like 7.5 or 7.5s.',
        ),
        (
            "-2 | x",
            "bad_duration",
            'Shot 4: "-2" is not a duration; write seconds like 7.5 or 7.5s.',
        ),
        (
            "1.25 | x",
            "duration_precision",
            "Shot 4: 1.25 has more than one decimal; durations are in tenths of a second "
            "(e.g. 7.5).",
        ),
        (
            "１．２５｜x",
            "duration_precision",
            "Shot 4: １．２５ has more than one decimal; durations are in tenths of a second "
            "(e.g. 7.5).",
        ),
        ("7.5 |", "scene_empty", "Shot 4: there is no scene after the duration."),
        ("7.5 |    ", "scene_empty", "Shot 4: there is no scene after the duration."),
        ("７．５｜", "scene_empty", "Shot 4: there is no scene after the duration."),
        ("7.5 | \u200b\u200d", "scene_empty", "Shot 4: there is no scene after the duration."),
        ("7.5 | \u0301 \u00ad", "scene_empty", "Shot 4: there is no scene after the duration."),
    ],
)
def test_bad_lines_name_the_shot(line: str, code: str, message: str) -> None:
    with pytest.raises(StoryboardError) as info:
        parse_shot_line(line, where="Shot 4")
    assert info.value.code == code
    assert str(info.value) == message


def test_parse_lines_numbers_the_shots_from_one() -> None:
    with pytest.raises(StoryboardError, match=r'^Shot 3: "2,5" is not a duration'):
        parse_lines(["a", "2 | b", "2,5 | c"])


@pytest.mark.parametrize(
    ("text", "tenths"),
    [("7.5", 75), ("7.5s", 75), ("7.5秒", 75), ("７．５", 75), ("0.3", 3), ("2.3", 23)],
)
def test_parse_duration(text: str, tenths: int) -> None:
    assert parse_duration(text) == tenths


def test_parse_duration_is_exact_for_every_tenth() -> None:
    # Floats would give int(2.3 * 10) == 22 and friends; Decimal never does.
    for t in range(0, 251):
        assert parse_duration(fmt_tenths(t)) == t
        assert parse_duration(fmt_tenths(t) + "s") == t


def test_three_shots_of_a_tenth_sum_to_three_tenths() -> None:
    shots = resolve(parse_lines(["0.1 | a", "0.1s | b", "0.1秒 | c"]), 10, SORA)
    assert [s.tenths for s in shots] == [1, 1, 1]
    assert sum(s.tenths for s in shots) == 3
    assert Storyboard(shots=shots, length=10).total_tenths == 3


def test_normalize_maps_structure_characters() -> None:
    assert normalize("１２３４５６７８９０．｜；ｓ") == "1234567890.|;s"


# --------------------------------------------------------------------------- many lines


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("7.5 | a; 7.5 | b", ["7.5 | a", " 7.5 | b"]),
        ("7.5｜小猫；7.5｜小狗", ["7.5｜小猫", "7.5｜小狗"]),
        ("a;;  ; b；", ["a", " b"]),
        ("one shot only", ["one shot only"]),
    ],
)
def test_split_option(text: str, parts: list[str]) -> None:
    assert split_option(text) == parts


def test_split_option_then_parse() -> None:
    lines = parse_lines(split_option("７．５｜小猫，戴着耳机。；小狗"))
    assert lines == [ShotLine("小猫，戴着耳机。", 75), ShotLine("小狗", None)]


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("7.5 | a\n\n   \n7.5 | b\n", ["7.5 | a", "7.5 | b"]),
        ("\r\na\r\n\t\r\nb", ["a", "b"]),
        ("", []),
        ("  \n \n", []),
    ],
)
def test_split_block_skips_blank_lines(text: str, lines: list[str]) -> None:
    assert split_block(text) == lines


# --------------------------------------------------------------------------- resolve


@pytest.mark.parametrize(
    ("lines", "length", "expected"),
    [
        (["a", "b"], 15, [(75, True), (75, True)]),
        (["5 | a", "b", "c"], 10, [(50, False), (25, True), (25, True)]),
        (["a", "b", "c"], 10, [(34, True), (33, True), (33, True)]),
        (["7.5 | a", "7.5 | b"], 15, [(75, False), (75, False)]),
        (["9.9 | a", "b"], 10, [(99, False), (1, True)]),
    ],
)
def test_resolve(lines: list[str], length: int, expected: list[tuple[int, bool]]) -> None:
    shots = resolve(parse_lines(lines), length, SORA)
    assert [(s.tenths, s.auto) for s in shots] == expected


def test_resolve_refuses_nothing() -> None:
    with pytest.raises(StoryboardError, match=r"^Write at least one shot\.$"):
        resolve([], 15, SORA)


def test_resolve_refuses_when_no_time_is_left() -> None:
    with pytest.raises(StoryboardError) as info:
        resolve(parse_lines(["10 | a", "b"]), 10, SORA)
    assert info.value.code == "no_time_left"
    assert "leaving 0 s for 1 shot" in str(info.value)


def test_resolve_uses_the_models_minimum() -> None:
    kling = KlingOmni.limits
    assert [s.tenths for s in resolve(parse_lines(["9.9 | a", "b"]), 10, kling)] == [99, 1]


# --------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("shot", "line"),
    [
        (Shot(scene="a kitten", tenths=75), "7.5 | a kitten"),
        (Shot(scene="a kitten", tenths=100), "10 | a kitten"),
        (Shot(scene="a kitten", tenths=1), "0.1 | a kitten"),
        (Shot(scene="a kitten", tenths=75, auto=True), "a kitten"),
        (Shot(scene="小猫，耳机。", tenths=20), "2 | 小猫，耳机。"),
    ],
)
def test_format_shot(shot: Shot, line: str) -> None:
    assert format_shot(shot) == line


@pytest.mark.parametrize(
    ("lines", "length"),
    [
        (["7.5 | a", "7.5 | b"], 15),
        (["a", "b", "c"], 10),
        (["2.5 | a", "b", "0.1 | c | d", "小猫，戴着耳机。"], 25),
        ([f"7.5 | {SEED_SCENE}", SEED_SCENE], 15),
    ],
)
def test_format_block_round_trip(lines: list[str], length: int) -> None:
    shots = resolve(parse_lines(lines), length, SORA)
    text = format_block(shots)
    assert resolve(parse_lines(split_block(text)), length, SORA) == shots


# --------------------------------------------------------------------------- property

# Scenes: any printable text without bars or line breaks (a bar in an automatic scene could be
# read as a duration; the tables above cover bars), not blank, no surrounding blanks.
scenes = (
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="|｜;；"
        ),
        min_size=1,
        max_size=40,
    )
    .map(str.strip)
    .filter(lambda s: not is_blank(s))
)
FULL = str.maketrans({".": "．", **{str(d): chr(0xFF10 + d) for d in range(10)}})
WRITERS = [
    lambda t: fmt_tenths(t),
    lambda t: fmt_tenths(t) + "s",
    lambda t: fmt_tenths(t) + "秒",
    lambda t: fmt_tenths(t) + " sec",
    lambda t: fmt_tenths(t).translate(FULL),
]
SEPARATORS = [" | ", "|", "｜", " ｜ "]


@st.composite
def shot_lines(draw: st.DrawFn) -> tuple[str, str, int | None]:
    scene = draw(scenes)
    if draw(st.booleans()):
        tenths = draw(st.integers(min_value=1, max_value=150))
        write = draw(st.sampled_from(WRITERS))
        sep = draw(st.sampled_from(SEPARATORS))
        return f"{write(tenths)}{sep}{scene}", scene, tenths
    return scene, scene, None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(shot_lines(), min_size=1, max_size=10),
    length=st.sampled_from([10, 15, 25]),
)
def test_resolve_property(lines: list[tuple[str, str, int | None]], length: int) -> None:
    parsed = parse_lines([line for line, _, _ in lines])
    assert parsed == [ShotLine(scene, tenths) for _, scene, tenths in lines]

    typed = [t for _, _, t in lines if t is not None]
    autos = sum(1 for _, _, t in lines if t is None)
    left = length * 10 - sum(typed)
    try:
        shots = resolve(parsed, length, SORA)
    except StoryboardError as err:
        # Only automatic shots with less than 0.1 s each make resolve refuse.
        assert autos and left < autos, str(err)
        assert err.code == "no_time_left"
        return
    assert not (autos and left < autos)

    total = sum(s.tenths for s in shots)
    # Every typed duration is unchanged, every scene kept, the automatic flag remembered.
    for shot, (_, scene, tenths) in zip(shots, lines, strict=True):
        assert shot.scene == scene
        assert shot.auto is (tenths is None)
        if tenths is not None:
            assert shot.tenths == tenths
        else:
            assert shot.tenths >= 1
    if autos:
        assert total == length * 10
        autos_tenths = [s.tenths for s in shots if s.auto]
        assert max(autos_tenths) - min(autos_tenths) <= 1
        assert autos_tenths == sorted(autos_tenths, reverse=True)
    else:
        assert total == sum(typed)

    board = Storyboard(shots=shots, length=length)
    if total > length * 10:
        # Only typed durations can overshoot; the storyboard's validation refuses that.
        assert not autos
        with pytest.raises(StoryboardError, match="more than the"):
            validate(board, SORA)
    assert total <= length * 10 or not autos

    # format -> parse -> resolve gives the same shots back.
    again = resolve(parse_lines(split_block(format_block(shots))), length, SORA)
    assert again == shots
