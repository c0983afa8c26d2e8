"""bot.models.sora: the seed's wire format, byte for byte after JSON parsing, and its prices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.config.settings import load_settings
from bot.domain.storyboard import Shot, Storyboard, StoryboardError, fmt_tenths
from bot.models import ModelRegistry
from bot.models.sora import SoraStoryboard

SCENE_1 = (
    "一只可爱的蓬松橘白相间的小猫戴着橘色耳机，坐在舒适的室内桌子旁，盘子里有一小块蛋糕，"
    "附近有一个玩具鱼和银色麦克风，温暖柔和的光线，电影特写，浅景深，温柔的ASMR氛围。"
)
SCENE_2 = (
    "同一只可爱的蓬松橘白相间的小猫戴着橘色耳机，在同一个舒适的室内ASMR设置中，玩具鱼和麦克风，"
    "蛋糕现在吃完了，小猫轻轻舔着嘴唇，带着满足的微笑，温暖的环境照明，电影特写，浅景深，"
    "平静而满足的心情。"
)
IMAGE = "https://file.aiquickdraw.com/custom-page/akr/section-images/1760776438785hyue5ogz.png"
CALLBACK = "https://your-domain.com/api/callback"

# Verbatim from the seed page's request example (the --data of its curl command).
SEED_BODY = """
{
  "model": "sora-2-pro-storyboard",
  "callBackUrl": "https://your-domain.com/api/callback",
  "input": {
    "shots": [
      {
        "Scene": "一只可爱的蓬松橘白相间的小猫戴着橘色耳机，坐在舒适的室内桌子旁，盘子里有一小块蛋糕，附近有一个玩具鱼和银色麦克风，温暖柔和的光线，电影特写，浅景深，温柔的ASMR氛围。",
        "duration": 7.5
      },
      {
        "Scene": "同一只可爱的蓬松橘白相间的小猫戴着橘色耳机，在同一个舒适的室内ASMR设置中，玩具鱼和麦克风，蛋糕现在吃完了，小猫轻轻舔着嘴唇，带着满足的微笑，温暖的环境照明，电影特写，浅景深，平静而满足的心情。",
        "duration": 7.5
      }
    ],
    "n_frames": "15",
    "image_urls": [
      "https://file.aiquickdraw.com/custom-page/akr/section-images/1760776438785hyue5ogz.png"
    ],
    "aspect_ratio": "landscape"
  }
}
"""  # noqa: E501


def seed_board() -> Storyboard:
    return Storyboard(
        shots=(Shot(scene=SCENE_1, tenths=75), Shot(scene=SCENE_2, tenths=75)),
        length=15,
        aspect="landscape",
    )


def wire(body: dict) -> dict:
    """What kie.ai receives: the body after a JSON round trip."""
    return json.loads(json.dumps(body, ensure_ascii=False))


def seed_with_upload_method(method: str = "s3") -> dict:
    """The seed's body plus the one field kie.ai's current schema requires."""
    expected = json.loads(SEED_BODY)
    expected["input"]["upload_method"] = method
    return expected


def test_seed_example_round_trip() -> None:
    model = SoraStoryboard()
    board = seed_board()
    model.validate(board)
    body = model.request_body(board, IMAGE, CALLBACK)
    assert wire(body) == seed_with_upload_method()
    # Also the same with ASCII escapes (aiohttp's json= default).
    assert json.loads(json.dumps(body)) == seed_with_upload_method()
    # Everything but upload_method is byte for byte the seed's (keys in the seed's order).
    sent = wire(body)
    del sent["input"]["upload_method"]
    assert json.dumps(sent, ensure_ascii=False) == json.dumps(
        json.loads(SEED_BODY), ensure_ascii=False
    )


def test_upload_method_is_always_sent_and_configurable(tmp_path) -> None:
    from bot.config.settings import load_settings
    from bot.models import ModelRegistry

    assert SoraStoryboard().build_input(seed_board(), IMAGE)["upload_method"] == "s3"
    cfg = tmp_path / "c.toml"
    cfg.write_text('[sora]\nupload_method = "oss"\n')
    model = ModelRegistry(load_settings(cfg, environ={})).get("sora-2-pro-storyboard")
    assert model.request_body(seed_board(), IMAGE, CALLBACK) == seed_with_upload_method("oss")
    cfg.write_text('[sora]\nupload_method = "ftp"\n')
    from bot.config.settings import ConfigError

    with pytest.raises(ConfigError, match="upload_method"):
        load_settings(cfg, environ={})


def test_seed_example_types() -> None:
    body = json.loads(json.dumps(SoraStoryboard().request_body(seed_board(), IMAGE, CALLBACK)))
    inp = body["input"]
    assert set(body) == {"model", "callBackUrl", "input"}
    assert set(inp) == {"shots", "n_frames", "image_urls", "aspect_ratio", "upload_method"}
    assert inp["upload_method"] == "s3"
    assert isinstance(inp["n_frames"], str) and inp["n_frames"] == "15"
    assert inp["image_urls"] == [IMAGE]
    for shot in inp["shots"]:
        assert set(shot) == {"Scene", "duration"}
        assert type(shot["duration"]) is float and shot["duration"] == 7.5


def test_no_callback_key_without_a_callback() -> None:
    body = SoraStoryboard().request_body(seed_board(), IMAGE, None)
    assert "callBackUrl" not in body
    assert "callBackUrl" not in SoraStoryboard().request_body(seed_board(), IMAGE)
    assert body["model"] == "sora-2-pro-storyboard"


@pytest.mark.parametrize(
    ("tenths", "length", "aspect", "durations", "n_frames"),
    [
        ([100], 10, "portrait", [10], "10"),
        ([50, 50, 50], 15, "landscape", [5, 5, 5], "15"),
        ([1, 1, 1], 10, "landscape", [0.1, 0.1, 0.1], "10"),
        ([150, 100], 25, "portrait", [15, 10], "25"),
        ([33, 33, 34], 10, "landscape", [3.3, 3.3, 3.4], "10"),
    ],
)
def test_body_types(
    tenths: list[int], length: int, aspect: str, durations: list[float], n_frames: str
) -> None:
    board = Storyboard(
        shots=tuple(Shot(scene=f"scene {i}", tenths=t) for i, t in enumerate(tenths)),
        length=length,
        aspect=aspect,
    )
    body = json.loads(json.dumps(SoraStoryboard().request_body(board, IMAGE)))
    inp = body["input"]
    assert inp["n_frames"] == n_frames
    assert inp["aspect_ratio"] == aspect
    assert [s["Scene"] for s in inp["shots"]] == [f"scene {i}" for i in range(len(tenths))]
    got = [s["duration"] for s in inp["shots"]]
    assert got == durations
    for t, d in zip(tenths, got, strict=True):
        # Whole seconds are JSON integers, tenths are floats; never float noise like 0.30000001.
        assert type(d) is (int if t % 10 == 0 else float)


def test_every_duration_is_written_without_float_noise() -> None:
    model = SoraStoryboard()
    for t in range(1, 151):
        board = Storyboard(shots=(Shot(scene="x", tenths=t),), length=15)
        text = json.dumps(model.build_input(board, IMAGE)["shots"][0]["duration"])
        assert text == fmt_tenths(t)


def test_scene_sent_without_surrounding_blanks() -> None:
    board = Storyboard(shots=(Shot(scene="  a kitten \n", tenths=50),), length=10)
    assert SoraStoryboard().build_input(board, IMAGE)["shots"][0]["Scene"] == "a kitten"


def test_validate_uses_the_seeds_limits() -> None:
    board = Storyboard(shots=tuple(Shot(scene="x", tenths=10) for _ in range(11)), length=25)
    with pytest.raises(StoryboardError, match=r"1 to 10 shots; this one has 11"):
        SoraStoryboard().validate(board)


# --------------------------------------------------------------------------- prices


def board_of(length: int) -> Storyboard:
    return Storyboard(shots=(Shot(scene="x", tenths=length * 10 // 2),), length=length)


@pytest.mark.parametrize(("length", "credits"), [(10, 150), (15, 270), (25, 270)])
def test_default_prices_from_config(length: int, credits: int) -> None:
    sora = ModelRegistry(load_settings(environ={})).get("sora-2-pro-storyboard")
    assert sora.price(board_of(length)) == credits
    assert SoraStoryboard().price(board_of(length)) == credits


def test_prices_overridable_in_toml(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[prices]\nsora = {"10" = 100, "15" = 200, "25" = 300}\n', encoding="utf-8")
    sora = ModelRegistry(load_settings(path, environ={})).get("sora-2-pro-storyboard")
    assert [sora.price(board_of(x)) for x in (10, 15, 25)] == [100, 200, 300]


def test_partial_price_override_keeps_the_other_lengths(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[prices]\nsora = {"25" = 500}\n', encoding="utf-8")
    sora = ModelRegistry(load_settings(path, environ={})).get("sora-2-pro-storyboard")
    assert [sora.price(board_of(x)) for x in (10, 15, 25)] == [150, 270, 500]
