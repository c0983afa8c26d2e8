"""Random interleavings of steps, callbacks, Cancel presses, time and crashes: whatever the
order, the store only ever sees transitions of the table, kie.ai never gets a second
createTask for a job, a video is delivered at most once, and every job ends."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.states import TERMINAL_STATES, JobState, allowed
from bot.jobs.store import Store
from bot.media.images import prepare_image
from bot.models.sora import SoraStoryboard
from bot.runtime import Runtime
from tests.fakes.fakekie import TaskPlan
from tests.fakes.memkie import URL, MemoryKie
from tests.helpers import RecordingDelivery, TestClock, make_settings, png_bytes

BOARD = Storyboard(shots=(Shot(scene="A kitten", tenths=100),), length=10)
IMAGE = prepare_image(png_bytes(), SoraStoryboard.image_spec)

ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("submit"), st.just(0)),
        st.tuples(st.just("step"), st.just(0)),
        st.tuples(st.just("advance"), st.sampled_from([1, 5, 30, 120])),
        st.tuples(st.just("callback"), st.integers(0, 3)),
        st.tuples(st.just("cancel"), st.integers(0, 3)),
        st.tuples(st.just("crash"), st.just(0)),
        st.tuples(st.just("lose_answer"), st.just(0)),
    ),
    min_size=1,
    max_size=25,
)


class Recording(Store):
    """The real store, remembering every change of state it wrote."""

    moves: list[tuple[str, JobState, JobState]]

    async def transition(self, job_id, frm, to, **fields):  # type: ignore[no-untyped-def]
        before = await self.get_job(job_id)
        moved = await super().transition(job_id, frm, to, **fields)
        if moved is not None and before is not None:
            self.moves.append((job_id, before.state, to))
        return moved


async def _build(tmp: Path, kie: MemoryKie, clock: TestClock, moves: list) -> Runtime:
    settings = make_settings(tmp, URL, http={"public_url": "http://127.0.0.1:9", "port": 0})
    rt = await Runtime.build(settings, RecordingDelivery(), kie=kie, clock=clock)
    store = Recording(rt.store.db, rt.store.path)
    store.moves = moves
    rt.store = store
    rt.tracker.store = store
    rt.tracker.ctx.store = store
    rt.tracker.scheduler.store = store
    rt.tracker.ctx._secret = None
    return rt


async def _play(tmp: Path, actions: list[tuple[str, int]]) -> None:
    clock = TestClock()
    kie = MemoryKie(clock)
    kie.plan = TaskPlan(duration=20)
    moves: list[tuple[str, JobState, JobState]] = []
    deliveries: list[str] = []
    rt = await _build(tmp, kie, clock, moves)
    jobs: list[str] = []
    try:
        for action, arg in actions:
            if action == "submit":
                jobs.append((await rt.tracker.submit(BOARD, IMAGE)).id)
            elif action == "step":
                await rt.tracker.run_once()
            elif action == "advance":
                clock.advance(arg)
            elif action == "callback" and jobs:
                job = await rt.store.get_job(jobs[arg % len(jobs)])
                task = next(
                    (
                        t
                        for t in kie.fake.tasks.values()
                        if t.body.get("callBackUrl", "").count(job.id)
                    ),
                    None,
                )
                await rt.tracker.on_callback(job.id, task.task_id if task else None)
            elif action == "cancel" and jobs:
                await rt.tracker.cancel(jobs[arg % len(jobs)])
            elif action == "lose_answer":
                kie.unknown_next += 1
            elif action == "crash":
                deliveries += [j.id for j, _ in rt.tracker.ctx.delivery.videos]  # type: ignore[attr-defined]
                await rt.close()
                rt = await _build(tmp, kie, clock, moves)
                await rt.tracker.resume()
        # Then let everything run out: past every deadline and grace.
        for _ in range(12):
            clock.advance(600)
            await rt.tracker.run_once()
        deliveries += [j.id for j, _ in rt.tracker.ctx.delivery.videos]  # type: ignore[attr-defined]
        for job_id in jobs:
            job = await rt.store.get_job(job_id)
            assert job.state in TERMINAL_STATES, (job_id, job.state)
        assert len(deliveries) == len(set(deliveries)), "a video was delivered twice"
    finally:
        await rt.close()
    for job_id, frm, to in moves:
        assert allowed(frm, to), (job_id, frm, to)
    for job_id in jobs:
        sent = [b for b in kie.fake.create_attempts if job_id in b.get("callBackUrl", "")]
        assert len(sent) <= 1, f"job {job_id} was sent {len(sent)} times"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(actions=ACTIONS)
def test_any_interleaving_keeps_the_guarantees(tmp_path_factory, actions, caplog):
    caplog.set_level(logging.ERROR, logger="bot.jobs")
    tmp = tmp_path_factory.mktemp("jobs")
    asyncio.run(_play(tmp, actions))
    unexpected = [r for r in caplog.records if "unexpected error" in r.getMessage()]
    assert unexpected == [], unexpected[0].getMessage() if unexpected else ""
    caplog.clear()
