"""Status notices and step lanes: a late notice never overwrites a job's end or its result,
Cancel mid-upload ends the job at once without an error, a post never holds a polling slot,
and a step cancelled before it ran frees its slot."""

from __future__ import annotations

import asyncio
import logging

from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.scheduler import Scheduler
from bot.jobs.states import JobState
from bot.jobs.store import Store
from bot.media.images import prepare_image
from bot.models.sora import SoraStoryboard
from bot.runtime import Runtime
from tests.fakes.fakekie import TaskPlan
from tests.fakes.memkie import URL, MemoryKie
from tests.helpers import RecordingDelivery, TestClock, make_settings, png_bytes

BOARD = Storyboard(shots=(Shot(scene="A kitten", tenths=100),), length=10)
IMAGE = prepare_image(png_bytes(), SoraStoryboard.image_spec)


class Shown(RecordingDelivery):
    """A delivery whose status edits are slow (Discord's rate limits), recording the last
    thing each status message showed."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: dict[str, str] = {}
        self.busy_at_post: list[dict[str, int]] = []
        self.scheduler: Scheduler | None = None

    async def job_updated(self, job):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.02)
        self.shown[job.id] = str(job.state)
        await super().job_updated(job)

    async def job_ended(self, job):  # type: ignore[no-untyped-def]
        self.shown[job.id] = str(job.state)
        await super().job_ended(job)

    async def deliver_video(self, job, path):  # type: ignore[no-untyped-def]
        if self.scheduler is not None:
            self.busy_at_post.append(dict(self.scheduler._busy))
        await super().deliver_video(job, path)
        self.shown[job.id] = "delivered with the link"


async def _runtime(tmp_path, kie, clock, delivery) -> Runtime:
    return await Runtime.build(make_settings(tmp_path, URL), delivery, kie=kie, clock=clock)


async def test_a_late_notice_never_overwrites_an_end(tmp_path):
    clock = TestClock()
    delivery = Shown()
    rt = await _runtime(tmp_path, MemoryKie(clock), clock, delivery)
    try:
        others = [await rt.tracker.submit(BOARD, IMAGE) for _ in range(5)]
        job = await rt.tracker.submit(BOARD, IMAGE)
        for o in [*others, job]:  # five notices ahead of ours in the queue
            rt.tracker.ctx.notify(o)
        await rt.tracker.cancel(job.id)
        await rt.tracker.run_once()
        assert delivery.shown[job.id] == "cancelled"
    finally:
        await rt.close()


async def test_a_late_notice_never_overwrites_the_result(tmp_path):
    clock = TestClock()
    kie = MemoryKie(clock)
    kie.plan = TaskPlan(duration=20)
    delivery = Shown()
    rt = await _runtime(tmp_path, kie, clock, delivery)
    try:
        jobs = [await rt.tracker.submit(BOARD, IMAGE) for _ in range(6)]
        await rt.tracker.run_once()
        clock.advance(60)
        await rt.tracker.run_once()
        assert {delivery.shown[j.id] for j in jobs} == {"delivered with the link"}
    finally:
        await rt.close()


class SlowUpload(MemoryKie):
    def __init__(self, clock) -> None:  # type: ignore[no-untyped-def]
        super().__init__(clock)
        self.uploading = asyncio.Event()
        self.go_on = asyncio.Event()

    async def upload(self, data, file_name, upload_path):  # type: ignore[no-untyped-def]
        self.uploading.set()
        await self.go_on.wait()
        return await super().upload(data, file_name, upload_path)


async def test_cancel_while_the_image_uploads_ends_the_job_at_once(tmp_path, caplog):
    clock = TestClock()
    kie = SlowUpload(clock)
    delivery = Shown()
    rt = await _runtime(tmp_path, kie, clock, delivery)
    try:
        job = await rt.tracker.submit(BOARD, IMAGE)
        caplog.set_level(logging.INFO)
        runner = asyncio.create_task(rt.tracker.run_once())
        await kie.uploading.wait()
        assert await rt.tracker.cancel(job.id)  # the member presses Cancel mid-upload
        kie.go_on.set()
        await runner
        assert (await rt.store.get_job(job.id)).state == JobState.CANCELLED
        assert kie.fake.calls["createTask"] == 0
        assert [j.state for j in delivery.ended] == [JobState.CANCELLED]  # told now
        assert not [r for r in caplog.records if r.exc_info], "no traceback for a Cancel press"
    finally:
        await rt.close()


async def test_a_post_runs_in_the_posting_lane_not_a_polling_slot(tmp_path):
    clock = TestClock()
    kie = MemoryKie(clock)
    kie.plan = TaskPlan(duration=20)
    delivery = Shown()
    rt = await _runtime(tmp_path, kie, clock, delivery)
    delivery.scheduler = rt.tracker.scheduler
    try:
        await rt.tracker.submit(BOARD, IMAGE)
        await rt.tracker.run_once()
        clock.advance(60)
        await rt.tracker.run_once()
        assert delivery.busy_at_post == [{"submit": 0, "deliver": 1, "kie": 0, "chain": 0}]
    finally:
        await rt.close()


async def test_a_step_cancelled_before_it_ran_frees_its_slot(tmp_path):
    clock = TestClock()
    store = await Store.open(tmp_path / "s.db")
    try:
        await store.create_job(
            id="j1",
            model="m",
            storyboard=BOARD,
            image_path="x",
            next_check_at=clock.now() - 1,
            deadline_at=clock.now() + 100,
        )

        async def step(job):  # type: ignore[no-untyped-def]
            await asyncio.sleep(10)

        s = Scheduler(
            store=store,
            clock=clock,
            owner=None,
            step=step,
            lane_of=lambda j: "submit",
            lanes={"submit": 1},
        )
        assert await s.run_due() == 1
        await s.stop()  # cancels the step before it ever ran
        assert s._busy["submit"] == 0 and s.inflight == {}
    finally:
        await store.close()
