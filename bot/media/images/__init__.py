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

The package, one concern a module: ``formats`` (judged by content), ``jpeg`` and ``avif`` (their
structure, read without decoding), ``headers`` (format and size before Pillow), ``budget``
(the memory plan), ``decode`` (Pillow and its bomb limits), ``render`` (band-by-band pixels),
``encode``, ``reencode`` (shrinking to fit), ``prepare`` (``prepare_image``), ``slots`` (the
async wrapper and its limit), ``fetch`` (``fetch_image``), ``reuse`` (images already
prepared), ``spec``, ``prepared`` and ``errors`` (what goes in and out). Everything public is
imported from here. A limit is read where it is defined, so a test changes it there
(``bot.media.images.budget.MEMORY_BUDGET``): rebinding a name of this package raises.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from bot.media.images.budget import MAX_WORK_PIXELS, MEMORY_BUDGET
from bot.media.images.decode import sniff_format
from bot.media.images.errors import ImageError
from bot.media.images.fetch import fetch_image
from bot.media.images.formats import ACCEPTED_FORMATS
from bot.media.images.headers import MAX_PIXELS
from bot.media.images.jpeg import MAX_JPEG_SCANS
from bot.media.images.prepare import prepare_image
from bot.media.images.prepared import ImageChange, PreparedImage
from bot.media.images.reencode import FALLBACK_QUALITIES, JPEG_QUALITY, MAX_DOWNSCALE_STEPS
from bot.media.images.reuse import reuse_prepared, shrink_to_fit
from bot.media.images.slots import MAX_CONCURRENT_PREPARATIONS, prepare_image_async
from bot.media.images.spec import ImageSpec

__all__ = [
    "ACCEPTED_FORMATS",
    "FALLBACK_QUALITIES",
    "JPEG_QUALITY",
    "MAX_CONCURRENT_PREPARATIONS",
    "MAX_DOWNSCALE_STEPS",
    "MAX_JPEG_SCANS",
    "MAX_PIXELS",
    "MAX_WORK_PIXELS",
    "MEMORY_BUDGET",
    "ImageChange",
    "ImageError",
    "ImageSpec",
    "PreparedImage",
    "fetch_image",
    "prepare_image",
    "prepare_image_async",
    "reuse_prepared",
    "shrink_to_fit",
    "sniff_format",
]


class _Package(types.ModuleType):
    """Refuses to rebind a name re-exported here: the modules read their own copy, so a
    ``monkeypatch.setattr(bot.media.images, "MEMORY_BUDGET", ...)`` would change nothing. Set it
    on the module that reads it (``bot.media.images.budget``) instead."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in __all__:
            current = getattr(self, name)
            where = getattr(current, "__module__", None) or _CONSTANTS[name]
            raise AttributeError(
                f"bot.media.images.{name} is a re-export of {where}.{name}: set it on the "
                "module that reads it"
            )
        super().__setattr__(name, value)


_CONSTANTS = {
    "ACCEPTED_FORMATS": "bot.media.images.formats",
    "FALLBACK_QUALITIES": "bot.media.images.reencode",
    "JPEG_QUALITY": "bot.media.images.reencode",
    "MAX_CONCURRENT_PREPARATIONS": "bot.media.images.slots",
    "MAX_DOWNSCALE_STEPS": "bot.media.images.reencode",
    "MAX_JPEG_SCANS": "bot.media.images.jpeg",
    "MAX_PIXELS": "bot.media.images.headers",
    "MAX_WORK_PIXELS": "bot.media.images.budget",
    "MEMORY_BUDGET": "bot.media.images.budget",
}

sys.modules[__name__].__class__ = _Package
