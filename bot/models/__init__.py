"""The video models the bot can use, and which one takes a job."""

from __future__ import annotations

from collections.abc import Callable

from bot.config.settings import ConfigError, Settings, describe_setting
from bot.models.base import VideoModel
from bot.models.kling import KlingOmni
from bot.models.sora import SoraStoryboard

# How long a model that answered "paused", "disabled" or "not supported" is skipped before
# being tried again.
UNAVAILABLE_FOR = 600.0


def _factories() -> dict[str, Callable[[Settings], VideoModel]]:
    return {
        SoraStoryboard.name: lambda s: SoraStoryboard(
            credits=s.prices.sora_credits(), upload_method=s.sora.upload_method
        ),
        KlingOmni.name: lambda s: KlingOmni(
            resolution=s.kling.resolution,
            audio=s.kling.audio,
            per_second=s.prices.kling_per_second,
            audio_per_second=s.prices.kling_audio_per_second,
        ),
    }


def known_models() -> list[str]:
    return list(_factories())


class ModelRegistry:
    """The configured primary and fallback models, and a short memory of which is paused."""

    def __init__(self, settings: Settings) -> None:
        factories = _factories()
        self._models: dict[str, VideoModel] = {}
        for path, name in (
            ("kie.model", settings.kie.model),
            ("kie.fallback_model", settings.kie.fallback_model),
        ):
            if not name:
                continue
            if name not in factories:
                raise ConfigError(
                    f"{describe_setting(path)}: unknown model {name!r}; "
                    f"known models: {', '.join(factories)}"
                )
            self._models.setdefault(name, factories[name](settings))
        self.primary = self._models[settings.kie.model]
        fb = settings.kie.fallback_model
        self.fallback = self._models[fb] if fb and fb != settings.kie.model else None
        self._down_until: dict[str, float] = {}
        self._down_reason: dict[str, str] = {}

    def get(self, name: str) -> VideoModel:
        try:
            return self._models[name]
        except KeyError:
            raise KeyError(f"model {name!r} is not configured") from None

    def all(self) -> list[VideoModel]:
        return list(self._models.values())

    def mark_unavailable(self, name: str, now: float, reason: str) -> None:
        self._down_until[name] = now + UNAVAILABLE_FOR
        self._down_reason[name] = reason

    def mark_available(self, name: str) -> None:
        self._down_until.pop(name, None)
        self._down_reason.pop(name, None)

    def unavailable(self, name: str, now: float) -> bool:
        return self._down_until.get(name, 0.0) > now
