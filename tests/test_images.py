"""Tests for bot.images: reference-image preparation and download."""

from __future__ import annotations

import asyncio
import io
import random
import socket
import struct
import zlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from PIL import Image, ImageOps

from bot.images import (
    ImageChange,
    ImageError,
    ImageSpec,
    PreparedImage,
    fetch_image,
    prepare_image,
    sniff_format,
)

ALL = frozenset({"JPEG", "PNG", "WEBP"})
SPEC = ImageSpec(formats=ALL, max_bytes=10_000_000)


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


@pytest.mark.parametrize("fmt", ["BMP", "TIFF"])
def test_bmp_and_tiff_are_converted(fmt: str) -> None:
    data = encode(solid((70, 90), (10, 120, 240)), fmt)
    out = prepare_image(data, SPEC)
    assert out.original_format == fmt
    assert out.format == "JPEG"
    assert out.changes == (ImageChange("converted", {"from": fmt, "to": "JPEG"}),)
    assert f"converted from {fmt} to JPEG" in out.summary()
    back = decode(out.data)
    assert back.size == (70, 90) == (out.width, out.height)
    r, g, b = back.getpixel((35, 45))
    assert abs(r - 10) < 8 and abs(g - 120) < 8 and abs(b - 240) < 8


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


@pytest.mark.parametrize(
    ("size", "fragment"),
    [((20_000, 20_000), "too many pixels"), ((10_000, 8_500), "85 megapixels")],
)
def test_decompression_bombs_refused(size: tuple[int, int], fragment: str) -> None:
    data = png_header_only(*size)
    assert len(data) < 200
    with pytest.raises(ImageError, match=fragment):
        prepare_image(data, SPEC)


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


# --------------------------------------------------------------------------- fetch_image

SMALL_PNG = encode(solid((8, 8)), "PNG")


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
    data = await fetch_image(session, f"{server}/ok.png", max_bytes=10_000)
    assert data == SMALL_PNG
    assert prepare_image(data, SPEC).data == SMALL_PNG


async def test_fetch_refuses_oversized_chunked_body(
    server: str, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(ImageError) as err:
        await fetch_image(session, f"{server}/chunked", max_bytes=5_000)
    assert str(err.value) == (
        f"The image at {server}/chunked is larger than the 5 KB limit; download stopped."
    )


async def test_fetch_refuses_early_from_content_length(
    server: str, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(ImageError) as err:
        await fetch_image(session, f"{server}/declared", max_bytes=5_000)
    assert str(err.value) == f"The image at {server}/declared is 6 KB; the limit is 5 KB."


async def test_fetch_404_reports_status_without_leaking_query(
    server: str, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(ImageError) as err:
        await fetch_image(session, f"{server}/missing?token=secret#frag", max_bytes=5_000)
    message = str(err.value)
    assert message == f"Could not download the image: {server}/missing answered HTTP 404 Not Found."
    assert "secret" not in message and "token" not in message


async def test_fetch_timeout(server: str, session: aiohttp.ClientSession) -> None:
    with pytest.raises(ImageError) as err:
        await fetch_image(session, f"{server}/slow?sig=secret", max_bytes=5_000, timeout=0.2)
    assert str(err.value) == (
        f"Could not download the image: {server}/slow did not respond within 0.2 s."
    )


async def test_fetch_connection_refused(session: aiohttp.ClientSession) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://user:pw@127.0.0.1:{port}/img.png?token=secret"
    with pytest.raises(ImageError) as err:
        await fetch_image(session, url, max_bytes=5_000, timeout=5)
    message = str(err.value)
    assert message == (
        f"Could not download the image: could not connect to http://127.0.0.1:{port}/img.png."
    )
    assert "secret" not in message and "pw" not in message


async def test_fetch_empty_body(server: str, session: aiohttp.ClientSession) -> None:
    with pytest.raises(ImageError, match="returned an empty file"):
        await fetch_image(session, f"{server}/empty", max_bytes=5_000)


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
