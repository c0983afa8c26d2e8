"""A command-line render of a long storyboard, for the crash matrix (test_crash_matrix.py):
``python -m tests.bot.jobs.chain_render render`` submits the seed's 25 s storyboard (a chain
of two Kling segments) from ``ref.png`` in the working directory and follows it until its
video is written to ``v.mp4``; ``... resume JOB`` follows it again after a crash. Settings come
from the environment and ``config.toml``, as the real command line's. Exit code 0: written;
1: the chain ended without its video (its reason on stderr)."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

from bot.config.settings import load_settings
from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.states import JobState
from bot.jobs.store import Job
from bot.media.images import prepare_image
from bot.models.kling import KlingOmni
from bot.runtime import Runtime

BOARD = Storyboard(
    shots=tuple(Shot(scene=f"Scene {i}: the kitten, moment {i}", tenths=25) for i in range(1, 11)),
    length=25,
    aspect="landscape",
)
OUT = Path("v.mp4")


class FileDelivery:
    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.final: Job | None = None

    async def job_updated(self, job: Job) -> None:
        return None

    async def deliver_video(self, job: Job, path: Path) -> None:
        part = OUT.with_suffix(".part")
        await asyncio.to_thread(shutil.copyfile, path, part)
        await asyncio.to_thread(part.replace, OUT)
        self.final = job
        self.done.set()

    async def job_ended(self, job: Job) -> None:
        self.final = job
        self.done.set()


async def main(argv: list[str]) -> int:
    settings = load_settings(Path("config.toml"))
    delivery = FileDelivery()
    only = set(argv[1:2])
    rt = await Runtime.build(
        settings, delivery, origin="cli", only=only, serve_http=settings.callbacks_enabled
    )
    try:
        await rt.start()
        if argv[0] == "render":
            image = prepare_image(Path("ref.png").read_bytes(), KlingOmni.image_spec)
            job = await rt.tracker.submit(BOARD, image, origin="cli")
            print(f"job {job.id}", file=sys.stderr, flush=True)
        else:
            found = await rt.store.get_job(argv[1])
            assert found is not None
            if found.state == JobState.DELIVERED:
                return 0  # posted before the crash: never again
        await delivery.done.wait()
        final = delivery.final
        assert final is not None
        if final.state == JobState.DELIVERED or OUT.exists():
            return 0
        print(f"error: {final.state}: {final.fail_code}: {final.fail_msg}", file=sys.stderr)
        return 1
    finally:
        await rt.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
