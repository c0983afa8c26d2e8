"""What a model accepts as a reference image (:class:`ImageSpec`), and the checks of an image's
displayed size against it: its aspect ratio, and the size that reaches its minimum side."""

from __future__ import annotations

from dataclasses import dataclass

from bot.media.images.errors import ImageError, dims


@dataclass(frozen=True)
class ImageSpec:
    """What a model accepts as a reference image."""

    formats: frozenset[str]
    max_bytes: int
    min_side: int = 0
    min_aspect: float | None = None
    max_aspect: float | None = None
    max_input_bytes: int = 50_000_000


def aspect_error(width: int, height: int, spec: ImageSpec) -> ImageError | None:
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
        "aspect", shape=shape, size=dims((width, height)), ratio=f"{ratio:.2f}", **bounds
    )


def upscaled_size(size: tuple[int, int], min_side: int) -> tuple[int, int] | None:
    """The size that brings the smaller side to ``min_side``, or None if it is there."""
    if min(size) >= min_side:
        return None
    factor = min_side / min(size)
    return max(min_side, round(size[0] * factor)), max(min_side, round(size[1] * factor))
