"""What a chain's parent job stores about its segments (the ``chain`` column, as JSON).

The plan is kept as it was made, so a restart, a retry or a redo never plans again with other
settings or prices: each segment's storyboard, its video seconds and price, the job that makes
it, and whether an earlier chain made it (a retry or a redo reuses it and does not pay for it).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from bot.chain.plan import Plan
from bot.domain.storyboard import Storyboard

Outcome = Literal["delivered", "failed", "refused", "cancelled", "unknown"]


class SegmentRecord(BaseModel):
    start: int  # the index (from 0) of its first shot in the whole storyboard
    board: Storyboard
    seconds: int
    price: int
    job: str | None = None  # the segment job that makes (or made) it
    reused: bool = False  # made by an earlier chain: this chain neither makes nor pays for it


class Settlement(BaseModel):
    """How an unfinished chain's reservation settles: ``made`` credits of the segments it made
    count; the ``last`` segment's follow the release policy for ``outcome``; the rest (never
    sent) is released."""

    made: int
    last: int
    outcome: Outcome


class ChainRecord(BaseModel):
    segments: list[SegmentRecord]
    frame: str | None = None  # the prepared last frame being handed to the next segment
    source: str | None = None  # the chain this one retries or redoes
    settle: Settlement | None = None

    @classmethod
    def from_plan(cls, plan: Plan) -> ChainRecord:
        return cls(
            segments=[
                SegmentRecord(start=s.start, board=s.board, seconds=s.seconds, price=s.price)
                for s in plan.segments
            ]
        )

    @classmethod
    def load(cls, data: dict[str, Any] | None) -> ChainRecord:
        if data is None:
            raise ValueError("not a chain")
        return cls.model_validate(data)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def count(self) -> int:
        return len(self.segments)

    @property
    def price(self) -> int:
        """What this chain pays for: the segments it makes itself."""
        return sum(s.price for s in self.segments if not s.reused)

    def cost_from(self, index: int) -> int:
        """The price of segments ``index`` (from 0) to the end."""
        return sum(s.price for s in self.segments[index:])

    def made_before(self, index: int) -> int:
        """The price of the segments before ``index`` that this chain made (and pays for)."""
        return sum(s.price for s in self.segments[:index] if not s.reused)

    def first_missing(self) -> int | None:
        """The first segment with no job yet (None: every segment has one)."""
        return next((i for i, s in enumerate(self.segments) if s.job is None), None)
