"""Real little mp4 files for the fake kie.ai's results: one solid colour per task, a few frames
a second, as long as the task asked for, so a test can tell which task a frame came from."""

from __future__ import annotations

import io
from typing import Any

import av
from PIL import Image

FPS = 4
#: Colours far apart, in the order tasks are made (task 1 is red, task 2 green, ...).
PALETTE: tuple[tuple[int, int, int], ...] = (
    (220, 30, 30),
    (30, 200, 30),
    (30, 30, 220),
    (230, 220, 30),
    (210, 30, 210),
    (30, 210, 210),
    (235, 235, 235),
    (240, 140, 20),
)
SIZES = {"landscape": (320, 180), "portrait": (180, 320), "square": (240, 240)}


def colour_of(number: int) -> tuple[int, int, int]:
    """The colour of the ``number``-th task made (from 1)."""
    return PALETTE[(number - 1) % len(PALETTE)]


def nearest(rgb: tuple[int, ...]) -> tuple[int, int, int]:
    """The palette colour closest to ``rgb`` (a decoded pixel is never exact)."""
    return min(PALETTE, key=lambda c: sum((a - b) ** 2 for a, b in zip(c, rgb, strict=True)))


def seconds_of(body: dict[str, Any]) -> int:
    """How long the video a createTask body asks for lasts: Kling's ``duration``, Sora's
    ``n_frames`` (a string of seconds)."""
    inp = body.get("input") or {}
    if "duration" in inp:
        return int(inp["duration"])
    return int(inp.get("n_frames", 10))


def shape_of(body: dict[str, Any]) -> str:
    aspect = str((body.get("input") or {}).get("aspect_ratio", "16:9"))
    if aspect in ("9:16", "portrait"):
        return "portrait"
    if aspect == "1:1":
        return "square"
    return "landscape"


def make_video(seconds: int, colour: tuple[int, int, int], shape: str = "landscape") -> bytes:
    """An H.264 mp4 of ``seconds * FPS`` frames of one colour."""
    size = SIZES[shape]
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        picture = Image.new("RGB", size, colour)
        for i in range(seconds * FPS):
            frame = av.VideoFrame.from_image(picture)
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()
