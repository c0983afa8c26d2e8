"""Formats judged by content: which one a file is from its magic number (accepted or not), what
a file that is no image is instead, the formats accepted and written, and the big- and
little-endian fields every header reader uses. Never by file name; nothing is decoded."""

from __future__ import annotations

from bot.domain.errors import OneOf


def _avif_supported() -> bool:
    try:
        from PIL import AvifImagePlugin
    except ImportError:
        return False
    return bool(getattr(AvifImagePlugin, "SUPPORTED", False))


#: Input formats, as Pillow names them (an MPO file counts as JPEG).
ACCEPTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF") + (
    ("AVIF",) if _avif_supported() else ()
)
# Formats we know how to write, in fallback order.
OUTPUT_FORMATS = ("JPEG", "PNG", "WEBP")
MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
EXTENSION = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


def normalise_format(fmt: str | None) -> str | None:
    # Multi-Picture JPEGs (many phone cameras) are valid JPEG files; treat them as such.
    if fmt == "MPO":
        return "JPEG"
    return fmt


def accepted() -> OneOf:
    return OneOf(ACCEPTED_FORMATS)


def describe_non_image(data: bytes) -> str:
    """What a file that is no image is instead: ``image.kind.<this>`` words it."""
    head = data[:1024].lstrip()
    if head.startswith(b"%PDF"):
        return "pdf"
    lowered = head[:64].lower()
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "web_page"
    if lowered.startswith((b"<?xml", b"<svg")) and b"<svg" in data[:4096].lower():
        return "svg"
    if head.startswith((b"PK\x03\x04", b"\x1f\x8b", b"Rar!", b"7z\xbc\xaf")):
        return "archive"
    if data[4:8] == b"ftyp":
        return "video"
    try:
        text = data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return "text"
    return "unknown"


# --------------------------------------------------------------------------- headers


def u16be(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 2], "big")


def u32be(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 4], "big")


def u16le(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 2], "little")


_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})


def _ftyp_brands(data: bytes) -> set[bytes]:
    size = min(u32be(data, 0), len(data), 4096)
    brands = {data[8:12]}
    brands.update(data[i : i + 4] for i in range(16, size - 3, 4))
    return brands


_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})


def identify(data: bytes) -> str | None:
    """The format of ``data`` from its magic number (accepted or not), None if unknown."""
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        brands = _ftyp_brands(data)
        if brands & {b"avif", b"avis"}:
            return "AVIF"
        if brands & _HEIC_BRANDS:
            return "HEIC"
        if brands & {b"mif1", b"msf1"}:
            return "HEIF"
        return None
    if head[:4] in (b"\0\0\1\0", b"\0\0\2\0") and u16le(head, 4) > 0:
        return "ICO" if head[2] == 1 else "CUR"
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "BMP"
    if head[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
        return "TIFF"
    if head[:4] == b"8BPS":
        return "PSD"
    if head.startswith((b"\0\0\0\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "JPEG 2000"
    return None
