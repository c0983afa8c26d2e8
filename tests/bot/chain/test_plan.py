"""bot.chain.plan: splitting a long storyboard into segments a model takes."""

from __future__ import annotations

from itertools import combinations, pairwise

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.chain.plan import (
    DEFAULT_MAX_SECONDS,
    DEFAULT_MAX_SHOTS,
    Mark,
    Plan,
    check_long_storyboard,
    plan_segments,
    timeline_marks,
)
from bot.domain.storyboard import Shot, Storyboard, StoryboardError
from bot.models.base import VideoModel
from bot.models.kling import KlingOmni
from bot.models.sora import SoraStoryboard

KLING = KlingOmni()
SORA = SoraStoryboard()


def make(tenths: list[int], length: int = 60, aspect: str = "landscape") -> Storyboard:
    return Storyboard(
        shots=tuple(Shot(scene=f"scene {i + 1}", tenths=t) for i, t in enumerate(tenths)),
        length=length,
        aspect=aspect,
    )


def fits(model: VideoModel, board: Storyboard, shots: tuple[Shot, ...]) -> bool:
    for length in model.limits.lengths:
        try:
            model.validate(board.model_copy(update={"shots": shots, "length": length}))
        except StoryboardError:
            continue
        return True
    return False


def brute_force(model: VideoModel, board: Storyboard) -> tuple[int, int, int]:
    """(fewest segments, shortest longest segment, least spread) over every split."""
    shots = board.shots
    n = len(shots)
    best = None
    for k in range(n):
        for cuts in combinations(range(1, n), k):
            bounds = [0, *cuts, n]
            parts = [shots[a:b] for a, b in pairwise(bounds)]
            if not all(fits(model, board, p) for p in parts):
                continue
            lengths = [sum(s.tenths for s in p) for p in parts]
            key = (len(parts), max(lengths), max(lengths) - min(lengths))
            best = key if best is None or key < best else best
        if best is not None:
            return best  # no split with more cuts has fewer segments
    raise AssertionError("no split fits")


def check_plan(plan: Plan, board: Storyboard, model: VideoModel) -> None:
    """Every plan: segments the model takes, the shots in order, nothing lost or added."""
    assert plan.count >= 1
    assert tuple(s for seg in plan.segments for s in seg.shots) == board.shots
    assert plan.total_tenths == board.total_tenths
    start = 0
    for k, seg in enumerate(plan.segments):
        assert seg.index == k and seg.start == start
        start = seg.stop
        model.validate(seg.board)  # raises if the model would refuse it
        assert seg.length in model.limits.lengths
        assert seg.board.aspect == board.aspect
        assert seg.price == model.price(seg.board)
    assert plan.price == sum(s.price for s in plan.segments)


# Shots a segment can hold (Kling and Sora: 0.1-15 s), mostly short so that splits are many.
shot_tenths = st.one_of(st.integers(1, 40), st.integers(1, 150))


@settings(max_examples=150, deadline=None)
@given(
    tenths=st.lists(shot_tenths, min_size=1, max_size=20),
    aspect=st.sampled_from(["landscape", "portrait"]),
)
def test_every_plan_fits_kling_and_keeps_the_shots(tenths: list[int], aspect: str) -> None:
    board = make(tenths, aspect=aspect)
    check_plan(plan_segments(board, KLING), board, KLING)


@settings(max_examples=100, deadline=None)
@given(tenths=st.lists(shot_tenths, min_size=1, max_size=25), length=st.sampled_from([10, 15, 25]))
def test_every_plan_fits_sora_and_keeps_the_shots(tenths: list[int], length: int) -> None:
    board = make(tenths, length=length)
    check_plan(plan_segments(board, SORA), board, SORA)


@settings(max_examples=150, deadline=None)
@given(tenths=st.lists(shot_tenths, min_size=1, max_size=9))
def test_fewest_segments_then_balanced_like_a_brute_force(tenths: list[int]) -> None:
    board = make(tenths)
    plan = plan_segments(board, KLING)
    lengths = [seg.tenths for seg in plan.segments]
    key = (plan.count, max(lengths), max(lengths) - min(lengths))
    assert key == brute_force(KLING, board)


@settings(max_examples=60, deadline=None)
@given(tenths=st.lists(st.integers(1, 150), min_size=1, max_size=10))
def test_fewest_segments_on_sora_like_a_brute_force(tenths: list[int]) -> None:
    board = make(tenths, length=25)
    assert plan_segments(board, SORA).count == brute_force(SORA, board)[0]


@st.composite
def seed_longest(draw: st.DrawFn) -> list[int]:
    """10 shots of 0.1-15 s adding up to 25 s: the longest storyboard the seed's model takes."""
    cuts = sorted(draw(st.sets(st.integers(1, 249), min_size=9, max_size=9)))
    tenths = [b - a for a, b in zip([0, *cuts], [*cuts, 250], strict=True)]
    assume(max(tenths) <= 150)
    return tenths


@settings(max_examples=100, deadline=None)
@given(tenths=seed_longest() | st.just([25] * 10))
def test_the_seeds_longest_storyboard_plans_into_segments_kling_takes(tenths: list[int]) -> None:
    board = make(tenths, length=25)
    plan = plan_segments(board, KLING)
    check_plan(plan, board, KLING)
    assert plan.count >= 2  # 25 s is more than one Kling video


def test_a_storyboard_the_model_takes_is_one_unchanged_segment() -> None:
    board = make([75, 75], length=15)
    plan = plan_segments(board, KLING)
    assert plan.count == 1 and not plan.chained
    assert plan.segments[0].board == board
    assert plan.segments[0].seconds == 15 and plan.price == 210
    assert timeline_marks(plan) == ()
    assert plan.estimate() == "1 segment, about 3-5 min"


def test_one_segment_at_a_length_the_model_takes() -> None:
    # Sora's 25 s is not Kling's, but 12 s of shots fit one Kling video.
    plan = plan_segments(make([60, 60], length=25), KLING)
    assert plan.count == 1
    assert plan.segments[0].length == 15 and plan.segments[0].seconds == 12


def test_the_seeds_longest_storyboard_on_kling_720p() -> None:
    plan = plan_segments(make([25] * 10, length=25), KLING)
    assert [len(s.shots) for s in plan.segments] == [5, 5]
    assert [s.tenths for s in plan.segments] == [125, 125]
    # 12.5 s of shots is a 13 s Kling video (the rounded total), 14 credits a second.
    assert [s.seconds for s in plan.segments] == [13, 13]
    assert [s.price for s in plan.segments] == [182, 182]
    assert plan.price == 364 and plan.seconds == 26 and plan.total_tenths == 250
    assert timeline_marks(plan) == (Mark(segment=1, shot=5, tenths=125, seconds=13),)
    assert plan.estimate() == "2 segments, about 6-10 min"


def test_the_longest_storyboard_the_product_takes_on_kling_720p() -> None:
    board = make([30] * 20)
    check_long_storyboard(board)
    plan = plan_segments(board, KLING)
    assert [s.shot_numbers() for s in plan.segments] == [
        range(1, 6),
        range(6, 11),
        range(11, 16),
        range(16, 21),
    ]
    assert [s.seconds for s in plan.segments] == [15, 15, 15, 15]
    assert plan.price == 4 * 210 and plan.seconds == 60
    assert [(m.shot, m.tenths, m.seconds) for m in timeline_marks(plan)] == [
        (5, 150, 15),
        (10, 300, 30),
        (15, 450, 45),
    ]
    assert plan.minutes() == (12, 20)
    assert plan.estimate((2, 4.5)) == "4 segments, about 8-18 min"


def test_balanced_among_the_fewest_segments() -> None:
    # 6 + 6 + 12 would also be two segments, but 12 / 12 is the balanced one.
    plan = plan_segments(make([60, 60, 60, 60]), KLING)
    assert [s.tenths for s in plan.segments] == [120, 120]
    # Kling's 6-shot limit, not time, forces a third segment for 13 one-second shots.
    plan = plan_segments(make([10] * 13), KLING)
    assert [len(s.shots) for s in plan.segments] == [4, 4, 5]  # ties: the earliest cuts


def test_a_short_segment_is_what_kling_makes_of_it() -> None:
    # A 1 s segment is sent as is; Kling makes at least 3 s of video, and charges for them.
    plan = plan_segments(make([150, 10]), KLING)
    assert [(s.tenths, s.seconds, s.price) for s in plan.segments] == [(150, 15, 210), (10, 3, 42)]


def test_a_shot_longer_than_a_segment_is_refused() -> None:
    with pytest.raises(StoryboardError) as e:
        plan_segments(make([30, 160, 40]), KLING)
    assert e.value.code == "shot_over_segment"
    assert e.value.params == {"shot": 2, "seconds": "16", "max": "15", "model": "Kling 3.0 Omni"}
    assert "Shot 2 lasts 16 s" in str(e.value) and "at most 15 s" in str(e.value)


def test_rules_splitting_cannot_help_keep_the_boards_shot_numbers() -> None:
    board = make([30] * 8).with_shots([*make([30] * 7).shots, Shot(scene="x" * 400, tenths=30)])
    with pytest.raises(StoryboardError) as e:
        plan_segments(board, KLING)
    assert e.value.code == "scene_long" and e.value.params["shot"] == 8
    with pytest.raises(StoryboardError) as e:
        plan_segments(make([30] * 7 + [0]), KLING)
    assert e.value.code == "shot_duration" and e.value.params["shot"] == 8


def test_max_segments_refuses_a_longer_plan_with_the_numbers() -> None:
    board = make([30] * 20)
    assert plan_segments(board, KLING, max_segments=4).count == 4
    with pytest.raises(StoryboardError) as e:
        plan_segments(board, KLING, max_segments=3)
    assert e.value.code == "segments_over"
    assert e.value.params["needed"] == 4 and e.value.params["max"] == 3
    assert "need 4 segments" in str(e.value) and "at most 3" in str(e.value)
    with pytest.raises(ValueError):
        plan_segments(board, KLING, max_segments=0)


def test_the_products_maximums() -> None:
    assert (DEFAULT_MAX_SECONDS, DEFAULT_MAX_SHOTS) == (60, 20)
    check_long_storyboard(make([30] * 20))
    with pytest.raises(StoryboardError) as e:
        check_long_storyboard(make([20] * 21))
    assert e.value.code == "shot_count" and e.value.params == {"count": 21, "max": 20}
    with pytest.raises(StoryboardError) as e:
        check_long_storyboard(make([31] * 20))
    assert e.value.code == "long_total"
    assert e.value.params == {"total": "62", "max": 60}
    assert "at most 60 s" in str(e.value) and "62 s" in str(e.value)
    check_long_storyboard(make([31] * 20), max_seconds=90, max_shots=30)
    with pytest.raises(StoryboardError):
        check_long_storyboard(make([]))
