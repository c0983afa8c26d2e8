"""``storyboard-bot run``: start the tracker and the HTTP server, and the Discord bot."""

from __future__ import annotations

import asyncio
import logging

from bot.config import Settings
from bot.runtime import Runtime
from bot.store import Job

log = logging.getLogger(__name__)


class LogDelivery:
    """Until a Discord delivery is wired in: log what happens to each job."""

    async def job_updated(self, job: Job) -> None:
        log.info("job %s: %s %s", job.id, job.state, job.kie_state or "")

    async def deliver_video(self, job: Job, path: object) -> None:
        log.info("job %s: video ready at %s", job.id, path)

    async def job_ended(self, job: Job) -> None:
        log.warning("job %s ended: %s: %s", job.id, job.state, job.fail_msg)


async def run_bot(settings: Settings) -> int:
    rt = await Runtime.build(settings, LogDelivery(), origin="discord", serve_http=True)
    try:
        await rt.start()
        mode = "callbacks" if settings.callbacks_enabled else "polling"
        log.info("tracker running (%s); press Ctrl-C to stop", mode)
        await asyncio.Event().wait()
    finally:
        await rt.close()
    return 0
