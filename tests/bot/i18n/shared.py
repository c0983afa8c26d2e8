"""What the translation tests share: the storyboards they break and how they read a text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.domain.storyboard import Shot, Storyboard, StoryboardError
from bot.models.sora import SoraStoryboard

ROOT = Path(__file__).resolve().parents[3]
SORA = SoraStoryboard.limits


# Latin-script words a Chinese text may hold: names, formats, the grammar's own keywords.
ALLOWED_LATIN = re.compile(r"kie\.ai|Sora|Kling|Omni|mp4|https?://\S+|`[^`]*`|“[^”]*”|<[^>]*>")


def latin_words(text: str) -> list[str]:
    """Runs of 3+ Latin letters left in ``text`` once the allowed tokens are taken out."""
    return re.findall(r"[A-Za-z]{3,}", ALLOWED_LATIN.sub("", text))


def board(*tenths: int, length: int = 15, aspect: str = "landscape", scene: str = "a cat"):
    return Storyboard(
        shots=tuple(Shot(scene=scene, tenths=x) for x in tenths), length=length, aspect=aspect
    )


def raised(fn, *args, **kwargs) -> StoryboardError:
    with pytest.raises(StoryboardError) as info:
        fn(*args, **kwargs)
    return info.value
