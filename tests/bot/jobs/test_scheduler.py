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
