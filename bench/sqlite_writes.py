"""What `PRAGMA synchronous=FULL` costs the job store: job transitions per second, FULL vs NORMAL.

Each job is created, then walked queued -> submitting -> running -> succeeded -> fetched ->
posting -> delivered with the store's own compare-and-set writes, on a real file in a temp dir
(the disk this machine has). Run by hand: ``python bench/sqlite_writes.py [jobs]``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.states import JobState as S
from bot.jobs.store import Store

BOARD = Storyboard(shots=(Shot(scene="A kitten", tenths=100),), length=10)
PATH = [S.SUBMITTING, S.RUNNING, S.SUCCEEDED, S.FETCHED, S.POSTING, S.DELIVERED]


async def run(mode: str, jobs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "bench.db")
        await store.db.execute(f"PRAGMA synchronous={mode}")
        start = time.perf_counter()
        for n in range(jobs):
            job = await store.create_job(
                id=f"job{n:09d}", model="m", storyboard=BOARD, image_path="x", deadline_at=1e12
            )
            state = job.state
            for nxt in PATH:
                await store.transition(job.id, state, nxt)
                state = nxt
        elapsed = time.perf_counter() - start
        await store.close()
    return jobs * (1 + len(PATH)) / elapsed


async def main() -> None:
    jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    print(f"{jobs} jobs, {1 + len(PATH)} writes each, on {tempfile.gettempdir()}")
    for mode in ("NORMAL", "FULL"):
        rates = [await run(mode, jobs) for _ in range(3)]
        rates.sort()
        print(f"synchronous={mode:<6} writes/s: min {rates[0]:.0f}  median {rates[1]:.0f}")
    # For scale: kie.ai takes at most 20 new tasks per 10 s per account, so the bot writes a
    # few transitions per second at its busiest.


if __name__ == "__main__":
    asyncio.run(main())
