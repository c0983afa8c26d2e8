"""The submit queue as members read it: a queued job's place and start, and which of the
places shown to redraw as the queue moves.

A place comes from :meth:`bot.jobs.tracker.Tracker.queue_spot`: exact all along the queue (the
head the scheduler has taken keeps its order, bot.jobs.queue; the rest keep the places they were
given when they joined, bot.jobs.fairness).
:class:`QueueBoard` remembers the place each status shows and picks the ones to redraw, front
first, within two budgets: a status is edited at most once per ``interval``, and a channel
gets at most ``per_channel`` place edits in any ``interval`` (Discord limits message edits per
channel). A status is never shown a place that a status ahead of it still shows, so two
statuses never read the same place: a status ahead that waits for its budget holds the ones
behind it at their older (larger, once true) places.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.i18n.strings import t
from bot.jobs.queue import QueueSpot

if TYPE_CHECKING:
    from bot.jobs.store import Store
    from bot.jobs.tracker import Tracker


def starts_text(spot: QueueSpot) -> str:
    """When the job should be sent, as a Discord relative timestamp (``<t:...:R>``)."""
    return f"<t:{int(spot.starts_at)}:R>"


def queue_status(spot: QueueSpot, lang: str) -> str:
    """The status message's line: ``⏳ #37 in the queue, starts <t:...:R>. You can still
    cancel.``"""
    return t("queue.status", lang, position=spot.position, starts=starts_text(spot))


def queue_line(spot: QueueSpot, lang: str) -> str:
    """The same in a job list: ``#37 in the queue, starts <t:...:R>``."""
    return t("queue.line", lang, position=spot.position, starts=starts_text(spot))


@dataclass(frozen=True)
class Waiting:
    """A queued job whose status is shown: its id, its status's channel, its spot now."""

    job_id: str
    channel_id: int
    spot: QueueSpot


async def waiting_line(store: Store, tracker: Tracker) -> tuple[list[Waiting], bool]:
    """The queued jobs with a status message and a spot, in queue order; and whether any job
    waits in the queue at all (one held, retrying or without a status message included)."""
    ids = await store.queue_order(float("inf"))
    jobs = await store.get_jobs(ids)
    spots = await tracker.queue_spots()  # one read of the queue for every place
    line: list[Waiting] = []
    for job_id in ids:
        job = jobs.get(job_id)
        if job is None or job.status_message_id is None or job.channel_id is None:
            continue
        spot = spots.get(job_id)
        if spot is not None:
            line.append(Waiting(job_id, job.channel_id, spot))
    return line, bool(ids)


class QueueBoard:
    """The places queued statuses show, and which to redraw when the queue moved."""

    def __init__(self, *, interval: float = 5.0, per_channel: int = 5) -> None:
        self.interval = interval
        self.per_channel = per_channel
        self.shown: dict[str, int] = {}  # job id -> the place its status shows
        self._edits: dict[int, collections.deque[float]] = {}  # channel -> place edit times

    def drawn(self, job_id: str, position: int | None) -> None:
        """``job_id``'s status was edited: it now shows ``position`` (None: no place)."""
        if position is None:
            self.shown.pop(job_id, None)
        else:
            self.shown[job_id] = position

    def forget(self, job_id: str) -> None:
        self.shown.pop(job_id, None)

    def redraws(
        self, line: Sequence[Waiting], edited: Mapping[str, float], now: float
    ) -> tuple[list[Waiting], bool]:
        """The statuses to redraw now, front first, and whether a stale one is left for
        later. ``line``: the shown queued jobs in queue order; ``edited``: when each status
        was last edited. The picks are counted against their channels' budgets."""
        picks: list[Waiting] = []
        stale = False
        floor = 0  # the largest place a status ahead shows once the picks are drawn
        for waiting in sorted(line, key=lambda w: w.spot.position):
            position = waiting.spot.position
            shown = self.shown.get(waiting.job_id)
            if shown == position:
                floor = max(floor, shown)
                continue
            last = edited.get(waiting.job_id)
            if position > floor and (last is None or now - last >= self.interval):
                edits = self._edits.setdefault(waiting.channel_id, collections.deque())
                while edits and now - edits[0] >= self.interval:
                    edits.popleft()
                if len(edits) < self.per_channel:
                    edits.append(now)
                    picks.append(waiting)
                    floor = max(floor, position)
                    continue
            stale = True
            floor = max(floor, shown or 0)
        return picks, stale


__all__ = [
    "QueueBoard",
    "Waiting",
    "queue_line",
    "queue_status",
    "starts_text",
    "waiting_line",
]
