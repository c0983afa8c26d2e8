"""The shot-line grammar, used everywhere a person types shots.

    [DURATION[s|秒] |] SCENE

``7.5 | A kitten...``, ``7.5s | ...``, ``7.5秒 | ...`` or just ``A kitten...`` (an automatic
duration: such shots share the time the typed ones leave). The full-width forms Chinese keyboards
type (``｜``, ``；``, ``．``, full-width digits) count as the ASCII ones. Only the structure is
normalised: the scene text is kept exactly as typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bot.domain.storyboard import Limits, Shot, StoryboardError, fmt_tenths, is_blank, share_time

# Full-width forms of the grammar's punctuation and digits -> ASCII.
FULLWIDTH = str.maketrans(
    {
        "｜": "|",
        "；": ";",
        "．": ".",
        "，": ",",
        "＃": "#",
        "＝": "=",
        "＋": "+",
        "－": "-",
        "　": " ",
        "ｓ": "s",
        "Ｓ": "s",
        **{chr(0xFF10 + d): str(d) for d in range(10)},
    }
)

_DURATION = re.compile(r"^(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>s|S|sec|秒)?$")
# A left-hand side this short that has a digit is meant as a duration (and is wrong if unparsable).
_DURATION_LIKE_MAX = 12


def normalize(text: str) -> str:
    """Full-width grammar characters -> ASCII. Apply to structure only, never to a scene."""
    return text.translate(FULLWIDTH)


@dataclass(frozen=True)
class ShotLine:
    """A parsed shot line: ``tenths`` is None when no duration was typed."""

    scene: str
    tenths: int | None


def parse_duration(text: str, *, where: str | int = "") -> int:
    """``"7.5"``, ``"7.5s"``, ``"７．５秒"`` -> 75 tenths. Raises StoryboardError.

    ``where`` names the line in the message: a shot number (worded "Shot 3" in the reader's
    language) or a text shown as it is (a quoted edit line); "" names nothing."""
    raw = text.strip()
    m = _DURATION.match(normalize(raw).strip())
    bare = where == ""  # nothing to name: the message starts with the value
    if not m:
        raise StoryboardError("bad_duration", shape="bare" if bare else None, where=where, text=raw)
    try:
        value = Decimal(m["num"]) * 10
    except InvalidOperation:  # pragma: no cover - the regex admits only decimals
        raise StoryboardError(
            "bad_duration", shape="bare" if bare else None, where=where, text=raw
        ) from None
    if value != value.to_integral_value():
        raise StoryboardError(
            "duration_precision", shape="bare" if bare else None, where=where, text=raw
        )
    return int(value)


def parse_shot_line(line: str, *, where: str | int = "") -> ShotLine:
    """One shot line. ``where`` (a shot number, or a text) prefixes error messages."""
    text = line.strip()
    bar = _find_bar(text)
    if bar is not None:
        left, scene = text[:bar].strip(), text[bar + 1 :].strip()
        if left and len(left) <= _DURATION_LIKE_MAX and any(c.isdigit() for c in left):
            tenths = parse_duration(left, where=where)
            if is_blank(scene):
                raise StoryboardError(
                    "scene_empty", shape="after_duration" if where != "" else "bare", where=where
                )
            return ShotLine(scene=scene, tenths=tenths)
    return ShotLine(scene=text, tenths=None)


def _find_bar(text: str) -> int | None:
    for i, ch in enumerate(text):
        if ch in "|｜":
            return i
    return None


def split_option(text: str) -> list[str]:
    """The one-line form (an option cannot hold newlines): shots separated by ``;``/``；``."""
    return [part for part in re.split(r"[;；]", text) if part.strip()]


def split_block(text: str) -> list[str]:
    """The multi-line form (a modal, a file, the command line): a shot per non-blank line."""
    return [line for line in text.splitlines() if line.strip()]


def parse_lines(lines: Iterable[str]) -> list[ShotLine]:
    return [parse_shot_line(line, where=i) for i, line in enumerate(lines, 1)]


def resolve(lines: list[ShotLine], length: int, limits: Limits) -> tuple[Shot, ...]:
    """Turn parsed lines into shots, giving automatic shots their even share of the time left."""
    if not lines:
        raise StoryboardError("shot_count", shape="none", count=0)
    tenths = share_time([x.tenths for x in lines], length, min_tenths=limits.min_shot_tenths)
    return tuple(
        Shot(scene=x.scene, tenths=t, auto=x.tenths is None)
        for x, t in zip(lines, tenths, strict=True)
    )


def format_shot(shot: Shot) -> str:
    """The line that parses back to ``shot`` (automatic shots are written without a duration)."""
    return shot.scene if shot.auto else f"{fmt_tenths(shot.tenths)} | {shot.scene}"


def format_block(shots: Iterable[Shot]) -> str:
    return "\n".join(format_shot(s) for s in shots)
