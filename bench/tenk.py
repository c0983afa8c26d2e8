"""10,000 tracked jobs falling due at once: start-up, the sweep, the event loop's lag, memory
and idle CPU.

Run from the repo root:  python bench/tenk.py   (about a minute; ``--jobs``, ``--reads``)

The store holds ``--jobs`` running jobs (each with a task on an in-memory kie.ai and a quota
reservation), as a bot restarted under load finds them. ``Runtime.start()`` resumes them all
(every one is due at once) and the tracker's own loop sweeps them: one status read each, as
fast as ``--reads`` reads per second allow (default 1000: far above kie.ai's 10, so the loop
itself is the bottleneck). A ticker task wakes every 10 ms and records how late it woke: an
interaction's ack waits for the loop just as long. Printed:

- start-up: ``Tracker.resume()``, what ``Runtime.start()`` runs (settling leftover
  reservations and scheduling every job);
- the sweep: from start until every job has been read once;
- the loop's lag p50 / p99 / max during the sweep (target p99 < 50 ms);
- the CPU used over 3 s before the resume (10k jobs tracked, none due: the loop sleeps), RSS
  after the sweep, and the CPU used over 5 s once every job's next read is later (idle).

Targets: start-up < 2 s, lag p99 < 50 ms, idle CPU < 5 %. Exit status 1 when one is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.domain.clock import Clock  # noqa: E402
from bot.domain.storyboard import Shot, Storyboard  # noqa: E402
from bot.jobs.states import JobState  # noqa: E402
from bot.kie import RateLimits  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from tests.fakes.fakekie import FakeTask, TaskPlan  # noqa: E402
from tests.fakes.memkie import MemoryKie  # noqa: E402
from tests.helpers import RecordingDelivery, make_settings  # noqa: E402

BOARD = Storyboard(shots=(Shot(scene="A kitten", tenths=100),), length=10)
MODEL = "kling-3.0-omni/image-to-video"
TICK = 0.01
TARGET_STARTUP = 2.0
TARGET_LAG_P99 = 0.050
TARGET_IDLE_CPU = 0.05


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * 4096 / 1e6


async def seed(rt: Runtime, kie: MemoryKie, jobs: int, now: float | None = None) -> None:
    """``jobs`` running jobs, submitted over the 10 minutes before ``now`` (default: the time
    of day), each with a reservation."""
    now = time.time() if now is None else now
    board = BOARD.model_dump_json()
    job_rows, usage_rows = [], []
    for i in range(jobs):
        job_id = f"job{i:05d}"
        task_id = f"task{i:05d}"
        submitted = now - 600 + i * 600 / jobs
        kie.fake.tasks[task_id] = FakeTask(
            task_id=task_id,
            model=MODEL,
            body={"model": MODEL},
            created_at=submitted,
            plan=TaskPlan(duration=3600.0),  # still generating during the bench
            callback_url=None,
        )
        guild, member = 1 + i % 50, 100 + i % 500
        job_rows.append(
            (job_id, "discord", member, guild, MODEL, board, "/nonexistent.png", task_id,
             str(JobState.RUNNING), "generating", submitted, submitted, now + 7200,
             now + 3600, now, 100)
        )  # fmt: skip
        usage_rows.append((job_id, guild, member, 1, MODEL, 100, submitted))
    async with rt.store.transaction() as db:
        await db.executemany(
            "INSERT INTO jobs (id, origin, owner_id, guild_id, model, storyboard, image_path, "
            "task_id, state, kie_state, created_at, submitted_at, deadline_at, next_check_at, "
            "updated_at, credits) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            job_rows,
        )
        await db.executemany(
            "INSERT INTO usage (job_id, guild_id, user_id, channel_id, model, credits, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            usage_rows,
        )


async def cpu_share(seconds: float) -> float:
    """The share of one core this process used while the loop ran for ``seconds``."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    return (time.process_time() - cpu0) / (time.perf_counter() - wall0)


async def run(jobs: int, reads: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp), "http://kie.test", tracker={"deadline_minutes": 120})
        kie = MemoryKie(time.time)
        kie.limits = RateLimits(reads_per_second=reads)
        rt = await Runtime.build(
            settings, RecordingDelivery(), kie=kie, clock=Clock(), origin="discord"
        )
        try:
            await seed(rt, kie, jobs)
            lags: list[float] = []
            sweeping = True

            async def ticker() -> None:
                loop = asyncio.get_running_loop()
                while sweeping:
                    t0 = loop.time()
                    await asyncio.sleep(TICK)
                    lags.append(loop.time() - t0 - TICK)

            # Tracked and not due (every next read an hour away): the loop must sleep.
            rt.tracker.start()
            waiting = await cpu_share(3.0)
            tick = asyncio.create_task(ticker())
            t0 = time.perf_counter()
            await rt.tracker.resume()  # what Runtime.start() does: settle, schedule all
            startup = time.perf_counter() - t0
            while kie.fake.calls["recordInfo"] < jobs:  # noqa: ASYNC110 (a count, no event)
                await asyncio.sleep(0.05)
            sweep = time.perf_counter() - t0
            sweeping = False
            await tick
            rss = rss_mb()
            await asyncio.sleep(1.0)  # the last steps of the sweep end
            idle = await cpu_share(5.0)
            lags.sort()
            return {
                "startup": startup,
                "sweep": sweep,
                "p50": statistics.median(lags),
                "p99": lags[int(len(lags) * 0.99)],
                "max": lags[-1],
                "rss": rss,
                "idle": idle,
                "waiting": waiting,
                "reads": kie.fake.calls["recordInfo"],
            }
        finally:
            await rt.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--reads", type=int, default=1000, help="status reads per second")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    r = asyncio.run(run(args.jobs, args.reads))
    print(f"{args.jobs} tracked jobs falling due at once ({args.reads} reads/s allowed)")
    print(f"  start-up (resume)     {r['startup']:7.2f} s    (target < {TARGET_STARTUP:g} s)")
    print(f"  sweep (all read once) {r['sweep']:7.2f} s    ({r['reads']:.0f} reads)")
    print(f"  loop lag p50          {r['p50'] * 1000:7.1f} ms")
    target = f"(target < {TARGET_LAG_P99 * 1000:g} ms)"
    print(f"  loop lag p99          {r['p99'] * 1000:7.1f} ms   {target}")
    print(f"  loop lag max          {r['max'] * 1000:7.1f} ms")
    print(f"  RSS after the sweep   {r['rss']:7.1f} MB")
    idle = f"(target < {TARGET_IDLE_CPU:.0%})"
    print(f"  CPU, none due (3 s)   {r['waiting'] * 100:7.1f} %    {idle}")
    print(f"  CPU after the sweep   {r['idle'] * 100:7.1f} %    {idle}")
    ok = r["startup"] < TARGET_STARTUP and r["p99"] < TARGET_LAG_P99 and r["idle"] < TARGET_IDLE_CPU
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
