"""Pixels converted, flattened, resized and turned upright band by band into the output image,
so no full-size temporary exists beside it; whether transparency is in use; the size an image
is displayed at once its EXIF orientation is applied."""

from __future__ import annotations

import math
from collections.abc import Iterator

from PIL import Image

# EXIF orientations that swap width and height when displayed, and how to undo each one
# (the same table as ImageOps.exif_transpose).
SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Source rows are converted and resized in bands of about this many bytes.
_BAND_BYTES = 2_000_000


def displayed_size(size: tuple[int, int], orientation: int | None) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in SWAPPING_ORIENTATIONS else size


def _bands(height: int, width: int) -> Iterator[tuple[int, int]]:
    rows = max(1, _BAND_BYTES // (4 * max(width, 1)))
    for top in range(0, height, rows):
        yield top, min(height, top + rows)


def alpha_in_use(im: Image.Image) -> bool:
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


def render(
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
        big = render(src, mode, src.size, flatten=flatten).resize(size, Image.Resampling.LANCZOS)
        return big if method is None else big.transpose(method)
    width, height = size
    out = Image.new(mode, displayed_size(size, orientation))
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


def fit(size: tuple[int, int], pixels: int) -> tuple[int, int]:
    """``size`` scaled down (aspect kept) to at most ``pixels``; ``size`` if it fits."""
    w, h = size
    if w * h <= pixels:
        return size
    factor = math.sqrt(pixels / (w * h))
    new = max(1, math.floor(w * factor)), max(1, math.floor(h * factor))
    while new[0] * new[1] > pixels:  # rounding
        new = max(1, new[0] - 1), max(1, new[1] - 1)
    return new
