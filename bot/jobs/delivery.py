"""What the tracker hands its results to. The CLI writes a file; the Discord side posts messages.

``deliver_video`` ends in one of three ways:

- it returns: the video was delivered (now, or by an earlier attempt it recognised);
- :class:`DeliveryRetry`: not now (Discord answered 5xx, a rate limit outlasted discord.py's
  own retries, the connection failed). Nothing needs fixing; the tracker logs the one-line
  reason, tries again with backoff and gives up after a bounded grace, telling the member;
- :class:`UndeliverableError`: never (the channel is gone, the bot may not post there). The
  job ends as undeliverable at once.

Any other exception is unexpected (a bug). A file too large for the server is not an
error: the delivery posts a link or a Download button instead, in the same call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from bot.jobs.store import Job


class UndeliverableError(Exception):
    """Delivery can never succeed (the channel is gone, the bot lost access). Not retried."""


class DeliveryRetry(Exception):
    """Delivery failed for now (a 5xx, a rate limit that outlasted the client's own retries).
    The tracker tries again later, within a bounded grace; ``str()`` is one line for the log."""


class Delivery(Protocol):
    async def job_updated(self, job: Job) -> None:
        """Something a person would want to see changed: queued, submitted, progress, a fallback,
        an unknown outcome. Called often; implementations throttle what they show."""

    async def deliver_video(self, job: Job, path: Path) -> None:
        """Hand over the finished video. Must be safe to call again after a crash (check what
        ``job`` records as already done, and what an earlier attempt may have posted). Raise
        DeliveryRetry when it may succeed later, UndeliverableError when it never can."""

    async def job_ended(self, job: Job) -> None:
        """The job ended without a video (failed, refused, expired, cancelled, unknown outcome,
        undeliverable): tell its owner why."""
