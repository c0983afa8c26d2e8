"""The plan of a long storyboard: which shots go into which segment.

A storyboard the model takes as it is stays one segment, unchanged. One it does not take is cut
at shot boundaries (a shot is never cut) into the fewest segments that each pass the model's
own ``validate``, so every rule of the model (its shot count, its lengths, Kling's whole-second
total of 3-15 s) is the adapter's and is not repeated here. Among the splits with the fewest
segments the plan takes the most balanced one: the shortest longest segment, then the smallest
spread between the longest and the shortest, then the lowest total price, then the earliest
cuts (so a plan is always the same for the same storyboard).

Each segment is a storyboard of its own, sent with the shortest length the model takes for it
(the storyboard's own length is kept only when the model takes the storyboard as it is).
Segment ``k + 1`` is meant to start from the last frame of segment ``k``; the segments are then
joined into one video (``bot.media.video.join``).

Lengths are measured in the storyboard's time (tenths of a second, what the shots say). What a
model makes of a segment (Kling: whole seconds, at least 3) is ``Segment.seconds``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from bot.domain.storyboard import Shot, Storyboard, StoryboardError, fmt_tenths, validate
from bot.models.base import VideoModel

#: The product's contract for a long storyboard (configurable): its longest total and most shots.
DEFAULT_MAX_SECONDS = 60
DEFAULT_MAX_SHOTS = 20
#: How long kie.ai usually takes for one segment, in minutes (low, high).
DEFAULT_MINUTES_PER_SEGMENT = (3, 5)
# Error codes of a shot that is too long for a single segment.
_TOO_LONG = frozenset({"shot_duration", "total_over", "length"})


@dataclass(frozen=True)
class Segment:
    """One generation: a run of consecutive shots of the storyboard."""

    index: int  # its place in the plan, from 0
    start: int  # the index (from 0) in the whole storyboard of its first shot
    board: Storyboard  # what is submitted: its shots, the length it is sent with, the aspect
    seconds: int  # how long the video the model makes of it lasts
    price: int  # the model's price for ``board``, in credits

    @property
    def shots(self) -> tuple[Shot, ...]:
        return self.board.shots

    @property
    def stop(self) -> int:
        """The index just past its last shot."""
        return self.start + len(self.board.shots)

    @property
    def tenths(self) -> int:
        """Its length in the storyboard's time."""
        return self.board.total_tenths

    @property
    def length(self) -> int:
        """The length (seconds) it is sent with: one the model takes."""
        return self.board.length

    def shot_numbers(self) -> range:
        """Its shots as people number them (from 1)."""
        return range(self.start + 1, self.stop + 1)


@dataclass(frozen=True)
class Plan:
    board: Storyboard
    model: str  # the model's name
    segments: tuple[Segment, ...]

    @property
    def count(self) -> int:
        return len(self.segments)

    @property
    def chained(self) -> bool:
        """Whether the storyboard takes more than one generation."""
        return len(self.segments) > 1

    @property
    def price(self) -> int:
        """The total price in credits: every segment's."""
        return sum(s.price for s in self.segments)

    @property
    def total_tenths(self) -> int:
        """The storyboard's time, which the segments keep exactly."""
        return sum(s.tenths for s in self.segments)

    @property
    def seconds(self) -> int:
        """How long the joined video lasts, before the joins drop one frame per boundary."""
        return sum(s.seconds for s in self.segments)

    def minutes(
        self, per_segment: tuple[float, float] = DEFAULT_MINUTES_PER_SEGMENT
    ) -> tuple[float, float]:
        """The generation time range: the segments run one after another."""
        low, high = per_segment
        return low * self.count, high * self.count

    def estimate(self, per_segment: tuple[float, float] = DEFAULT_MINUTES_PER_SEGMENT) -> str:
        """``"3 segments, about 9-15 min"``."""
        low, high = self.minutes(per_segment)
        noun = "segment" if self.count == 1 else "segments"
        return f"{self.count} {noun}, about {low:g}-{high:g} min"


@dataclass(frozen=True)
class Mark:
    """Where one segment ends and the next begins."""

    segment: int  # the index of the segment that begins here
    shot: int  # the index (from 0) of its first shot; shots before it are in earlier segments
    tenths: int  # when, in the storyboard's time
    seconds: int  # when, in the joined video (the earlier segments' video seconds)


def timeline_marks(plan: Plan) -> tuple[Mark, ...]:
    """The segment boundaries for the card's timeline (none for a single segment)."""
    marks = []
    tenths = seconds = 0
    for prev, seg in pairwise(plan.segments):
        tenths += prev.tenths
        seconds += prev.seconds
        marks.append(Mark(segment=seg.index, shot=seg.start, tenths=tenths, seconds=seconds))
    return tuple(marks)


def check_long_storyboard(
    board: Storyboard,
    *,
    max_seconds: int = DEFAULT_MAX_SECONDS,
    max_shots: int = DEFAULT_MAX_SHOTS,
) -> None:
    """Raise StoryboardError if ``board`` is beyond what the product takes, chained or not."""
    n = len(board.shots)
    if not 1 <= n <= max_shots:
        raise StoryboardError(
            "shot_count",
            f"A storyboard has 1 to {max_shots} shots; this one has {n}.",
            count=n,
            max=max_shots,
        )
    total = board.total_tenths
    if total > max_seconds * 10:
        raise StoryboardError(
            "long_total",
            f"A storyboard lasts at most {max_seconds} s; these shots add up to "
            f"{fmt_tenths(total)} s. Shorten them or remove a shot.",
            total=fmt_tenths(total),
            max=max_seconds,
        )


def segment_max_tenths(model: VideoModel) -> int:
    """The longest one segment can be (so the longest shot), as the message states it."""
    return min(model.limits.max_shot_tenths, max(model.limits.lengths) * 10)


def plan_segments(board: Storyboard, model: VideoModel, *, max_segments: int | None = None) -> Plan:
    """Split ``board`` into the fewest, most balanced segments ``model`` takes.

    Raises StoryboardError for a rule no split can help with (an empty scene, an aspect the
    model lacks: the board's own numbering), for a shot longer than one segment holds
    (``shot_over_segment``), and for a plan needing more than ``max_segments``
    (``segments_over``).
    """
    if max_segments is not None and max_segments < 1:
        raise ValueError("max_segments must be at least 1")
    try:
        model.validate(board)
    except StoryboardError:
        pass
    else:
        return _plan(board, model, [(0, board)])

    _check_shots(board, model)
    shots = board.shots
    n = len(shots)
    table: dict[tuple[int, int], Storyboard] = {}
    for i in range(n):
        for j in range(i + 1, min(n, i + model.limits.max_shots) + 1):
            seg, err = _fit(model, board, shots[i:j])
            if seg is not None:
                table[i, j] = seg
            elif j == i + 1:
                _refuse_shot(board, model, i, err)
    best = _best_split(n, table, lambda seg: model.price(seg))
    needed = len(best)
    if max_segments is not None and needed > max_segments:
        lim = model.limits
        raise StoryboardError(
            "segments_over",
            f"These {n} shots ({fmt_tenths(board.total_tenths)} s) need {needed} segments on "
            f"{model.label} (at most {lim.max_shots} shots and "
            f"{fmt_tenths(segment_max_tenths(model))} s each); at most {max_segments} are "
            "allowed. Shorten the shots or remove some.",
            needed=needed,
            max=max_segments,
            shots=n,
            total=fmt_tenths(board.total_tenths),
            model=model.label,
            segment_shots=lim.max_shots,
            segment_max=fmt_tenths(segment_max_tenths(model)),
        )
    return _plan(board, model, [(i, table[i, j]) for i, j in best])


def _plan(board: Storyboard, model: VideoModel, parts: list[tuple[int, Storyboard]]) -> Plan:
    segments = tuple(
        Segment(
            index=k,
            start=start,
            board=seg,
            seconds=_video_seconds(model, seg),
            price=model.price(seg),
        )
        for k, (start, seg) in enumerate(parts)
    )
    return Plan(board=board, model=model.name, segments=segments)


def _video_seconds(model: VideoModel, board: Storyboard) -> int:
    """What the model makes of ``board``: its whole seconds (Kling), else the length sent."""
    seconds: Callable[[Storyboard], list[int]] | None = getattr(model, "seconds", None)
    return sum(seconds(board)) if callable(seconds) else board.length


def _fit(
    model: VideoModel, board: Storyboard, shots: Sequence[Shot]
) -> tuple[Storyboard | None, StoryboardError | None]:
    """``shots`` as a storyboard with the shortest length the model takes for them, if any."""
    err = None
    for length in sorted(model.limits.lengths):
        seg = board.model_copy(update={"shots": tuple(shots), "length": length})
        try:
            model.validate(seg)
        except StoryboardError as e:
            err = e
            continue
        return seg, None
    return None, err


def _check_shots(board: Storyboard, model: VideoModel) -> None:
    """The model's rules that splitting cannot help with, in the board's own shot numbers.

    The same ``validate`` with the shot count, the length, the total and the longest shot set
    aside: those are what segments are for (a shot too long for any segment is refused next).
    """
    lim = model.limits
    length = max(board.length, -(-board.total_tenths // 10), 1)
    relaxed = replace(
        lim,
        max_shots=max(len(board.shots), lim.max_shots),
        lengths=(length,),
        max_shot_tenths=max([lim.max_shot_tenths, *(s.tenths for s in board.shots)]),
    )
    validate(board.model_copy(update={"length": length}), relaxed)


def _refuse_shot(board: Storyboard, model: VideoModel, i: int, err: StoryboardError | None) -> None:
    if err is not None and err.code not in _TOO_LONG:
        raise err
    shot = board.shots[i]
    limit = fmt_tenths(segment_max_tenths(model))
    raise StoryboardError(
        "shot_over_segment",
        f"Shot {i + 1} lasts {fmt_tenths(shot.tenths)} s; one segment on {model.label} holds at "
        f"most {limit} s and a shot is never split between segments. Split it into two shots.",
        shot=i + 1,
        seconds=fmt_tenths(shot.tenths),
        max=limit,
        model=model.label,
    )


Split = tuple[tuple[int, int], ...]


def _best_split(
    n: int, table: dict[tuple[int, int], Storyboard], price: Callable[[Storyboard], int]
) -> Split:
    """The fewest segments; then the shortest longest one; then the least spread; then price.

    A shortest-path over cut positions, run with bounds on a segment's length: first without
    (the fewest segments), then the smallest upper bound keeping that count, then the largest
    lower bound under it. Every shot fits a segment on its own, so a split always exists.
    """
    by_start: dict[int, list[tuple[int, int, int]]] = {}
    for (a, b), seg in table.items():
        by_start.setdefault(a, []).append((b, seg.total_tenths, price(seg)))
    values = sorted({seg.total_tenths for seg in table.values()})

    def solve(low: int, high: int) -> tuple[int, int, Split] | None:
        # best[i]: (segments, price, ranges) for shots i..n-1, the least in that order.
        best: list[tuple[int, int, Split] | None] = [None] * (n + 1)
        best[n] = (0, 0, ())
        for i in range(n - 1, -1, -1):
            options = [
                (rest[0] + 1, rest[1] + p, ((i, b), *rest[2]))
                for b, t, p in by_start.get(i, ())
                if low <= t <= high and (rest := best[b]) is not None
            ]
            best[i] = min(options, default=None)
        return best[0]

    first = solve(values[0], values[-1])
    assert first is not None  # every shot fits a segment on its own
    fewest = first[0]
    high = next(v for v in values if (s := solve(0, v)) is not None and s[0] == fewest)
    low = next(
        v
        for v in reversed([v for v in values if v <= high])
        if (s := solve(v, high)) is not None and s[0] == fewest
    )
    found = solve(low, high)
    assert found is not None
    return found[2]
