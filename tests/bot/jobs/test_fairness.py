"""The submit queue's places (bot.jobs.fairness): given once, kept while the queue moves, fair
to a member who joins late."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.states import JobState
from bot.jobs.store import Store

BOARD = Storyboard(shots=(Shot(scene="A kitten", tenths=100),), length=10)


async def _press(store: Store, n: int, guild: int, member: int, *, hold: bool = False) -> str:
    job = await store.create_job(
        id=f"j{n:03d}",
        origin="discord",
        guild_id=guild,
        owner_id=member,
        model="m",
        storyboard=BOARD,
        image_path="x",
        created_at=float(n),
        next_check_at=None if hold else float(n),
        deadline_at=1e9,
    )
    return job.id


async def _send_head(store: Store) -> str | None:
    """What the scheduler does with the head: takes it and sends it (it leaves the queue)."""
    due = await store.due_in_lane("submit", 1e9, 1)
    if not due:
        return None
    await store.transition(due[0].id, JobState.QUEUED, JobState.SUBMITTING)
    await store.transition(due[0].id, JobState.SUBMITTING, JobState.RUNNING, next_check_at=9e9)
    return due[0].id


# press: (guild, member); send: the head is sent; cancel: the k-th waiting job is cancelled
events = st.lists(
    st.one_of(
        st.tuples(st.just("press"), st.integers(1, 2), st.integers(1, 4)),
        st.tuples(st.just("send"), st.just(0), st.just(0)),
        st.tuples(st.just("cancel"), st.integers(0, 9), st.just(0)),
    ),
    min_size=1,
    max_size=40,
)


async def _replay(steps: list[tuple[str, int, int]]) -> list[tuple[str, list[str]]]:
    """The queue after each step."""
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "q.db")
        try:
            seen: list[tuple[str, list[str]]] = []
            for n, (kind, a, b) in enumerate(steps):
                if kind == "press":
                    await _press(store, n, a, b)
                elif kind == "send":
                    await _send_head(store)
                else:
                    line = await store.queue_order(1e9)
                    if line:
                        victim = line[a % len(line)]
                        await store.transition(victim, JobState.QUEUED, JobState.CANCELLED)
                seen.append((kind, await store.queue_order(1e9)))
            return seen
        finally:
            await store.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events)
def test_the_jobs_ahead_of_a_waiting_job_stay_ahead_of_it(steps):
    seen = asyncio.run(_replay(steps))
    before: list[str] = []
    for kind, line in seen:
        kept = [job_id for job_id in line if job_id in before]
        # Whatever happened, the jobs that were waiting are in the same order as before.
        assert kept == [job_id for job_id in before if job_id in line]
        if kind != "press":
            # Sending or cancelling never moves anyone back; nobody new came in.
            assert kept == line
            for job_id in line:
                assert line.index(job_id) <= before.index(job_id)
        before = line


async def test_a_member_who_joins_late_goes_ahead_of_a_busy_members_later_jobs():
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "q.db")
        try:
            busy = [await _press(store, n, 1, 1) for n in range(4)]
            assert await store.queue_order(1e9) == busy
            assert await _send_head(store) == busy[0]
            late = await _press(store, 10, 2, 2)
            # The busy member's 2nd job goes first (it is in the current round), then the
            # newcomer's 1st, then the rest of the busy member's.
            assert await store.queue_order(1e9) == [busy[1], late, busy[2], busy[3]]
            # A member who joins again later gets no credit for the turns they sat out.
            assert await _send_head(store) == busy[1]
            assert await _send_head(store) == late
            again = await _press(store, 11, 2, 2)
            assert await store.queue_order(1e9) == [busy[2], again, busy[3]]
        finally:
            await store.close()


async def test_a_held_job_has_no_place_until_it_is_released():
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "q.db")
        try:
            held = await _press(store, 0, 1, 1, hold=True)
            first = await _press(store, 1, 1, 2)
            assert await store.queue_order(1e9) == [first]
            assert (await store.get_job(held)).queue_turn is None  # type: ignore[union-attr]
            await store.update_job(held, next_check_at=5.0)  # released after the other
            assert await store.queue_order(1e9) == [first, held]
        finally:
            await store.close()


async def test_a_job_that_comes_back_to_the_queue_keeps_its_place():
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "q.db")
        try:
            ids = [await _press(store, n, 1, n) for n in range(3)]
            due = await store.due_in_lane("submit", 1e9, 1)
            assert [j.id for j in due] == ids[:1]
            await store.transition(ids[0], JobState.QUEUED, JobState.SUBMITTING)
            assert await store.queue_order(1e9) == ids[1:]
            # kie.ai could not be reached: nothing was sent, it waits again, retrying later.
            await store.transition(ids[0], JobState.SUBMITTING, JobState.QUEUED)
            assert await store.queue_order(1e9) == ids
        finally:
            await store.close()
