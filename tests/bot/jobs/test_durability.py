"""Every money-path write is durable before the next step: after each change of state, a fresh
connection to the database file (as the next process after a crash would open) finds it."""

from __future__ import annotations

import sqlite3

from bot.jobs.states import JobState
from bot.jobs.store import Store
from tests.bot.jobs.test_tracker import BOARD
from tests.fakes.fakekie import TaskPlan


class Reopening(Store):
    seen: list[tuple[JobState, str, str]]

    async def transition(self, job_id, frm, to, **fields):  # type: ignore[no-untyped-def]
        moved = await super().transition(job_id, frm, to, **fields)
        if moved is not None:
            with sqlite3.connect(self.path) as db:  # what a restart would read
                (state,) = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            async with self.db.execute("PRAGMA synchronous") as cur:
                (sync,) = await cur.fetchone()  # type: ignore[misc]
            self.seen.append((to, state, str(sync)))
        return moved


async def test_each_state_is_on_disk_before_the_next_step(
    settings, fake, clock, make_runtime, image
):
    fake.plan = TaskPlan(duration=5)
    rt, delivery = await make_runtime(settings)
    store = Reopening(rt.store.db, rt.store.path)
    store.seen = []
    rt.store = rt.tracker.store = rt.tracker.ctx.store = rt.tracker.scheduler.store = store
    job = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    clock.advance(10)
    await rt.tracker.run_once()
    assert delivery.videos
    path = [
        JobState.SUBMITTING,
        JobState.RUNNING,
        JobState.SUCCEEDED,
        JobState.FETCHED,
        JobState.POSTING,
        JobState.DELIVERED,
    ]
    assert [to for to, _, _ in store.seen] == path
    assert all(str(to) == on_disk for to, on_disk, _ in store.seen)
    # synchronous=FULL (2): a commit survives power loss, not only a crash of the process.
    assert {sync for _, _, sync in store.seen} == {"2"}
    assert (await rt.store.get_job(job.id)).state == JobState.DELIVERED
