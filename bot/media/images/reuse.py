"""An image this bot already prepared: reused as it is for another spec it meets, read from its
header only (``reuse_prepared``), or made smaller for a place whose limit is lower than the
model's (``shrink_to_fit``)."""

from __future__ import annotations

from bot.media.images.errors import ImageError, fmt_size
from bot.media.images.formats import EXTENSION, identify
from bot.media.images.headers import read_header
from bot.media.images.prepared import PreparedImage
from bot.media.images.slots import prepare_image_async
from bot.media.images.spec import ImageSpec, aspect_error


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
        raise ImageError("cannot_shrink", max=fmt_size(max_bytes))
    return smaller


def reuse_prepared(data: bytes, spec: ImageSpec) -> PreparedImage | None:
    """``data`` as it is, when it already meets ``spec`` (an image this bot prepared and stored
    earlier, for a draft's revision or a job): read from its header only, never decoded again.
    None when it does not fit (another model's rules): prepare it then."""
    fmt = identify(data)
    if fmt is None or fmt not in spec.formats or fmt not in EXTENSION:
        return None
    if len(data) > spec.max_bytes:
        return None
    try:
        header = read_header(fmt, data)
    except (ImageError, ValueError, IndexError):
        return None
    width, height = header.width, header.height
    if width <= 0 or height <= 0 or min(width, height) < spec.min_side:
        return None
    if aspect_error(width, height, spec) is not None:
        return None
    return PreparedImage(
        data=data,
        format=fmt,
        width=width,
        height=height,
        original_format=fmt,
        original_size=len(data),
    )
