"""The SQLite store: jobs round-trip, compare-and-set updates, the schedule, the queue, secrets."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.store import Job, JobState, Store

BOARD = Storyboard(
    shots=(
        Shot(scene="一只可爱的蓬松橘白相间的小猫戴着橘色耳机", tenths=75),
        Shot(scene="The kitten licks its lips, content", tenths=45, auto=True),
        Shot(scene="Fade out", tenths=30, auto=True),
    ),
    length=15,
    aspect="portrait",
)


async def new_job(store: Store, **fields: Any) -> Job:
    fields.setdefault("model", "sora-2-pro-storyboard")
    fields.setdefault("storyboard", BOARD)
    fields.setdefault("image_path", "media/img.png")
    fields.setdefault("deadline_at", 10_000.0)
    return await store.create_job(**fields)


async def test_create_and_get_round_trip(store):
    job = await new_job(
        store,
        origin="discord",
        owner_id=11,
        guild_id=22,
        channel_id=33,
        card_message_id=44,
        image_url="https://tempfile.redpandaai.co/x.png",
    )
    got = await store.get_job(job.id)

    assert got == job
    assert got.storyboard == BOARD
    assert got.storyboard.shots[1].auto and not got.storyboard.shots[0].auto
    assert (got.state, got.delivery, got.reads) == (JobState.QUEUED, "pending", 0)
    assert (got.owner_id, got.guild_id, got.card_message_id) == (11, 22, 44)
    assert got.next_check_at is not None and got.active
    assert await store.get_job("nope") is None


async def test_a_job_survives_reopening(tmp_path):
    store = await Store.open(tmp_path / "bot.db")
    job = await new_job(store, id="job-a")
    await store.close()
    store = await Store.open(tmp_path / "bot.db")
    try:
        assert await store.get_job("job-a") == job
    finally:
        await store.close()


async def test_update_job_writes_and_returns_the_stored_job(store):
    job = await new_job(store)
    board = BOARD.with_shots(BOARD.shots[:1])
    updated = await store.update_job(job.id, task_id="task_1", progress=40, storyboard=board)

    assert updated is not None
    assert updated == await store.get_job(job.id)
    assert (updated.state, updated.task_id, updated.progress) == (JobState.QUEUED, "task_1", 40)
    assert updated.storyboard == board
    assert updated.updated_at >= job.updated_at
    assert await store.update_job("nope", progress=1) is None


async def test_a_transition_is_compare_and_set(store):
    job = await new_job(store)

    missed = await store.transition(job.id, JobState.RUNNING, JobState.FAILED, progress=9)
    assert missed is None
    assert await store.get_job(job.id) == job  # nothing changed, not even updated_at

    hit = await store.transition(job.id, JobState.QUEUED, JobState.SUBMITTING)
    assert hit is not None and hit.state == JobState.SUBMITTING
    # The same swap a second time finds the state already moved on.
    assert await store.transition(job.id, JobState.QUEUED, JobState.CANCELLED) is None
    assert (await store.get_job(job.id)).state == JobState.SUBMITTING


@pytest.mark.parametrize(
    ("frm", "to"),
    [
        (JobState.QUEUED, JobState.RUNNING),  # never without submitting first
        (JobState.RUNNING, JobState.QUEUED),  # a task kie.ai has is never sent again
        (JobState.UNKNOWN, JobState.QUEUED),
        (JobState.DELIVERED, JobState.POSTING),
        (JobState.FAILED, JobState.QUEUED),
    ],
)
async def test_a_transition_outside_the_table_is_refused_and_writes_nothing(store, frm, to):
    from bot.jobs.states import IllegalTransition

    job = await new_job(store, state=frm)
    with pytest.raises(IllegalTransition):
        await store.transition(job.id, frm, to)
    assert await store.get_job(job.id) == job


async def test_the_state_is_written_only_by_transitions(store):
    from bot.jobs.states import IllegalTransition

    job = await new_job(store)
    with pytest.raises(IllegalTransition):
        await store.update_job(job.id, state=JobState.RUNNING)
    assert await store.get_job(job.id) == job


async def test_update_job_refuses_unknown_columns(store):
    job = await new_job(store)
    with pytest.raises(KeyError):
        await store.update_job(job.id, colour="red")
    with pytest.raises(KeyError):
        await store.update_job(job.id, **{"state = 'failed', progress": 1})
    assert await store.get_job(job.id) == job


async def test_due_jobs_are_oldest_check_first_and_next_check_at_is_the_earliest(store):
    late = await new_job(store, next_check_at=300.0)
    first = await new_job(store, next_check_at=100.0)
    second = await new_job(store, next_check_at=200.0)
    future = await new_job(store, next_check_at=900.0)
    idle = await new_job(store)
    await store.update_job(idle.id, next_check_at=None)

    assert [j.id for j in await store.due_jobs(250.0)] == [first.id, second.id]
    assert [j.id for j in await store.due_jobs(300.0)] == [first.id, second.id, late.id]
    assert [j.id for j in await store.due_jobs(1000.0, limit=2)] == [first.id, second.id]
    assert future.id in [j.id for j in await store.due_jobs(1000.0)]
    assert idle.id not in [j.id for j in await store.due_jobs(1e12)]
    assert await store.due_jobs(50.0) == []
    assert await store.next_check_at() == 100.0

    await store.update_job(first.id, next_check_at=None)
    assert await store.next_check_at() == 200.0


async def test_next_check_at_is_none_without_scheduled_jobs(store):
    assert await store.next_check_at() is None
    job = await new_job(store)
    await store.update_job(job.id, next_check_at=None)
    assert await store.next_check_at() is None


async def test_queue_position_counts_only_queued_jobs_oldest_first(store):
    a = await new_job(store, created_at=3.0)
    b = await new_job(store, created_at=1.0)
    running = await new_job(store, created_at=0.5, state=JobState.RUNNING)
    c = await new_job(store, created_at=2.0)

    assert await store.queue_position(b.id) == 1
    assert await store.queue_position(c.id) == 2
    assert await store.queue_position(a.id) == 3
    assert await store.queue_position(running.id) is None
    assert await store.queue_position("nope") is None

    await store.transition(b.id, JobState.QUEUED, JobState.SUBMITTING)
    assert await store.queue_position(c.id) == 1
    assert await store.queue_position(a.id) == 2
    assert await store.queue_position(b.id) is None


async def test_job_by_task(store):
    job = await new_job(store)
    other = await new_job(store)
    await store.update_job(job.id, task_id="task_sora_1")
    await store.update_job(other.id, task_id="task_sora_2")

    found = await store.job_by_task("task_sora_1")
    assert found is not None and found.id == job.id
    assert (await store.job_by_task("task_sora_2")).id == other.id
    assert await store.job_by_task("task_unknown") is None


async def test_secret_is_stable_across_reopen_and_random_across_databases(tmp_path):
    one = await Store.open(tmp_path / "one.db")
    first = await one.secret("callback_secret")
    assert first == await one.secret("callback_secret")
    other_key = await one.secret("another")
    await one.close()

    one = await Store.open(tmp_path / "one.db")
    two = await Store.open(tmp_path / "two.db")
    try:
        assert await one.secret("callback_secret") == first
        assert await two.secret("callback_secret") != first
        assert other_key != first
        assert len(first) == 64 and int(first, 16) >= 0
    finally:
        await one.close()
        await two.close()


async def test_meta_values_can_be_replaced(store):
    assert await store.get_meta("k") is None
    await store.set_meta("k", "1")
    await store.set_meta("k", "2")
    assert await store.get_meta("k") == "2"


async def test_jobs_for_owner_and_recent_jobs_newest_first(store):
    old = await new_job(store, guild_id=1, owner_id=5, created_at=1.0)
    new = await new_job(store, guild_id=1, owner_id=5, created_at=2.0)
    other = await new_job(store, guild_id=1, owner_id=6, created_at=3.0)
    dm = await new_job(store, guild_id=None, owner_id=5, created_at=4.0)

    assert [j.id for j in await store.jobs_for_owner(1, 5)] == [new.id, old.id]
    assert [j.id for j in await store.jobs_for_owner(None, 5)] == [dm.id]
    assert [j.id for j in await store.recent_jobs(limit=2)] == [dm.id, other.id]
