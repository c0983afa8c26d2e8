"""Re-encoding a decoded image to fit a spec: the target format, lower qualities, then smaller
sizes (never below the model's minimum side), skipping encodes predicted hopeless, and the list
of changes made, for telling the member what happened."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image

from bot.media.images.budget import Plan
from bot.media.images.encode import encode, output_mode, pick_target, predict_size
from bot.media.images.errors import ImageError, dims, fmt_size
from bot.media.images.headers import Header
from bot.media.images.prepared import ImageChange, PreparedImage
from bot.media.images.render import SWAPPING_ORIENTATIONS, alpha_in_use, displayed_size, fit, render
from bot.media.images.spec import ImageSpec

#: Quality used for the first JPEG/WEBP encode, then the fallbacks tried before downscaling.
JPEG_QUALITY = 90
FALLBACK_QUALITIES = (85, 75)
#: How many downscale attempts before giving up.
MAX_DOWNSCALE_STEPS = 8
# Encodes of more pixels than this are predicted from a sample before running in full, and
# stop as soon as they pass the model's limit.
_PREDICT_ABOVE = 2_000_000
# A prediction this much over the limit skips the encode.
_PREDICTION_MARGIN = 1.25


def _scaled(size: tuple[int, int], factor: float) -> tuple[int, int]:
    return max(1, round(size[0] * factor)), max(1, round(size[1] * factor))


@dataclass
class Source:
    """A decoded image to re-encode, and what is known about the original."""

    image: Image.Image | None
    header: Header
    original_format: str
    original_size: int
    width: int  # as displayed (EXIF orientation applied)
    height: int
    orientation: int
    animated: bool
    icc: bytes | None


def reencode(
    source: Source, spec: ImageSpec, plan: Plan, upscale: tuple[int, int] | None
) -> PreparedImage:
    src, source.image = source.image, None
    assert src is not None
    transparent = alpha_in_use(src)
    target = pick_target(spec.formats, transparent)
    keep_alpha = transparent and target in ("PNG", "WEBP")
    displayed = (source.width, source.height)
    swap = source.orientation in SWAPPING_ORIENTATIONS

    # The working size, in displayed orientation: enlarged to the model's minimum side, or
    # shrunk to what the memory plan keeps (a JPEG may already be smaller, from its draft).
    if upscale is not None:
        work_size = upscale
        render_size = (upscale[1], upscale[0]) if swap else upscale
    else:
        render_size = fit(src.size, plan.work_pixels)
        work_size = displayed_size(render_size, source.orientation)

    flattened = transparent and not keep_alpha and target == "JPEG"
    mode = output_mode(src.mode, target, keep_alpha)
    base = render(src, mode, render_size, flatten=flattened, orientation=source.orientation)
    if base is src and source.header.format in ("WEBP", "AVIF"):
        base = src.copy()  # so the decoder's own buffers go with the source
    del src

    def attempt(im: Image.Image, fmt: str, quality: int) -> tuple[bytes | None, int]:
        """The encoded image if it fits (else None), and its size or an estimate of it."""
        if im.width * im.height <= _PREDICT_ABOVE:
            encoded = encode(im, fmt, quality, source.icc)
            assert encoded is not None
            return (encoded if len(encoded) <= spec.max_bytes else None), len(encoded)
        guess = predict_size(im, fmt, quality, source.icc)
        if guess > spec.max_bytes * _PREDICTION_MARGIN:
            return None, guess
        encoded = encode(im, fmt, quality, source.icc, limit=spec.max_bytes)
        if encoded is None:
            return None, max(guess, spec.max_bytes + 1)
        return encoded, len(encoded)

    quality = JPEG_QUALITY
    encoded, size = attempt(base, target, quality)

    if encoded is None and target == "PNG" and "JPEG" in spec.formats:
        # Lossless PNG too big: switch to JPEG, flattening the transparency (a PNG target
        # means the base kept its alpha).
        target, flattened = "JPEG", base.mode == "RGBA"
        base = render(base, "RGB", base.size, flatten=flattened)
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
            final = render(base, base.mode, current)
            encoded, size = attempt(final, target, quality)
            if encoded is not None:
                break
        if encoded is None:
            raise ImageError("shrink", max=fmt_size(spec.max_bytes))

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
        changes.append(ImageChange("upscaled", {"from": dims(displayed), "to": dims(upscale)}))
    if resized_from is not None and final.size != resized_from:
        changes.append(
            ImageChange("downscaled", {"from": dims(resized_from), "to": dims(final.size)})
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
