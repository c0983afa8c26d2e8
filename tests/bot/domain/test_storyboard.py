"""bot.domain.storyboard: the seed's limits, checked locally; messages name the
shot and the numbers."""

from __future__ import annotations

import pytest

from bot.domain.storyboard import (
    Limits,
    Shot,
    Storyboard,
    StoryboardError,
    fmt_tenths,
    rebalance,
    share_time,
    validate,
)
from bot.models.sora import SoraStoryboard

SORA = SoraStoryboard.limits


def board(*tenths: int, length: int = 15, aspect: str = "landscape", scene: str = "a kitten"):
    return Storyboard(
        shots=tuple(Shot(scene=scene, tenths=t) for t in tenths), length=length, aspect=aspect
    )


def refusal(b: Storyboard, limits: Limits = SORA) -> StoryboardError:
    with pytest.raises(StoryboardError) as info:
        validate(b, limits)
    return info.value


# --------------------------------------------------------------------------- the seed's limits


def test_sora_limits_are_the_seeds() -> None:
    assert SORA.max_shots == 10
    assert (SORA.min_shot_tenths, SORA.max_shot_tenths) == (1, 150)
    assert SORA.lengths == (10, 15, 25)
    assert SORA.aspects == ("landscape", "portrait")
    assert SORA.max_scene_chars == 350


@pytest.mark.parametrize(
    "b",
    [
        board(75, 75),  # the seed's example
        board(1),  # the shortest shot
        board(150),  # the longest shot
        board(*[10] * 10, length=10),  # ten shots filling 10 s exactly
        board(150, 100, length=25),
        board(50, aspect="portrait", length=10),
        Storyboard(shots=(Shot(scene="x" * 350, tenths=10),), length=10),
        # Surrounding blanks do not count towards the 350 characters.
        Storyboard(shots=(Shot(scene="  " + "x" * 350 + "\n", tenths=10),), length=10),
    ],
)
def test_valid_boards_pass(b: Storyboard) -> None:
    validate(b, SORA)


@pytest.mark.parametrize(
    ("b", "code", "parts"),
    [
        (board(), "shot_count", ["1 to 10 shots", "has 0"]),
        (board(*[10] * 11, length=25), "shot_count", ["1 to 10 shots", "has 11"]),
        (board(50, length=12), "length", ["10, 15 or 25 s", "12 s is not available"]),
        (board(50, length=20), "length", ["20 s"]),
        (board(50, 0, 50), "shot_duration", ["Shot 2 lasts 0 s", "0.1 to 15 s"]),
        (board(50, 50, 151, length=25), "shot_duration", ["Shot 3 lasts 15.1 s", "0.1 to 15 s"]),
        (board(80, 75), "total_over", ["15.5 s", "more than the 15 s video", "length of 25 s"]),
        (board(60, 41, length=10), "total_over", ["10.1 s", "10 s video", "length of 15 s"]),
        # No longer length to suggest.
        (board(150, 101, length=25), "total_over", ["25.1 s", "25 s video"]),
    ],
)
def test_each_rule_names_shot_and_numbers(b: Storyboard, code: str, parts: list[str]) -> None:
    err = refusal(b)
    assert err.code == code
    for part in parts:
        assert part in str(err), (part, str(err))


def test_total_over_without_longer_length_does_not_suggest_one() -> None:
    err = refusal(board(150, 101, length=25))
    assert "choose a length" not in str(err)
    assert err.params == {"total": "25.1", "length": 25}


@pytest.mark.parametrize(
    ("scenes", "code", "text"),
    [
        (["a kitten", ""], "scene_empty", "Shot 2 has no scene text."),
        (["   \n\t", "a kitten"], "scene_empty", "Shot 1 has no scene text."),
        # Nothing visible: format characters, combining marks alone, invisible fillers.
        (["a kitten", "\u200b"], "scene_empty", "Shot 2 has no scene text."),
        (["\u200b\u00ad\u2060\ufeff \u200d"], "scene_empty", "Shot 1 has no scene text."),
        (["\u0301\u0308"], "scene_empty", "Shot 1 has no scene text."),
        ([" \u3164\u2800\ufe0f "], "scene_empty", "Shot 1 has no scene text."),
        (["\u202e\u2066\U000e0041"], "scene_empty", "Shot 1 has no scene text."),
        (
            ["a", "b", "x" * 351],
            "scene_long",
            "Shot 3's scene is 351 characters; the limit is 350. "
            "Shorten it or split it into two shots.",
        ),
        (
            ["猫" * 400],
            "scene_long",
            "Shot 1's scene is 400 characters; the limit is 350. "
            "Shorten it or split it into two shots.",
        ),
    ],
)
def test_scene_rules(scenes: list[str], code: str, text: str) -> None:
    b = Storyboard(shots=tuple(Shot(scene=s, tenths=10) for s in scenes), length=10)
    err = refusal(b)
    assert (err.code, str(err)) == (code, text)


@pytest.mark.parametrize("scene", ["e\u0301", "👩\u200d💻", "a\u200bb", "猫", "\u0e01\u0e34", "?"])
def test_a_scene_with_something_visible_is_not_empty(scene: str) -> None:
    validate(Storyboard(shots=(Shot(scene=scene, tenths=100),), length=10), SORA)


def test_aspect_outside_the_models_list_is_refused() -> None:
    only_landscape = Limits(
        max_shots=10, min_shot_tenths=1, max_shot_tenths=150, lengths=(10,), aspects=("landscape",)
    )
    err = refusal(board(50, length=10, aspect="portrait"), only_landscape)
    assert err.code == "aspect"
    assert str(err) == "The aspect must be landscape, not portrait."


@pytest.mark.parametrize("aspect", ["square", "16:9", ""])
def test_unknown_aspect_is_not_a_storyboard(aspect: str) -> None:
    with pytest.raises(ValueError, match="aspect"):
        board(50, aspect=aspect)


def test_automatic_shot_too_long_suggests_another_shot() -> None:
    b = Storyboard(shots=(Shot(scene="a", tenths=250, auto=True),), length=25)
    err = refusal(b)
    assert str(err) == (
        "Shot 1 lasts 25 s; a shot lasts 0.1 to 15 s. Add another shot to share the time."
    )


def test_rules_read_the_limits_not_sora_numbers() -> None:
    small = Limits(max_shots=2, min_shot_tenths=10, max_shot_tenths=50, lengths=(5,))
    assert "1 to 2 shots; this one has 3" in str(refusal(board(10, 10, 10, length=5), small))
    assert "A video is 5 s long; 10 s is not available." == str(
        refusal(board(10, length=10), small)
    )
    assert "Shot 1 lasts 0.5 s; a shot lasts 1 to 5 s." == str(refusal(board(5, length=5), small))


# --------------------------------------------------------------------------- tenths


@pytest.mark.parametrize(
    ("tenths", "text"), [(0, "0"), (1, "0.1"), (3, "0.3"), (75, "7.5"), (100, "10"), (151, "15.1")]
)
def test_fmt_tenths(tenths: int, text: str) -> None:
    assert fmt_tenths(tenths) == text


def test_three_tenths_sum_exactly() -> None:
    b = board(1, 1, 1, length=10)
    assert b.total_tenths == 3
    assert isinstance(b.total_tenths, int)
    assert 0.1 * 3 != 0.3  # what floats would have done
    assert fmt_tenths(b.total_tenths) == "0.3"


def test_total_at_exactly_the_length_passes_with_no_float_drift() -> None:
    # 0.1 + 0.2 + ... as floats overshoots; in tenths 25 s is exactly 250.
    b = board(*[1, 2, 3, 4] * 2, 150, 80, length=25)
    assert b.total_tenths == 250
    validate(b, SORA)


# --------------------------------------------------------------------------- share_time / rebalance


@pytest.mark.parametrize(
    ("typed", "length", "expected"),
    [
        ([None], 15, [150]),
        ([None, None], 15, [75, 75]),
        ([None, None, None], 10, [34, 33, 33]),
        ([None] * 7, 10, [15, 15, 14, 14, 14, 14, 14]),
        ([50, None, None], 10, [50, 25, 25]),
        ([None, 45, None, None], 10, [19, 45, 18, 18]),
        ([75, 75], 15, [75, 75]),  # no automatic shot: nothing changes
        ([30, None], 10, [30, 70]),
        ([99, None], 10, [99, 1]),  # exactly 0.1 s left for one shot
        ([None] * 10, 25, [25] * 10),
    ],
)
def test_share_time(typed: list[int | None], length: int, expected: list[int]) -> None:
    out = share_time(typed, length)
    assert out == expected
    if None in typed:
        assert sum(out) == length * 10


@pytest.mark.parametrize(
    ("typed", "length", "message"),
    [
        (
            [100, None],
            10,
            "The typed durations add up to 10 s of the 10 s video, leaving 0 s for 1 shot "
            "without a duration; each needs at least 0.1 s. Shorten a typed duration or "
            "choose a longer video.",
        ),
        (
            [98, None, None, None],
            10,
            "The typed durations add up to 9.8 s of the 10 s video, leaving 0.2 s for 3 shots "
            "without a duration; each needs at least 0.1 s. Shorten a typed duration or "
            "choose a longer video.",
        ),
        (
            [120, None],
            10,
            "The typed durations add up to 12 s of the 10 s video, leaving 0 s for 1 shot "
            "without a duration; each needs at least 0.1 s. Shorten a typed duration or "
            "choose a longer video.",
        ),
    ],
)
def test_share_time_refuses_less_than_a_tenth_each(
    typed: list[int | None], length: int, message: str
) -> None:
    with pytest.raises(StoryboardError) as info:
        share_time(typed, length)
    assert info.value.code == "no_time_left"
    assert str(info.value) == message


def test_share_time_respects_the_models_minimum() -> None:
    with pytest.raises(StoryboardError, match=r"leaving 1\.5 s for 2 shots.*at least 1 s"):
        share_time([85, None, None], 10, min_tenths=10)
    assert share_time([80, None, None], 10, min_tenths=10) == [80, 10, 10]


def test_rebalance_keeps_typed_shots_and_refills_automatic_ones() -> None:
    shots = (
        Shot(scene="typed", tenths=40),
        Shot(scene="auto 1", tenths=55, auto=True),
        Shot(scene="auto 2", tenths=55, auto=True),
    )
    out = rebalance(shots, 25, SORA)
    assert [(s.scene, s.tenths, s.auto) for s in out] == [
        ("typed", 40, False),
        ("auto 1", 105, True),
        ("auto 2", 105, True),
    ]
    out = rebalance(out, 10, SORA)
    assert [s.tenths for s in out] == [40, 30, 30]
    assert sum(s.tenths for s in out) == 100


def test_rebalance_remainder_goes_to_the_first_automatic_shots() -> None:
    shots = tuple(Shot(scene=f"s{i}", tenths=1, auto=True) for i in range(3))
    assert [s.tenths for s in rebalance(shots, 10, SORA)] == [34, 33, 33]


def test_rebalance_refuses_when_typed_shots_take_everything() -> None:
    shots = (Shot(scene="typed", tenths=100), Shot(scene="auto", tenths=50, auto=True))
    with pytest.raises(StoryboardError, match=r"leaving 0 s for 1 shot without"):
        rebalance(shots, 10, SORA)
