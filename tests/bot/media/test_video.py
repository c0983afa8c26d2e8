"""bot.media.video: last frames, probing and joining, on tiny mp4 files made here with PyAV."""

from __future__ import annotations

import math
from array import array
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image

from bot.media.video import VideoInfo, join, last_frame, probe

SIZE = 64
FPS = 10
RATE = 16_000  # audio: small and quick to encode

RED = (220, 30, 30)
GREEN = (30, 200, 30)
BLUE = (30, 30, 220)
YELLOW = (230, 220, 30)
MAGENTA = (210, 30, 210)
CYAN = (30, 210, 210)
WHITE = (235, 235, 235)
BLACK = (16, 16, 16)
PALETTE = (RED, GREEN, BLUE, YELLOW, MAGENTA, CYAN, WHITE, BLACK)


def make_mp4(
    path: Path,
    colours: list[tuple[int, int, int]],
    *,
    size: tuple[int, int] = (SIZE, SIZE),
    codec: str = "libx264",
    gop: int = 4,
    audio: bool = False,
) -> Path:
    """One solid colour per frame, at FPS; with ``audio``, a tone as long as the video."""
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream(codec, rate=FPS)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        video.codec_context.gop_size = gop
        if codec == "libx264":
            # B-frames, as a real encoder makes them: decode order differs from display order.
            video.options = {"preset": "veryfast", "bframes": "2"}
        sound = out.add_stream("aac", rate=RATE, layout="mono") if audio else None
        for i, colour in enumerate(colours):
            frame = av.VideoFrame.from_image(Image.new("RGB", size, colour))
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if sound is not None:
            total = len(colours) * RATE // FPS
            for start in range(0, total, 1024):
                n = min(1024, total - start)
                tone = array(
                    "f", (0.3 * math.sin(2 * math.pi * 440 * (start + t) / RATE) for t in range(n))
                )
                frame = av.AudioFrame(format="flt", layout="mono", samples=n)
                frame.planes[0].update(tone.tobytes())
                frame.sample_rate = RATE
                frame.pts = start
                for packet in sound.encode(frame):
                    out.mux(packet)
            for packet in sound.encode(None):
                out.mux(packet)
    return path


def nearest(rgb: tuple[int, ...]) -> tuple[int, int, int]:
    return min(PALETTE, key=lambda c: sum((a - b) ** 2 for a, b in zip(c, rgb, strict=True)))


def close(rgb: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 16) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(rgb, colour, strict=True))


def centre(image: Image.Image) -> tuple[int, ...]:
    return image.convert("RGB").getpixel((image.width // 2, image.height // 2))


def colours_of(path: Path) -> list[tuple[int, int, int]]:
    """Every frame of ``path``, decoded, as its palette colour."""
    with av.open(str(path)) as container:
        return [nearest(centre(f.to_image())) for f in container.decode(video=0)]


def audio_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        samples = sum(f.samples for f in container.decode(audio=0))
        return samples / container.streams.audio[0].codec_context.sample_rate


def reordered(path: Path) -> bool:
    """Whether some frame is decoded before it is shown (a B-frame stream)."""
    with av.open(str(path)) as container:
        return any(p.pts != p.dts for p in container.demux(video=0) if p.size)


def video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.size]


def segment(n: int, body: tuple[int, int, int], end: tuple[int, int, int]) -> list:
    return [body] * (n - 1) + [end]


@pytest.fixture
def three(tmp_path: Path) -> list[Path]:
    """Three matching segments: 10, 8 and 12 frames, each ending in its own colour."""
    return [
        make_mp4(tmp_path / "a.mp4", segment(10, RED, YELLOW)),
        make_mp4(tmp_path / "b.mp4", segment(8, GREEN, MAGENTA)),
        make_mp4(tmp_path / "c.mp4", segment(12, BLUE, CYAN)),
    ]


def test_probe_reads_the_streams(tmp_path: Path) -> None:
    info = probe(make_mp4(tmp_path / "a.mp4", segment(10, RED, YELLOW), audio=True))
    assert isinstance(info, VideoInfo)
    assert (info.codec, info.width, info.height, info.pix_fmt) == ("h264", 64, 64, "yuv420p")
    assert info.fps == Fraction(10) and info.frames == 10
    assert info.duration == pytest.approx(1.0)
    assert info.has_audio and info.audio_codec == "aac"
    assert info.sample_rate == RATE and info.channels == 1
    silent = probe(make_mp4(tmp_path / "b.mp4", [GREEN] * 8))
    assert not silent.has_audio and silent.audio_codec is None and silent.frames == 8


def test_last_frame_decodes_to_the_end_whatever_the_keyframes(tmp_path: Path) -> None:
    colours = segment(12, RED, YELLOW)
    # One keyframe only (the interval is longer than the file), and one every 4 frames.
    far = make_mp4(tmp_path / "far.mp4", colours, gop=100)
    near = make_mp4(tmp_path / "near.mp4", colours, gop=4)
    for path in (far, near):
        assert reordered(path)
        image = last_frame(path)
        assert image.size == (SIZE, SIZE) and image.mode == "RGB"
        assert close(centre(image), YELLOW), centre(image)
        with av.open(str(path)) as container:
            decoded = [f.to_image() for f in container.decode(video=0)]
        assert image.tobytes() == decoded[-1].tobytes()  # exactly the last frame
    one = make_mp4(tmp_path / "one.mp4", [MAGENTA])
    assert close(centre(last_frame(one)), MAGENTA)


def test_join_of_matching_segments_drops_each_later_first_frame(
    three: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "joined.mp4"
    info = join(three, out)
    assert info.frames == 10 + 8 + 12 - 2
    assert info.duration == pytest.approx(28 / FPS)
    assert (info.width, info.height, info.codec, info.fps) == (64, 64, "h264", Fraction(10))
    expected = segment(10, RED, YELLOW) + segment(8, GREEN, MAGENTA)[1:]
    expected += segment(12, BLUE, CYAN)[1:]
    assert colours_of(out) == expected
    assert not info.has_audio
    assert not list(tmp_path.glob(".*part"))


def test_join_without_dropping_copies_matching_packets(three: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "joined.mp4"
    info = join(three, out, drop_first=False)
    assert info.frames == 30
    assert info.duration == pytest.approx(3.0)
    # Not re-encoded: the very packets of the inputs, in order.
    assert video_packets(out) == [p for path in three for p in video_packets(path)]
    assert colours_of(out) == (
        segment(10, RED, YELLOW) + segment(8, GREEN, MAGENTA) + segment(12, BLUE, CYAN)
    )


def test_join_of_mismatched_segments_reencodes(tmp_path: Path) -> None:
    parts = [
        make_mp4(tmp_path / "a.mp4", segment(9, RED, YELLOW)),
        make_mp4(tmp_path / "b.mp4", segment(10, GREEN, MAGENTA), size=(96, 64)),
        make_mp4(tmp_path / "c.mp4", segment(11, BLUE, CYAN), codec="mpeg4"),
    ]
    out = tmp_path / "joined.mp4"
    for drop, frames in ((True, 28), (False, 30)):
        info = join(parts, out, drop_first=drop)
        assert info.frames == frames
        assert info.duration == pytest.approx(frames / FPS)
        assert (info.codec, info.width, info.height, info.pix_fmt) == (
            "h264",
            64,
            64,
            "yuv420p",
        )
        colours = colours_of(out)
        assert colours[:9] == segment(9, RED, YELLOW)
        assert colours[-1] == CYAN and len(colours) == frames


def test_join_keeps_the_audio(tmp_path: Path) -> None:
    parts = [
        make_mp4(tmp_path / "a.mp4", segment(10, RED, YELLOW), audio=True),
        make_mp4(tmp_path / "b.mp4", segment(10, GREEN, MAGENTA), audio=True),
        make_mp4(tmp_path / "c.mp4", segment(10, BLUE, CYAN)),  # silent: filled with silence
    ]
    out = tmp_path / "joined.mp4"
    info = join(parts, out)
    assert info.frames == 28 and info.has_audio
    assert info.audio_codec == "aac" and info.sample_rate == RATE and info.channels == 1
    # As long as the video, give or take the encoder's last block of 1024 samples.
    assert audio_seconds(out) == pytest.approx(2.8, abs=1024 / RATE)
    copied = join(parts[:2], tmp_path / "copied.mp4", drop_first=False)
    assert copied.frames == 20 and copied.has_audio
    assert audio_seconds(tmp_path / "copied.mp4") == pytest.approx(2.0, abs=2 * 1024 / RATE)


def test_join_refuses_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        join([], tmp_path / "out.mp4")
