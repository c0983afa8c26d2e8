"""What the tracker hands its results to. The CLI writes a file; the Discord side posts messages."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from bot.store import Job


class UndeliverableError(Exception):
    """Delivery can never succeed (the channel is gone, the bot lost access). Not retried."""


class Delivery(Protocol):
    async def job_updated(self, job: Job) -> None:
        """Something a person would want to see changed: queued, submitted, progress, a fallback,
        an unknown outcome. Called often; implementations throttle what they show."""

    async def deliver_video(self, job: Job, path: Path) -> None:
        """Hand over the finished video. Must be safe to call again after a crash (check what
        ``job`` records as already done). Raise UndeliverableError when it never can succeed."""

    async def job_ended(self, job: Job) -> None:
        """The job ended without a video (failed, refused, expired, cancelled, unknown outcome,
        undeliverable): tell its owner why."""
