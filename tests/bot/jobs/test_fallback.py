"""The fallback switch and a crash in the middle of it: a default install (Sora, with Kling as
the fallback) whose Sora kie.ai answers "temporarily paused", the seed's 25 s storyboard (one
Sora video, 270 credits; two Kling segments, 364), and the process killed right after the
reservation was repriced for Kling, before the job was written as Kling's chain. The restarted
bot no longer knows Sora was unavailable; whatever makes the video, the member pays its price,
once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.states import JobState
from bot.jobs.store import Job
from bot.media.images import prepare_image
from bot.models.sora import SoraStoryboard
from bot.runtime import Runtime
from tests.fakes.fakekie import KLING_MODEL, SORA_MODEL, TaskPlan
from tests.fakes.memkie import URL, MemoryKie
from tests.helpers import RecordingDelivery, TestClock, make_settings, png_bytes

IMAGE = prepare_image(png_bytes(640, 360), SoraStoryboard.image_spec)
SEED = Storyboard(
    shots=tuple(Shot(scene=f"Scene {i}: the kitten, moment {i}", tenths=25) for i in range(1, 11)),
    length=25,
    aspect="landscape",
)
GUILD, USER = 10, 20


class Killed(Exception):
    """The process died here (nothing after this point was written)."""


async def _usage(rt: Runtime, job_id: str) -> tuple[str, int, str]:
    async with rt.store.db.execute(
        "SELECT model, credits, state FROM usage WHERE job_id = ?", (job_id,)
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return row["model"], row["credits"], row["state"]


async def _drive(rt: Runtime, clock: TestClock, job_id: str) -> Job:
    for _ in range(400):
        await rt.tracker.run_once()
        job = await rt.store.get_job(job_id)
        assert job is not None
        if not job.active and job.delivery == "done":
            return job
        clock.advance(5)
    raise AssertionError("the job never ended")


async def _killed_during_the_switch(tmp_path: Path, clock: TestClock, kie: MemoryKie) -> Job:
    """Generate the seed on Sora (270 reserved), Sora refuses, and the process dies right
    after the switch's first write; the restarted bot's view of the job."""
    settings = make_settings(tmp_path, URL)
    rt = await Runtime.build(settings, RecordingDelivery(), kie=kie, clock=clock)
    assert rt.quotas is not None
    real = rt.quotas.switch_model

    async def then_killed(*args: object, **kwargs: object) -> None:
        await real(*args, **kwargs)  # type: ignore[arg-type]
        raise Killed

    rt.quotas.switch_model = then_killed  # type: ignore[method-assign]
    try:
        sora = rt.models.get(SORA_MODEL)
        await rt.quotas.reserve(
            job_id="seed",
            guild_id=GUILD,
            user_id=USER,
            channel_id=None,
            role_ids=[],
            board=SEED,
            model_name=SORA_MODEL,
            credits=sora.price(SEED),
            now=clock.now(),
            options=sora.options,
        )
        await rt.tracker.submit(SEED, IMAGE, id="seed", model=SORA_MODEL)
        await rt.tracker.run_once()
        assert [b["model"] for b in kie.fake.create_attempts] == [SORA_MODEL]
        job = await rt.store.get_job("seed")
        assert job is not None and job.state == JobState.QUEUED
    finally:
        await rt.close()
    return job


@pytest.fixture
def kie(clock: TestClock) -> MemoryKie:
    kie = MemoryKie(clock, video_results=True)
    kie.plan = TaskPlan(waiting=2, duration=20)
    kie.fake.pause_model(SORA_MODEL)
    return kie


async def test_a_crash_in_the_switch_then_sora_back_charges_soras_price(
    tmp_path: Path, clock: TestClock, kie: MemoryKie
) -> None:
    await _killed_during_the_switch(tmp_path, clock, kie)
    kie.fake.pause_model(SORA_MODEL, paused=False)  # Sora is back before the restart
    rt = await Runtime.build(
        make_settings(tmp_path, URL), RecordingDelivery(), kie=kie, clock=clock
    )
    try:
        await rt.tracker.resume()
        job = await _drive(rt, clock, "seed")
        # Sora made it (kie.ai proved it made no task the first time: sent again).
        assert (job.state, job.model, job.is_chain) == (JobState.DELIVERED, SORA_MODEL, False)
        assert [b["model"] for b in kie.fake.create_attempts] == [SORA_MODEL, SORA_MODEL]
        # Charged Sora's 270 credits, not the 364 of the Kling chain it never became.
        assert await _usage(rt, "seed") == (SORA_MODEL, 270, "charged")
    finally:
        await rt.close()


async def test_a_crash_in_the_switch_then_the_switch_again_charges_the_chain_once(
    tmp_path: Path, clock: TestClock, kie: MemoryKie
) -> None:
    await _killed_during_the_switch(tmp_path, clock, kie)
    rt = await Runtime.build(
        make_settings(tmp_path, URL), RecordingDelivery(), kie=kie, clock=clock
    )
    try:
        await rt.tracker.resume()
        job = await _drive(rt, clock, "seed")
        # Sora refused again (no task either time), and the switch was made again, whole.
        assert (job.state, job.model, job.is_chain) == (JobState.DELIVERED, KLING_MODEL, True)
        assert job.fallback_from == SORA_MODEL
        assert [b["model"] for b in kie.fake.create_attempts] == [
            SORA_MODEL,
            SORA_MODEL,
            KLING_MODEL,
            KLING_MODEL,
        ]
        # Repriced twice, charged once: the chain's 364 credits.
        assert await _usage(rt, "seed") == (KLING_MODEL, 364, "charged")
    finally:
        await rt.close()
