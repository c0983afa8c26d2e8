"""What a kie.ai video model is to the rest of the bot.

Everything specific to one model (its limits, its image rules, its request body, its price and
how its result is read) lives in one adapter module beside this one. The tracker, the store and
the cogs only see this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from bot.domain.storyboard import Limits, Storyboard, validate
from bot.kie.schemas import TaskRecord
from bot.media.images import ImageSpec


class VideoModel(ABC):
    #: kie.ai's model name, sent as ``model``.
    name: str
    #: A short name for people ("Sora 2 Pro Storyboard").
    label: str
    limits: Limits
    image_spec: ImageSpec
    #: Whether recordInfo reports ``progress`` for this model.
    reports_progress: bool = False

    def validate(self, board: Storyboard) -> None:
        """Raise StoryboardError if ``board`` does not fit this model."""
        validate(board, self.limits)

    @abstractmethod
    def build_input(self, board: Storyboard, image_url: str) -> dict[str, Any]:
        """The ``input`` object of createTask, exactly in this model's wire format."""

    def request_body(
        self, board: Storyboard, image_url: str, callback_url: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.name}
        if callback_url:
            body["callBackUrl"] = callback_url
        body["input"] = self.build_input(board, image_url)
        return body

    @abstractmethod
    def price(self, board: Storyboard) -> int:
        """What a generation of ``board`` costs, in kie.ai credits."""

    def result_url(self, record: TaskRecord) -> str | None:
        """The clean (not watermarked) video of a successful task."""
        return record.video_url

    @property
    def options(self) -> dict[str, object]:
        """Options that change the price (e.g. resolution, audio); quotas may restrict them."""
        return {}

    def describe(self) -> str:
        lim = self.limits
        return (
            f"{self.name}: 1-{lim.max_shots} shots, lengths {lim.lengths_text()}, "
            f"shots {lim.min_shot_tenths / 10:g}-{lim.max_shot_tenths / 10:g} s"
        )
