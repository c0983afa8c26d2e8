"""bot.models.kling: mapping a storyboard onto Kling 3.0 Omni, its refusals and its prices.

Also the model registry: choosing the configured models and remembering a paused one.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config.settings import ConfigError, load_settings
from bot.domain.storyboard import Shot, Storyboard, StoryboardError
from bot.models import UNAVAILABLE_FOR, ModelRegistry, known_models
from bot.models.kling import KlingOmni, summary_prompt, total_seconds, whole_seconds
from bot.models.sora import SoraStoryboard

IMAGE = "https://files.example.com/kitten.png"
KLING = "kling-3.0-omni/image-to-video"
SORA = "sora-2-pro-storyboard"


def make(tenths: list[int], length: int = 15, aspect: str = "landscape") -> Storyboard:
    return Storyboard(
        shots=tuple(Shot(scene=f"scene {i + 1}", tenths=t) for i, t in enumerate(tenths)),
        length=length,
        aspect=aspect,
    )


def seconds(tenths: list[int]) -> list[int]:
    return KlingOmni().seconds(make(tenths))


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("tenths", "expected"),
    [
        ([33, 33, 34], [3, 3, 4]),
        ([75, 75], [8, 7]),  # 15 s kept; the tie goes to the earlier shot
        ([4, 4, 4], [1, 1, 1]),  # 1.2 s raised to the 3 s minimum
        ([5] * 6, [1] * 6),  # 3 s raised to one second per shot
        ([100], [10]),
        ([10], [3]),  # one 1 s shot: the video is at least 3 s
        ([1, 149], [1, 14]),  # 15 s; the tiny shot still gets 1 s
        ([149, 1], [14, 1]),
        ([25, 25], [3, 2]),  # 5 s
        ([104], [10]),  # 10.4 s rounds down
        ([105], [11]),  # 10.5 s rounds half up
        ([50, 50, 50], [5, 5, 5]),
        ([1, 1, 1, 1, 1, 145], [1, 1, 1, 1, 1, 10]),  # 15 s: five 1 s floors, 10 s left
        ([20, 20, 20, 20, 20, 50], [2, 2, 2, 2, 2, 5]),
    ],
)
def test_whole_seconds_keep_the_total(tenths: list[int], expected: list[int]) -> None:
    got = seconds(tenths)
    assert got == expected
    assert sum(got) == total_seconds(tenths)
    body = KlingOmni().build_input(make(tenths), IMAGE)
    assert body["duration"] == sum(expected)
    assert [p["duration"] for p in body["multi_prompt"]] == expected


def test_seven_point_five_twice_sums_to_fifteen() -> None:
    got = seconds([75, 75])
    assert sorted(got) == [7, 8]
    assert sum(got) == 15


@pytest.mark.parametrize(
    ("tenths", "total"),
    [([33, 33, 34], 10), ([75, 75], 15), ([4, 4, 4], 3), ([5] * 6, 6), ([10], 3), ([144], 14)],
)
def test_total_seconds(tenths: list[int], total: int) -> None:
    assert total_seconds(tenths) == total


def test_whole_seconds_needs_a_second_per_shot() -> None:
    with pytest.raises(ValueError, match="at least one second"):
        whole_seconds([10, 10, 10, 10], 3)


def _largest_remainder(tenths: list[int], total: int) -> list[int]:
    """Reference: Hamilton's method with exact fractions, ties to the earlier shot."""
    quota = [Fraction(t * total, sum(tenths)) for t in tenths]
    out = [int(q) for q in quota]
    order = sorted(range(len(tenths)), key=lambda i: (-(quota[i] - out[i]), i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=150), min_size=1, max_size=6).filter(
        lambda xs: sum(xs) <= 150
    )
)
def test_whole_seconds_property(tenths: list[int]) -> None:
    board = make(tenths)
    model = KlingOmni()
    model.validate(board)  # 1-6 shots within 15 s always fit
    body = json.loads(json.dumps(model.build_input(board, IMAGE)))
    secs = [p["duration"] for p in body["multi_prompt"]]
    duration = body["duration"]

    assert all(type(s) is int for s in secs) and type(duration) is int
    assert sum(secs) == duration
    assert all(s >= 1 for s in secs)
    assert 3 <= duration <= 15
    rounded = int((Decimal(sum(tenths)) / 10).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert duration == max(rounded, 3, len(tenths))
    # A longer shot never gets fewer seconds than a shorter one.
    for i, a in enumerate(tenths):
        for j, b in enumerate(tenths):
            if a > b:
                assert secs[i] >= secs[j], (tenths, secs)
    # When no shot needs raising to 1 s, it is exactly the largest remainder method.
    if all(Fraction(t * duration, sum(tenths)) >= 1 for t in tenths):
        assert secs == _largest_remainder(tenths, duration)


# --------------------------------------------------------------------------- the request body


def test_full_request_body() -> None:
    board = Storyboard(
        shots=(
            Shot(scene="A kitten sits.", tenths=75),
            Shot(scene=" It licks its lips. ", tenths=75),
        ),
        length=15,
        aspect="portrait",
    )
    body = json.loads(json.dumps(KlingOmni().request_body(board, IMAGE, "https://cb.example/x")))
    assert body == {
        "model": KLING,
        "callBackUrl": "https://cb.example/x",
        "input": {
            "prompt": "A kitten sits. Then: It licks its lips.",
            "image_urls": [IMAGE],
            "duration": 15,
            "aspect_ratio": "9:16",
            "resolution": "720p",
            "audio": False,
            "customize_multi_shots": True,
            "multi_prompt": [
                {"prompt": "A kitten sits.", "duration": 8},
                {"prompt": "It licks its lips.", "duration": 7},
            ],
        },
    }
    assert "callBackUrl" not in KlingOmni().request_body(board, IMAGE)


@pytest.mark.parametrize(("aspect", "ratio"), [("landscape", "16:9"), ("portrait", "9:16")])
def test_aspect_mapping(aspect: str, ratio: str) -> None:
    body = KlingOmni().build_input(make([50, 50], aspect=aspect), IMAGE)
    assert body["aspect_ratio"] == ratio
    assert body["customize_multi_shots"] is True


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_one_to_six_shots_accepted(n: int) -> None:
    board = make([150 // n] * n)
    KlingOmni().validate(board)
    body = KlingOmni().build_input(board, IMAGE)
    assert len(body["multi_prompt"]) == n
    assert [p["prompt"] for p in body["multi_prompt"]] == [f"scene {i + 1}" for i in range(n)]


@pytest.mark.parametrize("n", [1, 2, 6])
def test_summary_prompt_under_the_limit(n: int) -> None:
    scenes = [chr(ord("a") + i) * 350 for i in range(n)]
    board = Storyboard(shots=tuple(Shot(scene=s, tenths=10) for s in scenes), length=10)
    KlingOmni().validate(board)
    prompt = KlingOmni().build_input(board, IMAGE)["prompt"]
    assert prompt.strip()
    assert 1 <= len(prompt) < 3072
    assert prompt.startswith(scenes[0][:100])
    assert all(
        len(p["prompt"]) <= 512 for p in KlingOmni().build_input(board, IMAGE)["multi_prompt"]
    )


def test_summary_prompt_of_chinese_scenes() -> None:
    board = Storyboard(
        shots=tuple(Shot(scene="小猫，戴着耳机。" * 43, tenths=25) for _ in range(6)), length=15
    )
    prompt = summary_prompt(board)
    assert prompt.strip() and len(prompt) < 3072
    assert prompt.startswith("小猫，戴着耳机。")


def test_single_scene_summary_is_the_scene() -> None:
    assert summary_prompt(make([50])) == "scene 1"


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("n", [7, 8, 9, 10])
def test_seven_to_ten_shots_refused_naming_six(n: int) -> None:
    board = make([10] * n)
    SoraStoryboard().validate(board)  # fine for the seed's model
    with pytest.raises(StoryboardError) as info:
        KlingOmni().validate(board)
    assert info.value.code == "shot_count"
    assert str(info.value) == f"A storyboard has 1 to 6 shots; this one has {n}."


def test_twenty_five_seconds_refused() -> None:
    board = make([100, 100], length=25)
    SoraStoryboard().validate(board)
    with pytest.raises(StoryboardError) as info:
        KlingOmni().validate(board)
    assert info.value.code == "length"
    assert str(info.value) == "A video is 10 or 15 s long; 25 s is not available."


def test_shot_count_is_refused_before_anything_else() -> None:
    # Too many shots, the wrong length and an empty scene at once: the shot limit comes first.
    board = Storyboard(shots=tuple(Shot(scene="", tenths=50) for _ in range(8)), length=25)
    with pytest.raises(StoryboardError, match="1 to 6 shots; this one has 8"):
        KlingOmni().validate(board)


def test_kling_limits() -> None:
    lim = KlingOmni.limits
    assert (lim.max_shots, lim.lengths, lim.whole_seconds) == (6, (10, 15), True)
    assert lim.aspects == ("landscape", "portrait")


def test_image_spec() -> None:
    spec = KlingOmni.image_spec
    assert spec.formats == frozenset({"JPEG", "PNG"})
    assert "WEBP" not in spec.formats
    assert spec.min_side == 300
    assert (spec.min_aspect, spec.max_aspect) == (0.4, 2.5)
    assert spec.max_bytes == 50_000_000


# --------------------------------------------------------------------------- options and price


def kling_from(tmp_path: Path, toml: str, **environ: str) -> KlingOmni:
    path = tmp_path / "c.toml"
    path.write_text(toml, encoding="utf-8")
    model = ModelRegistry(load_settings(path, environ=environ)).get(KLING)
    assert isinstance(model, KlingOmni)
    return model


@pytest.mark.parametrize(
    ("toml", "resolution", "audio", "price_15s"),
    [
        ("", "720p", False, 14 * 15),
        ('[kling]\nresolution = "1080p"\n', "1080p", False, 18 * 15),
        ("[kling]\naudio = true\n", "720p", True, 18 * 15),
        ('[kling]\nresolution = "1080p"\naudio = true\n', "1080p", True, 23 * 15),
        ('[kling]\nresolution = "4k"\n', "4k", False, 67 * 15),
        ('[kling]\nresolution = "4K"\naudio = true\n', "4k", True, 67 * 15),
        (
            '[kling]\nresolution = "1080p"\naudio = true\n'
            '[prices]\nkling_audio_per_second = {"1080p" = 30}\n',
            "1080p",
            True,
            30 * 15,
        ),
        ('[prices]\nkling_per_second = {"720p" = 10}\n', "720p", False, 10 * 15),
    ],
)
def test_resolution_audio_and_price_from_config(
    tmp_path: Path, toml: str, resolution: str, audio: bool, price_15s: int
) -> None:
    model = kling_from(tmp_path, toml)
    board = make([75, 75])
    body = model.build_input(board, IMAGE)
    assert (body["resolution"], body["audio"]) == (resolution, audio)
    assert model.price(board) == price_15s


def test_price_follows_the_whole_seconds(tmp_path: Path) -> None:
    model = kling_from(tmp_path, '[kling]\nresolution = "1080p"\n')
    assert model.price(make([33, 33, 34], length=10)) == 18 * 10
    assert model.price(make([4, 4, 4], length=10)) == 18 * 3  # raised to 3 s, charged 3 s


# --------------------------------------------------------------------------- the registry


@pytest.mark.parametrize(("env", "name"), [("KIE_MODEL", "veo-9"), ("KIE_FALLBACK_MODEL", "x")])
def test_unknown_model_names_the_setting_and_the_known_ones(env: str, name: str) -> None:
    with pytest.raises(ConfigError) as info:
        ModelRegistry(load_settings(environ={env: name}))
    text = str(info.value)
    assert "\n" not in text
    assert env in text and repr(name) in text
    assert SORA in text and KLING in text


def test_known_models() -> None:
    assert set(known_models()) == {SORA, KLING}


@pytest.mark.parametrize(
    ("environ", "primary", "fallback"),
    [
        ({}, SORA, KLING),
        ({"KIE_FALLBACK_MODEL": ""}, SORA, None),
        ({"KIE_MODEL": KLING}, KLING, None),  # the fallback is the primary itself
        ({"KIE_MODEL": KLING, "KIE_FALLBACK_MODEL": SORA}, KLING, SORA),
    ],
)
def test_primary_and_fallback(environ: dict[str, str], primary: str, fallback: str | None) -> None:
    reg = ModelRegistry(load_settings(environ=environ))
    assert reg.primary.name == primary
    assert (reg.fallback.name if reg.fallback else None) == fallback


def test_unavailable_for_ten_minutes() -> None:
    reg = ModelRegistry(load_settings(environ={}))
    t0 = 1_000.0
    assert UNAVAILABLE_FOR == 600
    assert not reg.unavailable(SORA, t0)
    reg.mark_unavailable(SORA, t0, "500 This interface is temporarily paused")
    for dt, down in [
        (0, True),
        (1, True),
        (599.9, True),
        (600, False),
        (600.1, False),
        (3600, False),
    ]:
        assert reg.unavailable(SORA, t0 + dt) is down, dt
    assert not reg.unavailable(KLING, t0 + 1)
    reg.mark_available(SORA)
    assert not reg.unavailable(SORA, t0 + 1)
