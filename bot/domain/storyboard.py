"""The storyboard: shots, a video length and an aspect, checked against a model's limits.

Durations are whole tenths of a second (``int``) everywhere in the core, so sums never drift
(``0.1 * 3 != 0.3``). They become seconds only at the edges: the wire format and the screen.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.errors import OneOf, UserError

Aspect = Literal["landscape", "portrait"]
ASPECTS: tuple[Aspect, ...] = ("landscape", "portrait")
MAX_SCENE_CHARS = 350


class StoryboardError(UserError):
    """A storyboard breaks a rule; the message names the shot, the rule and the numbers."""


# Default-ignorable code points that are not format characters (Unicode's
# DerivedCoreProperties.txt): the combining grapheme joiner, Hangul fillers, Khmer inherent
# vowels, Mongolian and other variation selectors, and the unassigned ranges kept for more.
_IGNORABLE = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x2065, 0x2065),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0xE0000, 0xE0FFF),
)
# Shown as blank space, though not whitespace: the blank Braille pattern.
_BLANK = frozenset("\u2800")


def is_ignorable(ch: str) -> bool:
    """A character that shows nothing by itself and can hide inside a word: a format character
    (Unicode category Cf: zero-width spaces and joiners, soft hyphens, direction marks, tags)
    or another default-ignorable code point (variation selectors, Hangul fillers...)."""
    if unicodedata.category(ch) == "Cf":
        return True
    code = ord(ch)
    return any(low <= code <= high for low, high in _IGNORABLE)


def is_blank(text: str) -> bool:
    """Whether ``text`` shows nothing: only whitespace, control and ignorable characters, and
    combining marks with no letter to sit on."""
    return all(
        ch.isspace()
        or ch in _BLANK
        or unicodedata.category(ch) in ("Cc", "Mn", "Mc", "Me")
        or is_ignorable(ch)
        for ch in text
    )


def fmt_tenths(tenths: int) -> str:
    """75 -> "7.5", 100 -> "10"."""
    whole, frac = divmod(tenths, 10)
    return f"{whole}" if frac == 0 else f"{whole}.{frac}"


@dataclass(frozen=True)
class Limits:
    """What a model accepts. Every check and every message reads its numbers from here."""

    max_shots: int
    min_shot_tenths: int
    max_shot_tenths: int
    lengths: tuple[int, ...]
    aspects: tuple[Aspect, ...] = ASPECTS
    max_scene_chars: int = MAX_SCENE_CHARS
    whole_seconds: bool = False  # the model takes whole seconds (durations are rounded)

    def lengths_text(self) -> str:
        parts = [str(x) for x in self.lengths]
        if len(parts) == 1:
            return f"{parts[0]} s"
        return f"{', '.join(parts[:-1])} or {parts[-1]} s"


class Shot(BaseModel):
    """One shot. ``auto`` shots share whatever time the typed ones leave."""

    model_config = ConfigDict(frozen=True)

    scene: str
    tenths: int = Field(ge=0)
    auto: bool = False

    @property
    def seconds(self) -> float:
        return self.tenths / 10


class Storyboard(BaseModel):
    model_config = ConfigDict(frozen=True)

    shots: tuple[Shot, ...]
    length: int  # seconds: 10, 15 or 25 for the seed's model
    aspect: Aspect = "landscape"

    @property
    def total_tenths(self) -> int:
        return sum(s.tenths for s in self.shots)

    def with_shots(self, shots: Sequence[Shot]) -> Storyboard:
        return self.model_copy(update={"shots": tuple(shots)})


def share_time(typed: Sequence[int | None], length: int, *, min_tenths: int = 1) -> list[int]:
    """Fill the ``None`` entries of ``typed`` by sharing the time left evenly, in tenths.

    The remainder goes to the first automatic shots, so the total is exactly ``length`` seconds.
    Raises StoryboardError when typed shots leave less than ``min_tenths`` per automatic shot.
    """
    autos = [i for i, t in enumerate(typed) if t is None]
    fixed = sum(t for t in typed if t is not None)
    if not autos:
        return [t for t in typed if t is not None]
    left = length * 10 - fixed
    each, extra = divmod(left, len(autos)) if left > 0 else (0, 0)
    if each < min_tenths:
        raise StoryboardError(
            "no_time_left",
            fixed=fmt_tenths(fixed),
            length=length,
            left=fmt_tenths(max(left, 0)),
            autos=len(autos),
            min=fmt_tenths(min_tenths),
        )
    out = list(typed)
    for n, i in enumerate(autos):
        out[i] = each + (1 if n < extra else 0)
    return [t for t in out if t is not None]


def rebalance(shots: Sequence[Shot], length: int, limits: Limits) -> tuple[Shot, ...]:
    """Recompute the automatic shots' durations for ``length``."""
    tenths = share_time(
        [None if s.auto else s.tenths for s in shots], length, min_tenths=limits.min_shot_tenths
    )
    return tuple(s.model_copy(update={"tenths": t}) for s, t in zip(shots, tenths, strict=True))


def validate(board: Storyboard, limits: Limits) -> None:
    """Raise StoryboardError for the first rule ``board`` breaks."""
    n = len(board.shots)
    if not 1 <= n <= limits.max_shots:
        raise StoryboardError(
            "shot_count",
            count=n,
            max=limits.max_shots,
        )
    if board.length not in limits.lengths:
        raise StoryboardError(
            "length",
            length=board.length,
            allowed=OneOf(limits.lengths),
        )
    if board.aspect not in limits.aspects:
        raise StoryboardError(
            "aspect",
            aspect=board.aspect,
            aspects=OneOf(limits.aspects),
        )
    for i, shot in enumerate(board.shots, 1):
        scene = shot.scene.strip()
        if is_blank(scene):
            raise StoryboardError("scene_empty", shot=i)
        if len(scene) > limits.max_scene_chars:
            raise StoryboardError(
                "scene_long",
                shot=i,
                chars=len(scene),
                max=limits.max_scene_chars,
            )
        if not limits.min_shot_tenths <= shot.tenths <= limits.max_shot_tenths:
            raise StoryboardError(
                "shot_duration",
                shape="auto" if shot.auto else None,
                shot=i,
                seconds=fmt_tenths(shot.tenths),
                min=fmt_tenths(limits.min_shot_tenths),
                max=fmt_tenths(limits.max_shot_tenths),
            )
    total = board.total_tenths
    if total > board.length * 10:
        longer = [x for x in limits.lengths if x * 10 >= total]
        raise StoryboardError(
            "total_over",
            shape=None if longer else "shorten",
            total=fmt_tenths(total),
            length=board.length,
            **({"longer": longer[0]} if longer else {}),
        )
