"""How long each model took to make a video, by length and resolution: the history behind the
learned polling schedule (bot.jobs.polling).

One row per video kie.ai made (``generation_times``, migration 7), written once when the poll
step sees the success; never on a status read. A row holds the seconds from submission to the
task's end: kie.ai's own ``completeTime - createTime`` when it reports both (the true end, not
when we happened to notice it), else when the success was noticed. Only the last ``KEEP`` rows
of each kind are kept, and a kind's learned start is read from the database at most once every
``REFRESH`` seconds (the query runs on aiosqlite's thread, the percentile over at most ``KEEP``
numbers on the loop), so asking for it on every read costs a dict look-up.

Nothing here may break a job: a history that cannot be read or written is no history, and the
schedule is today's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot.db.connection import Database
from bot.jobs.polling import MIN_SAMPLES, learned_start
from bot.kie import TaskRecord

log = logging.getLogger("bot.jobs")

KEEP = 50  # rows kept per kind
REFRESH = 600.0  # seconds a kind's learned start is cached (a write here refreshes it at once)
# kie.ai's own times are trusted when they end no later than this after we noticed the end
# (their clock and ours differ a little); past that they are nonsense and ours are used.
CLOCK_SLACK = 60.0


@dataclass(frozen=True)
class Kind:
    """What makes two tasks take about as long: the model, the video's length in seconds, and
    its resolution ("" for a model without that option)."""

    model: str
    length: int
    resolution: str = ""


def generation_seconds(record: TaskRecord, noticed: float) -> float:
    """Seconds from submission to the task's end, for a task whose success was seen
    ``noticed`` seconds after submission."""
    noticed = max(0.0, noticed)
    if record.create_time is not None and record.complete_time is not None:
        reported = (record.complete_time - record.create_time) / 1000.0
        if 0.0 <= reported <= noticed + CLOCK_SLACK:
            return min(reported, noticed)
    return noticed


@dataclass
class History:
    """The recorded generation times, and each kind's learned start (cached)."""

    keep: int = KEEP
    min_samples: int = MIN_SAMPLES
    refresh: float = REFRESH
    _starts: dict[Kind, tuple[float, float | None]] = field(default_factory=dict)

    async def start(self, db: Database, kind: Kind, now: float) -> float | None:
        """The learned start for ``kind`` (seconds after submission), None without enough
        history."""
        cached = self._starts.get(kind)
        if cached is not None and now - cached[0] < self.refresh:
            return cached[1]
        try:
            samples = await self.samples(db, kind)
        except Exception:
            log.exception("generation times of %s: not read", kind)
            samples = []
        start = learned_start(samples, min_samples=self.min_samples)
        self._starts[kind] = (now, start)
        return start

    async def samples(self, db: Database, kind: Kind) -> list[float]:
        """The last ``keep`` recorded generation times of ``kind``, newest first."""
        async with db.db.execute(
            "SELECT seconds FROM generation_times WHERE model = ? AND length = ? "
            "AND resolution = ? ORDER BY id DESC LIMIT ?",
            (kind.model, kind.length, kind.resolution, self.keep),
        ) as cur:
            rows = await cur.fetchall()
        return [float(row[0]) for row in rows]

    async def record(
        self, db: Database, kind: Kind, *, seconds: float, noticed: float, at: float
    ) -> None:
        """Remember that a task of ``kind`` took ``seconds`` (seen after ``noticed``), and
        forget all but the last ``keep`` of that kind."""
        try:
            async with db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO generation_times (model, length, resolution, seconds, noticed, "
                    "finished_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (kind.model, kind.length, kind.resolution, seconds, noticed, at),
                )
                await conn.execute(
                    "DELETE FROM generation_times WHERE model = ? AND length = ? "
                    "AND resolution = ? AND id <= (SELECT id FROM generation_times "
                    "WHERE model = ? AND length = ? AND resolution = ? "
                    "ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (*_params(kind), *_params(kind), self.keep),
                )
        except Exception:
            log.exception("generation time of %s: not recorded", kind)
            return
        self._starts.pop(kind, None)


def _params(kind: Kind) -> tuple[str, int, str]:
    return (kind.model, kind.length, kind.resolution)
