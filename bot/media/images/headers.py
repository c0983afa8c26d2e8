"""An image's format and size from the file's own header, before Pillow parses anything, and
the pixel limit (``MAX_PIXELS``) checked on it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.media.images.avif import avif_size
from bot.media.images.errors import ImageError, corrupt, dims
from bot.media.images.formats import u16le, u32be
from bot.media.images.jpeg import JpegLayout, jpeg_layout

#: Images with more pixels than this are refused before anything is decoded.
MAX_PIXELS = 80_000_000


@dataclass(frozen=True)
class Header:
    format: str
    width: int
    height: int
    jpeg: JpegLayout | None = None
    #: Bytes per pixel a decode holds besides the image, when known better than the default.
    overhead: float | None = None


def read_header(fmt: str, data: bytes) -> Header:
    """Format and size from the file's own header, before Pillow parses anything."""
    if fmt == "JPEG":
        layout = jpeg_layout(data)
        return Header(fmt, layout.width, layout.height, layout)
    if fmt == "PNG" and len(data) >= 24 and data[12:16] == b"IHDR":
        return Header(fmt, u32be(data, 16), u32be(data, 20))
    if fmt == "GIF" and len(data) >= 10:
        return Header(fmt, u16le(data, 6), u16le(data, 8))
    if fmt == "WEBP" and len(data) >= 30:
        kind = data[12:16]
        if kind == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
            return Header(fmt, u16le(data, 26) & 0x3FFF, u16le(data, 28) & 0x3FFF)
        if kind == b"VP8L" and data[20] == 0x2F:
            bits = int.from_bytes(data[21:25], "little")
            return Header(fmt, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        if kind == b"VP8X":
            width = int.from_bytes(data[24:27], "little") + 1
            return Header(fmt, width, int.from_bytes(data[27:30], "little") + 1)
    if fmt == "AVIF":
        width, height, overhead = avif_size(data)
        return Header(fmt, width, height, overhead=overhead)
    raise corrupt(fmt)


def check_pixels(width: int, height: int, fmt: str) -> None:
    if width <= 0 or height <= 0:
        raise corrupt(fmt)
    if width * height > MAX_PIXELS:
        raise ImageError(
            "pixels",
            size=dims((width, height)),
            megapixels=f"{width * height / 1e6:.0f}",
            limit=MAX_PIXELS // 1_000_000,
        )
