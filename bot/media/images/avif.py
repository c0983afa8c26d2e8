"""An AVIF read without decoding it: its ISO-BMFF boxes, then the AV1 sequence header of every
image item. libavif decodes the AV1 payload at the size its bitstream says, whatever the
container declares, so each item must fit the declared size; grids, overlays and image
sequences are refused. Also what decoding one holds besides the image (its YUV planes)."""

from __future__ import annotations

from bot.media.images.errors import ImageError, corrupt, dims
from bot.media.images.formats import accepted, u32be

_MAX_BOXES = 4_096
# The sequence header comes first in an AV1 item; this much of each item is enough to find it.
_AV1_HEAD = 64 * 1024


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, end) of the boxes in ``data[start:end]``."""
    found: list[tuple[bytes, int, int]] = []
    pos = start
    while pos + 8 <= end:
        size, kind, header = u32be(data, pos), data[pos + 4 : pos + 8], 8
        if size == 1:
            size, header = int.from_bytes(data[pos + 8 : pos + 16], "big"), 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end or len(found) >= _MAX_BOXES:
            raise corrupt("AVIF")
        found.append((kind, pos + header, pos + size))
        pos += size
    return found


def _first(boxes: list[tuple[bytes, int, int]], kind: bytes) -> tuple[int, int] | None:
    for k, start, end in boxes:
        if k == kind:
            return start, end
    return None


class _Reader:
    """Big-endian fields from ``data`` starting at ``pos``; running off ``end`` is corrupt."""

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data, self.pos, self.end = data, pos, end

    def int(self, size: int) -> int:
        if self.pos + size > self.end:
            raise corrupt("AVIF")
        value = int.from_bytes(self.data[self.pos : self.pos + size], "big")
        self.pos += size
        return value


class _Bits:
    """The bit reader of the AV1 specification (most significant bit first)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def f(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise corrupt("AVIF")
            value = (value << 1) | ((self.data[byte] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value

    def uvlc(self) -> int:
        zeros = 0
        while not self.f(1):
            zeros += 1
            if zeros >= 32:
                raise corrupt("AVIF")
        return self.f(zeros) + (1 << zeros) - 1


def _av1_max_frame(sequence_header: bytes) -> tuple[int, int]:
    """max_frame_width/height from an AV1 sequence header OBU payload (AV1 spec 5.5.1)."""
    b = _Bits(sequence_header)
    b.f(3)  # seq_profile
    b.f(1)  # still_picture
    if b.f(1):  # reduced_still_picture_header
        b.f(5)  # seq_level_idx[0]
    else:
        decoder_model = False
        delay_bits = 0
        if b.f(1):  # timing_info_present_flag
            b.f(32)
            b.f(32)
            if b.f(1):  # equal_picture_interval
                b.uvlc()
            decoder_model = bool(b.f(1))
            if decoder_model:
                delay_bits = b.f(5) + 1
                b.f(32)
                b.f(5)
                b.f(5)
        initial_display_delay = bool(b.f(1))
        for _ in range(b.f(5) + 1):  # operating points
            b.f(12)
            if b.f(5) > 7:  # seq_level_idx
                b.f(1)  # seq_tier
            if decoder_model and b.f(1):
                b.f(delay_bits)
                b.f(delay_bits)
                b.f(1)
            if initial_display_delay and b.f(1):
                b.f(4)
    width_bits = b.f(4) + 1
    height_bits = b.f(4) + 1
    return b.f(width_bits) + 1, b.f(height_bits) + 1


def _av1_frame_limit(payload: bytes) -> tuple[int, int] | None:
    """The largest frame the AV1 data in ``payload`` may decode to, from its sequence header."""
    pos = 0
    while pos < len(payload):
        header = payload[pos]
        kind, has_extension, has_size = (header >> 3) & 0x0F, header & 0x04, header & 0x02
        pos += 2 if has_extension else 1
        if has_size:
            size = shift = 0
            for _ in range(8):  # leb128
                if pos >= len(payload):
                    return None
                byte = payload[pos]
                pos += 1
                size |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
        else:
            size = len(payload) - pos
        if kind == 1:  # OBU_SEQUENCE_HEADER
            return _av1_max_frame(payload[pos : pos + size])
        if kind in (3, 4, 6):  # a frame before any sequence header
            return None
        pos += size
    return None


def _avif_item_head(data: bytes, extents: list[tuple[int, int]], base: int, end: int) -> bytes:
    """The first ``_AV1_HEAD`` bytes of an item stored in ``extents`` (offsets from ``base``)."""
    head = bytearray()
    for offset, length in extents:
        start = base + offset
        stop = end if length == 0 else start + length
        if start > end or stop > end:
            raise corrupt("AVIF")
        head += data[start : min(stop, start + _AV1_HEAD - len(head))]
        if len(head) >= _AV1_HEAD:
            break
    return bytes(head)


def avif_size(data: bytes) -> tuple[int, int, float]:
    """The size an AVIF declares for its primary image, once every AV1 image item in the file
    has been checked to decode to no more than that, and what decoding it holds besides the
    image, in bytes per pixel."""
    top = _boxes(data, 0, len(data))
    if _first(top, b"moov") is not None:
        raise ImageError("avif_animated", accepted=accepted())
    meta = _first(top, b"meta")
    if meta is None:
        raise corrupt("AVIF")
    boxes = _boxes(data, meta[0] + 4, meta[1])
    pitm, iinf, iloc, iprp = (_first(boxes, k) for k in (b"pitm", b"iinf", b"iloc", b"iprp"))
    if pitm is None or iinf is None or iloc is None or iprp is None:
        raise corrupt("AVIF")
    r = _Reader(data, pitm[0], pitm[1])
    primary = r.int(2 if r.int(4) >> 24 == 0 else 4)

    # iinf: item id -> item type
    r = _Reader(data, iinf[0], iinf[1])
    version = r.int(4) >> 24
    r.int(2 if version == 0 else 4)
    types: dict[int, bytes] = {}
    for kind, start, end in _boxes(data, r.pos, iinf[1]):
        if kind != b"infe" or data[start] < 2:
            continue
        e = _Reader(data, start, end)
        infe_version = e.int(4) >> 24
        item = e.int(2 if infe_version == 2 else 4)
        e.int(2)  # item_protection_index
        types[item] = data[e.pos : e.pos + 4]
    primary_type = types.get(primary)
    if primary_type != b"av01":
        layout = {b"grid": "grid", b"iovl": "overlay"}.get(primary_type or b"")
        raise ImageError("avif_layout", shape=layout)

    # iloc: item id -> (construction method, extents)
    r = _Reader(data, iloc[0], iloc[1])
    version = r.int(4) >> 24
    sizes = r.int(2)
    offset_size, length_size = sizes >> 12, (sizes >> 8) & 0x0F
    base_size, index_size = (sizes >> 4) & 0x0F, (sizes & 0x0F) if version in (1, 2) else 0
    locations: dict[int, tuple[int, list[tuple[int, int]]]] = {}
    for _ in range(r.int(2 if version < 2 else 4)):
        item = r.int(2 if version < 2 else 4)
        method = r.int(2) & 0x0F if version in (1, 2) else 0
        r.int(2)  # data_reference_index
        base = r.int(base_size)
        extents = []
        for _ in range(r.int(2)):
            r.int(index_size)
            extents.append((base + r.int(offset_size), r.int(length_size)))
        locations[item] = (method, extents)

    # iprp: the primary item's ispe (declared size)
    props = _boxes(data, iprp[0], iprp[1])
    ipco, ipma = _first(props, b"ipco"), _first(props, b"ipma")
    if ipco is None or ipma is None:
        raise corrupt("AVIF")
    properties = _boxes(data, ipco[0], ipco[1])
    r = _Reader(data, ipma[0], ipma[1])
    header = r.int(4)
    version, wide = header >> 24, header & 1
    declared: tuple[int, int] | None = None
    sample_bytes: dict[int, float] = {}  # item -> bytes per pixel of its decoded YUV planes
    for _ in range(r.int(4)):
        item = r.int(2 if version < 1 else 4)
        for _ in range(r.int(1)):
            index = r.int(2) & 0x7FFF if wide else r.int(1) & 0x7F
            if not 0 < index <= len(properties):
                continue
            prop, start, end = properties[index - 1]
            if prop == b"ispe" and item == primary:
                p = _Reader(data, start, end)
                p.int(4)
                declared = (p.int(4), p.int(4))
            elif prop == b"av1C" and end - start >= 3:
                bits = data[start + 2]  # high_bitdepth, twelve_bit, monochrome, subsampling x/y
                planes = (
                    1.0 if bits & 0x10 else 1 + 2 / ((1 + (bits >> 3 & 1)) * (1 + (bits >> 2 & 1)))
                )
                sample_bytes[item] = planes * (2 if bits & 0x40 else 1)
    if declared is None:
        raise corrupt("AVIF")

    idat = _first(boxes, b"idat")
    yuv = 0.0
    for item, item_type in types.items():
        if item_type != b"av01":
            continue
        if item not in locations:
            raise corrupt("AVIF")
        method, extents = locations[item]
        if method == 0:
            head = _avif_item_head(data, extents, 0, len(data))
        elif method == 1 and idat is not None:
            head = _avif_item_head(data, extents, idat[0], idat[1])
        else:
            raise corrupt("AVIF")
        limit = _av1_frame_limit(head)
        if limit is None:
            raise corrupt("AVIF")
        if limit[0] > declared[0] or limit[1] > declared[1]:
            raise ImageError("avif_inside", declared=dims(declared), inside=dims(limit))
        yuv += sample_bytes.get(item, 6.0) * limit[0] * limit[1]
    # Measured with Pillow 13 and libavif 1.4: the planes twice (libavif's and the AV1
    # decoder's), then an RGB copy and the bytes handed to Pillow.
    return declared[0], declared[1], 2 * yuv / (declared[0] * declared[1]) + 4.5
