"""The scheduler sees only its own work and never spins: a job another process left due, and a
burst of callbacks for a job mid-step, cost no CPU; a callback's wake-up is never lost."""

from __future__ import annotations

import asyncio
import time

from bot.domain.clock import Clock
from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.states import JobState
from bot.kie import KieClient, RateLimits
from bot.runtime import Runtime
from tests.fakes.fakekie import FakeKie, TaskPlan
from tests.helpers import RecordingDelivery, make_settings

BOARD = Storyboard(shots=(Shot(scene="A kitten", tenths=100),), length=10)


async def _runtime(settings, **kw) -> Runtime:
    kie = KieClient(settings.kie, limits=RateLimits())
    rt = await Runtime.build(settings, RecordingDelivery(), kie=kie, clock=Clock(), **kw)
    rt._closers.append(kie)
    return rt


async def _cpu_while(seconds: float) -> float:
    """Process CPU seconds used while the event loop runs for ``seconds`` of wall time."""
    start = time.process_time()
    await asyncio.sleep(seconds)
    return time.process_time() - start


async def test_a_foreign_due_job_does_not_make_the_bot_spin(tmp_path, image):
    async with FakeKie(auto_callbacks=False) as fake:
        settings = make_settings(tmp_path, fake.url)
        # An interrupted `storyboard-bot render` left its job due in the shared database.
        cli = await _runtime(settings, origin="cli", only=set())
        left = await cli.tracker.submit(BOARD, image, origin="cli")
        await cli.close()

        bot = await _runtime(settings, origin="discord")
        try:
            await bot.start()
            cpu = await _cpu_while(1.0)
            # Nothing of ours is due: the loop sleeps (a spinning loop burns ~1 s here).
            assert cpu < 0.15, f"{cpu:.2f} s of CPU in 1 s"
            assert fake.calls["createTask"] == 0
            assert (await bot.store.get_job(left.id)).state == JobState.QUEUED
            assert await bot.store.next_check_at(owner=bot.tracker.scheduler.owner) is None
        finally:
            await bot.close()


async def test_callbacks_during_a_download_are_kept_and_cost_nothing(tmp_path, image):
    async with FakeKie(auto_callbacks=False) as fake:
        fake.plan = TaskPlan(duration=0.2)
        settings = make_settings(tmp_path, fake.url, tracker={"poll_min_seconds": 0.1})
        rt = await _runtime(settings, origin="cli", only=set())
        try:
            fake.delay_next("result", 1.2)  # the download takes a while
            job = await rt.tracker.submit(BOARD, image, origin="cli")
            await rt.start()
            for _ in range(100):
                if fake.calls["result"]:
                    break
                await asyncio.sleep(0.02)
            assert fake.calls["result"] == 1
            start = time.process_time()
            for _ in range(50):  # a duplicate-callback burst while the step downloads
                assert await rt.tracker.on_callback(job.id, fake.last_task.task_id)
            await asyncio.sleep(1.0)
            cpu = time.process_time() - start
            assert cpu < 0.3, f"{cpu:.2f} s of CPU in 1 s"
            for _ in range(100):
                if (await rt.store.get_job(job.id)).state == JobState.DELIVERED:
                    break
                await asyncio.sleep(0.05)
            assert (await rt.store.get_job(job.id)).state == JobState.DELIVERED
            assert fake.calls["result"] == 1  # fetched once
            assert len(rt.tracker.ctx.delivery.videos) == 1  # type: ignore[attr-defined]
        finally:
            await rt.close()


async def test_a_callback_during_a_poll_is_not_overwritten(tmp_path, image):
    """The poll's own next_check_at (seconds away) must not swallow a callback that came while
    the poll was reading: the job is looked at again as soon as the poll ends."""
    async with FakeKie(auto_callbacks=False) as fake:
        fake.plan = TaskPlan(duration=1.0)
        settings = make_settings(
            tmp_path, fake.url, tracker={"poll_min_seconds": 60, "callback_poll_min_seconds": 60}
        )
        rt = await _runtime(settings, origin="cli", only=set())
        try:
            job = await rt.tracker.submit(BOARD, image, origin="cli")
            await rt.start()
            for _ in range(100):
                if (await rt.store.get_job(job.id)).state == JobState.RUNNING:
                    break
                await asyncio.sleep(0.02)
            # A poll reads "generating" now, and its answer arrives late (1.2 s) ...
            fake.delay_next("recordInfo", 1.2)
            await rt.tracker.scheduler.poke(job.id)
            await asyncio.sleep(0.1)
            assert job.id in rt.tracker.scheduler.inflight
            # ... while kie.ai finishes and its callback arrives, mid-poll.
            await asyncio.sleep(1.0)
            await rt.tracker.on_callback(job.id, fake.last_task.task_id)
            # The poll then writes its next check a minute away; the callback must still win.
            for _ in range(60):
                if (await rt.store.get_job(job.id)).state == JobState.DELIVERED:
                    break
                await asyncio.sleep(0.05)
            assert (await rt.store.get_job(job.id)).state == JobState.DELIVERED
        finally:
            await rt.close()


# -- bounded under load ----------------------------------------------------------------------

KLING = "kling-3.0-omni/image-to-video"


async def _seed_running(store, count: int, *, now: float, deadline: float, prefix: str = "j"):
    """``count`` running jobs, all due now, submitted one second apart (the first oldest)."""
    board = BOARD.model_dump_json()
    rows = [
        (f"{prefix}{i:05d}", "discord", 100 + i % 7, 1 + i % 3, KLING, board, "x.png",
         f"task{i:05d}", str(JobState.RUNNING), now - 3600 + i, now - 3600 + i, deadline,
         now - (i % 11), now)
        for i in range(count)
    ]  # fmt: skip
    async with store.transaction() as db:
        await db.executemany(
            "INSERT INTO jobs (id, origin, owner_id, guild_id, model, storyboard, image_path, "
            "task_id, state, created_at, submitted_at, deadline_at, next_check_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    return [r[0] for r in rows]


async def test_thousands_of_due_jobs_start_only_what_the_lanes_hold_and_never_spin(store):
    """2,000 running jobs fall due at once while kie.ai is slow to answer: only the kie lane's
    8 steps exist at a time (no task per due row), the loop sleeps while they wait, and every
    job is then read exactly once, oldest submission first."""
    clock = Clock()
    ids = await _seed_running(store, 2000, now=clock.now(), deadline=clock.now() + 3600)
    gate = asyncio.Event()
    stepped: list[str] = []
    running = 0
    most = 0

    async def step(job) -> None:  # type: ignore[no-untyped-def]
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            await gate.wait()
            stepped.append(job.id)
            await store.update_job(job.id, next_check_at=None)  # read: next check later
        finally:
            running -= 1

    from bot.jobs.scheduler import Scheduler
    from bot.jobs.store import lane_of

    s = Scheduler(
        store=store,
        clock=clock,
        owner=None,
        step=step,
        lane_of=lane_of,
        lanes={"submit": 32, "kie": 8, "deliver": 4, "chain": 4},
    )
    s.start()
    try:
        await asyncio.sleep(0.2)
        tasks_before = len(asyncio.all_tasks())
        rounds_before = len(s.rounds)
        cpu = await _cpu_while(1.0)
        assert len(s.inflight) == 8 and most == 8
        assert len(asyncio.all_tasks()) == tasks_before  # nothing queued up meanwhile
        assert len(s.rounds) - rounds_before <= 2, "the loop went round while every lane was full"
        assert cpu < 0.15, f"{cpu:.2f} s of CPU in 1 s with every lane full"
        assert s.health() == (True, "running")
        gate.set()
        for _ in range(600):
            if len(stepped) == len(ids):
                break
            await asyncio.sleep(0.05)
        assert sorted(stepped) == ids  # each once: a job being read is never due again
        assert most == 8
        # Oldest submission first: the first 8 taken were the 8 oldest, and so on.
        assert stepped[:8] == ids[:8]
        assert stepped == sorted(stepped)
    finally:
        await s.stop()


async def test_a_job_long_past_its_deadline_is_read_before_it_expires(tmp_path, clock):
    """Under load a job's read comes late: 300 jobs kie.ai finished long ago, all past their
    deadline when their turn comes, are each read and delivered; none expires unread and
    nothing is charged for a video that was not made."""
    from tests.fakes.fakekie import FakeTask
    from tests.fakes.memkie import MemoryKie

    kie = MemoryKie(clock)
    settings = make_settings(tmp_path, "http://kie.test")
    delivery = RecordingDelivery()
    rt = await Runtime.build(settings, delivery, kie=kie, clock=clock, origin="discord")
    try:
        now = clock.now()
        ids = await _seed_running(rt.store, 300, now=now, deadline=now - 60)
        for i in range(300):
            tid = f"task{i:05d}"
            kie.fake.tasks[tid] = FakeTask(
                task_id=tid,
                model=KLING,
                body={"model": KLING, "input": {"duration": "10"}},
                created_at=now - 3600,
                plan=TaskPlan(duration=60.0),
                callback_url=None,
            )
        for _ in range(100):  # each run_once is a bounded number of rounds of 8 reads
            await rt.tracker.run_once()
            jobs = await rt.store.get_jobs(ids)
            if all(j.state == JobState.DELIVERED for j in jobs.values()):
                break
        states = {j.state for j in jobs.values()}
        assert states == {JobState.DELIVERED}, states
        assert all(j.reads >= 1 for j in jobs.values())
        assert kie.fake.calls["recordInfo"] == 300
    finally:
        await rt.close()
