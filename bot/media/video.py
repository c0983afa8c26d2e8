"""Video files: the last frame of a segment, what a file holds, and joining segments into one.

Everything here is synchronous and CPU-bound, with PyAV (FFmpeg's libraries, bundled in its
wheels; no ``ffmpeg`` program, no subprocess). Callers run it in a worker thread.

Joining segments: segment ``k + 1`` of a long storyboard starts from the last frame of segment
``k``, so that frame would show twice. ``join`` drops the first frame of every later segment.
A first frame is a keyframe that the rest of its group of pictures is predicted from, so it
cannot be left out of a stream that is copied as it is; and a re-encoded first group could not
share the file's one set of H.264 parameters (an MP4 track has a single ``avcC``). So:

- dropping frames (the default) decodes every segment and encodes the result once (H.264,
  yuv420p, AAC): the frame count is exact, at the cost of one encode;
- ``drop_first=False`` copies the packets of segments whose streams match (codec, size, pixel
  format, time base, codec parameters, and the audio's), with their timestamps moved along, and
  re-encodes only when they do not.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.audio.frame import AudioFrame
from av.video.frame import PictureType, VideoFrame
from PIL import Image

#: What a re-encode produces. CRF 18 is visually lossless for H.264; "fast" keeps it quick.
VIDEO_ENCODERS = ("libx264", "h264")
VIDEO_OPTIONS = {"crf": "18", "preset": "fast"}
PIX_FMT = "yuv420p"
AUDIO_ENCODER = "aac"
AUDIO_FORMAT = "fltp"  # what FFmpeg's AAC encoder takes
AUDIO_BIT_RATE = 128_000
DEFAULT_FPS = Fraction(24)

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class VideoInfo:
    """What an mp4 holds: its video stream, and its audio stream when it has one."""

    codec: str  # FFmpeg's name: "h264", "mpeg4", ...
    width: int
    height: int
    pix_fmt: str
    fps: Fraction
    frames: int  # video frames (packets of the video stream: one frame each in mp4)
    duration: float  # seconds of video
    time_base: Fraction
    has_audio: bool
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None


@dataclass(frozen=True)
class _Scan:
    info: VideoInfo
    start: Fraction  # seconds: the first video frame's time
    end: Fraction  # seconds: when the last video frame ends
    video_key: tuple[Any, ...]  # what must be equal for packets to be copied together
    audio_key: tuple[Any, ...] | None


def probe(path: PathLike) -> VideoInfo:
    """Codec, size, frame rate, frame count, duration and audio of the video at ``path``."""
    return _scan(path).info


def last_frame(path: PathLike) -> Image.Image:
    """The last video frame of ``path``, decoded exactly, as an RGB image.

    Seeks to the last keyframe at or before the end (however far before it is), decodes
    forward to the end and keeps the latest frame; if that yields nothing, decodes it all.
    """
    with av.open(os.fspath(path)) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        latest = None
        if stream.duration is not None:
            end = (stream.start_time or 0) + stream.duration
            with contextlib.suppress(av.FFmpegError):
                container.seek(end, stream=stream, backward=True)
                latest = _latest(container.decode(stream))
        if latest is None:
            container.seek(0, backward=True)
            latest = _latest(container.decode(stream))
        if latest is None:
            raise ValueError(f"{os.fspath(path)}: no video frame could be decoded")
        return latest.to_image()


def join(paths: Sequence[PathLike], out: PathLike, *, drop_first: bool = True) -> VideoInfo:
    """Join the videos at ``paths``, in order, into one mp4 at ``out``.

    With ``drop_first`` the first frame of every video after the first is left out (it repeats
    the previous video's last frame), and its audio with it. The audio is kept when any input
    has some (silence where one has none). ``out`` is written whole or not at all.
    """
    if not paths:
        raise ValueError("nothing to join")
    scans = [_scan(p) for p in paths]
    target = Path(out)
    part = target.with_name(f".{target.name}.part")
    try:
        copied = False
        if _can_copy(scans, drop_first):
            try:
                _remux(paths, scans, part)
                copied = True
            except av.FFmpegError:
                pass  # e.g. timestamps that cannot follow on: encode instead
        if not copied:
            _reencode(paths, scans, part, drop_first=drop_first)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return probe(target)


# --------------------------------------------------------------------------- reading


def _video_stream(container: Any, path: PathLike) -> Any:
    if not container.streams.video:
        raise ValueError(f"{os.fspath(path)}: no video stream")
    return container.streams.video[0]


def _latest(frames: Iterator[VideoFrame]) -> VideoFrame | None:
    latest = None
    for frame in frames:
        if latest is None or (frame.pts or 0) >= (latest.pts or 0):
            latest = frame
    return latest


def _scan(path: PathLike) -> _Scan:
    with av.open(os.fspath(path)) as container:
        v = _video_stream(container, path)
        a = container.streams.audio[0] if container.streams.audio else None
        vtb = Fraction(v.time_base)
        count = 0
        first = last = None
        for packet in container.demux(v):
            if packet.size == 0 or packet.pts is None:
                continue
            count += 1
            first = packet.pts if first is None else min(first, packet.pts)
            end = packet.pts + (packet.duration or 0)
            last = end if last is None else max(last, end)
        cc = v.codec_context
        fps = Fraction(v.average_rate or v.guessed_rate or v.base_rate or DEFAULT_FPS)
        if first is None or last is None:
            start, end_s = Fraction(0), Fraction(0)
        else:
            start, end_s = first * vtb, last * vtb
            if last == first and count:  # no packet durations: assume one frame each
                end_s = start + count / fps
        info = VideoInfo(
            codec=cc.name,
            width=cc.width,
            height=cc.height,
            pix_fmt=cc.pix_fmt or "",
            fps=fps,
            frames=count,
            duration=float(end_s - start),
            time_base=vtb,
            has_audio=a is not None,
            audio_codec=a.codec_context.name if a is not None else None,
            sample_rate=a.codec_context.sample_rate if a is not None else None,
            channels=a.codec_context.channels if a is not None else None,
        )
        video_key = (cc.name, cc.width, cc.height, cc.pix_fmt, vtb, cc.profile, cc.extradata)
        audio_key = None
        if a is not None:
            ac = a.codec_context
            audio_key = (
                ac.name,
                ac.sample_rate,
                ac.layout.name,
                ac.format.name if ac.format else None,
                Fraction(a.time_base) if a.time_base is not None else None,
                ac.extradata,
            )
        return _Scan(info, start, end_s, video_key, audio_key)


# --------------------------------------------------------------------------- copying


def _can_copy(scans: Sequence[_Scan], drop_first: bool) -> bool:
    if drop_first and len(scans) > 1:
        return False  # a first frame cannot be dropped from copied packets (see above)
    head = scans[0]
    return all(s.video_key == head.video_key and s.audio_key == head.audio_key for s in scans)


def _remux(paths: Sequence[PathLike], scans: Sequence[_Scan], part: Path) -> None:
    """Copy every packet, each video's timestamps moved to follow the previous video's end."""
    with av.open(os.fspath(paths[0])) as template:
        with av.open(str(part), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            ov = out.add_stream_from_template(template.streams.video[0])
            oa = (
                out.add_stream_from_template(template.streams.audio[0])
                if template.streams.audio
                else None
            )
            offset = Fraction(0)  # where this video starts in the output, in seconds
            last_audio_dts: int | None = None
            for path, scan in zip(paths, scans, strict=True):
                with av.open(os.fspath(path)) as container:
                    v = container.streams.video[0]
                    a = container.streams.audio[0] if container.streams.audio else None
                    shift_s = offset - scan.start
                    streams = [v] if a is None else [v, a]
                    for packet in container.demux(*streams):
                        if packet.size == 0 or packet.dts is None or packet.pts is None:
                            continue
                        tb = Fraction(packet.time_base)
                        shift = round(shift_s / tb)
                        if packet.stream.type == "audio":
                            # The audio stops where the video stops, so the next video's
                            # audio starts on time; timestamps must keep increasing.
                            if packet.pts * tb >= scan.end:
                                continue
                            dts = packet.dts + shift
                            if last_audio_dts is not None and dts <= last_audio_dts:
                                continue
                            last_audio_dts = dts
                            # Audio packets exist only where the first video has audio too
                            # (_can_copy compares every video's audio with the first's).
                            assert oa is not None
                            packet.stream = oa
                        else:
                            packet.stream = ov
                        packet.pts += shift
                        packet.dts += shift
                        out.mux(packet)
                offset += scan.end - scan.start


# --------------------------------------------------------------------------- encoding


def _reencode(
    paths: Sequence[PathLike], scans: Sequence[_Scan], part: Path, *, drop_first: bool
) -> None:
    head = scans[0].info
    fps = head.fps
    width, height = head.width - head.width % 2, head.height - head.height % 2
    with_audio = next((s.info for s in scans if s.info.has_audio), None)
    with av.open(str(part), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        ov = _video_encoder(out, fps, width, height)
        audio = _AudioOut(out, with_audio) if with_audio is not None else None
        index = 0  # frames written so far
        for k, (path, scan) in enumerate(zip(paths, scans, strict=True)):
            skip = 1 if drop_first and k > 0 else 0
            with av.open(os.fspath(path)) as container:
                v = container.streams.video[0]
                v.thread_type = "AUTO"
                a = container.streams.audio[0] if container.streams.audio else None
                pending = audio.segment(a) if audio is not None else None
                streams = [v] if a is None else [v, a]
                for packet in container.demux(*streams):
                    for frame in packet.decode():
                        if isinstance(frame, AudioFrame):
                            if pending is not None:
                                pending.add(frame)
                            continue
                        if not isinstance(frame, VideoFrame):
                            continue  # subtitles: not kept
                        if skip:
                            skip -= 1
                            continue
                        _encode_video(out, ov, frame, index, fps, width, height)
                        index += 1
                if audio is not None and pending is not None:
                    drop = Fraction(1, 1) / scan.info.fps if drop_first and k > 0 else 0
                    audio.write(pending, until=Fraction(index) / fps, skip=drop)
        for packet in ov.encode(None):
            out.mux(packet)
        if audio is not None:
            audio.close()


def _video_encoder(out: Any, fps: Fraction, width: int, height: int) -> Any:
    for name in VIDEO_ENCODERS:
        try:
            stream = out.add_stream(name, rate=fps)
        except (av.FFmpegError, ValueError):
            continue
        stream.width, stream.height, stream.pix_fmt = width, height, PIX_FMT
        if name == "libx264":
            stream.options = dict(VIDEO_OPTIONS)
        return stream
    raise RuntimeError("this FFmpeg build has no H.264 encoder")


def _encode_video(
    out: Any, stream: Any, frame: VideoFrame, index: int, fps: Fraction, width: int, height: int
) -> None:
    picture = frame.reformat(width=width, height=height, format=PIX_FMT)
    picture.pts = index
    picture.time_base = 1 / fps
    picture.pict_type = PictureType.NONE  # the encoder places its own keyframes
    for packet in stream.encode(picture):
        out.mux(packet)


class _Pending:
    """One video's audio, converted to the output's format, until it is written."""

    def __init__(self, resampler: Any | None, rate: int) -> None:
        self.resampler = resampler
        self.fifo = av.AudioFifo()
        self.rate = rate

    def add(self, frame: AudioFrame) -> None:
        if self.resampler is None:
            return
        for converted in self.resampler.resample(frame):
            converted.pts = None
            self.fifo.write(converted)

    def finish(self) -> None:
        if self.resampler is not None:
            for converted in self.resampler.resample(None):
                converted.pts = None
                self.fifo.write(converted)
            self.resampler = None


class _AudioOut:
    """The output's AAC track: every video's audio, cut or padded to that video's length."""

    def __init__(self, out: Any, like: VideoInfo) -> None:
        self.out = out
        self.rate = like.sample_rate or 48_000
        self.layout = "mono" if like.channels == 1 else "stereo"
        channels = 1 if self.layout == "mono" else 2
        self.stream = out.add_stream(AUDIO_ENCODER, rate=self.rate, layout=self.layout)
        self.stream.format = AUDIO_FORMAT
        self.stream.bit_rate = min(AUDIO_BIT_RATE, 4 * self.rate * channels)
        self.fifo = av.AudioFifo()
        self.written = 0  # samples given to the fifo so far (the output's audio clock)
        self.encoded = 0  # samples encoded so far

    def segment(self, stream: Any | None) -> _Pending:
        resampler = (
            av.AudioResampler(format=AUDIO_FORMAT, layout=self.layout, rate=self.rate)
            if stream is not None
            else None
        )
        return _Pending(resampler, self.rate)

    def write(self, pending: _Pending, *, until: Fraction, skip: Fraction | int) -> None:
        """Add ``pending`` so the audio ends at ``until`` seconds, after dropping ``skip`` s."""
        pending.finish()
        drop = round(skip * self.rate)
        if drop and pending.fifo.samples:
            pending.fifo.read(min(drop, pending.fifo.samples), partial=True)
        want = round(until * self.rate) - self.written
        if want <= 0:
            return
        have = min(want, pending.fifo.samples)
        if have:
            chunk = pending.fifo.read(have, partial=True)
            if chunk is not None:
                chunk.pts = None
                self._put(chunk)
        if want > have:
            self._put(self._silence(want - have))
        self._drain(final=False)

    def close(self) -> None:
        self._drain(final=True)
        for packet in self.stream.encode(None):
            self.out.mux(packet)

    def _put(self, frame: AudioFrame) -> None:
        self.fifo.write(frame)
        self.written += frame.samples

    def _silence(self, samples: int) -> AudioFrame:
        frame = AudioFrame(format=AUDIO_FORMAT, layout=self.layout, samples=samples)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate = self.rate
        return frame

    def _drain(self, *, final: bool) -> None:
        size = self.stream.codec_context.frame_size or 1024
        while self.fifo.samples >= size or (final and self.fifo.samples):
            frame = self.fifo.read(size, partial=final)
            if frame is None:
                break
            frame.pts = self.encoded
            frame.time_base = Fraction(1, self.rate)
            frame.sample_rate = self.rate
            self.encoded += frame.samples
            for packet in self.stream.encode(frame):
                self.out.mux(packet)
