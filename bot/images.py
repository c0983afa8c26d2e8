"""Reference-image preparation: validate, normalise and shrink user images for kie.ai.

Everything here is plain Python + Pillow (no Discord imports). ``prepare_image`` is
synchronous and CPU-bound; callers should run it in a worker thread
(``asyncio.to_thread``). ``fetch_image`` downloads an image with a hard size cap.

Formats are always judged by content (Pillow's decoder), never by file name.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

__all__ = [
    "ImageChange",
    "ImageError",
    "ImageSpec",
    "PreparedImage",
    "fetch_image",
    "prepare_image",
    "sniff_format",
]

#: Images with more pixels than this are refused as potential decompression bombs.
MAX_PIXELS = 80_000_000
#: Quality used for the first JPEG/WEBP encode, then the fallbacks tried before downscaling.
JPEG_QUALITY = 90
FALLBACK_QUALITIES = (85, 75)
#: How many downscale attempts before giving up.
MAX_DOWNSCALE_STEPS = 8

# Decoders we are willing to run on untrusted input. Deliberately excludes formats whose
# loaders shell out (EPS -> Ghostscript) or have no magic number (TGA), which would make
# random junk "open" as an image.
_SAFE_INPUT_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "AVIF", "ICO")
# Formats we know how to write, in fallback order.
_OUTPUT_FORMATS = ("JPEG", "PNG", "WEBP")
_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_EXTENSION = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
# EXIF orientations that swap width and height when displayed.
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})

_DOWNLOAD_CHUNK = 64 * 1024


class ImageError(ValueError):
    """A user-facing problem with an image. ``str(err)`` is a one-line English message."""


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


def _dims(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _allowed_open_formats() -> tuple[str, ...]:
    Image.init()
    return tuple(f for f in _SAFE_INPUT_FORMATS if f in Image.OPEN)


def _normalise_format(fmt: str | None) -> str | None:
    # Multi-Picture JPEGs (many phone cameras) are valid JPEG files; treat them as such.
    if fmt == "MPO":
        return "JPEG"
    return fmt


def _describe_non_image(data: bytes) -> str:
    if not data:
        return "the file is empty"
    head = data[:1024].lstrip()
    if head.startswith(b"%PDF"):
        return "it is a PDF document"
    lowered = head[:64].lower()
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "it is a web page, not an image"
    if lowered.startswith((b"<?xml", b"<svg")) and b"<svg" in data[:4096].lower():
        return "SVG vector images are not supported"
    if head.startswith((b"PK\x03\x04", b"\x1f\x8b", b"Rar!", b"7z\xbc\xaf")):
        return "it is an archive"
    try:
        text = data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return "it looks like text"
    return "unrecognised or corrupt data"


def _open(data: bytes) -> Image.Image:
    """Open ``data`` with Pillow (header only), mapping every failure to ImageError."""
    try:
        return Image.open(io.BytesIO(data), formats=_allowed_open_formats())
    except Image.DecompressionBombError as exc:
        raise ImageError(
            "That image has far too many pixels to process safely "
            f"(limit {MAX_PIXELS // 1_000_000} megapixels)."
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(
            f"That file is not an image Pillow can read ({_describe_non_image(data)})."
        ) from exc


def sniff_format(data: bytes) -> str | None:
    """Pillow format name of ``data`` judged by content, or None when it is not an image.

    Multi-Picture JPEGs ("MPO") are reported as "JPEG".
    """
    if not data:
        return None
    try:
        with _open(data) as im:
            return _normalise_format(im.format)
    except ImageError:
        return None


def _exif_orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # malformed EXIF must not make an otherwise fine image unusable
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _check_aspect(width: int, height: int, spec: ImageSpec) -> None:
    if spec.min_aspect is None and spec.max_aspect is None:
        return
    ratio = width / height
    too_narrow = spec.min_aspect is not None and ratio < spec.min_aspect
    too_wide = spec.max_aspect is not None and ratio > spec.max_aspect
    if not (too_narrow or too_wide):
        return
    if spec.min_aspect is not None and spec.max_aspect is not None:
        allowed = f"between {spec.min_aspect:.2f} and {spec.max_aspect:.2f}"
    elif spec.min_aspect is not None:
        allowed = f"of at least {spec.min_aspect:.2f}"
    else:
        allowed = f"of at most {spec.max_aspect:.2f}"
    raise ImageError(
        f"The image is {width}x{height} (ratio {ratio:.2f}); this model accepts "
        f"width/height {allowed}. Crop it and try again."
    )


def _alpha_in_use(im: Image.Image) -> bool:
    if not im.has_transparency_data:
        return False
    alpha = im.convert("RGBA").getchannel("A")
    lowest = alpha.getextrema()[0]
    return bool(lowest < 255)


def _pick_target(formats: Iterable[str], transparent: bool) -> str:
    allowed = set(formats)
    if transparent and "PNG" in allowed:
        return "PNG"
    if "JPEG" in allowed:
        return "JPEG"
    for fmt in ("PNG", "WEBP"):
        if fmt in allowed:
            return fmt
    raise ImageError(
        "This model does not accept any image format this bot can produce "
        f"({', '.join(sorted(allowed)) or 'none'})."
    )


def _flatten(im: Image.Image) -> Image.Image:
    rgba = im.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _to_output_mode(im: Image.Image, fmt: str, keep_alpha: bool) -> Image.Image:
    if keep_alpha and fmt in ("PNG", "WEBP"):
        return im if im.mode == "RGBA" else im.convert("RGBA")
    if fmt in ("JPEG", "PNG") and im.mode == "L":
        return im
    return im if im.mode == "RGB" else im.convert("RGB")


def _encode(im: Image.Image, fmt: str, quality: int, icc: bytes | None) -> bytes:
    buf = io.BytesIO()
    kwargs: dict[str, object] = {}
    if icc:
        kwargs["icc_profile"] = icc
    try:
        if fmt == "JPEG":
            im.save(buf, "JPEG", quality=quality, optimize=True, **kwargs)
        elif fmt == "WEBP":
            im.save(buf, "WEBP", quality=quality, method=4, **kwargs)
        else:
            im.save(buf, "PNG", **kwargs)
    except (OSError, ValueError) as exc:
        raise ImageError(f"The image could not be re-encoded as {fmt} ({exc}).") from exc
    return buf.getvalue()


def _scaled(size: tuple[int, int], factor: float) -> tuple[int, int]:
    return max(1, round(size[0] * factor)), max(1, round(size[1] * factor))


# --------------------------------------------------------------------------- public API


def prepare_image(data: bytes, spec: ImageSpec) -> PreparedImage:
    """Validate ``data`` against ``spec`` and return it untouched or re-encoded to fit.

    Raises ImageError with a user-facing message when the image can't be used.
    """
    original_size = len(data)
    if original_size > spec.max_input_bytes:
        raise ImageError(
            f"That file is {_fmt_mb(original_size)}; the largest image accepted is "
            f"{_fmt_mb(spec.max_input_bytes)}."
        )
    if not data:
        raise ImageError("That file is not an image Pillow can read (the file is empty).")

    with _open(data) as im:
        raw_format = im.format or "unknown"
        original_format = _normalise_format(raw_format) or raw_format
        width, height = im.size
        if width * height > MAX_PIXELS:
            raise ImageError(
                f"That image is {width}x{height} ({width * height / 1e6:.0f} megapixels); "
                f"the limit is {MAX_PIXELS // 1_000_000} megapixels."
            )
        animated = bool(getattr(im, "is_animated", False)) and raw_format != "MPO"
        try:
            im.seek(0)
            im.load()
        except Exception as exc:  # Pillow raises many types for corrupt data
            raise ImageError(
                f"That file looks like a {original_format} image but could not be decoded "
                "(it may be truncated or corrupt)."
            ) from exc

        orientation = _exif_orientation(im)
        if orientation in _SWAPPING_ORIENTATIONS:
            width, height = height, width
        _check_aspect(width, height, spec)

        needs_upscale = min(width, height) < spec.min_side
        if (
            original_format in spec.formats
            and original_format in _OUTPUT_FORMATS
            and original_size <= spec.max_bytes
            and not needs_upscale
            and not animated
        ):
            return PreparedImage(
                data=data,
                format=original_format,
                width=width,
                height=height,
                original_format=original_format,
                original_size=original_size,
            )

        icc = im.info.get("icc_profile") if im.mode in ("RGB", "RGBA") else None
        work = ImageOps.exif_transpose(im)

    return _reencode(
        work,
        spec,
        original_format=original_format,
        original_size=original_size,
        rotated=orientation != 1,
        animated=animated,
        icc=icc if isinstance(icc, bytes) else None,
    )


def _reencode(
    work: Image.Image,
    spec: ImageSpec,
    *,
    original_format: str,
    original_size: int,
    rotated: bool,
    animated: bool,
    icc: bytes | None,
) -> PreparedImage:
    transparent = _alpha_in_use(work)
    target = _pick_target(spec.formats, transparent)
    flattened = False

    # Upscale so the smaller side reaches min_side.
    upscaled_from: tuple[int, int] | None = None
    if min(work.size) < spec.min_side:
        factor = spec.min_side / min(work.size)
        w, h = work.size
        new_size = (
            max(spec.min_side, round(w * factor)),
            max(spec.min_side, round(h * factor)),
        )
        if new_size[0] * new_size[1] > MAX_PIXELS:
            raise ImageError(
                f"The image is {w}x{h}; enlarging it to the minimum of {spec.min_side} px "
                "per side would make it far too large. Use a less elongated image."
            )
        upscaled_from = work.size
        work = work.resize(new_size, Image.Resampling.LANCZOS)

    def prepared(pixels: Image.Image, fmt: str, keep_alpha: bool) -> Image.Image:
        nonlocal flattened
        if not keep_alpha and transparent and fmt == "JPEG":
            flattened = True
            return _flatten(pixels)
        return _to_output_mode(pixels, fmt, keep_alpha)

    keep_alpha = transparent and target in ("PNG", "WEBP")
    base = prepared(work, target, keep_alpha)
    quality = JPEG_QUALITY
    encoded = _encode(base, target, quality, icc)

    if len(encoded) > spec.max_bytes and target == "PNG" and "JPEG" in spec.formats:
        # Lossless PNG too big: switch to JPEG (flattening any transparency).
        target, keep_alpha = "JPEG", False
        base = prepared(work, target, keep_alpha)
        encoded = _encode(base, target, quality, icc)

    if len(encoded) > spec.max_bytes and target in ("JPEG", "WEBP"):
        for quality in FALLBACK_QUALITIES:
            encoded = _encode(base, target, quality, icc)
            if len(encoded) <= spec.max_bytes:
                break

    downscaled_from: tuple[int, int] | None = None
    final = base
    if len(encoded) > spec.max_bytes:
        downscaled_from = base.size
        size = base.size
        for _ in range(MAX_DOWNSCALE_STEPS):
            factor = math.sqrt(spec.max_bytes / len(encoded)) * 0.95
            new_size = _scaled(size, factor)
            if min(new_size) < spec.min_side:
                # Never go below the model's minimum side.
                factor = spec.min_side / min(size)
                new_size = _scaled(size, factor)
            if new_size[0] >= size[0] and new_size[1] >= size[1]:
                break  # cannot shrink any further
            size = new_size
            final = base.resize(size, Image.Resampling.LANCZOS)
            encoded = _encode(final, target, quality, icc)
            if len(encoded) <= spec.max_bytes:
                break
        if len(encoded) > spec.max_bytes:
            raise ImageError(
                f"The image could not be made smaller than {_fmt_size(spec.max_bytes)} "
                "without losing too much detail; please upload a smaller image."
            )

    changes: list[ImageChange] = []
    if rotated:
        changes.append(ImageChange("rotated", {}))
    if animated:
        changes.append(ImageChange("first_frame", {}))
    if target != original_format:
        changes.append(ImageChange("converted", {"from": original_format, "to": target}))
    if flattened:
        changes.append(ImageChange("flattened", {"background": "white"}))
    if upscaled_from is not None:
        changes.append(
            ImageChange("upscaled", {"from": _dims(upscaled_from), "to": _dims(work.size)})
        )
    if downscaled_from is not None:
        changes.append(
            ImageChange("downscaled", {"from": _dims(downscaled_from), "to": _dims(final.size)})
        )
    if not changes:
        # Same format, same pixels: the only reason to re-encode was the file size.
        changes.append(ImageChange("recompressed", {"from": original_size, "to": len(encoded)}))

    return PreparedImage(
        data=encoded,
        format=target,
        width=final.size[0],
        height=final.size[1],
        original_format=original_format,
        original_size=original_size,
        changes=tuple(changes),
    )


def _safe_url(url: str) -> str:
    """``scheme://host[:port]/path`` without credentials, query string or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(invalid link)"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    return f"{parts.scheme}://{netloc}{parts.path}"


async def fetch_image(
    session: aiohttp.ClientSession,
    url: str,
    *,
    max_bytes: int,
    timeout: float = 30.0,  # noqa: ASYNC109 - passed to aiohttp.ClientTimeout by design
) -> bytes:
    """Download ``url`` (http/https only), refusing bodies larger than ``max_bytes``.

    All failures raise ImageError with a message safe to show to users (no query strings).
    """
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = parts.hostname
    except ValueError:
        scheme, host = "", None
    if scheme not in ("http", "https") or not host:
        raise ImageError("Only http(s) image links are accepted.")
    safe = _safe_url(url.strip())
    limit = _fmt_size(max_bytes)

    try:
        async with session.get(
            url.strip(), timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=True
        ) as resp:
            if not 200 <= resp.status < 300:
                reason = f" {resp.reason}" if resp.reason else ""
                raise ImageError(
                    f"Could not download the image: {safe} answered HTTP {resp.status}{reason}."
                )
            declared = resp.content_length
            if declared is not None and declared > max_bytes:
                raise ImageError(
                    f"The image at {safe} is {_fmt_size(declared)}; the limit is {limit}."
                )
            body = bytearray()
            async for chunk in resp.content.iter_chunked(_DOWNLOAD_CHUNK):
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise ImageError(
                        f"The image at {safe} is larger than the {limit} limit; download stopped."
                    )
    except ImageError:
        raise
    except TimeoutError as exc:
        raise ImageError(
            f"Could not download the image: {safe} did not respond within {timeout:g} s."
        ) from exc
    except aiohttp.InvalidURL as exc:
        raise ImageError("Could not download the image: the link is not a valid URL.") from exc
    except aiohttp.ClientConnectorError as exc:
        raise ImageError(f"Could not download the image: could not connect to {safe}.") from exc
    except aiohttp.ClientPayloadError as exc:
        raise ImageError(
            f"Could not download the image: the connection to {safe} broke off."
        ) from exc
    except aiohttp.ClientError as exc:
        # str() of aiohttp errors can embed the full URL (with tokens); use the type only.
        raise ImageError(
            f"Could not download the image: {safe} failed ({type(exc).__name__})."
        ) from exc

    if not body:
        raise ImageError(f"Could not download the image: {safe} returned an empty file.")
    return bytes(body)
