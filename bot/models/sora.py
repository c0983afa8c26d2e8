"""``sora-2-pro-storyboard``: the seed model. Its wire format is exactly the API page's.

``{"model", "callBackUrl"?, "input": {"shots": [{"Scene": str, "duration": number}],
"n_frames": "10"|"15"|"25", "image_urls": [url], "aspect_ratio": "portrait"|"landscape",
"upload_method": "s3"|"oss"}}``

``upload_method`` is the one addition to the seed's body: kie.ai's current schema lists it as
required ("defaults to s3"), and live kie.ai does not apply documented defaults itself.
"""

from __future__ import annotations

from typing import Any

from bot.domain.storyboard import Limits, Storyboard
from bot.media.images import ImageSpec
from bot.models.base import VideoModel

NAME = "sora-2-pro-storyboard"
DEFAULT_CREDITS = {10: 150, 15: 270, 25: 270}


def _seconds(tenths: int) -> int | float:
    """75 -> 7.5, 100 -> 10: a JSON number, without float noise."""
    return tenths // 10 if tenths % 10 == 0 else tenths / 10


class SoraStoryboard(VideoModel):
    name = NAME
    label = "Sora 2 Pro Storyboard"
    reports_progress = True
    limits = Limits(max_shots=10, min_shot_tenths=1, max_shot_tenths=150, lengths=(10, 15, 25))
    image_spec = ImageSpec(formats=frozenset({"JPEG", "PNG", "WEBP"}), max_bytes=10_000_000)

    def __init__(self, credits: dict[int, int] | None = None, upload_method: str = "s3") -> None:
        self._credits = dict(DEFAULT_CREDITS if credits is None else credits)
        self.upload_method = upload_method

    def build_input(self, board: Storyboard, image_url: str) -> dict[str, Any]:
        return {
            "shots": [
                {"Scene": s.scene.strip(), "duration": _seconds(s.tenths)} for s in board.shots
            ],
            "n_frames": str(board.length),
            "image_urls": [image_url],
            "aspect_ratio": board.aspect,
            "upload_method": self.upload_method,
        }

    def price(self, board: Storyboard) -> int:
        return self._credits[board.length]
