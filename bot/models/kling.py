"""``kling-3.0-omni/image-to-video``: a live kie.ai model that takes a list of shots.

A storyboard maps onto it as ``multi_prompt`` with ``customize_multi_shots: true``. Durations
become whole seconds: the total is round(sum of the shots), at least max(3, number of shots),
at most 15, shared out by the largest remainder with every shot at least 1 s.
"""

from __future__ import annotations

from typing import Any

from bot.domain.storyboard import Limits, Storyboard, StoryboardError, fmt_tenths
from bot.media.images import ImageSpec
from bot.models.base import VideoModel

NAME = "kling-3.0-omni/image-to-video"
MAX_SECONDS = 15
MIN_SECONDS = 3
MAX_PROMPT = 3072
SUMMARY_CHARS = 1000
ASPECTS = {"landscape": "16:9", "portrait": "9:16"}
# kie.ai's published rates, credits per second (August 2026); [prices] overrides them.
DEFAULT_PER_SECOND = {"720p": 14, "1080p": 18, "4k": 67}
DEFAULT_AUDIO_PER_SECOND = {"720p": 18, "1080p": 23, "4k": 67}


def total_seconds(tenths: list[int]) -> int:
    """round(sum), half up, raised to max(3, number of shots). May exceed 15 (then refused)."""
    rounded = (sum(tenths) + 5) // 10
    return max(rounded, MIN_SECONDS, len(tenths))


def whole_seconds(tenths: list[int], total: int) -> list[int]:
    """Share ``total`` seconds in proportion to ``tenths`` by the largest remainder, >= 1 each."""
    n = len(tenths)
    if total < n:
        raise ValueError("every shot needs at least one second")
    weight = sum(tenths) or n
    parts = [t if sum(tenths) else 1 for t in tenths]
    # Exact quotas as fractions num/weight of a second, kept in integers.
    quota = [p * total for p in parts]  # in units of 1/weight seconds
    out = [max(1, q // weight) for q in quota]
    # Too much (some shots raised to 1 s): take back from the most over-served, never below 1.
    while sum(out) > total:
        i = max(
            (i for i in range(n) if out[i] > 1),
            key=lambda i: (out[i] * weight - quota[i], -i),
        )
        out[i] -= 1
    # Too little: give to the largest remainders (ties to the earlier shot).
    while sum(out) < total:
        i = max(range(n), key=lambda i: (quota[i] - out[i] * weight, -i))
        out[i] += 1
    return out


def summary_prompt(board: Storyboard) -> str:
    """The required top-level ``prompt``: a short summary made from the scenes."""
    scenes = [s.scene.strip() for s in board.shots]
    text = scenes[0] if len(scenes) == 1 else " Then: ".join(scenes)
    if len(text) > SUMMARY_CHARS:
        text = text[: SUMMARY_CHARS - 1].rstrip() + "…"
    return text


class KlingOmni(VideoModel):
    name = NAME
    label = "Kling 3.0 Omni"
    reports_progress = False
    limits = Limits(
        max_shots=6, min_shot_tenths=1, max_shot_tenths=150, lengths=(10, 15), whole_seconds=True
    )
    image_spec = ImageSpec(
        formats=frozenset({"JPEG", "PNG"}),
        max_bytes=50_000_000,
        min_side=300,
        min_aspect=0.4,
        max_aspect=2.5,
    )

    def __init__(
        self,
        *,
        resolution: str = "720p",
        audio: bool = False,
        per_second: dict[str, int] | None = None,
        audio_per_second: dict[str, int] | None = None,
    ) -> None:
        self.resolution = resolution
        self.audio = audio
        self._per_second = per_second or DEFAULT_PER_SECOND
        self._audio_per_second = audio_per_second or DEFAULT_AUDIO_PER_SECOND

    def validate(self, board: Storyboard) -> None:
        super().validate(board)
        total = total_seconds([s.tenths for s in board.shots])
        if total > MAX_SECONDS:
            raise StoryboardError(
                "total_over",
                shape="model",
                model=self.label,
                total=fmt_tenths(board.total_tenths),
                length=MAX_SECONDS,
            )

    def seconds(self, board: Storyboard) -> list[int]:
        tenths = [s.tenths for s in board.shots]
        return whole_seconds(tenths, total_seconds(tenths))

    def build_input(self, board: Storyboard, image_url: str) -> dict[str, Any]:
        secs = self.seconds(board)
        return {
            "prompt": summary_prompt(board),
            "image_urls": [image_url],
            "duration": sum(secs),
            "aspect_ratio": ASPECTS[board.aspect],
            "resolution": self.resolution,
            "audio": self.audio,
            "customize_multi_shots": True,
            "multi_prompt": [
                {"prompt": s.scene.strip(), "duration": d}
                for s, d in zip(board.shots, secs, strict=True)
            ],
        }

    @property
    def options(self) -> dict[str, object]:
        return {"resolution": self.resolution, "audio": self.audio}

    def price(self, board: Storyboard) -> int:
        table = self._audio_per_second if self.audio else self._per_second
        return table[self.resolution] * sum(self.seconds(board))

    def describe(self) -> str:
        return (
            f"{super().describe()}, whole seconds, total {MIN_SECONDS}-{MAX_SECONDS} s, "
            f"{self.resolution}, audio {'on' if self.audio else 'off'}"
        )
