"""Reference-image preparation: validate, normalise and shrink user images for kie.ai.

Everything here is plain Python + Pillow (no Discord imports). ``prepare_image`` is
synchronous and CPU-bound; ``prepare_image_async`` runs it in a worker thread, at most
``MAX_CONCURRENT_PREPARATIONS`` at a time in the process. ``fetch_image`` downloads an image
with a hard size cap.

Formats are always judged by content (magic numbers, then Pillow's parser for that one
format), never by file name. Accepted: JPEG (including multi-picture MPO files from phones),
PNG (the first frame of an APNG), WEBP and GIF (the first frame of an animation) and, when
Pillow is built with AVIF support, AVIF (a single still image). Refused with a message that
names the format: ICO/CUR (the directory's size can lie about the PNG or BMP inside), TIFF
(dozens of codecs and multi-page layouts), BMP (its RLE variants go through a pure-Python
decoder that a 30 MB file keeps busy for many seconds; phones never make BMPs), HEIC/HEIF
(Pillow cannot decode them without a plugin), PSD and JPEG 2000.

Hostile files (a few KB that decode to gigabytes, headers that lie, files built to burn CPU)
are refused before any pixel is decoded:

- The format and size are read from the file's own header before Pillow opens it, and checked
  again on what Pillow reports for the frame it will decode. More than ``MAX_PIXELS`` is refused
  (Pillow's own ``MAX_IMAGE_PIXELS`` is the same limit).
- Every decode is costed first, in bytes per pixel measured for each format (WEBP keeps two
  canvases and a copy of the frame, AVIF its YUV planes, a progressive JPEG all of its DCT
  coefficients), and refused when it would not fit in ``MEMORY_BUDGET``.
- JPEGs are decoded with ``Image.draft`` (1/2, 1/4 or 1/8 scale) when the result would be shrunk
  anyway; a JPEG passed through untouched is only verified, at 1/8 scale. JPEGs with more than
  ``MAX_JPEG_SCANS`` scans, or lossless/hierarchical ones, are refused.
- AVIF: libavif decodes the AV1 payload at the size its bitstream says, whatever the container
  declares, so the AV1 sequence header of every image item is read and must fit the declared
  size. AVIF grids, overlays and image sequences are refused.
- A re-encoded image keeps as many pixels as fit in the budget, at most ``MAX_WORK_PIXELS``.
  Conversion, flattening, resizing and EXIF rotation are done band by band into the output
  image, so no full-size temporary exists beside it. Encodes stop as soon as their output
  passes the model's limit, and the size of a large encode is first predicted from a sample of
  its rows, so hopeless attempts are skipped.

So preparing any accepted image needs about ``MEMORY_BUDGET`` on top of the file itself
(``bench/image_memory.py`` measures it).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import io
import math
import re
import threading
import warnings
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from PIL import ExifTags, Image, UnidentifiedImageError

from bot.domain.errors import OneOf, Ref, UserError
from bot.media.download import DownloadError, FetchPolicy, open_checked, safe_url

__all__ = [
    "ACCEPTED_FORMATS",
    "MAX_CONCURRENT_PREPARATIONS",
    "ImageChange",
    "ImageError",
    "ImageSpec",
    "PreparedImage",
    "fetch_image",
    "prepare_image",
    "prepare_image_async",
    "sniff_format",
]

#: Images with more pixels than this are refused before anything is decoded.
MAX_PIXELS = 80_000_000
#: Memory one preparation may use for decoding and re-encoding, besides the file itself.
MEMORY_BUDGET = 100_000_000
#: Re-encoded images are shrunk to at most this many pixels (4000x3000 fits).
MAX_WORK_PIXELS = 12_000_000
#: JPEGs with more scans than this are refused: each scan is one more pass over the image.
MAX_JPEG_SCANS = 100
#: How many images ``prepare_image_async`` prepares at once in this process.
MAX_CONCURRENT_PREPARATIONS = 2
#: Quality used for the first JPEG/WEBP encode, then the fallbacks tried before downscaling.
JPEG_QUALITY = 90
FALLBACK_QUALITIES = (85, 75)
#: How many downscale attempts before giving up.
MAX_DOWNSCALE_STEPS = 8

# Pillow refuses bombs itself too: an error above twice the limit, and (with this filter) an
# error instead of a warning above it.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


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
_OUTPUT_FORMATS = ("JPEG", "PNG", "WEBP")
_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_EXTENSION = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
# EXIF orientations that swap width and height when displayed, and how to undo each one
# (the same table as ImageOps.exif_transpose).
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Bytes per pixel of Pillow's in-memory modes (everything else, LA included, takes 4).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
# What a full-size decode holds at its peak besides the decoded image, in bytes per pixel
# (measured with Pillow 13): libwebp's two canvases plus the frame handed over as bytes. An
# AVIF's cost is worked out from its own items (_avif_size).
_DECODER_OVERHEAD = {"JPEG": 0.5, "PNG": 0.5, "GIF": 0.5, "WEBP": 13.0}
# Taken off MEMORY_BUDGET for what the plan does not count: bands, encoder state, Python.
_RESERVE = 8_000_000
# A re-encode that cannot keep at least this many pixels (or the whole image) is refused.
_MIN_WORK_PIXELS = 2_000_000
# Encodes of more pixels than this are predicted from a sample before running in full, and
# stop as soon as they pass the model's limit.
_PREDICT_ABOVE = 2_000_000
# JPEG Huffman optimisation (3 bytes a pixel of buffered coefficients) up to this size.
_OPTIMIZE_UP_TO = 2_000_000
# A prediction this much over the limit skips the encode.
_PREDICTION_MARGIN = 1.25
# Source rows are converted and resized in bands of about this many bytes.
_BAND_BYTES = 2_000_000

_DOWNLOAD_CHUNK = 64 * 1024


class ImageError(UserError):
    """A user-facing problem with an image: ``code`` names it, ``params`` hold its numbers, and
    the catalogs word it (``image.<code>``); ``str(err)`` is the one-line English message.

    ``ImageError("An English sentence.")`` (a sentence, not a code) is still accepted from code
    that has not moved to codes yet: it reads as that sentence in every language.
    """

    prefix = "image"

    def __init__(
        self, code: str, message: str | None = None, /, *, shape: str | None = None, **params: Any
    ) -> None:
        if message is None and not code.isidentifier():
            code, message = "legacy", code  # no catalog message: the sentence it was given
        super().__init__(code, message, shape=shape, **params)


@dataclass(frozen=True)
class ImageSpec:
    """What a model accepts as a reference image."""

    formats: frozenset[str]
    max_bytes: int
    min_side: int = 0
    min_aspect: float | None = None
    max_aspect: float | None = None
    max_input_bytes: int = 50_000_000


@dataclass(frozen=True)
class ImageChange:
    """One modification made to the user's image, for telling them what happened."""

    code: str
    params: dict[str, str | int] = field(default_factory=dict)

    def describe(self) -> str:
        p = self.params
        if self.code == "converted":
            return f"converted from {p.get('from', '?')} to {p.get('to', '?')}"
        if self.code in ("downscaled", "upscaled"):
            return f"{self.code} from {p.get('from', '?')} to {p.get('to', '?')}"
        if self.code == "recompressed":
            before, after = p.get("from"), p.get("to")
            if isinstance(before, int) and isinstance(after, int):
                return f"recompressed from {_fmt_size(before)} to {_fmt_size(after)}"
            return "recompressed"
        if self.code == "flattened":
            return f"flattened onto a {p.get('background', 'white')} background"
        if self.code == "first_frame":
            return "reduced to the first frame of its animation"
        if self.code == "rotated":
            return "turned upright according to its EXIF orientation"
        details = ", ".join(f"{k}={v}" for k, v in p.items())
        return f"{self.code} ({details})" if details else self.code


@dataclass(frozen=True)
class PreparedImage:
    """An image ready to upload, plus what was done to it."""

    data: bytes
    format: str
    width: int
    height: int
    original_format: str
    original_size: int
    changes: tuple[ImageChange, ...] = ()

    @property
    def mime(self) -> str:
        return _MIME.get(self.format, "application/octet-stream")

    @property
    def extension(self) -> str:
        return _EXTENSION.get(self.format, self.format.lower())

    @property
    def orientation(self) -> str:
        return "portrait" if self.height > self.width else "landscape"

    @property
    def untouched(self) -> bool:
        return not self.changes

    def summary(self) -> str:
        if not self.changes:
            return ""
        parts = [change.describe() for change in self.changes]
        if len(parts) == 1:
            joined = parts[0]
        else:
            joined = ", ".join(parts[:-1]) + " and " + parts[-1]
        return f"Your image was {joined} to fit."


# --------------------------------------------------------------------------- helpers


def _fmt_size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    if n >= 1_000:
        return f"{n / 1_000:.0f} KB"
    return f"{n} bytes"


def _fmt_mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


def _fmt_mp(pixels: float) -> str:
    return f"{pixels / 1_000_000:.1f}"


def _dims(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _normalise_format(fmt: str | None) -> str | None:
    # Multi-Picture JPEGs (many phone cameras) are valid JPEG files; treat them as such.
    if fmt == "MPO":
        return "JPEG"
    return fmt


def _accepted() -> OneOf:
    return OneOf(ACCEPTED_FORMATS)


def _corrupt(fmt: str) -> ImageError:
    return ImageError("corrupt", format=fmt)


def _describe_non_image(data: bytes) -> str:
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


def _u16be(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 2], "big")


def _u32be(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 4], "big")


def _u16le(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 2], "little")


_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})


def _ftyp_brands(data: bytes) -> set[bytes]:
    size = min(_u32be(data, 0), len(data), 4096)
    brands = {data[8:12]}
    brands.update(data[i : i + 4] for i in range(16, size - 3, 4))
    return brands


_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})


def _identify(data: bytes) -> str | None:
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
    if head[:4] in (b"\0\0\1\0", b"\0\0\2\0") and _u16le(head, 4) > 0:
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


@dataclass(frozen=True)
class _JpegLayout:
    """What the markers of a JPEG's first image say, read without decoding it."""

    width: int
    height: int
    sof: int
    sampling: tuple[tuple[int, int], ...]
    scans: int

    @property
    def progressive(self) -> bool:
        return self.sof in (0xC2, 0xCA)

    def coefficient_bytes(self) -> int:
        """What libjpeg buffers for a JPEG it must read in several passes (all the DCT
        coefficients, 2 bytes each, at full size whatever the draft scale); 0 otherwise."""
        if not (self.progressive or self.scans > 1):
            return 0
        hmax = max(h for h, _ in self.sampling)
        vmax = max(v for _, v in self.sampling)
        mcu_x = -(-self.width // (8 * hmax))
        mcu_y = -(-self.height // (8 * vmax))
        return sum(mcu_x * h * mcu_y * v for h, v in self.sampling) * 64 * 2


# SOF markers libjpeg decodes, and whether each is progressive.
_JPEG_SOF = {0xC0: False, 0xC1: False, 0xC2: True, 0xC9: False, 0xCA: True}
_ALL_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# The end of entropy-coded data: 0xFF followed by anything but stuffing (00) or a restart.
_ENTROPY_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")
# Real JPEGs have a few dozen segments; walking millions of empty ones would burn CPU.
_MAX_JPEG_SEGMENTS = 2_000


def _jpeg_layout(data: bytes) -> _JpegLayout:
    n = len(data)
    pos, scans, segments = 2, 0, 0
    sof: tuple[int, int, int, tuple[tuple[int, int], ...]] | None = None
    while pos + 1 < n:
        if data[pos] != 0xFF:  # stray bytes between segments: libjpeg skips them too
            found = _ENTROPY_END.search(data, pos)
            if found is None:
                break
            pos = found.start()
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # end of the first image (an MPO's others follow)
            break
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            pos += 2
            continue
        segments += 1
        if segments > _MAX_JPEG_SEGMENTS:
            raise ImageError("jpeg_segments", max=_MAX_JPEG_SEGMENTS)
        if pos + 4 > n:
            break
        length = _u16be(data, pos + 2)
        if length < 2:
            raise _corrupt("JPEG")
        if marker in _ALL_SOF:
            body = data[pos + 4 : pos + 2 + length]
            count = body[5] if len(body) > 5 else 0
            comps = body[6 : 6 + 3 * count]
            if sof is not None or count == 0 or len(comps) < 3 * count:
                raise _corrupt("JPEG")
            sampling = tuple((b >> 4, b & 0x0F) for b in comps[1::3])
            if any(h == 0 or v == 0 for h, v in sampling):
                raise _corrupt("JPEG")
            sof = (marker, _u16be(body, 3), _u16be(body, 1), sampling)
        pos += 2 + length
        if marker == 0xDA:
            scans += 1
            if scans > MAX_JPEG_SCANS:
                raise ImageError("jpeg_scans", max=MAX_JPEG_SCANS)
            found = _ENTROPY_END.search(data, pos)
            pos = found.start() if found else n
    if sof is None:
        raise _corrupt("JPEG")
    marker, width, height, sampling = sof
    if marker not in _JPEG_SOF:
        raise ImageError("jpeg_lossless")
    return _JpegLayout(width, height, marker, sampling, scans)


# ---- AVIF (ISO-BMFF boxes, then the AV1 sequence header of every image item)

_MAX_BOXES = 4_096
# The sequence header comes first in an AV1 item; this much of each item is enough to find it.
_AV1_HEAD = 64 * 1024


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, end) of the boxes in ``data[start:end]``."""
    found: list[tuple[bytes, int, int]] = []
    pos = start
    while pos + 8 <= end:
        size, kind, header = _u32be(data, pos), data[pos + 4 : pos + 8], 8
        if size == 1:
            size, header = int.from_bytes(data[pos + 8 : pos + 16], "big"), 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end or len(found) >= _MAX_BOXES:
            raise _corrupt("AVIF")
        found.append((kind, pos + header, pos + size))
        pos += size
    return found


def _first(boxes: list[tuple[bytes, int, int]], kind: bytes) -> tuple[int, int] | None:
    for k, start, end in boxes:
        if k == kind:
            return start, end
    return None


class _Reader:
    """Big-endian fields from ``data`` starting at ``pos``; running off ``end`` is corrupt."""

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data, self.pos, self.end = data, pos, end

    def int(self, size: int) -> int:
        if self.pos + size > self.end:
            raise _corrupt("AVIF")
        value = int.from_bytes(self.data[self.pos : self.pos + size], "big")
        self.pos += size
        return value


class _Bits:
    """The bit reader of the AV1 specification (most significant bit first)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def f(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise _corrupt("AVIF")
            value = (value << 1) | ((self.data[byte] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value

    def uvlc(self) -> int:
        zeros = 0
        while not self.f(1):
            zeros += 1
            if zeros >= 32:
                raise _corrupt("AVIF")
        return self.f(zeros) + (1 << zeros) - 1


def _av1_max_frame(sequence_header: bytes) -> tuple[int, int]:
    """max_frame_width/height from an AV1 sequence header OBU payload (AV1 spec 5.5.1)."""
    b = _Bits(sequence_header)
    b.f(3)  # seq_profile
    b.f(1)  # still_picture
    if b.f(1):  # reduced_still_picture_header
        b.f(5)  # seq_level_idx[0]
    else:
        decoder_model = False
        delay_bits = 0
        if b.f(1):  # timing_info_present_flag
            b.f(32)
            b.f(32)
            if b.f(1):  # equal_picture_interval
                b.uvlc()
            decoder_model = bool(b.f(1))
            if decoder_model:
                delay_bits = b.f(5) + 1
                b.f(32)
                b.f(5)
                b.f(5)
        initial_display_delay = bool(b.f(1))
        for _ in range(b.f(5) + 1):  # operating points
            b.f(12)
            if b.f(5) > 7:  # seq_level_idx
                b.f(1)  # seq_tier
            if decoder_model and b.f(1):
                b.f(delay_bits)
                b.f(delay_bits)
                b.f(1)
            if initial_display_delay and b.f(1):
                b.f(4)
    width_bits = b.f(4) + 1
    height_bits = b.f(4) + 1
    return b.f(width_bits) + 1, b.f(height_bits) + 1


def _av1_frame_limit(payload: bytes) -> tuple[int, int] | None:
    """The largest frame the AV1 data in ``payload`` may decode to, from its sequence header."""
    pos = 0
    while pos < len(payload):
        header = payload[pos]
        kind, has_extension, has_size = (header >> 3) & 0x0F, header & 0x04, header & 0x02
        pos += 2 if has_extension else 1
        if has_size:
            size = shift = 0
            for _ in range(8):  # leb128
                if pos >= len(payload):
                    return None
                byte = payload[pos]
                pos += 1
                size |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
        else:
            size = len(payload) - pos
        if kind == 1:  # OBU_SEQUENCE_HEADER
            return _av1_max_frame(payload[pos : pos + size])
        if kind in (3, 4, 6):  # a frame before any sequence header
            return None
        pos += size
    return None


def _avif_item_head(data: bytes, extents: list[tuple[int, int]], base: int, end: int) -> bytes:
    """The first ``_AV1_HEAD`` bytes of an item stored in ``extents`` (offsets from ``base``)."""
    head = bytearray()
    for offset, length in extents:
        start = base + offset
        stop = end if length == 0 else start + length
        if start > end or stop > end:
            raise _corrupt("AVIF")
        head += data[start : min(stop, start + _AV1_HEAD - len(head))]
        if len(head) >= _AV1_HEAD:
            break
    return bytes(head)


def _avif_size(data: bytes) -> tuple[int, int, float]:
    """The size an AVIF declares for its primary image, once every AV1 image item in the file
    has been checked to decode to no more than that, and what decoding it holds besides the
    image, in bytes per pixel."""
    top = _boxes(data, 0, len(data))
    if _first(top, b"moov") is not None:
        raise ImageError("avif_animated", accepted=_accepted())
    meta = _first(top, b"meta")
    if meta is None:
        raise _corrupt("AVIF")
    boxes = _boxes(data, meta[0] + 4, meta[1])
    pitm, iinf, iloc, iprp = (_first(boxes, k) for k in (b"pitm", b"iinf", b"iloc", b"iprp"))
    if pitm is None or iinf is None or iloc is None or iprp is None:
        raise _corrupt("AVIF")
    r = _Reader(data, pitm[0], pitm[1])
    primary = r.int(2 if r.int(4) >> 24 == 0 else 4)

    # iinf: item id -> item type
    r = _Reader(data, iinf[0], iinf[1])
    version = r.int(4) >> 24
    r.int(2 if version == 0 else 4)
    types: dict[int, bytes] = {}
    for kind, start, end in _boxes(data, r.pos, iinf[1]):
        if kind != b"infe" or data[start] < 2:
            continue
        e = _Reader(data, start, end)
        infe_version = e.int(4) >> 24
        item = e.int(2 if infe_version == 2 else 4)
        e.int(2)  # item_protection_index
        types[item] = data[e.pos : e.pos + 4]
    primary_type = types.get(primary)
    if primary_type != b"av01":
        layout = {b"grid": "grid", b"iovl": "overlay"}.get(primary_type or b"")
        raise ImageError("avif_layout", shape=layout)

    # iloc: item id -> (construction method, extents)
    r = _Reader(data, iloc[0], iloc[1])
    version = r.int(4) >> 24
    sizes = r.int(2)
    offset_size, length_size = sizes >> 12, (sizes >> 8) & 0x0F
    base_size, index_size = (sizes >> 4) & 0x0F, (sizes & 0x0F) if version in (1, 2) else 0
    locations: dict[int, tuple[int, list[tuple[int, int]]]] = {}
    for _ in range(r.int(2 if version < 2 else 4)):
        item = r.int(2 if version < 2 else 4)
        method = r.int(2) & 0x0F if version in (1, 2) else 0
        r.int(2)  # data_reference_index
        base = r.int(base_size)
        extents = []
        for _ in range(r.int(2)):
            r.int(index_size)
            extents.append((base + r.int(offset_size), r.int(length_size)))
        locations[item] = (method, extents)

    # iprp: the primary item's ispe (declared size)
    props = _boxes(data, iprp[0], iprp[1])
    ipco, ipma = _first(props, b"ipco"), _first(props, b"ipma")
    if ipco is None or ipma is None:
        raise _corrupt("AVIF")
    properties = _boxes(data, ipco[0], ipco[1])
    r = _Reader(data, ipma[0], ipma[1])
    header = r.int(4)
    version, wide = header >> 24, header & 1
    declared: tuple[int, int] | None = None
    sample_bytes: dict[int, float] = {}  # item -> bytes per pixel of its decoded YUV planes
    for _ in range(r.int(4)):
        item = r.int(2 if version < 1 else 4)
        for _ in range(r.int(1)):
            index = r.int(2) & 0x7FFF if wide else r.int(1) & 0x7F
            if not 0 < index <= len(properties):
                continue
            prop, start, end = properties[index - 1]
            if prop == b"ispe" and item == primary:
                p = _Reader(data, start, end)
                p.int(4)
                declared = (p.int(4), p.int(4))
            elif prop == b"av1C" and end - start >= 3:
                bits = data[start + 2]  # high_bitdepth, twelve_bit, monochrome, subsampling x/y
                planes = (
                    1.0 if bits & 0x10 else 1 + 2 / ((1 + (bits >> 3 & 1)) * (1 + (bits >> 2 & 1)))
                )
                sample_bytes[item] = planes * (2 if bits & 0x40 else 1)
    if declared is None:
        raise _corrupt("AVIF")

    idat = _first(boxes, b"idat")
    yuv = 0.0
    for item, item_type in types.items():
        if item_type != b"av01":
            continue
        if item not in locations:
            raise _corrupt("AVIF")
        method, extents = locations[item]
        if method == 0:
            head = _avif_item_head(data, extents, 0, len(data))
        elif method == 1 and idat is not None:
            head = _avif_item_head(data, extents, idat[0], idat[1])
        else:
            raise _corrupt("AVIF")
        limit = _av1_frame_limit(head)
        if limit is None:
            raise _corrupt("AVIF")
        if limit[0] > declared[0] or limit[1] > declared[1]:
            raise ImageError("avif_inside", declared=_dims(declared), inside=_dims(limit))
        yuv += sample_bytes.get(item, 6.0) * limit[0] * limit[1]
    # Measured with Pillow 13 and libavif 1.4: the planes twice (libavif's and the AV1
    # decoder's), then an RGB copy and the bytes handed to Pillow.
    return declared[0], declared[1], 2 * yuv / (declared[0] * declared[1]) + 4.5


@dataclass(frozen=True)
class _Header:
    format: str
    width: int
    height: int
    jpeg: _JpegLayout | None = None
    #: Bytes per pixel a decode holds besides the image, when known better than the default.
    overhead: float | None = None


def _read_header(fmt: str, data: bytes) -> _Header:
    """Format and size from the file's own header, before Pillow parses anything."""
    if fmt == "JPEG":
        layout = _jpeg_layout(data)
        return _Header(fmt, layout.width, layout.height, layout)
    if fmt == "PNG" and len(data) >= 24 and data[12:16] == b"IHDR":
        return _Header(fmt, _u32be(data, 16), _u32be(data, 20))
    if fmt == "GIF" and len(data) >= 10:
        return _Header(fmt, _u16le(data, 6), _u16le(data, 8))
    if fmt == "WEBP" and len(data) >= 30:
        kind = data[12:16]
        if kind == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
            return _Header(fmt, _u16le(data, 26) & 0x3FFF, _u16le(data, 28) & 0x3FFF)
        if kind == b"VP8L" and data[20] == 0x2F:
            bits = int.from_bytes(data[21:25], "little")
            return _Header(fmt, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        if kind == b"VP8X":
            width = int.from_bytes(data[24:27], "little") + 1
            return _Header(fmt, width, int.from_bytes(data[27:30], "little") + 1)
    if fmt == "AVIF":
        width, height, overhead = _avif_size(data)
        return _Header(fmt, width, height, overhead=overhead)
    raise _corrupt(fmt)


def _check_pixels(width: int, height: int, fmt: str) -> None:
    if width <= 0 or height <= 0:
        raise _corrupt(fmt)
    if width * height > MAX_PIXELS:
        raise ImageError(
            "pixels",
            size=_dims((width, height)),
            megapixels=f"{width * height / 1e6:.0f}",
            limit=MAX_PIXELS // 1_000_000,
        )


# --------------------------------------------------------------------------- memory plan


def _mode_bytes(mode: str) -> int:
    return _MODE_BYTES.get(mode, 4)


@dataclass(frozen=True)
class _Plan:
    """How to decode: the JPEG draft scale and how many pixels the work image may keep."""

    scale: int
    work_pixels: int


def _too_big(fmt: str, size: tuple[int, int], cap: float, *, progressive: bool) -> ImageError:
    return ImageError(
        "too_big",
        shape="progressive" if progressive else None,
        format=fmt,
        size=_dims(size),
        megapixels=_fmt_mp(size[0] * size[1]),
        cap=_fmt_mp(max(cap, 0)),
    )


def _plan(
    header: _Header,
    mode: str,
    *,
    reencode: bool,
    convert: bool = True,
    upscale_pixels: int = 0,
    out_limit: int = 0,
    lossless_out: bool = False,
) -> _Plan:
    """Pick a decode that fits in the memory budget, or refuse before anything is decoded.

    A decode costs its peak: the image plus the decoder's state (_DECODER_OVERHEAD, a
    progressive JPEG's coefficients). A re-encode keeps ``work_pixels`` (at most
    MAX_WORK_PIXELS; a JPEG may be drafted smaller to keep more): rendering them costs 4 bytes
    a pixel beside the decoded source; encoding costs the output (at most ``out_limit``, about
    a byte a pixel as JPEG, up to 4 as PNG when transparency may be kept: ``lossless_out``)
    plus the coefficients of a Huffman-optimised JPEG. No render is needed when the decoded
    image is kept as it is (``convert`` False: already RGB or L, upright, nothing to flatten).
    """
    budget = MEMORY_BUDGET - _RESERVE
    fmt, w, h = header.format, header.width, header.height
    overhead = _DECODER_OVERHEAD[fmt] if header.overhead is None else header.overhead
    per_pixel = _mode_bytes(mode) + overhead
    coefficients = header.jpeg.coefficient_bytes() if header.jpeg else 0
    progressive = coefficients > 0
    scales = (1, 2, 4, 8) if fmt == "JPEG" else (1,)

    def decoded(s: int) -> int:
        return (-(-w // s)) * (-(-h // s))

    if not reencode:
        # Only verified: a JPEG at the smallest scale, anything else in full.
        s = scales[-1]
        cost = coefficients + per_pixel * decoded(s)
        if cost > budget:
            raise _too_big(fmt, (w, h), budget * w * h / cost, progressive=progressive)
        return _Plan(s, 0)

    # Rendered pixels cost 4 bytes each beside the source, then 4 each plus the output (o
    # bytes a pixel, at most out_limit) to encode: the most that can be encoded.
    o = 4 if lossless_out else 1
    optimised = 4 * _OPTIMIZE_UP_TO
    if 4 * out_limit / o + out_limit <= budget - optimised:
        encodable = (budget - optimised - out_limit) / 4
    else:
        encodable = (budget - optimised) / (4 + o)
    best: _Plan | None = None
    for s in scales:
        pixels = decoded(s)
        source = coefficients + per_pixel * pixels
        if upscale_pixels:
            keep = upscale_pixels if source + 4 * upscale_pixels <= budget else 0
        elif (
            not convert
            and pixels <= MAX_WORK_PIXELS
            and source + min(out_limit, o * pixels) + 4 * min(pixels, _OPTIMIZE_UP_TO) <= budget
        ):
            keep = pixels  # encoded straight from the decoded image
        else:
            keep = int(min(pixels, MAX_WORK_PIXELS, (budget - source) / 4, encodable))
            if keep < min(pixels, _MIN_WORK_PIXELS):
                keep = 0
        if keep and (best is None or keep > best.work_pixels):
            best = _Plan(s, keep)
    if best is None:
        if progressive:
            cap = budget * w * h / (coefficients + (per_pixel + 4) * decoded(scales[-1]))
        else:
            cap = (budget - 4 * _MIN_WORK_PIXELS) / per_pixel
        raise _too_big(fmt, (w, h), cap, progressive=progressive)
    return best


# --------------------------------------------------------------------------- Pillow


def _open(data: bytes, fmt: str) -> Image.Image:
    """Open ``data`` with Pillow's parser for ``fmt`` only (header only, nothing decoded)."""
    try:
        return Image.open(io.BytesIO(data), formats=(fmt,))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError("far_too_many", limit=MAX_PIXELS // 1_000_000) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _corrupt(fmt) from exc


def _load(im: Image.Image, fmt: str) -> None:
    try:
        im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError("far_too_many", limit=MAX_PIXELS // 1_000_000) from exc
    except Exception as exc:  # Pillow raises many types for corrupt data
        raise _corrupt(fmt) from exc


def sniff_format(data: bytes) -> str | None:
    """The accepted format of ``data`` judged by content, or None when it is not one.

    Multi-Picture JPEGs ("MPO") are reported as "JPEG". Nothing is decoded.
    """
    fmt = _identify(data)
    if fmt not in ACCEPTED_FORMATS:
        return None
    try:
        header = _read_header(fmt, data)
        if header.width * header.height > MAX_PIXELS:
            return fmt
        with _open(data, fmt) as im:
            return _normalise_format(im.format)
    except ImageError:
        return None


# Where Pillow finds a PNG's orientation: an eXIf chunk, a text chunk of hex EXIF, or XMP.
_PNG_ORIENTATION_TAGS = (b"eXIf", b"Raw profile type exif", b"XML:com.adobe.xmp")


def _exif_orientation(im: Image.Image, *, decoded: bool) -> int | None:
    """EXIF orientation (1-8), or None when it cannot be known before decoding: Pillow finds
    a PNG eXIf chunk that follows the pixels only by decoding them."""
    if not decoded and im.format == "PNG" and "exif" not in im.info:
        return None
    try:
        value = im.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # malformed EXIF must not make an otherwise fine image unusable
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _aspect_error(width: int, height: int, spec: ImageSpec) -> ImageError | None:
    if spec.min_aspect is None and spec.max_aspect is None:
        return None
    ratio = width / height
    too_narrow = spec.min_aspect is not None and ratio < spec.min_aspect
    too_wide = spec.max_aspect is not None and ratio > spec.max_aspect
    if not (too_narrow or too_wide):
        return None
    if spec.min_aspect is not None and spec.max_aspect is not None:
        shape = "between"
    elif spec.min_aspect is not None:
        shape = "at_least"
    else:
        shape = "at_most"
    bounds = {
        name: f"{value:.2f}"
        for name, value in (("min", spec.min_aspect), ("max", spec.max_aspect))
        if value is not None
    }
    return ImageError(
        "aspect", shape=shape, size=_dims((width, height)), ratio=f"{ratio:.2f}", **bounds
    )


def _displayed(size: tuple[int, int], orientation: int | None) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in _SWAPPING_ORIENTATIONS else size


def _upscaled_size(size: tuple[int, int], min_side: int) -> tuple[int, int] | None:
    """The size that brings the smaller side to ``min_side``, or None if it is there."""
    if min(size) >= min_side:
        return None
    factor = min_side / min(size)
    return max(min_side, round(size[0] * factor)), max(min_side, round(size[1] * factor))


def _bands(height: int, width: int) -> Iterator[tuple[int, int]]:
    rows = max(1, _BAND_BYTES // (4 * max(width, 1)))
    for top in range(0, height, rows):
        yield top, min(height, top + rows)


def _alpha_in_use(im: Image.Image) -> bool:
    if not im.has_transparency_data:
        return False
    if im.mode in ("RGBA", "LA", "PA"):
        return bool(im.getextrema()[-1][0] < 255)  # type: ignore[index]
    for top, bottom in _bands(im.height, im.width):  # palette or colour-key transparency
        band = im.crop((0, top, im.width, bottom)).convert("RGBA")
        if band.getchannel("A").getextrema()[0] < 255:  # type: ignore[operator]
            return True
    return False


def _placement(orientation: int, top: int, bottom: int, size: tuple[int, int]) -> tuple[int, int]:
    """Where rows [top, bottom) of an image of ``size`` land once turned by ``orientation``."""
    height = size[1]
    if orientation in (3, 4):
        return 0, height - bottom
    if orientation in (5, 8):
        return top, 0
    if orientation in (6, 7):
        return height - bottom, 0
    return 0, top


def _render(
    src: Image.Image,
    mode: str,
    size: tuple[int, int],
    *,
    flatten: bool = False,
    orientation: int = 1,
) -> Image.Image:
    """``src`` in ``mode`` (flattened onto white if asked), resized to ``size`` (in ``src``'s
    own orientation) and then turned upright for EXIF ``orientation``.

    Done a band of rows at a time into the output image: besides ``src`` and the result, only
    one band is ever in memory. Shrunk bands are cut with a margin wide enough for the Lanczos
    filter, so the result matches a whole-image resize. Returns ``src`` itself when there is
    nothing to do.
    """
    method = _TRANSPOSE.get(orientation)
    resize = size != src.size
    if src.mode == mode and not resize and method is None and not flatten:
        return src
    if size[0] > src.width or size[1] > src.height:
        # Enlarging: Pillow's resampling of a band does not match a whole-image upscale, and
        # only small images are enlarged, so convert in bands but resize in one go.
        big = _render(src, mode, src.size, flatten=flatten).resize(size, Image.Resampling.LANCZOS)
        return big if method is None else big.transpose(method)
    width, height = size
    out = Image.new(mode, _displayed(size, orientation))
    step = src.height / height  # source rows per output row
    margin = math.ceil(3 * max(step, 1.0)) + 2 if resize else 0
    for top, bottom in _bands(height, max(width, src.width)):
        if resize:
            y0, y1 = top * step, bottom * step
            cut0 = max(0, math.floor(y0) - margin)
            cut1 = min(src.height, math.ceil(y1) + margin)
        else:
            cut0, cut1 = top, bottom
        band = src.crop((0, cut0, src.width, cut1))
        if flatten:
            rgba = band if band.mode == "RGBA" else band.convert("RGBA")
            band = Image.new("RGB", rgba.size, (255, 255, 255))
            band.paste(rgba, mask=rgba)
            del rgba
        if band.mode != mode:
            band = band.convert(mode)
        if resize:
            box = (0.0, y0 - cut0, float(src.width), y1 - cut0)
            band = band.resize((width, bottom - top), Image.Resampling.LANCZOS, box=box)
        if method is not None:
            band = band.transpose(method)
        out.paste(band, _placement(orientation, top, bottom, size))
    return out


def _fit(size: tuple[int, int], pixels: int) -> tuple[int, int]:
    """``size`` scaled down (aspect kept) to at most ``pixels``; ``size`` if it fits."""
    w, h = size
    if w * h <= pixels:
        return size
    factor = math.sqrt(pixels / (w * h))
    new = max(1, math.floor(w * factor)), max(1, math.floor(h * factor))
    while new[0] * new[1] > pixels:  # rounding
        new = max(1, new[0] - 1), max(1, new[1] - 1)
    return new


# --------------------------------------------------------------------------- encoding


class _TooBig(Exception):
    """An encode passed its size limit (deliberately not an OSError: Pillow must not eat it)."""


class _CappedBuffer(io.BytesIO):
    """A BytesIO that refuses to grow past ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self.tell() + len(data) > self._limit:
            raise _TooBig
        return super().write(data)


def _pick_target(formats: Iterable[str], transparent: bool) -> str:
    allowed = set(formats)
    if transparent and "PNG" in allowed:
        return "PNG"
    if "JPEG" in allowed:
        return "JPEG"
    for fmt in ("PNG", "WEBP"):
        if fmt in allowed:
            return fmt
    if not allowed:
        raise ImageError("no_format", shape="none")
    raise ImageError("no_format", formats=sorted(allowed))


def _output_mode(src_mode: str, fmt: str, keep_alpha: bool) -> str:
    if keep_alpha and fmt in ("PNG", "WEBP"):
        return "RGBA"
    if fmt in ("JPEG", "PNG") and src_mode == "L":
        return "L"
    return "RGB"


def _encode(
    im: Image.Image,
    fmt: str,
    quality: int,
    icc: bytes | None,
    limit: int | None = None,
    *,
    optimize: bool | None = None,
) -> bytes | None:
    """``im`` encoded as ``fmt``; None as soon as the output passes ``limit`` bytes.

    JPEG Huffman tables are optimised for images up to _OPTIMIZE_UP_TO pixels (unless told):
    that makes libjpeg hold every DCT coefficient, 3 bytes a pixel, for files ~8% smaller.
    """
    buf = io.BytesIO() if limit is None else _CappedBuffer(limit)
    kwargs: dict[str, object] = {}
    if icc:
        kwargs["icc_profile"] = icc
    if optimize is None:
        optimize = im.width * im.height <= _OPTIMIZE_UP_TO
    try:
        if fmt == "JPEG":
            im.save(buf, "JPEG", quality=quality, optimize=optimize, **kwargs)
        elif fmt == "WEBP":
            im.save(buf, "WEBP", quality=quality, method=4, **kwargs)
        else:
            im.save(buf, "PNG", **kwargs)
    except _TooBig:
        return None
    except (OSError, ValueError) as exc:
        raise ImageError("reencode", format=fmt, detail=str(exc)) from exc
    return buf.getvalue()


def _predict_size(im: Image.Image, fmt: str, quality: int, icc: bytes | None) -> int:
    """The encoded size of ``im`` estimated from about an eighth of its rows: evenly spread
    bands of 32 rows (whole JPEG blocks), encoded together."""
    w, h = im.size
    rows = min(32, h)
    count = max(1, h // (8 * rows))
    sample = Image.new(im.mode, (w, count * rows))
    for i in range(count):
        top = min(h - rows, max(0, round((i + 0.5) * h / count) - rows // 2)) // 16 * 16
        sample.paste(im.crop((0, top, w, min(h, top + rows))), (0, i * rows))
    encoded = _encode(sample, fmt, quality, None, optimize=w * h <= _OPTIMIZE_UP_TO)
    assert encoded is not None
    return round(len(encoded) * h / (count * rows)) + len(icc or b"")


def _scaled(size: tuple[int, int], factor: float) -> tuple[int, int]:
    return max(1, round(size[0] * factor)), max(1, round(size[1] * factor))


# --------------------------------------------------------------------------- public API


@dataclass
class _Source:
    """A decoded image to re-encode, and what is known about the original."""

    image: Image.Image | None
    header: _Header
    original_format: str
    original_size: int
    width: int  # as displayed (EXIF orientation applied)
    height: int
    orientation: int
    animated: bool
    icc: bytes | None


def prepare_image(data: bytes, spec: ImageSpec) -> PreparedImage:
    """Validate ``data`` against ``spec`` and return it untouched or re-encoded to fit.

    Raises ImageError with a user-facing message when the image can't be used.
    """
    original_size = len(data)
    if original_size > spec.max_input_bytes:
        raise ImageError(
            "file_too_large", size=_fmt_mb(original_size), max=_fmt_mb(spec.max_input_bytes)
        )
    if not data:
        raise ImageError("empty")
    fmt = _identify(data)
    if fmt is None:
        raise ImageError("not_image", what=Ref(f"image.kind.{_describe_non_image(data)}"))
    if fmt not in ACCEPTED_FORMATS:
        raise ImageError("format", format=fmt, accepted=_accepted())

    # Everything up to the decode is judged on headers alone.
    header = _read_header(fmt, data)
    _check_pixels(header.width, header.height, fmt)
    if fmt == "WEBP":
        # libwebp allocates its canvases as soon as Pillow opens the file: cost it first (at
        # 4 bytes a pixel, RGB or RGBA alike), as passed through if its format and size allow.
        untouched = (
            fmt in spec.formats
            and original_size <= spec.max_bytes
            and min(header.width, header.height) >= spec.min_side
        )
        _plan(header, "RGBA", reencode=not untouched, out_limit=spec.max_bytes)
    im = _open(data, fmt)
    if im.size != (header.width, header.height):
        # Pillow widens a GIF whose first frame overflows its screen; any other mismatch means
        # the frame Pillow would decode is not the one that was checked.
        if fmt != "GIF" or im.width < header.width or im.height < header.height:
            raise _corrupt(fmt)
        header = _Header(fmt, im.width, im.height)
        _check_pixels(im.width, im.height, fmt)
    raw_format = im.format or fmt
    original_format = _normalise_format(raw_format) or raw_format
    animated = bool(getattr(im, "is_animated", False)) and raw_format != "MPO"
    try:
        im.seek(0)
    except EOFError as exc:
        raise _corrupt(fmt) from exc
    orientation = _exif_orientation(im, decoded=False)
    if orientation is None and not any(tag in data for tag in _PNG_ORIENTATION_TAGS):
        orientation = 1  # no EXIF or XMP anywhere in the PNG, so nothing can turn it
    width, height = _displayed(im.size, orientation)
    aspect = _aspect_error(width, height, spec)
    if aspect is not None and (
        orientation is not None or _aspect_error(height, width, spec) is not None
    ):
        raise aspect

    upscale = _upscaled_size((width, height), spec.min_side)
    if upscale is not None and upscale[0] * upscale[1] > MAX_WORK_PIXELS:
        raise ImageError("enlarge", size=_dims((width, height)), min=spec.min_side)
    passthrough = (
        original_format in spec.formats
        and original_format in _OUTPUT_FORMATS
        and original_size <= spec.max_bytes
        and upscale is None
        and not animated
    )
    plan = _plan(
        header,
        im.mode,
        reencode=not passthrough,
        # Kept as decoded unless it must be converted, turned or flattened.
        convert=(
            im.mode not in ("RGB", "L")
            or fmt in ("WEBP", "AVIF")  # rendered anyway, to drop the decoder's buffers
            or "transparency" in im.info
            or orientation != 1  # None: a PNG whose EXIF is only known once decoded
            or "JPEG" not in spec.formats
        ),
        upscale_pixels=upscale[0] * upscale[1] if upscale else 0,
        out_limit=spec.max_bytes,
        lossless_out="PNG" in spec.formats
        and (im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info),
    )
    icc = im.info.get("icc_profile") if im.mode in ("RGB", "RGBA") else None
    if plan.scale > 1:
        im.draft(im.mode, (max(1, im.width // plan.scale), max(1, im.height // plan.scale)))
    _load(im, fmt)
    if orientation is None:  # a PNG whose EXIF came after its pixels
        orientation = _exif_orientation(im, decoded=True) or 1
        width, height = _displayed((header.width, header.height), orientation)
        aspect = _aspect_error(width, height, spec)
        if aspect is not None:
            raise aspect

    if passthrough:
        return PreparedImage(
            data=data,
            format=original_format,
            width=width,
            height=height,
            original_format=original_format,
            original_size=original_size,
        )

    source = _Source(
        image=im,
        header=header,
        original_format=original_format,
        original_size=original_size,
        width=width,
        height=height,
        orientation=orientation,
        animated=animated,
        icc=icc if isinstance(icc, bytes) else None,
    )
    del im  # the source owns the decoded image now, so _reencode can free it early
    return _reencode(source, spec, plan, upscale)


def _reencode(
    source: _Source, spec: ImageSpec, plan: _Plan, upscale: tuple[int, int] | None
) -> PreparedImage:
    src, source.image = source.image, None
    assert src is not None
    transparent = _alpha_in_use(src)
    target = _pick_target(spec.formats, transparent)
    keep_alpha = transparent and target in ("PNG", "WEBP")
    displayed = (source.width, source.height)
    swap = source.orientation in _SWAPPING_ORIENTATIONS

    # The working size, in displayed orientation: enlarged to the model's minimum side, or
    # shrunk to what the memory plan keeps (a JPEG may already be smaller, from its draft).
    if upscale is not None:
        work_size = upscale
        render_size = (upscale[1], upscale[0]) if swap else upscale
    else:
        render_size = _fit(src.size, plan.work_pixels)
        work_size = _displayed(render_size, source.orientation)

    flattened = transparent and not keep_alpha and target == "JPEG"
    mode = _output_mode(src.mode, target, keep_alpha)
    base = _render(src, mode, render_size, flatten=flattened, orientation=source.orientation)
    if base is src and source.header.format in ("WEBP", "AVIF"):
        base = src.copy()  # so the decoder's own buffers go with the source
    del src

    def attempt(im: Image.Image, fmt: str, quality: int) -> tuple[bytes | None, int]:
        """The encoded image if it fits (else None), and its size or an estimate of it."""
        if im.width * im.height <= _PREDICT_ABOVE:
            encoded = _encode(im, fmt, quality, source.icc)
            assert encoded is not None
            return (encoded if len(encoded) <= spec.max_bytes else None), len(encoded)
        guess = _predict_size(im, fmt, quality, source.icc)
        if guess > spec.max_bytes * _PREDICTION_MARGIN:
            return None, guess
        encoded = _encode(im, fmt, quality, source.icc, limit=spec.max_bytes)
        if encoded is None:
            return None, max(guess, spec.max_bytes + 1)
        return encoded, len(encoded)

    quality = JPEG_QUALITY
    encoded, size = attempt(base, target, quality)

    if encoded is None and target == "PNG" and "JPEG" in spec.formats:
        # Lossless PNG too big: switch to JPEG, flattening the transparency (a PNG target
        # means the base kept its alpha).
        target, flattened = "JPEG", base.mode == "RGBA"
        base = _render(base, "RGB", base.size, flatten=flattened)
        encoded, size = attempt(base, target, quality)

    if encoded is None and target in ("JPEG", "WEBP"):
        for quality in FALLBACK_QUALITIES:
            encoded, size = attempt(base, target, quality)
            if encoded is not None:
                break

    resized_from: tuple[int, int] | None = None
    if work_size != displayed and upscale is None:
        resized_from = displayed
    final = base
    if encoded is None:
        resized_from = resized_from or base.size
        current = base.size
        for _ in range(MAX_DOWNSCALE_STEPS):
            factor = math.sqrt(spec.max_bytes / size) * 0.95
            new_size = _scaled(current, factor)
            if min(new_size) < spec.min_side:
                # Never go below the model's minimum side.
                factor = spec.min_side / min(current)
                new_size = _scaled(current, factor)
            if new_size[0] >= current[0] and new_size[1] >= current[1]:
                break  # cannot shrink any further
            current = new_size
            del final
            final = _render(base, base.mode, current)
            encoded, size = attempt(final, target, quality)
            if encoded is not None:
                break
        if encoded is None:
            raise ImageError("shrink", max=_fmt_size(spec.max_bytes))

    changes: list[ImageChange] = []
    if source.orientation != 1:
        changes.append(ImageChange("rotated", {}))
    if source.animated:
        changes.append(ImageChange("first_frame", {}))
    if target != source.original_format:
        changes.append(ImageChange("converted", {"from": source.original_format, "to": target}))
    if flattened:
        changes.append(ImageChange("flattened", {"background": "white"}))
    if upscale is not None:
        changes.append(ImageChange("upscaled", {"from": _dims(displayed), "to": _dims(upscale)}))
    if resized_from is not None and final.size != resized_from:
        changes.append(
            ImageChange("downscaled", {"from": _dims(resized_from), "to": _dims(final.size)})
        )
    if not changes:
        # Same format, same pixels: the only reason to re-encode was the file size.
        changes.append(
            ImageChange("recompressed", {"from": source.original_size, "to": len(encoded)})
        )

    return PreparedImage(
        data=encoded,
        format=target,
        width=final.size[0],
        height=final.size[1],
        original_format=source.original_format,
        original_size=source.original_size,
        changes=tuple(changes),
    )


# Process-wide: at most MAX_CONCURRENT_PREPARATIONS preparations run at once, whatever the
# event loop. Each running loop also queues its callers on an asyncio semaphore of the same
# size, so waiting callers do not hold worker threads.
_running = threading.BoundedSemaphore(MAX_CONCURRENT_PREPARATIONS)
_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)
_queues_lock = threading.Lock()


def _prepare_in_slot(data: bytes, spec: ImageSpec) -> PreparedImage:
    with _running:
        return prepare_image(data, spec)


async def prepare_image_async(data: bytes, spec: ImageSpec) -> PreparedImage:
    """``prepare_image`` in a worker thread, at most MAX_CONCURRENT_PREPARATIONS at once.

    Cancelling the caller does not stop a preparation already running in its thread; its slot
    stays taken until the thread is done, so the limit holds.
    """
    loop = asyncio.get_running_loop()
    with _queues_lock:
        queue = _queues.get(loop)
        if queue is None:
            queue = _queues[loop] = asyncio.Semaphore(MAX_CONCURRENT_PREPARATIONS)
    await queue.acquire()
    try:
        # As asyncio.to_thread does: the thread sees the caller's context variables.
        run = functools.partial(contextvars.copy_context().run, _prepare_in_slot, data, spec)
        future = loop.run_in_executor(None, run)
    except BaseException:
        queue.release()
        raise

    def done(f: asyncio.Future[PreparedImage]) -> None:
        queue.release()
        if not f.cancelled():
            f.exception()  # retrieved, so an abandoned failure is not logged as unhandled

    future.add_done_callback(done)
    return await asyncio.shield(future)


async def fetch_image(
    session: aiohttp.ClientSession,
    url: str,
    *,
    max_bytes: int,
    timeout: float = 30.0,  # noqa: ASYNC109 - passed to aiohttp.ClientTimeout by design
    policy: FetchPolicy | None = None,
) -> bytes:
    """Download ``url``, refusing bodies larger than ``max_bytes``. The link and every redirect
    are checked as bot.media.download checks result links (``policy``: the default, https and public
    addresses only).

    All failures raise ImageError with a message safe to show to users (no query strings).
    """
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = parts.hostname
    except ValueError:
        scheme, host = "", None
    if scheme not in ("http", "https") or not host:
        raise ImageError("link_scheme")
    safe = safe_url(url.strip())
    limit = _fmt_size(max_bytes)

    try:
        async with open_checked(
            session, url.strip(), timeout=aiohttp.ClientTimeout(total=timeout), policy=policy
        ) as resp:
            if not 200 <= resp.status < 300:
                reason = f" {resp.reason}" if resp.reason else ""  # HTTP's own phrase
                raise ImageError("download_status", url=safe, status=resp.status, reason=reason)
            declared = resp.content_length
            if declared is not None and declared > max_bytes:
                raise ImageError(
                    "download_declared", url=safe, size=_fmt_size(declared), limit=limit
                )
            body = bytearray()
            async for chunk in resp.content.iter_chunked(_DOWNLOAD_CHUNK):
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise ImageError("download_over", url=safe, limit=limit)
    except ImageError:
        raise
    except DownloadError as exc:
        raise ImageError("download_refused", detail=str(exc)) from None
    except TimeoutError as exc:
        raise ImageError("download_timeout", url=safe, seconds=f"{timeout:g}") from exc
    except aiohttp.InvalidURL as exc:
        raise ImageError("download_invalid") from exc
    except aiohttp.ClientConnectorError as exc:
        raise ImageError("download_connect", url=safe) from exc
    except aiohttp.ClientPayloadError as exc:
        raise ImageError("download_broke", url=safe) from exc
    except aiohttp.ClientError as exc:
        # str() of aiohttp errors can embed the full URL (with tokens); use the type only.
        raise ImageError("download_client", url=safe, error=type(exc).__name__) from exc

    if not body:
        raise ImageError("download_empty", url=safe)
    return bytes(body)


async def shrink_to_fit(image: PreparedImage, max_bytes: int) -> PreparedImage:
    """A copy of ``image`` of at most ``max_bytes``, for a place whose limit is smaller than the
    model's (a Discord upload): ``image`` itself when it fits, else re-encoded in its own format
    (so a file name made for it still fits) and downscaled as far as needed, with the same
    checks and the same limit on concurrent work as :func:`prepare_image_async`.

    Raises ImageError when it cannot be made that small.
    """
    if len(image.data) <= max_bytes:
        return image
    spec = ImageSpec(
        formats=frozenset({image.format}), max_bytes=max_bytes, max_input_bytes=len(image.data)
    )
    smaller = await prepare_image_async(image.data, spec)
    if len(smaller.data) > max_bytes or smaller.format != image.format:
        raise ImageError("cannot_shrink", max=_fmt_size(max_bytes))
    return smaller


def reuse_prepared(data: bytes, spec: ImageSpec) -> PreparedImage | None:
    """``data`` as it is, when it already meets ``spec`` (an image this bot prepared and stored
    earlier, for a draft's revision or a job): read from its header only, never decoded again.
    None when it does not fit (another model's rules): prepare it then."""
    fmt = _identify(data)
    if fmt is None or fmt not in spec.formats or fmt not in _EXTENSION:
        return None
    if len(data) > spec.max_bytes:
        return None
    try:
        header = _read_header(fmt, data)
    except (ImageError, ValueError, IndexError):
        return None
    width, height = header.width, header.height
    if width <= 0 or height <= 0 or min(width, height) < spec.min_side:
        return None
    if _aspect_error(width, height, spec) is not None:
        return None
    return PreparedImage(
        data=data,
        format=fmt,
        width=width,
        height=height,
        original_format=fmt,
        original_size=len(data),
    )
