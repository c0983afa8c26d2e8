"""``prepare_image``: a member's image validated against a spec and passed through untouched,
or decoded within the memory plan and handed to the re-encoder. Every check that can be made
on the file's own header is made before Pillow decodes a pixel."""

from __future__ import annotations

from bot.domain.errors import Ref
from bot.media.images import budget
from bot.media.images.budget import plan_decode
from bot.media.images.decode import PNG_ORIENTATION_TAGS, exif_orientation, load_image, open_image
from bot.media.images.errors import ImageError, corrupt, dims, fmt_mb
from bot.media.images.formats import (
    ACCEPTED_FORMATS,
    OUTPUT_FORMATS,
    accepted,
    describe_non_image,
    identify,
    normalise_format,
)
from bot.media.images.headers import Header, check_pixels, read_header
from bot.media.images.prepared import PreparedImage
from bot.media.images.reencode import Source, reencode
from bot.media.images.render import displayed_size
from bot.media.images.spec import ImageSpec, aspect_error, upscaled_size


def prepare_image(data: bytes, spec: ImageSpec) -> PreparedImage:
    """Validate ``data`` against ``spec`` and return it untouched or re-encoded to fit.

    Raises ImageError with a user-facing message when the image can't be used.
    """
    original_size = len(data)
    if original_size > spec.max_input_bytes:
        raise ImageError(
            "file_too_large", size=fmt_mb(original_size), max=fmt_mb(spec.max_input_bytes)
        )
    if not data:
        raise ImageError("empty")
    fmt = identify(data)
    if fmt is None:
        raise ImageError("not_image", what=Ref(f"image.kind.{describe_non_image(data)}"))
    if fmt not in ACCEPTED_FORMATS:
        raise ImageError("format", format=fmt, accepted=accepted())

    # Everything up to the decode is judged on headers alone.
    header = read_header(fmt, data)
    check_pixels(header.width, header.height, fmt)
    if fmt == "WEBP":
        # libwebp allocates its canvases as soon as Pillow opens the file: cost it first (at
        # 4 bytes a pixel, RGB or RGBA alike), as passed through if its format and size allow.
        untouched = (
            fmt in spec.formats
            and original_size <= spec.max_bytes
            and min(header.width, header.height) >= spec.min_side
        )
        plan_decode(header, "RGBA", reencode=not untouched, out_limit=spec.max_bytes)
    im = open_image(data, fmt)
    if im.size != (header.width, header.height):
        # Pillow widens a GIF whose first frame overflows its screen; any other mismatch means
        # the frame Pillow would decode is not the one that was checked.
        if fmt != "GIF" or im.width < header.width or im.height < header.height:
            raise corrupt(fmt)
        header = Header(fmt, im.width, im.height)
        check_pixels(im.width, im.height, fmt)
    raw_format = im.format or fmt
    original_format = normalise_format(raw_format) or raw_format
    animated = bool(getattr(im, "is_animated", False)) and raw_format != "MPO"
    try:
        im.seek(0)
    except EOFError as exc:
        raise corrupt(fmt) from exc
    orientation = exif_orientation(im, decoded=False)
    if orientation is None and not any(tag in data for tag in PNG_ORIENTATION_TAGS):
        orientation = 1  # no EXIF or XMP anywhere in the PNG, so nothing can turn it
    width, height = displayed_size(im.size, orientation)
    aspect = aspect_error(width, height, spec)
    if aspect is not None and (
        orientation is not None or aspect_error(height, width, spec) is not None
    ):
        raise aspect

    upscale = upscaled_size((width, height), spec.min_side)
    if upscale is not None and upscale[0] * upscale[1] > budget.MAX_WORK_PIXELS:
        raise ImageError("enlarge", size=dims((width, height)), min=spec.min_side)
    passthrough = (
        original_format in spec.formats
        and original_format in OUTPUT_FORMATS
        and original_size <= spec.max_bytes
        and upscale is None
        and not animated
    )
    plan = plan_decode(
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
    load_image(im, fmt)
    if orientation is None:  # a PNG whose EXIF came after its pixels
        orientation = exif_orientation(im, decoded=True) or 1
        width, height = displayed_size((header.width, header.height), orientation)
        aspect = aspect_error(width, height, spec)
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

    source = Source(
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
    del im  # the source owns the decoded image now, so reencode can free it early
    return reencode(source, spec, plan, upscale)
