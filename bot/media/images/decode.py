"""Pillow, only ever with the parser of the format already identified: opening (header only)
and decoding with its bomb limits turned into refusals, the EXIF orientation, and
:func:`sniff_format`. Importing this module sets Pillow's own bomb limit to ``MAX_PIXELS``."""

from __future__ import annotations

import io
import warnings

from PIL import ExifTags, Image, UnidentifiedImageError

from bot.media.images.errors import ImageError, corrupt
from bot.media.images.formats import ACCEPTED_FORMATS, identify, normalise_format
from bot.media.images.headers import MAX_PIXELS, read_header

# Pillow refuses bombs itself too: an error above twice the limit, and (with this filter) an
# error instead of a warning above it.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def open_image(data: bytes, fmt: str) -> Image.Image:
    """Open ``data`` with Pillow's parser for ``fmt`` only (header only, nothing decoded)."""
    try:
        return Image.open(io.BytesIO(data), formats=(fmt,))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError("far_too_many", limit=MAX_PIXELS // 1_000_000) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise corrupt(fmt) from exc


def load_image(im: Image.Image, fmt: str) -> None:
    try:
        im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError("far_too_many", limit=MAX_PIXELS // 1_000_000) from exc
    except Exception as exc:  # Pillow raises many types for corrupt data
        raise corrupt(fmt) from exc


def sniff_format(data: bytes) -> str | None:
    """The accepted format of ``data`` judged by content, or None when it is not one.

    Multi-Picture JPEGs ("MPO") are reported as "JPEG". Nothing is decoded.
    """
    fmt = identify(data)
    if fmt not in ACCEPTED_FORMATS:
        return None
    try:
        header = read_header(fmt, data)
        if header.width * header.height > MAX_PIXELS:
            return fmt
        with open_image(data, fmt) as im:
            return normalise_format(im.format)
    except ImageError:
        return None


# Where Pillow finds a PNG's orientation: an eXIf chunk, a text chunk of hex EXIF, or XMP.
PNG_ORIENTATION_TAGS = (b"eXIf", b"Raw profile type exif", b"XML:com.adobe.xmp")


def exif_orientation(im: Image.Image, *, decoded: bool) -> int | None:
    """EXIF orientation (1-8), or None when it cannot be known before decoding: Pillow finds
    a PNG eXIf chunk that follows the pixels only by decoding them."""
    if not decoded and im.format == "PNG" and "exif" not in im.info:
        return None
    try:
        value = im.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # malformed EXIF must not make an otherwise fine image unusable
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1
