"""Long storyboards as chained segments, through the whole engine against the in-memory kie.ai
whose results are real little mp4s (one colour per task): what kie.ai receives for each
segment, which frame each later segment starts from, the joined video, the money, a failed
segment and the retry from it, and a redo of one segment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.chain.record import ChainRecord
from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.chain import ChainError, chain_progress
from bot.jobs.states import JobState
from bot.jobs.store import Job
from bot.media.images import prepare_image
from bot.media.video import last_frame, probe
from bot.models.kling import KlingOmni
from bot.runtime import Runtime
from tests.fakes.fakekie import KLING_MODEL, TaskPlan
from tests.fakes.memkie import URL, MemoryKie
from tests.fakes.videos import FPS, colour_of, nearest
from tests.helpers import RecordingDelivery, TestClock, make_settings, png_bytes

IMAGE = prepare_image(png_bytes(640, 360, "purple"), KlingOmni.image_spec)
# The seed's storyboard: 10 shots of 2.5 s, 25 s.
SEED = Storyboard(
    shots=tuple(Shot(scene=f"Scene {i}: the kitten, moment {i}", tenths=25) for i in range(1, 11)),
    length=25,
    aspect="landscape",
)
MINUTE = Storyboard(
    shots=tuple(Shot(scene=f"Shot {i} of the long walk", tenths=30) for i in range(1, 21)),
    length=60,
    aspect="landscape",
)
GUILD, USER = 10, 20


async def _runtime(
    tmp_path: Path, clock: TestClock, **quota: Any
) -> tuple[Runtime, MemoryKie, RecordingDelivery]:
    kie = MemoryKie(clock, video_results=True)
    kie.plan = TaskPlan(waiting=2, duration=20)
    delivery = RecordingDelivery()
    settings = make_settings(tmp_path, URL, kie={"model": KLING_MODEL}, quota=quota)
    rt = await Runtime.build(settings, delivery, kie=kie, clock=clock)
    return rt, kie, delivery


async def _reserve(rt: Runtime, job_id: str, credits: int, board: Storyboard = SEED) -> None:
    assert rt.quotas is not None
    model = rt.models.get(KLING_MODEL)
    await rt.quotas.reserve(
        job_id=job_id,
        guild_id=GUILD,
        user_id=USER,
        channel_id=None,
        role_ids=[],
        board=board,
        model_name=KLING_MODEL,
        credits=credits,
        now=rt.tracker.clock.now(),
        options=model.options,
    )


async def _drive(rt: Runtime, clock: TestClock, job_id: str, until: Any = None) -> Job:
    """Run the engine, moving the clock on, until the job ended and was told (or ``until``)."""
    for _ in range(400):
        await rt.tracker.run_once()
        job = await rt.store.get_job(job_id)
        assert job is not None
        if until is not None and until():
            return job
        if not job.active and job.delivery == "done":
            return job
        clock.advance(5)
    raise AssertionError("the chain never ended")


def _colour_of_upload(kie: MemoryKie, n: int) -> tuple[int, int, int]:
    from io import BytesIO

    from PIL import Image

    with Image.open(BytesIO(kie.uploads[n]["bytes"])) as im:
        assert min(im.size) >= 300  # prepared to Kling's image rules
        return nearest(im.convert("RGB").getpixel((im.width // 2, im.height // 2)))


def _video(delivery: RecordingDelivery, tmp_path: Path) -> Path:
    [(_, data)] = delivery.videos
    path = tmp_path / "posted.mp4"
    path.write_bytes(data)
    return path


def _first_colour(path: Path) -> tuple[int, int, int]:
    import av

    with av.open(str(path)) as c:
        frame = next(c.decode(video=0)).to_image()
    return nearest(frame.getpixel((frame.width // 2, frame.height // 2)))


def _last_colour(path: Path) -> tuple[int, int, int]:
    im = last_frame(path)
    return nearest(im.getpixel((im.width // 2, im.height // 2)))


async def test_the_seeds_storyboard_is_two_kling_segments_chained_and_joined(tmp_path):
    clock = TestClock()
    rt, kie, delivery = await _runtime(tmp_path, clock)
    try:
        plan = rt.tracker.plan(SEED)
        assert [s.seconds for s in plan.segments] == [13, 13] and plan.price == 364
        await _reserve(rt, "seed", plan.price)
        job = await rt.tracker.submit(SEED, IMAGE, id="seed", guild_id=GUILD, owner_id=USER)
        assert job.is_chain and job.segments == 2 and job.credits == 364
        job = await _drive(rt, clock, job.id)
        assert job.state == JobState.DELIVERED

        # One createTask per segment, 13 s each, five shots each.
        assert len(kie.created) == len(kie.fake.create_attempts) == 2
        for k, body in enumerate(kie.created):
            inp = body["input"]
            assert inp["duration"] == 13 and len(inp["multi_prompt"]) == 5
            assert f"Part {k + 1} of 2" in inp["prompt"]
            assert "Scene 10" in inp["prompt"] and "Scene 1:" in inp["prompt"]  # the whole story
        # Segment 1 from the reference image; segment 2 from segment 1's last frame.
        assert kie.uploads[0]["bytes"] == IMAGE.data
        assert kie.created[0]["input"]["image_urls"] == [kie.uploads[0]["downloadUrl"]]
        assert kie.created[1]["input"]["image_urls"] == [kie.uploads[1]["downloadUrl"]]
        assert _colour_of_upload(kie, 1) == colour_of(1)

        # One video, joined: the later segment's first frame (a repeat) dropped.
        video = _video(delivery, tmp_path)
        info = probe(video)
        assert info.frames == 13 * FPS * 2 - 1
        assert info.duration == pytest.approx((13 * FPS * 2 - 1) / FPS, abs=0.01)
        assert _first_colour(video) == colour_of(1) and _last_colour(video) == colour_of(2)
        assert [j.id for j, _ in delivery.videos] == [job.id] and delivery.ended == []

        # The whole price was charged once.
        assert rt.quotas is not None
        assert await rt.quotas.usage_state("seed") == "charged"

        # The status could say which segment and how far it was.
        seen = {
            (p.segment, p.count, p.kie_state)
            for j in delivery.updates
            if j.id == job.id and (p := chain_progress(j, clock.now())) is not None
        }
        assert (1, 2, "generating") in seen and (2, 2, "generating") in seen
    finally:
        await rt.close()


async def test_a_60_second_storyboard_is_four_segments_of_15_seconds(tmp_path):
    clock = TestClock()
    rt, kie, delivery = await _runtime(tmp_path, clock)
    try:
        plan = rt.tracker.plan(MINUTE)
        assert [s.seconds for s in plan.segments] == [15, 15, 15, 15] and plan.price == 840
        job = await rt.tracker.submit(MINUTE, IMAGE)
        job = await _drive(rt, clock, job.id)
        assert job.state == JobState.DELIVERED
        assert len(kie.created) == 4
        # Each later segment starts from the last frame of the one before it.
        assert [_colour_of_upload(kie, k) for k in (1, 2, 3)] == [colour_of(k) for k in (1, 2, 3)]
        for k in (1, 2, 3):
            assert kie.created[k]["input"]["image_urls"] == [kie.uploads[k]["downloadUrl"]]
        info = probe(_video(delivery, tmp_path))
        assert info.frames == 4 * 15 * FPS - 3
        assert info.duration == pytest.approx((4 * 15 * FPS - 3) / FPS, abs=0.01)
    finally:
        await rt.close()


async def test_a_failed_segment_ends_the_chain_and_a_retry_reuses_the_ones_before(tmp_path):
    clock = TestClock()
    rt, kie, delivery = await _runtime(tmp_path, clock)
    assert rt.quotas is not None
    try:
        await _reserve(rt, "first", 364)
        job = await rt.tracker.submit(SEED, IMAGE, id="first")
        await _drive(rt, clock, job.id, until=lambda: len(kie.created) == 1)
        kie.plan = TaskPlan(waiting=2, duration=20, outcome="fail")  # segment 2 fails
        job = await _drive(rt, clock, job.id)

        assert job.state == JobState.FAILED and job.fail_code == "segment_failed"
        assert job.fail_params is not None
        assert {k: job.fail_params[k] for k in ("segment", "segments", "reason")} == {
            "segment": 2,
            "segments": 2,
            "reason": "content_policy",
        }
        assert [j.id for j in delivery.ended] == [job.id] and delivery.videos == []
        # Segment 1 was made and counts; the failed one does not (failed_counts is off).
        assert await rt.quotas.usage_state("first") == "charged"
        async with rt.store.db.execute("SELECT credits FROM usage WHERE job_id = 'first'") as c:
            assert (await c.fetchone())[0] == 182

        # Retry from segment 2: only it is made again and paid for.
        assert await rt.tracker.chains.cost_from(job.id, 2) == 182
        with pytest.raises(ChainError):
            await rt.tracker.chains.cost_from(job.id, 3)
        kie.plan = TaskPlan(waiting=2, duration=20)
        await _reserve(rt, "again", 182)
        again = await rt.tracker.chains.retry_from(job.id, 2, id="again")
        again = await _drive(rt, clock, again.id)
        assert again.state == JobState.DELIVERED
        assert len(kie.created) == 3  # segment 1 was never sent again
        assert _colour_of_upload(kie, 2) == colour_of(1)  # from segment 1's last frame
        video = _video(delivery, tmp_path)
        assert _first_colour(video) == colour_of(1) and _last_colour(video) == colour_of(3)
        assert probe(video).frames == 13 * FPS * 2 - 1
        assert await rt.quotas.usage_state("again") == "charged"
    finally:
        await rt.close()


async def test_redo_a_segment_of_a_delivered_chain(tmp_path):
    clock = TestClock()
    rt, kie, delivery = await _runtime(tmp_path, clock)
    try:
        job = await _drive(rt, clock, (await rt.tracker.submit(SEED, IMAGE)).id)
        assert job.state == JobState.DELIVERED
        with pytest.raises(ChainError):
            await rt.tracker.chains.retry_from(job.id, 1)  # it was delivered: a redo
        assert await rt.tracker.chains.cost_from(job.id, 1) == 364
        assert await rt.tracker.chains.cost_from(job.id, 2) == 182
        redo = await rt.tracker.chains.redo_segment(job.id, 2)
        redo = await _drive(rt, clock, redo.id)
        assert redo.state == JobState.DELIVERED
        assert len(kie.created) == 3
        assert _colour_of_upload(kie, 2) == colour_of(1)
        [(first_job, _), (second_job, second)] = delivery.videos
        assert first_job.id == job.id and second_job.id == redo.id
        path = tmp_path / "redo.mp4"
        path.write_bytes(second)
        assert _first_colour(path) == colour_of(1) and _last_colour(path) == colour_of(3)
    finally:
        await rt.close()


async def test_a_redo_after_the_sweep_removed_a_segment_makes_it_again_and_says_so_in_its_cost(
    tmp_path,
):
    clock = TestClock()
    rt, kie, delivery = await _runtime(tmp_path, clock)
    try:
        job = await _drive(rt, clock, (await rt.tracker.submit(SEED, IMAGE)).id)
        assert job.state == JobState.DELIVERED
        rec = ChainRecord.load(job.chain)
        first = await rt.store.get_job(rec.segments[0].job or "")
        assert first is not None and first.video_path is not None
        Path(first.video_path).unlink()  # what the storage sweep does after the chain's grace
        # Redo segment 2 needs segment 1's last frame: segment 1 is made again, and costs.
        assert await rt.tracker.chains.cost_from(job.id, 2) == 364
        redo = await _drive(rt, clock, (await rt.tracker.chains.redo_segment(job.id, 2)).id)
        assert redo.state == JobState.DELIVERED
        assert len(kie.created) == 4  # 2 for the chain, 2 for the redo: nothing reused
        assert len(delivery.videos) == 2
    finally:
        await rt.close()


async def test_the_quota_sees_the_whole_chain_and_unused_segments_are_released(tmp_path):
    clock = TestClock()
    rt, kie, _ = await _runtime(tmp_path, clock, guild_monthly_credits=400)
    assert rt.quotas is not None
    try:
        await _reserve(rt, "chain", 364)
        # The whole price is reserved before anything is spent: a second video does not fit.
        from bot.quota.policy import QuotaRefused

        with pytest.raises(QuotaRefused):
            await _reserve(rt, "other", 182)
        kie.plan = TaskPlan(waiting=2, duration=20, outcome="fail")  # segment 1 fails
        job = await _drive(rt, clock, (await rt.tracker.submit(SEED, IMAGE, id="chain")).id)
        assert job.state == JobState.FAILED
        assert job.fail_params is not None and job.fail_params["segment"] == 1
        assert len(kie.created) == 1  # segment 2 was never sent
        assert await rt.quotas.usage_state("chain") == "released"
        await _reserve(rt, "other", 182)  # fits again
    finally:
        await rt.close()


async def test_a_chain_not_yet_sent_can_be_cancelled(tmp_path):
    clock = TestClock()
    rt, kie, delivery = await _runtime(tmp_path, clock)
    try:
        job = await rt.tracker.submit(SEED, IMAGE, hold=True)
        await rt.tracker.release(job.id)
        # The parent's first step stores segment 1; the member cancels before it is sent.
        await rt.tracker.scheduler.run_due()
        while rt.tracker.scheduler.inflight:
            await next(iter(rt.tracker.scheduler.inflight.values()))
        assert (await rt.store.get_job(job.id)).state == JobState.CHAINING
        assert await rt.tracker.cancel(job.id)
        job = await _drive(rt, clock, job.id)
        assert job.state == JobState.CANCELLED and job.fail_code == "cancelled"
        assert kie.created == [] and [j.id for j in delivery.ended] == [job.id]
    finally:
        await rt.close()


async def test_a_segment_whose_chain_ended_before_it_was_sent_is_never_sent(tmp_path):
    clock = TestClock()
    rt, kie, _ = await _runtime(tmp_path, clock)
    try:
        job = await rt.tracker.submit(SEED, IMAGE)
        await rt.tracker.scheduler.run_due()  # the parent's first step stores segment 1
        while rt.tracker.scheduler.inflight:
            await next(iter(rt.tracker.scheduler.inflight.values()))
        parent = await rt.store.get_job(job.id)
        assert parent is not None and parent.state == JobState.CHAINING
        segment = ChainRecord.load(parent.chain).segments[0].job
        assert segment is not None
        # The chain ends by another path than Cancel (given up at its deadline, say), with its
        # first segment stored and not sent yet.
        await rt.tracker.ctx.end(parent, JobState.EXPIRED, "deadline", "given up")
        for _ in range(20):
            await rt.tracker.run_once()
            clock.advance(5)
        child = await rt.store.get_job(segment)
        assert child is not None and child.state == JobState.CANCELLED
        assert kie.created == []  # nothing was sent to kie.ai, so nothing is paid for
    finally:
        await rt.close()


async def test_a_chain_given_up_between_segments_counts_only_what_it_made(tmp_path, monkeypatch):
    from bot.jobs import chaining

    async def broken(*args: object) -> Path:
        raise RuntimeError("a bug in handing the frame on")

    monkeypatch.setattr(chaining, "_prepare_frame", broken)
    clock = TestClock()
    rt, kie, _ = await _runtime(tmp_path, clock)
    assert rt.quotas is not None
    try:
        await _reserve(rt, "stuck", 364)
        job = await rt.tracker.submit(SEED, IMAGE, id="stuck")
        for _ in range(200):  # the step keeps failing until the deadline and its grace
            await rt.tracker.run_once()
            job = await rt.store.get_job("stuck")
            assert job is not None
            if not job.active:
                break
            clock.advance(60)
        assert job.state == JobState.UNDELIVERABLE and len(kie.created) == 1
        # Segment 1 was made and counts; segment 2 was never sent and is released.
        assert await rt.quotas.usage_state("stuck") == "charged"
        async with rt.store.db.execute("SELECT credits FROM usage WHERE job_id = 'stuck'") as c:
            assert (await c.fetchone())[0] == 182
    finally:
        await rt.close()


async def test_a_chain_that_ended_before_saying_what_it_made_is_released_by_the_sweep(tmp_path):
    clock = TestClock()
    rt, _, _ = await _runtime(tmp_path, clock)
    assert rt.quotas is not None
    try:
        await _reserve(rt, "gone", 364)
        job = await rt.tracker.submit(SEED, IMAGE, id="gone", hold=True)
        # Cancelled before its first segment, and the settling of it was lost (a crash, a
        # database error): the chain records no settlement of its own.
        ended = await rt.tracker.ctx.record_end(job, JobState.CANCELLED, "cancelled", "x", None)
        assert ended is not None and await rt.quotas.usage_state("gone") == "reserved"
        assert await rt.tracker.settle_leftovers() == 1
        assert await rt.quotas.usage_state("gone") == "released"  # no slot held for ever
    finally:
        await rt.close()


async def test_a_storyboard_that_fits_is_one_job_as_before(tmp_path):
    clock = TestClock()
    rt, kie, _ = await _runtime(tmp_path, clock)
    try:
        board = Storyboard(shots=SEED.shots[:4], length=10)
        job = await rt.tracker.submit(board, IMAGE)
        assert not job.is_chain and job.segments is None
        job = await _drive(rt, clock, job.id)
        assert job.state == JobState.DELIVERED and len(kie.created) == 1
        assert "Part 1" not in kie.created[0]["input"]["prompt"]
    finally:
        await rt.close()
