"""The memory plan: what decoding and re-encoding an image would cost, in bytes per pixel
measured for each format, and the decode that fits in ``MEMORY_BUDGET`` (a JPEG's draft scale,
how many pixels the work image keeps), or a refusal before anything is decoded.

The limits are read here at each call (and ``OPTIMIZE_UP_TO`` by the encoder too), so a test or
a benchmark that sets them sets them on this module.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.media.images.errors import ImageError, dims, fmt_mp
from bot.media.images.headers import Header

#: Memory one preparation may use for decoding and re-encoding, besides the file itself.
MEMORY_BUDGET = 100_000_000
#: Re-encoded images are shrunk to at most this many pixels (4000x3000 fits).
MAX_WORK_PIXELS = 12_000_000
#: JPEG Huffman optimisation (3 bytes a pixel of buffered coefficients) up to this size.
OPTIMIZE_UP_TO = 2_000_000

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


def _mode_bytes(mode: str) -> int:
    return _MODE_BYTES.get(mode, 4)


@dataclass(frozen=True)
class Plan:
    """How to decode: the JPEG draft scale and how many pixels the work image may keep."""

    scale: int
    work_pixels: int


def _too_big(fmt: str, size: tuple[int, int], cap: float, *, progressive: bool) -> ImageError:
    return ImageError(
        "too_big",
        shape="progressive" if progressive else None,
        format=fmt,
        size=dims(size),
        megapixels=fmt_mp(size[0] * size[1]),
        cap=fmt_mp(max(cap, 0)),
    )


def plan_decode(
    header: Header,
    mode: str,
    *,
    reencode: bool,
    convert: bool = True,
    upscale_pixels: int = 0,
    out_limit: int = 0,
    lossless_out: bool = False,
) -> Plan:
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
        return Plan(s, 0)

    # Rendered pixels cost 4 bytes each beside the source, then 4 each plus the output (o
    # bytes a pixel, at most out_limit) to encode: the most that can be encoded.
    o = 4 if lossless_out else 1
    optimised = 4 * OPTIMIZE_UP_TO
    if 4 * out_limit / o + out_limit <= budget - optimised:
        encodable = (budget - optimised - out_limit) / 4
    else:
        encodable = (budget - optimised) / (4 + o)
    best: Plan | None = None
    for s in scales:
        pixels = decoded(s)
        source = coefficients + per_pixel * pixels
        if upscale_pixels:
            keep = upscale_pixels if source + 4 * upscale_pixels <= budget else 0
        elif (
            not convert
            and pixels <= MAX_WORK_PIXELS
            and source + min(out_limit, o * pixels) + 4 * min(pixels, OPTIMIZE_UP_TO) <= budget
        ):
            keep = pixels  # encoded straight from the decoded image
        else:
            keep = int(min(pixels, MAX_WORK_PIXELS, (budget - source) / 4, encodable))
            if keep < min(pixels, _MIN_WORK_PIXELS):
                keep = 0
        if keep and (best is None or keep > best.work_pixels):
            best = Plan(s, keep)
    if best is None:
        if progressive:
            cap = budget * w * h / (coefficients + (per_pixel + 4) * decoded(scales[-1]))
        else:
            cap = (budget - 4 * _MIN_WORK_PIXELS) / per_pixel
        raise _too_big(fmt, (w, h), cap, progressive=progressive)
    return best
