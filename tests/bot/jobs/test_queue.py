"""The submit queue: fair (round-robin by member, then guild, oldest first), and the place a
member is shown is the place kept, all along the queue: a burst of 100 presses is sent in the
order shown, never above kie.ai's createTask limit, each about when its estimate said."""

from __future__ import annotations

import asyncio
import collections
import selectors
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.clock import Clock
from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.queue import Turns
from bot.jobs.states import JobState
from bot.jobs.store import Job, Store, lane_of
from bot.kie import RateLimits
from bot.kie.ratelimit import SlidingWindowLimiter
from bot.media.images import prepare_image
from bot.models.kling import KlingOmni
from bot.runtime import Runtime
from tests.fakes.memkie import MemoryKie
from tests.helpers import RecordingDelivery, make_settings, png_bytes

BOARD = Storyboard(shots=(Shot(scene="A kitten", tenths=100),), length=10)

# -- the order -------------------------------------------------------------------------------

presses = st.lists(
    st.tuples(st.integers(1, 3), st.integers(0, 5), st.integers(0, 50)),  # guild, member, t
    min_size=1,
    max_size=40,
)


async def _order_of(rows: list[tuple[int, int, int]]) -> tuple[list[str], dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "q.db")
        try:
            info = {}
            for i, (guild, member, t) in enumerate(rows):
                job = await store.create_job(
                    id=f"j{i:03d}",
                    origin="discord",
                    guild_id=guild,
                    owner_id=member * 10 + guild,  # a member belongs to one guild here
                    model="m",
                    storyboard=BOARD,
                    image_path="x",
                    created_at=float(t),
                    next_check_at=float(t),
                    deadline_at=1e9,
                )
                info[job.id] = (guild, job.owner_id, float(t))
            order = await store.queue_order(1e9)
            due = await store.due_in_lane("submit", 1e9, len(rows))
            assert [j.id for j in due] == order  # the scheduler takes them in this order
            return order, info
        finally:
            await store.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(presses)
def test_the_queue_is_round_robin_by_member_then_guild_oldest_first(rows):
    order, info = asyncio.run(_order_of(rows))
    assert sorted(order) == sorted(info)
    per_member: dict[int, list[str]] = collections.defaultdict(list)
    for job_id in order:
        per_member[info[job_id][1]].append(job_id)
    # Each member's jobs go oldest first.
    for ids in per_member.values():
        assert [info[i][2] for i in ids] == sorted(info[i][2] for i in ids)
    # Round-robin: a member's n-th job never comes before another member's (n-1)-th, so in
    # any prefix two members with jobs left have been served within one job of each other.
    totals = collections.Counter(info[i][1] for i in order)
    served: collections.Counter[int] = collections.Counter()
    for job_id in order:
        member = info[job_id][1]
        for other, total in totals.items():
            if other != member and served[other] < total:
                assert served[member] <= served[other], "a member was served twice in a turn"
        served[member] += 1
    # Within a turn, the guilds take turns too.
    turn_of, seen = {}, collections.Counter()
    for job_id in sorted(order, key=lambda i: (info[i][2], i)):
        seen[info[job_id][1]] += 1
        turn_of[job_id] = seen[info[job_id][1]]
    for turn in set(turn_of.values()):
        block = [i for i in order if turn_of[i] == turn]
        # A turn is one unbroken run of the order: every member's k-th job before any (k+1)-th.
        places = [order.index(i) for i in block]
        assert places == list(range(places[0], places[0] + len(block))), (turn, places)
        guild_totals = collections.Counter(info[i][0] for i in block)
        guild_served: collections.Counter[int] = collections.Counter()
        for job_id in block:
            guild = info[job_id][0]
            for other, total in guild_totals.items():
                if other != guild and guild_served[other] < total:
                    assert guild_served[guild] <= guild_served[other]
            guild_served[guild] += 1


def test_a_lane_is_the_same_in_python_and_in_sql():
    async def main() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            store = await Store.open(Path(tmp) / "q.db")
            try:
                for state in JobState:
                    for chain in (None, {"plan": []}):
                        job = await store.create_job(
                            model="m",
                            storyboard=BOARD,
                            image_path="x",
                            state=state,
                            chain=chain,
                            next_check_at=1.0,
                            deadline_at=1e9,
                        )
                        lanes = [
                            ln
                            for ln in ("submit", "kie", "deliver", "chain")
                            if job.id in {j.id for j in await store.due_in_lane(ln, 2.0, 1000)}
                        ]
                        assert lanes == [lane_of(job)], (state, chain, lanes)
            finally:
                await store.close()

    asyncio.run(main())


# -- turns -----------------------------------------------------------------------------------


async def test_turns_admit_in_the_order_taken_whatever_order_they_arrive_in():
    turns = Turns()
    limiter = SlidingWindowLimiter(100, 10.0)
    admitted: list[str] = []
    two_in = asyncio.Event()
    for job_id in ("a", "b", "c", "d"):
        turns.issue(job_id)

    async def arrive(job_id: str, after: float) -> None:
        await asyncio.sleep(after)
        async with turns.admit(job_id, limiter):
            admitted.append(job_id)
            if len(admitted) == 2:
                two_in.set()

    # d and b are ready first (their uploads were quicker); c leaves without being sent.
    tasks = [
        asyncio.create_task(arrive("d", 0.0)),
        asyncio.create_task(arrive("b", 0.01)),
        asyncio.create_task(arrive("a", 0.03)),
    ]
    async with asyncio.timeout(5):
        await two_in.wait()
    await asyncio.sleep(0.05)  # d is ready too, and would be in by now if it could pass c
    assert admitted == ["a", "b"]  # c still holds its turn: d waits
    turns.drop("c")
    await asyncio.gather(*tasks)
    assert admitted == ["a", "b", "d"]
    assert turns.waiting() == []


async def test_a_stop_while_waiting_for_a_turn_stops_the_job_and_passes_the_turn_on():
    turns = Turns()
    limiter = SlidingWindowLimiter(100, 10.0)
    admitted: list[str] = []
    for job_id in ("a", "b", "c"):
        turns.issue(job_id)

    async def arrive(job_id: str) -> None:
        async with turns.admit(job_id, limiter):
            admitted.append(job_id)

    b = asyncio.create_task(arrive("b"))
    c = asyncio.create_task(arrive("c"))
    await asyncio.sleep(0)  # both asleep behind a
    b.cancel()  # the bot stops b's step (a shutdown), not a wake
    with pytest.raises(asyncio.CancelledError):
        await b
    assert turns.waiting() == ["a", "c"]  # b left the line
    await arrive("a")
    async with asyncio.timeout(5):
        await c  # woken when a passed: b's stop did not leave c asleep
    assert admitted == ["a", "c"]
    assert turns.waiting() == []


# -- a burst of 100 presses, on a virtual clock ---------------------------------------------


class _VirtualSelector(selectors.DefaultSelector):
    """Waits for real a little (the database and file threads answer within that); where
    the loop would then still wait ``timeout`` seconds, the virtual clock jumps instead."""

    now = 0.0

    def select(self, timeout: float | None = None) -> list[Any]:
        events = super().select(0 if timeout == 0 else 0.2)
        if not events and timeout:
            self.now += timeout
        return events


class _LoopClock(Clock):
    def __init__(self, base: float) -> None:
        self.base = base

    def now(self) -> float:
        return self.base + asyncio.get_running_loop().time()


async def _burst(tmp: Path) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    clock = _LoopClock(time.time())
    kie = MemoryKie(clock.now)
    kie.limits = RateLimits()
    kie.limits.create = SlidingWindowLimiter(18, 10.0, clock=loop.time, sleep=asyncio.sleep)
    kie.limits.read = SlidingWindowLimiter(9, 1.0, clock=loop.time, sleep=asyncio.sleep)
    sent: list[tuple[float, str]] = []  # (the loop's time, the task): exact to the ns
    create = kie.create_task

    async def recording_create(body: dict[str, Any], **options: bool) -> str:
        task_id = await create(body, **options)
        sent.append((loop.time(), task_id))
        return task_id

    kie.create_task = recording_create  # type: ignore[method-assign]
    settings = make_settings(tmp, "http://kie.test", tracker={"deadline_minutes": 600})
    rt = await Runtime.build(settings, RecordingDelivery(), kie=kie, clock=clock, origin="discord")
    image = prepare_image(png_bytes(), KlingOmni.image_spec)
    try:
        # 100 presses at once: member 1 of guild 1 presses 40 times, 20 others 3 times each.
        who = [(1, 1)] * 40 + [(1 + m % 3, 100 + m) for m in range(20) for _ in range(3)]
        jobs: list[Job] = []
        for n, (guild, member) in enumerate(who):
            jobs.append(
                await rt.tracker.submit(
                    BOARD, image, origin="discord", guild_id=guild, owner_id=member, hold=True
                )
            )
            clock.base += 0.001 if n % 7 else 0.0  # some presses in the same instant
        for job in jobs:
            await rt.tracker.release(job.id)
        shown: list[tuple[int, str, int, float]] = []  # (sent so far, job, position, start)
        while len(sent) < len(jobs):
            before = len(sent)
            spots = {j.id: await rt.tracker.queue_spot(j.id) for j in jobs}
            every = await rt.tracker.queue_spots()  # the statuses' one read of the whole queue
            if len(sent) == before:  # nothing moved while the places were read
                assert {j: s.position for j, s in every.items()} == {
                    j: s.position for j, s in spots.items() if s is not None
                }
                for job_id, spot in spots.items():
                    # Every place: the head the scheduler has taken keeps its order
                    # (bot.jobs.queue.Turns), the rest keep the places they were given
                    # (bot.jobs.fairness).
                    if spot is not None:
                        shown.append((before, job_id, spot.position, spot.starts_at))
            if not rt.tracker.scheduler.running:
                await rt.start()  # the first places were read before anything was sent
            await asyncio.sleep(2.0)
        task_of = {j.id: (await rt.store.get_job(j.id)).task_id for j in jobs}  # type: ignore[union-attr]
        return {"sent": sent, "shown": shown, "task_of": task_of, "jobs": jobs, "base": clock.base}
    finally:
        await rt.close()


def test_a_burst_of_100_presses_is_sent_in_the_order_shown_and_within_the_limit(tmp_path):
    selector = _VirtualSelector()
    loop = asyncio.SelectorEventLoop(selector)
    loop.time = lambda: selector.now  # type: ignore[method-assign]
    try:
        result = loop.run_until_complete(_burst(tmp_path))
    finally:
        loop.close()
    sent: list[tuple[float, str]] = result["sent"]
    index_of = {task: i for i, (_, task) in enumerate(sent)}
    at_of = {task: at for at, task in sent}
    sent_index = {job_id: index_of[task] for job_id, task in result["task_of"].items()}
    # 0 createTask above the limit in any 10 s window, and the whole burst within 55 s.
    times = [at for at, _ in sent]
    most = max(sum(1 for u in times[i:] if u < t + 10.0 - 1e-6) for i, t in enumerate(times))
    assert most <= 18
    assert times[-1] - times[0] <= 55.0
    # Every place shown was the place kept: shown n-th with k sent, it was the (k+n)-th.
    shown = result["shown"]
    # Places are sampled while the burst runs (how many depends on the machine's speed); at
    # least half of the jobs must have been seen, so the check below is never vacuous.
    assert len({job_id for _, job_id, _, _ in shown}) >= 50
    for already, job_id, position, starts_at in shown:
        assert sent_index[job_id] == already + position - 1, (job_id, already, position)
        # The estimated start, from the limiter's window: within a second of the real one.
        assert abs(result["base"] + at_of[result["task_of"][job_id]] - starts_at) <= 1.0
    # Fair: the member who pressed 40 times does not fill the head of the queue.
    owner = {j.id: j.owner_id for j in result["jobs"]}
    first = sorted(sent_index, key=sent_index.__getitem__)
    assert len({owner[j] for j in first[:21]}) == 21
    assert [owner[j] for j in first[-20:]] == [1] * 20
