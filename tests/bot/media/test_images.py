"""Tests for bot.media.images: reference-image preparation and download."""

from __future__ import annotations

import asyncio
import io
import random
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
import warnings
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from PIL import Image, ImageFile, ImageOps

from bot.media.download import FetchPolicy
from bot.media.images import (
    ACCEPTED_FORMATS,
    MAX_CONCURRENT_PREPARATIONS,
    MAX_PIXELS,
    ImageChange,
    ImageError,
    ImageSpec,
    PreparedImage,
    budget,
    fetch_image,
    prepare_image,
    prepare_image_async,
    render,
    slots,
    sniff_format,
)
from bot.models.kling import KlingOmni
from bot.models.sora import SoraStoryboard

ALL = frozenset({"JPEG", "PNG", "WEBP"})
SPEC = ImageSpec(formats=ALL, max_bytes=10_000_000)
KLING = KlingOmni.image_spec
SORA = SoraStoryboard.image_spec
ACCEPTED_LIST = ", ".join(ACCEPTED_FORMATS[:-1]) + " or " + ACCEPTED_FORMATS[-1]
needs_avif = pytest.mark.skipif("AVIF" not in ACCEPTED_FORMATS, reason="Pillow without AVIF")


# --------------------------------------------------------------------------- helpers


def encode(im: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()


def solid(size: tuple[int, int] = (64, 48), color: object = (200, 30, 30), mode: str = "RGB"):
    return Image.new(mode, size, color)  # type: ignore[arg-type]


def noise(size: tuple[int, int], mode: str = "RGB", seed: int = 1) -> Image.Image:
    """Incompressible, deterministic pixels."""
    channels = len(mode)
    data = random.Random(seed).randbytes(size[0] * size[1] * channels)
    return Image.frombytes(mode, size, data)


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares huge dimensions but carries (almost) no pixel data."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def with_orientation(im: Image.Image, orientation: int, fmt: str = "JPEG") -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(im, fmt, exif=exif.tobytes())


def codes(prepared: PreparedImage) -> list[str]:
    return [change.code for change in prepared.changes]


@pytest.fixture
def pillow_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[object]]:
    """Records every Image.open (the formats it may try) and every decode that runs
    (ImageFile.load with pixels left to read: the format and the size being decoded)."""
    calls: dict[str, list[object]] = {"open": [], "load": []}
    real_open, real_load = Image.open, ImageFile.ImageFile.load

    def spy_open(fp: object, *args: object, **kwargs: object) -> Image.Image:
        calls["open"].append(kwargs.get("formats"))
        return real_open(fp, *args, **kwargs)  # type: ignore[arg-type]

    def spy_load(self: ImageFile.ImageFile):  # type: ignore[no-untyped-def]
        if self.tile:
            calls["load"].append((self.format, self.size))
        return real_load(self)

    monkeypatch.setattr(Image, "open", spy_open)
    monkeypatch.setattr(ImageFile.ImageFile, "load", spy_load)
    return calls


def segments(data: bytes) -> Iterator[tuple[int, int]]:
    """(marker, offset) of each JPEG segment before the first scan's data."""
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        yield marker, pos
        if marker == 0xDA:
            return
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")


def jpeg_claiming(data: bytes, width: int, height: int, sof: int | None = None) -> bytes:
    """``data`` (a JPEG) with its frame header rewritten to say width x height (and the
    frame type ``sof``, when given); the scan data is left as it was."""
    out = bytearray(data)
    for marker, pos in segments(data):
        if marker in (0xC0, 0xC1, 0xC2):
            out[pos + 5 : pos + 9] = struct.pack(">HH", height, width)
            if sof is not None:
                out[pos + 1] = sof
            return bytes(out)
    raise AssertionError("no frame header")


def ico_declaring(size: int, payload: bytes) -> bytes:
    """An ICO whose directory says size x size and whose one entry holds ``payload``."""
    side = 0 if size == 256 else size  # 0 means 256 in an ICO directory
    entry = struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(payload), 6 + 16)
    return struct.pack("<HHH", 0, 1, 1) + entry + payload


def gif_with_first_frame(screen: tuple[int, int], frame: tuple[int, int]) -> bytes:
    """A GIF whose logical screen is ``screen`` but whose first frame is ``frame``."""
    header = b"GIF89a" + struct.pack("<HHBBB", *screen, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    descriptor = b"," + struct.pack("<HHHHB", 0, 0, *frame, 0)
    return header + descriptor + b"\x02\x02\x4c\x01\x00;"


def avif_claiming(data: bytes, width: int, height: int) -> bytes:
    """``data`` (an AVIF) with every ispe property rewritten to say width x height."""
    out = bytearray(data)
    pos = out.find(b"ispe")
    assert pos > 0
    while pos > 0:
        out[pos + 8 : pos + 16] = struct.pack(">II", width, height)
        pos = out.find(b"ispe", pos + 1)
    return bytes(out)


# --------------------------------------------------------------------------- untouched


@pytest.mark.parametrize(
    ("fmt", "mime", "ext"),
    [("JPEG", "image/jpeg", "jpg"), ("PNG", "image/png", "png"), ("WEBP", "image/webp", "webp")],
)
def test_accepted_formats_pass_through_byte_for_byte(fmt: str, mime: str, ext: str) -> None:
    data = encode(solid((120, 80)), fmt)
    out = prepare_image(data, SPEC)
    assert out.data == data
    assert out.untouched
    assert out.changes == ()
    assert out.summary() == ""
    assert (out.format, out.original_format) == (fmt, fmt)
    assert (out.width, out.height) == (120, 80)
    assert out.original_size == len(data)
    assert (out.mime, out.extension) == (mime, ext)
    assert out.orientation == "landscape"


def test_multi_picture_jpeg_treated_as_jpeg() -> None:
    # Many phone cameras write MPO files; they are valid JPEGs and must pass untouched.
    first, second = solid((64, 48), (1, 2, 3)), solid((64, 48), (9, 9, 9))
    data = encode(first, "MPO", save_all=True, append_images=[second])
    assert decode(data).format == "MPO"
    assert sniff_format(data) == "JPEG"
    out = prepare_image(data, ImageSpec(formats=frozenset({"JPEG"}), max_bytes=10_000_000))
    assert out.data == data
    assert out.format == "JPEG"
    assert out.untouched


def test_sniff_format_judges_by_content_not_name() -> None:
    # A PNG someone called "photo.jpg" is still a PNG: there is no name to be fooled by.
    png = encode(solid(), "PNG")
    assert sniff_format(png) == "PNG"
    assert sniff_format(encode(solid(), "JPEG")) == "JPEG"
    assert sniff_format(encode(solid(), "GIF")) == "GIF"
    assert sniff_format(b"just some text, named cat.png") is None
    assert sniff_format(b"") is None
    assert sniff_format(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n") is None
    out = prepare_image(png, ImageSpec(formats=frozenset({"JPEG"}), max_bytes=10_000_000))
    assert out.original_format == "PNG"
    assert out.format == "JPEG"


# --------------------------------------------------------------------------- conversion


def test_transparent_gif_converted_to_png() -> None:
    im = Image.new("P", (40, 30), 0)
    im.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    im.paste(1, (0, 0, 20, 30))
    data = encode(im, "GIF", transparency=0)
    out = prepare_image(data, SPEC)
    assert out.format == "PNG"
    assert out.original_format == "GIF"
    assert out.changes == (ImageChange("converted", {"from": "GIF", "to": "PNG"}),)
    assert out.summary() == "Your image was converted from GIF to PNG to fit."
    back = decode(out.data).convert("RGBA")
    assert back.getpixel((30, 10))[3] == 0  # still transparent
    assert back.getpixel((5, 10)) == (0, 255, 0, 255)


def test_opaque_gif_converted_to_jpeg() -> None:
    data = encode(solid((50, 40), (0, 0, 255)), "GIF")
    out = prepare_image(data, SPEC)
    assert (out.format, out.mime, out.extension) == ("JPEG", "image/jpeg", "jpg")
    assert codes(out) == ["converted"]
    assert out.changes[0].describe() == "converted from GIF to JPEG"
    back = decode(out.data)
    assert back.format == "JPEG"
    assert back.size == (50, 40)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("BMP", encode(solid((70, 90)), "BMP")),
        ("TIFF", encode(solid((70, 90)), "TIFF")),
        ("ICO", encode(solid((32, 32)), "ICO")),
        ("PSD", b"8BPS\0\1" + b"\0" * 60),
        ("HEIC", b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 40),
    ],
)
def test_other_formats_refused_by_name(
    name: str, data: bytes, pillow_calls: dict[str, list[object]]
) -> None:
    with pytest.raises(ImageError) as err:
        prepare_image(data, SPEC)
    assert str(err.value) == (f"{name} images are not accepted; send a {ACCEPTED_LIST} image.")
    assert pillow_calls == {"open": [], "load": []}  # no Pillow plugin ever saw the bytes
    assert sniff_format(data) is None


def test_video_is_named_as_such() -> None:
    data = b"\0\0\0\x18ftypisom\0\0\0\0isomiso2" + b"\0" * 40
    with pytest.raises(ImageError) as err:
        prepare_image(data, SPEC)
    assert str(err.value) == "That file is not an image Pillow can read (it is a video)."


def test_webp_converted_when_model_does_not_take_webp() -> None:
    data = encode(solid((60, 60)), "WEBP")
    out = prepare_image(data, ImageSpec(formats=frozenset({"JPEG", "PNG"}), max_bytes=10_000_000))
    assert out.format == "JPEG"
    assert out.data != data
    assert out.changes == (ImageChange("converted", {"from": "WEBP", "to": "JPEG"}),)


def test_rgba_flattened_onto_white_for_jpeg_only_model() -> None:
    im = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    im.paste((255, 0, 0, 255), (0, 0, 20, 40))
    out = prepare_image(encode(im, "PNG"), ImageSpec(frozenset({"JPEG"}), max_bytes=10_000_000))
    assert out.format == "JPEG"
    assert codes(out) == ["converted", "flattened"]
    assert out.summary() == (
        "Your image was converted from PNG to JPEG and flattened onto a white background to fit."
    )
    back = decode(out.data)
    assert back.mode == "RGB"
    assert all(c > 245 for c in back.getpixel((35, 20)))  # transparent -> white, not black
    r, g, b = back.getpixel((5, 20))
    assert r > 240 and g < 15 and b < 15


def test_opaque_rgba_is_not_reported_as_flattened() -> None:
    im = Image.new("RGBA", (30, 30), (10, 200, 10, 255))
    out = prepare_image(encode(im, "PNG"), ImageSpec(frozenset({"JPEG"}), max_bytes=10_000_000))
    assert codes(out) == ["converted"]


# --------------------------------------------------------------------------- size limits


def test_too_large_png_is_downscaled_to_fit() -> None:
    data = encode(noise((300, 200)), "PNG")
    spec = ImageSpec(formats=frozenset({"PNG"}), max_bytes=50_000)
    assert len(data) > spec.max_bytes
    out = prepare_image(data, spec)
    assert out.format == "PNG"
    assert len(out.data) <= spec.max_bytes
    assert codes(out) == ["downscaled"]
    change = out.changes[0]
    assert change.params["from"] == "300x200"
    assert change.params["to"] == f"{out.width}x{out.height}"
    assert out.width < 300 and out.height < 200
    assert abs(out.width / out.height - 1.5) < 0.05  # aspect kept
    back = decode(out.data)
    assert back.size == (out.width, out.height)
    assert (
        out.summary() == f"Your image was downscaled from 300x200 to {change.params['to']} to fit."
    )


def test_too_large_png_becomes_jpeg_when_allowed() -> None:
    data = encode(noise((300, 300)), "PNG")
    spec = ImageSpec(formats=ALL, max_bytes=50_000)
    out = prepare_image(data, spec)
    assert out.format == "JPEG"
    assert len(out.data) <= 50_000
    assert codes(out)[0] == "converted"
    assert decode(out.data).size == (out.width, out.height)


def test_transparent_png_too_large_falls_back_to_flattened_jpeg() -> None:
    im = noise((200, 200), "RGBA")
    data = encode(im, "PNG")
    spec = ImageSpec(formats=frozenset({"PNG", "JPEG"}), max_bytes=60_000)
    out = prepare_image(data, spec)
    assert out.format == "JPEG"
    assert len(out.data) <= 60_000
    assert codes(out)[:2] == ["converted", "flattened"]


def test_too_large_jpeg_is_recompressed_in_place() -> None:
    im = noise((160, 120)).resize((640, 480), Image.Resampling.BILINEAR)
    data = encode(im, "JPEG", quality=100)
    spec = ImageSpec(formats=ALL, max_bytes=len(data) - 1)
    out = prepare_image(data, spec)
    assert out.format == "JPEG"
    assert (out.width, out.height) == (640, 480)
    assert len(out.data) <= spec.max_bytes
    assert out.changes == (ImageChange("recompressed", {"from": len(data), "to": len(out.data)}),)
    assert out.summary().startswith("Your image was recompressed from ")


def test_lower_jpeg_quality_tried_before_downscaling() -> None:
    im = noise((160, 120)).resize((640, 480), Image.Resampling.BILINEAR)
    data = encode(im, "JPEG", quality=100)
    pixels = decode(data)
    at_90 = len(encode(pixels, "JPEG", quality=90, optimize=True))
    at_75 = len(encode(pixels, "JPEG", quality=75, optimize=True))
    assert at_75 < at_90
    spec = ImageSpec(formats=frozenset({"JPEG"}), max_bytes=(at_75 + at_90) // 2)
    out = prepare_image(data, spec)
    assert (out.width, out.height) == (640, 480)  # full resolution kept
    assert len(out.data) <= spec.max_bytes
    assert codes(out) == ["recompressed"]


def test_real_10mb_limit_on_12mb_png() -> None:
    data = encode(noise((2000, 2000)), "PNG", compress_level=1)
    assert len(data) > 12_000_000
    out = prepare_image(data, SPEC)
    assert len(out.data) <= 10_000_000
    assert out.format == "JPEG"
    assert codes(out) == ["converted"]
    assert decode(out.data).size == (2000, 2000)


def test_refuses_when_it_cannot_shrink_without_breaking_min_side() -> None:
    data = encode(noise((200, 200)), "PNG")
    spec = ImageSpec(formats=frozenset({"PNG"}), max_bytes=5_000, min_side=190)
    with pytest.raises(ImageError, match=r"could not be made smaller than 5 KB"):
        prepare_image(data, spec)


def test_input_over_max_input_bytes_refused_with_both_sizes() -> None:
    spec = ImageSpec(formats=ALL, max_bytes=500_000, max_input_bytes=1_000_000)
    with pytest.raises(ImageError) as err:
        prepare_image(b"\0" * 1_200_000, spec)
    assert str(err.value) == "That file is 1.2 MB; the largest image accepted is 1.0 MB."


@pytest.mark.parametrize("size", [(20_000, 20_000), (10_000, 8_500), (60_000, 60_000)])
def test_huge_png_header_refused_before_pillow_opens_it(
    size: tuple[int, int], pillow_calls: dict[str, list[object]]
) -> None:
    data = png_header_only(*size)
    assert len(data) < 200
    with pytest.raises(ImageError) as err:
        prepare_image(data, SPEC)
    w, h = size
    assert str(err.value) == (
        f"That image is {w}x{h} ({w * h / 1e6:.0f} megapixels); the limit is 80 megapixels."
    )
    assert pillow_calls == {"open": [], "load": []}


# --------------------------------------------------------------------------- not images


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "the file is empty"),
        (b"hello, this is definitely not a picture\n", "it looks like text"),
        (b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", "it is a PDF document"),
        (bytes(range(256)) * 4, "unrecognised or corrupt data"),
    ],
)
def test_non_images_refused_with_clear_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ImageError) as err:
        prepare_image(data, SPEC)
    assert str(err.value) == f"That file is not an image Pillow can read ({reason})."
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_image_refused(fmt: str) -> None:
    data = encode(noise((64, 64)), fmt)
    cut = data[: len(data) // 2]
    with pytest.raises(ImageError) as err:
        prepare_image(cut, SPEC)
    assert str(err.value) == (
        f"That file looks like a {fmt} image but could not be decoded "
        "(it may be truncated or corrupt)."
    )


def test_image_error_is_a_value_error() -> None:
    assert issubclass(ImageError, ValueError)


# --------------------------------------------------------------------------- geometry


def test_small_image_upscaled_to_min_side() -> None:
    data = encode(solid((100, 150)), "PNG")
    out = prepare_image(data, ImageSpec(formats=ALL, max_bytes=10_000_000, min_side=300))
    assert (out.width, out.height) == (300, 450)
    assert decode(out.data).size == (300, 450)
    assert ImageChange("upscaled", {"from": "100x150", "to": "300x450"}) in out.changes
    assert "upscaled from 100x150 to 300x450" in out.summary()
    assert out.orientation == "portrait"


def test_image_at_min_side_is_untouched() -> None:
    data = encode(solid((300, 400)), "JPEG")
    out = prepare_image(data, ImageSpec(formats=ALL, max_bytes=10_000_000, min_side=300))
    assert out.data == data


@pytest.mark.parametrize(
    ("size", "message"),
    [
        (
            (4000, 1000),
            "The image is 4000x1000 (ratio 4.00); this model accepts width/height "
            "between 0.40 and 2.50. Crop it and try again.",
        ),
        (
            (100, 300),
            "The image is 100x300 (ratio 0.33); this model accepts width/height "
            "between 0.40 and 2.50. Crop it and try again.",
        ),
    ],
)
def test_aspect_outside_range_refused(size: tuple[int, int], message: str) -> None:
    spec = ImageSpec(formats=ALL, max_bytes=10_000_000, min_aspect=0.4, max_aspect=2.5)
    with pytest.raises(ImageError) as err:
        prepare_image(encode(solid(size, 128, "L"), "PNG"), spec)
    assert str(err.value) == message


def test_aspect_refused_before_anything_is_decoded(pillow_calls: dict[str, list[object]]) -> None:
    data = encode(noise((1000, 200)), "JPEG")
    with pytest.raises(ImageError, match=r"The image is 1000x200 \(ratio 5\.00\)"):
        prepare_image(data, KLING)
    assert pillow_calls["open"] == [("JPEG",)]  # the header only
    assert pillow_calls["load"] == []


def test_aspect_at_the_boundary_accepted() -> None:
    spec = ImageSpec(formats=ALL, max_bytes=10_000_000, min_aspect=0.4, max_aspect=2.5)
    data = encode(solid((100, 250)), "PNG")
    assert prepare_image(data, spec).data == data


def test_aspect_uses_displayed_dimensions() -> None:
    # Stored 1000x300 (ratio 3.33) but EXIF says rotate 90 degrees: displayed 300x1000 (0.30).
    data = with_orientation(solid((1000, 300)), 6)
    spec = ImageSpec(formats=ALL, max_bytes=10_000_000, min_aspect=0.4, max_aspect=2.5)
    with pytest.raises(ImageError, match=r"The image is 300x1000 \(ratio 0\.30\)"):
        prepare_image(data, spec)


def test_exif_rotated_photo_reported_as_portrait_and_kept_untouched() -> None:
    data = with_orientation(solid((400, 300)), 6)
    out = prepare_image(data, SPEC)
    assert out.data == data  # kie.ai applies EXIF itself
    assert out.untouched
    assert (out.width, out.height) == (300, 400)
    assert out.orientation == "portrait"


def test_exif_rotation_applied_when_reencoding() -> None:
    im = solid((40, 30), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 10, 10))  # red marker in the stored top-left corner
    data = with_orientation(im, 6)
    out = prepare_image(data, ImageSpec(formats=frozenset({"PNG"}), max_bytes=10_000_000))
    assert codes(out) == ["rotated", "converted"]
    assert "turned upright according to its EXIF orientation" in out.summary()
    back = decode(out.data)
    assert back.size == (30, 40) == (out.width, out.height)
    assert back.getexif().get(0x0112) is None  # no double rotation downstream
    expected = ImageOps.exif_transpose(decode(data))
    for xy in [(2, 2), (27, 2), (2, 37), (27, 37)]:
        got, want = back.getpixel(xy), expected.getpixel(xy)
        assert all(abs(a - b) < 20 for a, b in zip(got, want, strict=True)), xy
    assert back.getpixel((27, 2))[0] > 200  # marker ended up top-right, as displayed


def test_animated_gif_reduced_to_first_frame() -> None:
    frames = [solid((32, 32), (255, 0, 0)), solid((32, 32), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert getattr(decode(data), "n_frames", 1) == 2
    out = prepare_image(data, SPEC)
    assert codes(out) == ["first_frame", "converted"]
    assert out.summary() == (
        "Your image was reduced to the first frame of its animation and "
        "converted from GIF to JPEG to fit."
    )
    r, _g, b = decode(out.data).getpixel((16, 16))
    assert r > 240 and b < 15


def test_animated_webp_is_not_passed_through() -> None:
    frames = [solid((32, 32), (0, 255, 0)), solid((32, 32), (0, 0, 255))]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100)
    out = prepare_image(data, SPEC)
    assert out.data != data
    assert "first_frame" in codes(out)
    assert getattr(decode(out.data), "n_frames", 1) == 1


# --------------------------------------------------------------------------- value objects


@pytest.mark.parametrize(
    ("w", "h", "expected"),
    [(300, 400, "portrait"), (400, 300, "landscape"), (500, 500, "landscape")],
)
def test_orientation_property(w: int, h: int, expected: str) -> None:
    img = PreparedImage(b"", "PNG", w, h, "PNG", 0, ())
    assert img.orientation == expected


def test_summary_text() -> None:
    img = PreparedImage(
        b"",
        "PNG",
        4000,
        3000,
        "GIF",
        123,
        (
            ImageChange("converted", {"from": "GIF", "to": "PNG"}),
            ImageChange("downscaled", {"from": "8000x6000", "to": "4000x3000"}),
        ),
    )
    assert not img.untouched
    assert img.summary() == (
        "Your image was converted from GIF to PNG and downscaled from 8000x6000 "
        "to 4000x3000 to fit."
    )
    three = PreparedImage(
        b"",
        "JPEG",
        10,
        10,
        "PNG",
        1,
        (
            ImageChange("rotated", {}),
            ImageChange("converted", {"from": "PNG", "to": "JPEG"}),
            ImageChange("upscaled", {"from": "5x5", "to": "10x10"}),
        ),
    )
    assert three.summary() == (
        "Your image was turned upright according to its EXIF orientation, converted from "
        "PNG to JPEG and upscaled from 5x5 to 10x10 to fit."
    )


def test_change_descriptions() -> None:
    assert (
        ImageChange("recompressed", {"from": 12_300_000, "to": 9_800_000}).describe()
        == "recompressed from 12.3 MB to 9.8 MB"
    )
    assert ImageChange("flattened", {"background": "white"}).describe() == (
        "flattened onto a white background"
    )
    assert (
        ImageChange("first_frame", {}).describe() == "reduced to the first frame of its animation"
    )
    assert ImageChange("mystery", {"x": 1}).describe() == "mystery (x=1)"


# --------------------------------------------------------------------------- hostile images

# A real, valid lossless WebP of 10000x7900 solid blue (79 megapixels) in 38 bytes: decoding it
# took 1.4 GB before these checks.
WEBP_79_MEGAPIXELS = bytes.fromhex(
    "524946461e000000574542505650384c110000002f0fe7b6070750ada214b9ff8188e87f0000"
)


def test_pillow_refuses_bombs_at_the_same_limit() -> None:
    assert Image.MAX_IMAGE_PIXELS == MAX_PIXELS


@pytest.mark.parametrize(("spec", "limit"), [(KLING, "4.9"), (SORA, "5.4")])
def test_79_megapixel_solid_webp_refused_before_pillow_opens_it(
    spec: ImageSpec, limit: str, pillow_calls: dict[str, list[object]]
) -> None:
    # Kling must convert it (no WEBP), Sora would pass it through but must still verify it:
    # both decodes would need over 1 GB.
    with pytest.raises(ImageError) as err:
        prepare_image(WEBP_79_MEGAPIXELS, spec)
    assert str(err.value) == (
        "That WEBP image is 10000x7900 (79.0 megapixels); this bot decodes a WEBP image of up "
        f"to about {limit} megapixels safely, so make it smaller or send it as JPEG and try "
        "again."
    )
    # libwebp allocates its canvases when Pillow opens the file: it must not even get there.
    assert pillow_calls == {"open": [], "load": []}
    assert sniff_format(WEBP_79_MEGAPIXELS) == "WEBP"


@pytest.mark.parametrize("spec", [KLING, SORA])
def test_ico_declaring_256_px_around_a_177_megapixel_png_refused_unopened(
    spec: ImageSpec, pillow_calls: dict[str, list[object]]
) -> None:
    data = ico_declaring(256, png_header_only(13_300, 13_300))
    with pytest.raises(ImageError) as err:
        prepare_image(data, spec)
    assert str(err.value) == f"ICO images are not accepted; send a {ACCEPTED_LIST} image."
    assert pillow_calls == {"open": [], "load": []}


@pytest.mark.parametrize("sof", [0xC0, 0xC2])
def test_huge_jpeg_header_refused_before_pillow_opens_it(
    sof: int, pillow_calls: dict[str, list[object]]
) -> None:
    data = jpeg_claiming(encode(solid((16, 16)), "JPEG", progressive=sof == 0xC2), 65_000, 60_000)
    with pytest.raises(ImageError) as err:
        prepare_image(data, KLING)
    assert str(err.value) == (
        "That image is 65000x60000 (3900 megapixels); the limit is 80 megapixels."
    )
    assert pillow_calls == {"open": [], "load": []}


def test_progressive_jpeg_refused_when_its_coefficients_would_not_fit(
    pillow_calls: dict[str, list[object]],
) -> None:
    # Under the pixel limit, but libjpeg buffers every DCT coefficient of a progressive JPEG
    # (3 bytes a pixel at 4:2:0) whatever the draft scale: 216 MB here.
    data = jpeg_claiming(encode(solid((64, 64)), "JPEG", progressive=True), 9_000, 8_000)
    with pytest.raises(ImageError) as err:
        prepare_image(data, KLING)
    assert str(err.value).startswith(
        "That progressive JPEG is 9000x8000 (72.0 megapixels); this bot decodes a progressive "
        "JPEG of up to about 29.9 megapixels"
    )
    assert str(err.value).endswith(
        "megapixels safely, so save it as an ordinary (baseline) JPEG or make it smaller and "
        "try again."
    )
    assert pillow_calls["load"] == []


def test_jpeg_with_too_many_scans_refused_unopened(pillow_calls: dict[str, list[object]]) -> None:
    base = encode(solid((16, 16)), "JPEG")
    scan_at, end = base.index(b"\xff\xda"), base.rindex(b"\xff\xd9")
    data = base[:scan_at] + base[scan_at:end] * 101 + base[end:]
    with pytest.raises(ImageError) as err:
        prepare_image(data, SPEC)
    assert str(err.value) == (
        "That JPEG has more than 100 scans, each one more pass over the image; save it again "
        "as an ordinary JPEG and try again."
    )
    assert pillow_calls == {"open": [], "load": []}


def test_jpeg_made_of_endless_empty_segments_refused_quickly() -> None:
    base = encode(solid((16, 16)), "JPEG")
    data = base[:2] + b"\xff\xfe\x00\x02" * 2_000_000 + base[2:]  # 8 MB of empty comments
    started = time.perf_counter()
    with pytest.raises(ImageError, match="more than 2000 segments"):
        prepare_image(data, SPEC)
    assert time.perf_counter() - started < 1


def test_lossless_jpeg_refused() -> None:
    data = jpeg_claiming(encode(solid((16, 16)), "JPEG"), 16, 16, sof=0xC3)
    with pytest.raises(ImageError, match="lossless or hierarchical encoding"):
        prepare_image(data, SPEC)


def test_webp_canvas_smaller_than_its_frame_refused() -> None:
    data = bytearray(encode(noise((64, 48)), "WEBP", lossless=True, exif=b"Exif\0\0II*\0"))
    assert data[12:16] == b"VP8X"
    data[24:30] = (31).to_bytes(3, "little") + (23).to_bytes(3, "little")  # says 32x24
    with pytest.raises(ImageError) as err:
        prepare_image(bytes(data), SPEC)
    assert str(err.value) == (
        "That file looks like a WEBP image but could not be decoded "
        "(it may be truncated or corrupt)."
    )


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("error", r"far too many pixels to process safely \(limit 80 megapixels\)"),
        ("ignore", r"That image is 9000x9000 \(81 megapixels\); the limit is 80 megapixels"),
    ],
)
def test_gif_frame_larger_than_its_screen_is_checked_at_its_real_size(
    action: str, message: str, pillow_calls: dict[str, list[object]]
) -> None:
    # The screen says 10x10; Pillow widens the image to the 9000x9000 first frame. With the
    # DecompressionBombWarning an error (what bot.media.images sets up) Pillow refuses it itself;
    # without, the size Pillow reports is checked again.
    data = gif_with_first_frame((10, 10), (9_000, 9_000))
    with warnings.catch_warnings():
        warnings.simplefilter(action, Image.DecompressionBombWarning)  # type: ignore[arg-type]
        with pytest.raises(ImageError, match=message):
            prepare_image(data, SPEC)
    assert pillow_calls["load"] == []


def test_gif_frame_far_larger_than_its_screen_refused_by_pillow() -> None:
    with pytest.raises(ImageError, match="far too many pixels to process safely"):
        prepare_image(gif_with_first_frame((10, 10), (20_000, 20_000)), SPEC)


@needs_avif
def test_avif_whose_picture_is_larger_than_declared_refused_unopened(
    pillow_calls: dict[str, list[object]],
) -> None:
    # libavif decodes the AV1 payload at its own size: this one would fill 640x480 buffers
    # while Pillow believed 64x48.
    data = avif_claiming(encode(noise((640, 480)), "AVIF", speed=10), 64, 48)
    with pytest.raises(ImageError) as err:
        prepare_image(data, SPEC)
    assert str(err.value) == (
        "That AVIF file says its image is 64x48, but the picture inside is up to 640x480; it "
        "is damaged or built to exhaust memory."
    )
    assert pillow_calls == {"open": [], "load": []}


@needs_avif
def test_avif_alpha_plane_is_checked_too() -> None:
    data = encode(noise((320, 240), "RGBA"), "AVIF", speed=10)
    assert data.count(b"av01") >= 2  # colour and alpha items
    with pytest.raises(ImageError, match="up to 320x240"):
        prepare_image(avif_claiming(data, 32, 24), SPEC)


@needs_avif
def test_avif_grid_and_animation_refused() -> None:
    still = bytearray(encode(solid((64, 48)), "AVIF", speed=10))
    at = still.index(b"av01", still.index(b"infe"))
    still[at : at + 4] = b"grid"
    with pytest.raises(ImageError, match="stored as a grid of tiles"):
        prepare_image(bytes(still), SPEC)
    frames = [solid((64, 48), (255, 0, 0)), solid((64, 48), (0, 0, 255))]
    animated = encode(frames[0], "AVIF", save_all=True, append_images=frames[1:], speed=10)
    with pytest.raises(ImageError, match="Animated AVIF images are not accepted"):
        prepare_image(animated, SPEC)


@needs_avif
@pytest.mark.parametrize(("mode", "fmt"), [("RGB", "JPEG"), ("RGBA", "PNG")])
def test_avif_converted(mode: str, fmt: str) -> None:
    im = Image.new(mode, (120, 80), (10, 200, 30, 255))
    if mode == "RGBA":
        im.paste((0, 0, 0, 0), (0, 0, 60, 80))
    out = prepare_image(encode(im, "AVIF", speed=10), KLING)  # enlarged to 300 px as well
    assert (out.format, out.original_format) == (fmt, "AVIF")
    assert (out.width, out.height) == (450, 300)
    back = decode(out.data).convert("RGBA")
    assert back.getpixel((400, 150))[1] > 150
    if mode == "RGBA":
        assert back.getpixel((50, 150))[3] == 0
    assert sniff_format(encode(im, "AVIF", speed=10)) == "AVIF"


def test_big_jpeg_passed_through_is_only_verified_at_one_eighth(
    pillow_calls: dict[str, list[object]],
) -> None:
    data = encode(solid((4000, 3000), 128, "L"), "JPEG")
    out = prepare_image(data, KLING)
    assert out.data == data and out.untouched
    assert (out.width, out.height) == (4000, 3000)
    assert pillow_calls["load"] == [("JPEG", (500, 375))]


def test_truncated_big_jpeg_caught_by_the_eighth_scale_check() -> None:
    data = encode(noise((800, 600)), "JPEG")
    with pytest.raises(ImageError, match="could not be decoded"):
        prepare_image(data[: len(data) * 2 // 3], KLING)


def test_jpeg_decoded_at_a_draft_scale_when_it_would_be_shrunk_anyway(
    monkeypatch: pytest.MonkeyPatch, pillow_calls: dict[str, list[object]]
) -> None:
    # With 12 MB to work in, a full 1600x1200 RGB decode (8.6 MB) leaves room to keep fewer
    # than the 1 megapixel a re-encode must keep; at 1/2 scale it fits whole, so libjpeg never
    # materialises the full size.
    monkeypatch.setattr(budget, "MEMORY_BUDGET", 12_000_000)
    monkeypatch.setattr(budget, "_RESERVE", 0)
    monkeypatch.setattr(budget, "_MIN_WORK_PIXELS", 1_000_000)
    monkeypatch.setattr(budget, "OPTIMIZE_UP_TO", 100_000)
    data = encode(noise((160, 120)).resize((1600, 1200)), "JPEG")
    out = prepare_image(data, ImageSpec(formats=frozenset({"PNG"}), max_bytes=10_000_000))
    assert pillow_calls["load"] == [("JPEG", (800, 600))]
    assert (out.format, out.width, out.height) == ("PNG", 800, 600)
    assert out.changes == (
        ImageChange("converted", {"from": "JPEG", "to": "PNG"}),
        ImageChange("downscaled", {"from": "1600x1200", "to": "800x600"}),
    )


def test_shrinking_in_bands_matches_a_whole_image_resize(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "MAX_WORK_PIXELS", 15_000)
    monkeypatch.setattr(budget, "_MIN_WORK_PIXELS", 1_000)
    monkeypatch.setattr(render, "_BAND_BYTES", 5_000)  # bands of 4 output rows
    data = encode(noise((300, 200)), "PNG")
    out = prepare_image(data, ImageSpec(formats=frozenset({"PNG"}), max_bytes=len(data) - 1))
    assert out.changes == (ImageChange("downscaled", {"from": "300x200", "to": "150x100"}),)
    whole = decode(data).resize((150, 100), Image.Resampling.LANCZOS)
    assert decode(out.data).tobytes() == whole.tobytes()


@pytest.mark.parametrize("orientation", range(2, 9))
def test_every_exif_orientation_applied_band_by_band(
    orientation: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render, "_BAND_BYTES", 2_000)  # many bands
    data = with_orientation(noise((40, 30)).resize((120, 90)), orientation)
    out = prepare_image(data, ImageSpec(formats=frozenset({"PNG"}), max_bytes=10_000_000))
    expected = ImageOps.exif_transpose(decode(data))
    assert decode(out.data).tobytes() == expected.tobytes()
    assert (out.width, out.height) == expected.size


def test_png_exif_after_the_pixels_still_turns_it() -> None:
    data = with_orientation(solid((400, 300)), 6, "PNG")
    # Move the eXIf chunk after IDAT: Pillow then only finds it by decoding.
    start = data.index(b"eXIf") - 4
    end = start + 12 + int.from_bytes(data[start : start + 4], "big")
    chunk, rest = data[start:end], data[:start] + data[end:]
    iend = rest.index(b"IEND") - 4
    moved = rest[:iend] + chunk + rest[iend:]
    assert Image.open(io.BytesIO(moved)).info.get("exif") is None
    out = prepare_image(moved, SPEC)
    assert out.data == moved
    assert (out.width, out.height) == (300, 400)


def test_noisy_jpeg_hopeless_encodes_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    # 4.3 megapixels of noise into 1 MB: no quality keeps it at full size, so none is tried in
    # full; only samples of rows and the smaller sizes are encoded.
    data = encode(noise((2400, 1800)), "JPEG", quality=95)
    saved: list[tuple[int, int]] = []
    real_save = Image.Image.save

    def spy_save(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        saved.append(self.size)
        real_save(self, fp, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Image.Image, "save", spy_save)
    out = prepare_image(data, ImageSpec(formats=frozenset({"JPEG"}), max_bytes=1_000_000))
    assert len(out.data) <= 1_000_000
    assert codes(out) == ["downscaled"]
    assert (2400, 1800) not in saved
    assert len(saved) <= 8


def test_preparing_a_40_megapixel_jpeg_stays_small_in_memory(tmp_path: Path) -> None:
    # Measured in a fresh process: ru_maxrss growth while preparing. Decoding it whole would
    # take 40 MB (grayscale) before anything else.
    path = tmp_path / "big.jpg"
    path.write_bytes(encode(solid((8000, 5000), 90, "L"), "JPEG"))
    child = textwrap.dedent(
        f"""
        import io, resource
        from PIL import Image
        from bot.media.images import ImageSpec, prepare_image
        from bot.models.kling import KlingOmni
        specs = [KlingOmni.image_spec, ImageSpec(frozenset({{"PNG"}}), max_bytes=10_000_000)]
        warm = io.BytesIO()
        Image.new("L", (400, 300)).save(warm, "JPEG")
        for spec in specs:  # load the codecs first, so only the preparation is measured
            prepare_image(warm.getvalue(), spec)
        data = open({str(path)!r}, "rb").read()
        for spec in specs:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            out = prepare_image(data, spec)
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            print(out.format, out.width, out.height, (after - before) // 1024)
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", child],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[3],
        check=True,
    )
    untouched, shrunk = (line.split() for line in run.stdout.splitlines())
    assert untouched[:3] == ["JPEG", "8000", "5000"]  # passed through, verified at 1/8
    assert shrunk[:3] == ["PNG", "4000", "2500"]  # decoded at 1/2
    assert int(untouched[3]) < 15 and int(shrunk[3]) < 30, run.stdout


# --------------------------------------------------------------------------- concurrency


class Gate:
    """Stands in for prepare_image: each call blocks until released, and is counted."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.released: dict[int, threading.Event] = {}
        self.started: list[int] = []
        self.running = self.peak = 0
        self.handed = 0  # jobs given to worker threads, whether or not they run yet

    def release(self, *keys: int) -> None:
        for key in keys:
            self.released.setdefault(key, threading.Event()).set()

    def prepare(self, data: bytes, spec: ImageSpec) -> PreparedImage:
        with self.lock:
            self.started.append(data[0])
            self.running += 1
            self.peak = max(self.peak, self.running)
            event = self.released.setdefault(data[0], threading.Event())
        event.wait(5)
        with self.lock:
            self.running -= 1
        return PreparedImage(data, "PNG", 1, 1, "PNG", len(data))

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_slot = slots._prepare_in_slot

        def counted_slot(data: bytes, spec: ImageSpec) -> PreparedImage:
            with self.lock:
                self.handed += 1
            return real_slot(data, spec)

        monkeypatch.setattr(slots, "prepare_image", self.prepare)
        monkeypatch.setattr(slots, "_prepare_in_slot", counted_slot)


async def wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    g = Gate()
    g.install(monkeypatch)
    yield g
    g.release(*range(256))


async def test_prepare_image_async_limits_concurrent_preparations(gate: Gate) -> None:
    tasks = [asyncio.create_task(prepare_image_async(bytes([i]), SPEC)) for i in range(5)]
    await wait_until(lambda: gate.running == MAX_CONCURRENT_PREPARATIONS)
    await asyncio.sleep(0.05)
    assert gate.running == gate.peak == MAX_CONCURRENT_PREPARATIONS == 2
    assert gate.handed == 2  # the other callers wait without holding a worker thread
    gate.release(*range(5))
    results = await asyncio.gather(*tasks)
    assert [r.data for r in results] == [bytes([i]) for i in range(5)]
    assert gate.peak == 2 and gate.handed == 5


async def test_cancelled_caller_keeps_its_slot_until_the_thread_is_done(gate: Gate) -> None:
    first = asyncio.create_task(prepare_image_async(b"\0", SPEC))
    second = asyncio.create_task(prepare_image_async(b"\1", SPEC))
    third = asyncio.create_task(prepare_image_async(b"\2", SPEC))
    await wait_until(lambda: len(gate.started) == 2)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.sleep(0.1)
    # The first preparation still runs in its thread, so the third has not been handed over.
    assert (sorted(gate.started), gate.handed) == ([0, 1], 2)
    gate.release(0)
    await wait_until(lambda: len(gate.started) == 3)  # its slot is free now
    gate.release(1, 2)
    assert (await second).data == b"\1"
    assert (await third).data == b"\2"


def test_the_limit_holds_across_event_loops(gate: Gate) -> None:
    def run_loop(first: int) -> None:
        async def two() -> None:
            await asyncio.gather(*(prepare_image_async(bytes([first + i]), SPEC) for i in (0, 1)))

        asyncio.run(two())

    threads = [threading.Thread(target=run_loop, args=(n,)) for n in (0, 10)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while gate.handed < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert gate.handed == 4  # each loop hands both of its calls to threads...
    assert gate.running == gate.peak == 2  # ...but only two run at once in the process
    gate.release(0, 1, 10, 11)
    for t in threads:
        t.join(5)
    assert gate.peak == 2 and sorted(gate.started) == [0, 1, 10, 11]


async def test_prepare_image_async_returns_what_prepare_image_does() -> None:
    data = encode(solid((50, 40)), "GIF")
    assert await prepare_image_async(data, SPEC) == prepare_image(data, SPEC)
    with pytest.raises(ImageError, match="not an image"):
        await prepare_image_async(b"plain text", SPEC)


# --------------------------------------------------------------------------- fetch_image

SMALL_PNG = encode(solid((8, 8)), "PNG")
# The test server is on 127.0.0.1, over http: allowed here only.
LOCAL = FetchPolicy(insecure_hosts=frozenset({"127.0.0.1"}))


@pytest.fixture
async def server() -> AsyncIterator[str]:
    release = asyncio.Event()

    async def ok(_: web.Request) -> web.Response:
        return web.Response(body=SMALL_PNG, content_type="image/png")

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(20):
            await resp.write(b"x" * 1_000)
        await resp.write_eof()
        return resp

    async def declared(_: web.Request) -> web.Response:
        return web.Response(body=b"x" * 6_000, content_type="image/png")

    async def empty(_: web.Request) -> web.Response:
        return web.Response(body=b"", content_type="image/png")

    async def slow(_: web.Request) -> web.Response:
        await release.wait()
        return web.Response(body=SMALL_PNG)

    app = web.Application()
    app.router.add_get("/ok.png", ok)
    app.router.add_get("/chunked", chunked)
    app.router.add_get("/declared", declared)
    app.router.add_get("/empty", empty)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        release.set()
        await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def test_fetch_small_png(server: str, session: aiohttp.ClientSession) -> None:
    data = await fetch_image(session, f"{server}/ok.png", max_bytes=10_000, policy=LOCAL)
    assert data == SMALL_PNG
    assert prepare_image(data, SPEC).data == SMALL_PNG


async def test_fetch_refuses_oversized_chunked_body(
    server: str, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(ImageError) as err:
        await fetch_image(session, f"{server}/chunked", max_bytes=5_000, policy=LOCAL)
    assert str(err.value) == (
        f"The image at {server}/chunked is larger than the 5 KB limit; download stopped."
    )


async def test_fetch_refuses_early_from_content_length(
    server: str, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(ImageError) as err:
        await fetch_image(session, f"{server}/declared", max_bytes=5_000, policy=LOCAL)
    assert str(err.value) == f"The image at {server}/declared is 6 KB; the limit is 5 KB."


async def test_fetch_404_reports_status_without_leaking_query(
    server: str, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(ImageError) as err:
        await fetch_image(
            session, f"{server}/missing?token=secret#frag", max_bytes=5_000, policy=LOCAL
        )
    message = str(err.value)
    assert message == f"Could not download the image: {server}/missing answered HTTP 404 Not Found."
    assert "secret" not in message and "token" not in message


async def test_fetch_timeout(server: str, session: aiohttp.ClientSession) -> None:
    with pytest.raises(ImageError) as err:
        await fetch_image(
            session, f"{server}/slow?sig=secret", max_bytes=5_000, timeout=0.2, policy=LOCAL
        )
    assert str(err.value) == (
        f"Could not download the image: {server}/slow did not respond within 0.2 s."
    )


async def test_fetch_connection_refused(session: aiohttp.ClientSession) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://user:pw@127.0.0.1:{port}/img.png?token=secret"
    with pytest.raises(ImageError) as err:
        await fetch_image(session, url, max_bytes=5_000, timeout=5, policy=LOCAL)
    message = str(err.value)
    assert message == (
        f"Could not download the image: could not connect to http://127.0.0.1:{port}/img.png."
    )
    assert "secret" not in message and "pw" not in message


async def test_fetch_empty_body(server: str, session: aiohttp.ClientSession) -> None:
    with pytest.raises(ImageError, match="returned an empty file"):
        await fetch_image(session, f"{server}/empty", max_bytes=5_000, policy=LOCAL)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/x.png",
        "file:///etc/passwd",
        "data:image/png;base64,AAAA",
        "javascript:alert(1)",
        "http:///no-host.png",
        "not a url",
    ],
)
async def test_fetch_only_http_links(url: str, session: aiohttp.ClientSession) -> None:
    with pytest.raises(ImageError) as err:
        await fetch_image(session, url, max_bytes=5_000)
    assert str(err.value) == "Only http(s) image links are accepted."


def test_a_stored_image_that_meets_the_spec_is_reused_without_decoding(monkeypatch):
    from bot.media.images import reuse_prepared
    from bot.models.kling import KlingOmni
    from bot.models.sora import SoraStoryboard

    def no_decode(*args, **kwargs):
        raise AssertionError("decoded")

    png = prepare_image(encode(solid((640, 360)), "PNG"), SoraStoryboard.image_spec)
    monkeypatch.setattr(Image, "open", no_decode)
    again = reuse_prepared(png.data, SoraStoryboard.image_spec)
    assert again is not None and again.data == png.data
    assert (again.format, again.width, again.height) == ("PNG", 640, 360)
    # Another model's rules: not reused (too small for Kling, a format Kling does not take).
    small = ImageSpec(formats=frozenset({"PNG"}), max_bytes=10**7, min_side=400)
    assert reuse_prepared(png.data, small) is None
    assert reuse_prepared(png.data, ImageSpec(formats=frozenset({"JPEG"}), max_bytes=10**7)) is None
    assert reuse_prepared(png.data, ImageSpec(formats=frozenset({"PNG"}), max_bytes=10)) is None
    assert reuse_prepared(png.data, KlingOmni.image_spec) is not None


@pytest.mark.parametrize("name", ["MEMORY_BUDGET", "MAX_WORK_PIXELS", "prepare_image"])
def test_a_name_rebound_on_the_package_is_refused_not_ignored(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The modules read their own copies: a change made on the re-export would do nothing.
    import bot.media.images

    with pytest.raises(AttributeError, match=r"re-export of bot\.media\.images\."):
        monkeypatch.setattr(bot.media.images, name, None)
    assert budget.MEMORY_BUDGET == 100_000_000
