"""A JPEG's markers walked without decoding it: the size, sampling and scans of its first image
(an MPO's others follow it), with the refusals of JPEGs built to burn CPU or memory (endless
segments, more than ``MAX_JPEG_SCANS`` scans, lossless and hierarchical encodings)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.media.images.errors import ImageError, corrupt
from bot.media.images.formats import u16be

#: JPEGs with more scans than this are refused: each scan is one more pass over the image.
MAX_JPEG_SCANS = 100


@dataclass(frozen=True)
class JpegLayout:
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


def jpeg_layout(data: bytes) -> JpegLayout:
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
        length = u16be(data, pos + 2)
        if length < 2:
            raise corrupt("JPEG")
        if marker in _ALL_SOF:
            body = data[pos + 4 : pos + 2 + length]
            count = body[5] if len(body) > 5 else 0
            comps = body[6 : 6 + 3 * count]
            if sof is not None or count == 0 or len(comps) < 3 * count:
                raise corrupt("JPEG")
            sampling = tuple((b >> 4, b & 0x0F) for b in comps[1::3])
            if any(h == 0 or v == 0 for h, v in sampling):
                raise corrupt("JPEG")
            sof = (marker, u16be(body, 3), u16be(body, 1), sampling)
        pos += 2 + length
        if marker == 0xDA:
            scans += 1
            if scans > MAX_JPEG_SCANS:
                raise ImageError("jpeg_scans", max=MAX_JPEG_SCANS)
            found = _ENTROPY_END.search(data, pos)
            pos = found.start() if found else n
    if sof is None:
        raise corrupt("JPEG")
    marker, width, height, sampling = sof
    if marker not in _JPEG_SOF:
        raise ImageError("jpeg_lossless")
    return JpegLayout(width, height, marker, sampling, scans)
