"""bot.jobs.history: each video kie.ai made leaves its generation time (kie.ai's own when it
reports one), the last few of each kind are kept, and a job of a kind with enough history is
read less before its learned start while its end is still noticed within the promise."""

from __future__ import annotations

import aiosqlite
import pytest

from bot.db.migrations import LATEST, migrate
from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.history import KEEP, REFRESH, History, Kind, generation_seconds
from bot.jobs.poll import kind_of
from bot.jobs.polling import MIN_SAMPLES, learned_start, reads_for
from bot.jobs.store import Job, JobState, Store
from bot.kie import TaskRecord
from tests.fakes.fakekie import KLING_MODEL, SORA_MODEL, TaskPlan
from tests.helpers import make_settings

BOARD = Storyboard(
    shots=(
        Shot(scene="A fluffy orange kitten wearing headphones", tenths=75),
        Shot(scene="The kitten licks its lips, content", tenths=75),
    ),
    length=15,
    aspect="landscape",
)
SORA_15 = Kind(SORA_MODEL, 15, "")


def record(**times: int | None) -> TaskRecord:
    return TaskRecord.model_validate({"taskId": "t1", "state": "success", **times})


async def rows(store: Store) -> list[tuple[str, int, str, float, float]]:
    async with store.db.execute(
        "SELECT model, length, resolution, seconds, noticed FROM generation_times ORDER BY id"
    ) as cur:
        return [tuple(r) for r in await cur.fetchall()]


def test_kie_ais_own_times_are_the_generation_time():
    # Created at 1000 s, completed at 1240 s on kie.ai's clock; noticed 252 s after submission.
    rec = record(createTime=1_000_000, completeTime=1_240_000)
    assert generation_seconds(rec, 252.0) == 240.0


@pytest.mark.parametrize(
    "times",
    [
        {},  # not reported
        {"createTime": 1_000_000},
        {"createTime": 1_240_000, "completeTime": 1_000_000},  # ends before it began
        {"createTime": 0, "completeTime": 1_698_765_432_000},  # decades
    ],
)
def test_without_sane_times_from_kie_ai_the_noticed_time_is_used(times):
    assert generation_seconds(record(**times), 252.0) == 252.0


def test_kie_ais_time_never_exceeds_when_the_end_was_seen():
    # Its clock ran a little ahead of ours: the task cannot have ended after we saw it end.
    assert generation_seconds(record(createTime=0, completeTime=260_000), 252.0) == 252.0


async def test_the_last_of_each_kind_are_kept_newest_first(store):
    history = History()
    other = Kind(KLING_MODEL, 15, "720p")
    await history.record(store, other, seconds=99.0, noticed=100.0, at=0.0)
    for n in range(KEEP + 5):
        await history.record(store, SORA_15, seconds=float(n), noticed=float(n), at=float(n))
    assert await history.samples(store, SORA_15) == [float(n) for n in range(KEEP + 4, 4, -1)]
    assert await history.samples(store, other) == [99.0]
    assert len(await rows(store)) == KEEP + 1


async def test_a_kind_has_a_learned_start_only_with_enough_history(store):
    history = History()
    for n in range(MIN_SAMPLES - 1):
        await history.record(store, SORA_15, seconds=200.0 + n, noticed=205.0 + n, at=0.0)
    assert await history.start(store, SORA_15, now=0.0) is None
    await history.record(store, SORA_15, seconds=300.0, noticed=305.0, at=0.0)
    # Recording refreshes the kind at once.
    start = await history.start(store, SORA_15, now=1.0)
    assert start == learned_start([200.0 + n for n in range(MIN_SAMPLES - 1)] + [300.0])
    assert await history.start(store, Kind(SORA_MODEL, 25, ""), now=1.0) is None


async def test_rows_written_elsewhere_are_read_after_the_refresh(store):
    history = History()
    assert await history.start(store, SORA_15, now=0.0) is None
    other_process = History()
    for _ in range(MIN_SAMPLES):
        await other_process.record(store, SORA_15, seconds=240.0, noticed=241.0, at=0.0)
    assert await history.start(store, SORA_15, now=REFRESH - 1) is None  # cached
    assert await history.start(store, SORA_15, now=REFRESH) == pytest.approx(192.0)


async def test_a_history_that_cannot_be_read_is_no_history(tmp_path):
    store = await Store.open(tmp_path / "gone.db")
    await store.db.execute("DROP TABLE generation_times")
    history = History()
    try:
        assert await history.start(store, SORA_15, now=0.0) is None
        await history.record(store, SORA_15, seconds=1.0, noticed=1.0, at=0.0)  # no raise
    finally:
        await store.close()


async def test_the_kind_names_the_configured_resolution(tmp_path, fake, make_runtime):
    settings = make_settings(tmp_path, fake.url, kie={"model": KLING_MODEL})
    rt, _ = await make_runtime(settings)
    job = Job(
        id="j1",
        model=KLING_MODEL,
        storyboard=BOARD,
        image_path="x.png",
        state=JobState.RUNNING,
        created_at=0.0,
        deadline_at=1800.0,
        updated_at=0.0,
    )
    assert kind_of(rt.tracker.ctx, job) == Kind(KLING_MODEL, 15, "720p")
    # A model no longer configured: its kind has no resolution.
    assert kind_of(rt.tracker.ctx, job.model_copy(update={"model": "gone"})) == Kind("gone", 15)


async def follow(rt, fake, clock, job_id: str) -> Job:
    """Run the tracker in 1 s steps until the job was delivered."""
    for _ in range(2000):
        clock.advance(1.0)
        await rt.tracker.run_once()
        job = await rt.store.get_job(job_id)
        if job.state == JobState.DELIVERED:
            return job
    raise AssertionError(f"job {job_id} not delivered: {job.state}")


@pytest.mark.parametrize("learned", [False, True])
async def test_a_five_minute_job_with_history_costs_half_the_reads_and_is_noticed_in_time(
    settings, fake, clock, make_runtime, image, learned
):
    rt, delivery = await make_runtime(settings)
    if learned:
        # Twenty 15 s Sora videos took 3.5-4.5 min: the learned start is 168 s.
        for n in range(MIN_SAMPLES):
            await rt.store.write(
                "INSERT INTO generation_times (model, length, resolution, seconds, noticed, "
                "finished_at) VALUES (?, 15, '', ?, ?, 0)",
                (SORA_MODEL, 210.0 + 3 * n, 215.0 + 3 * n),
            )
    fake.plan = TaskPlan(waiting=2, queuing=3, duration=295)
    job = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    job = await follow(rt, fake, clock, job.id)
    task = fake.tasks[job.task_id]
    took = task.ended_at - job.submitted_at
    # Noticed within max(10 s, 10 %) either way.
    assert 0 <= job.finished_at - task.ended_at <= max(10.0, 0.10 * took)
    assert len(delivery.videos) == 1
    if learned:
        assert fake.calls["recordInfo"] <= 12
    else:
        assert fake.calls["recordInfo"] == reads_for(took) >= 22
    # The video's generation time joined the history: kie.ai's own, not when it was seen.
    newest = (await rows(rt.store))[-1]
    assert newest[:3] == (SORA_MODEL, 15, "")
    assert newest[3] == pytest.approx(took, abs=1.0) and newest[4] >= newest[3]


async def test_videos_made_before_the_upgrade_seed_the_history(tmp_path):
    db = await aiosqlite.connect(tmp_path / "old.db", isolation_level=None)
    try:
        await migrate(db, target=6)
        board = BOARD.model_dump_json()
        jobs = [
            # id, state, result_url, submitted, finished, chain
            ("a", "delivered", "https://r/a.mp4", 100.0, 340.0, None),
            ("b", "fetched", "https://r/b.mp4", 100.0, 330.0, None),
            ("c", "failed", None, 100.0, 130.0, None),  # no video
            ("d", "delivered", "https://r/d.mp4", 100.0, 900.0, '{"segments": []}'),  # a chain
            ("e", "running", None, 100.0, None, None),
        ]
        for job_id, state, url, submitted, finished, chain in jobs:
            await db.execute(
                "INSERT INTO jobs (id, model, storyboard, image_path, state, result_url, "
                "submitted_at, finished_at, chain, created_at, deadline_at, updated_at) "
                "VALUES (?, ?, ?, 'x.png', ?, ?, ?, ?, ?, 0, 0, 0)",
                (job_id, SORA_MODEL, board, state, url, submitted, finished, chain),
            )
        await db.execute(
            "INSERT INTO jobs (id, model, storyboard, image_path, state, result_url, "
            "submitted_at, finished_at, created_at, deadline_at, updated_at) "
            "VALUES ('f', ?, 'not json', 'x.png', 'delivered', 'u', 1, 2, 0, 0, 0)",
            (SORA_MODEL,),
        )
        assert await migrate(db) == LATEST
        async with db.execute(
            "SELECT model, length, resolution, seconds, noticed FROM generation_times ORDER BY id"
        ) as cur:
            seeded = [tuple(r) for r in await cur.fetchall()]
    finally:
        await db.close()
    assert seeded == [(SORA_MODEL, 15, "", 230.0, 230.0), (SORA_MODEL, 15, "", 240.0, 240.0)]
