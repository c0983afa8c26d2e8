"""kie.ai's account limit on createTask (20 in any 10 s; more are answered 429 and dropped), as
the fake kie.ai enforces it when asked: what the limit answers, and what the real client and the
engine make of a 429. A 429 proves no task was made: it may be sent again later, it is never an
unknown outcome, and it never ends a member's job."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.states import JobState
from bot.kie import KieClient, KieError, RateLimits
from bot.kie.errors import CreateOutcomeUnknown
from bot.kie.ratelimit import SlidingWindowLimiter
from bot.kie.sent import SentWindow
from bot.media.images import prepare_image
from bot.models.kling import KlingOmni
from bot.runtime import Runtime
from tests.fakes.fakekie import (
    KLING_MODEL,
    RATE_LIMIT_MSG,
    SORA_MODEL,
    FakeKie,
    TaskPlan,
)
from tests.helpers import RecordingDelivery, TestClock, make_settings, png_bytes

BODY: dict[str, Any] = {
    "model": SORA_MODEL,
    "input": {
        "shots": [{"Scene": "A kitten with headphones", "duration": 10}],
        "n_frames": "10",
        "image_urls": ["https://example.com/kitten.png"],
        "aspect_ratio": "landscape",
        "upload_method": "s3",
    },
}
BOARD = Storyboard(shots=(Shot(scene="A kitten with headphones", tenths=100),), length=10)


@pytest.fixture
def clock() -> TestClock:
    """Whole seconds from 1000: the windows' arithmetic is exact (the fake shares this clock)."""
    return TestClock(start=1000.0)


def body(n: int) -> dict[str, Any]:
    """The n-th distinct body (its scene names it), so each can be found among those sent."""
    b = copy.deepcopy(BODY)
    b["input"]["shots"][0]["Scene"] = f"A kitten with headphones, take {n}"
    return b


def unlimited() -> RateLimits:
    """The client's own limiter out of the way: the account's limit at kie.ai is what is hit
    (as when another process shares the account)."""
    limits = RateLimits()
    limits.create = SlidingWindowLimiter(1000, 1.0)
    limits.read = SlidingWindowLimiter(1000, 1.0)
    return limits


class ClockSleeps(list[float]):
    """The client's ``sleep``: records each backoff and moves the shared clock by it."""

    def __init__(self, clock: TestClock) -> None:
        super().__init__()
        self.clock = clock

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)
        self.clock.advance(seconds)


async def test_the_limit_is_off_unless_asked(tmp_path: Path, fake: FakeKie) -> None:
    settings = make_settings(tmp_path, fake.url)
    async with KieClient(settings.kie, limits=unlimited()) as kie:
        for n in range(25):
            await kie.create_task(body(n))
    assert len(fake.tasks) == 25
    assert fake.rate_limited == []


async def test_over_the_limit_kie_answers_200_with_code_429_and_makes_no_task(
    fake: FakeKie, clock: TestClock
) -> None:
    fake.limit_creates()  # kie.ai's 20 per 10 s
    headers = {"Authorization": "Bearer test-key"}
    url = f"{fake.url}/api/v1/jobs/createTask"
    async with aiohttp.ClientSession() as http:
        for n in range(20):
            clock.advance(0.4)  # 20 within 8 s
            async with http.post(url, json=body(n), headers=headers) as resp:
                assert (await resp.json())["code"] == 200
        async with http.post(url, json=body(20), headers=headers) as resp:
            assert resp.status == 200
            assert await resp.json() == {"code": 429, "msg": RATE_LIMIT_MSG, "data": None}
        assert len(fake.tasks) == 20
        # The window slides: 10 s after the first one, one more is let through, not two.
        clock.advance(2.5)
        answers = []
        for n in (21, 22):
            async with http.post(url, json=body(n), headers=headers) as resp:
                answers.append((await resp.json())["code"])
    assert answers == [200, 429]
    assert len(fake.tasks) == 21
    assert len(fake.rate_limited) == 2
    assert fake.most_creates_in(10.0) == 20


async def test_a_429_raises_no_task_made_and_the_same_body_is_safe_to_send_later(
    tmp_path: Path, fake: FakeKie, clock: TestClock
) -> None:
    fake.limit_creates(2, 10.0)
    settings = make_settings(tmp_path, fake.url, kie={"max_retries": 0})
    async with KieClient(settings.kie, limits=unlimited()) as kie:
        await kie.create_task(body(1))
        await kie.create_task(body(2))
        with pytest.raises((KieError, CreateOutcomeUnknown)) as err:
            await kie.create_task(body(3))
        # A proven "no task": not CreateOutcomeUnknown (which would forbid ever resending).
        assert isinstance(err.value, KieError)
        assert err.value.code == 429
        assert err.value.task_not_created
        assert err.value.reason == "rate_limited"
        assert not err.value.validation and not err.value.model_unavailable
        assert fake.created == [body(1), body(2)]
        clock.advance(10)
        task_id = await kie.create_task(body(3))
    assert fake.created == [body(1), body(2), body(3)]  # each made exactly once
    assert fake.tasks[task_id].body == body(3)


async def test_the_client_backs_off_on_429_until_the_window_lets_it_through(
    tmp_path: Path, fake: FakeKie, clock: TestClock
) -> None:
    fake.limit_creates(1, 10.0)
    settings = make_settings(tmp_path, fake.url, kie={"backoff_base": 2.0, "backoff_max": 30.0})
    sleeps = ClockSleeps(clock)
    async with KieClient(settings.kie, limits=unlimited(), sleep=sleeps, rng=lambda: 1.0) as kie:
        await kie.create_task(body(1))
        await kie.create_task(body(2))
    assert sleeps == [2.0, 4.0, 8.0]  # 14 s: the third retry is past the 10 s window
    assert len(fake.rate_limited) == 3
    assert fake.created == [body(1), body(2)]


async def test_requests_slow_to_leave_do_not_meet_the_next_window_at_kie(
    tmp_path: Path, fake: FakeKie, clock: TestClock
) -> None:
    """The limiter counts a request from its admission; one of two admitted together leaves
    5 s late (its state being written, a busy loop). 10 s after their admission the limiter
    lets two more through at once: the second is held until kie.ai's window has let the late
    one go, instead of reaching kie.ai as its third in 10 s and being dropped with a 429."""
    fake.limit_creates(2, 10.0)
    sleeps = ClockSleeps(clock)
    limits = RateLimits()
    limits.create = SlidingWindowLimiter(2, 10.0, clock=clock, sleep=sleeps)
    limits.sent = SentWindow(clock=clock, sleep=sleeps)
    settings = make_settings(tmp_path, fake.url, kie={"max_retries": 0})
    async with KieClient(settings.kie, limits=limits, sleep=sleeps) as kie:
        # As the tracker does: a slot taken, the job's state written, then the request.
        await limits.create.acquire()
        await limits.create.acquire()
        await kie.create_task(body(1), acquire=False)
        clock.advance(5)
        await kie.create_task(body(2), acquire=False)  # reaches kie.ai at 1005
        clock.advance(5)
        await kie.create_task(body(3))  # 1010: kie.ai's window holds body 2 only
        await kie.create_task(body(4))
    assert fake.rate_limited == []
    assert fake.created == [body(1), body(2), body(3), body(4)]
    assert fake.create_times == [1000.0, 1005.0, 1010.0, 1015.0]
    assert sleeps == [5.0]  # body 4 waited for body 2 to leave kie.ai's window


async def test_a_request_waits_while_every_counted_one_is_unanswered(clock: TestClock) -> None:
    sent = SentWindow(clock=clock, sleep=ClockSleeps(clock))
    answer = asyncio.Event()
    entered: list[float] = []

    async def first() -> None:
        async with sent.call(1, 10.0):
            await answer.wait()

    async def second() -> None:
        async with sent.call(1, 10.0):
            entered.append(clock.now())

    one = asyncio.create_task(first())
    await asyncio.sleep(0)
    two = asyncio.create_task(second())
    for _ in range(5):
        await asyncio.sleep(0)
    assert entered == []  # the first is still on its way: it counts
    clock.advance(3)
    answer.set()  # answered at 1003: counted until 1013
    await asyncio.gather(one, two)
    assert entered == [1013.0]


async def test_a_job_kie_keeps_rate_limiting_goes_back_to_the_queue_and_is_sent_later(
    tmp_path: Path, fake: FakeKie, clock: TestClock
) -> None:
    """Another process on the same kie.ai account used the window up: the bot's own limiter
    lets its job through, kie.ai answers 429 to every try the client makes. Nothing was made,
    so the job waits and is sent again; it is never given up or taken as an unknown outcome."""
    fake.plan = TaskPlan(duration=1)
    fake.limit_creates()
    settings = make_settings(tmp_path, fake.url, kie={"model": KLING_MODEL})
    async with KieClient(settings.kie, limits=unlimited()) as other:
        for n in range(20):
            await other.create_task(body(n))
    kie = KieClient(settings.kie, limits=RateLimits(), sleep=_no_wait)
    rt = await Runtime.build(settings, RecordingDelivery(), kie=kie, clock=clock)
    try:
        image = prepare_image(png_bytes(), KlingOmni.image_spec)
        job = await rt.tracker.submit(BOARD, image)
        await rt.tracker.run_once()
        after = await rt.store.get_job(job.id)
        assert after is not None
        # Refused once: the job is not held in "being sent" while the window clears.
        assert len(fake.rate_limited) == 1
        assert len(fake.tasks) == 20  # none of the bot's
        assert after.state == JobState.QUEUED, (after.state, after.fail_code)
        assert after.fail_code is None and after.task_id is None
        clock.advance(60)
        await rt.tracker.run_once()  # due again, kie.ai's window long gone
        after = await rt.store.get_job(job.id)
        assert after is not None and after.state == JobState.RUNNING
        assert len(fake.tasks) == 21
    finally:
        await rt.close()
        await kie.close()


async def _no_wait(seconds: float) -> None:
    return None
