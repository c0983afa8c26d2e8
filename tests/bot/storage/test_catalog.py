"""A chain's segment videos and frames under the retention policy: real chains made by the
engine against the in-memory kie.ai (real mp4s), real files, a real store and real sweeps."""

from __future__ import annotations

from pathlib import Path

from bot.jobs.states import JobState
from bot.media.video import probe
from bot.runtime import Runtime
from bot.storage.retention import CHAIN_GRACE, sweep
from tests.bot.jobs.test_chain import IMAGE, SEED, _drive, _runtime
from tests.fakes.fakekie import TaskPlan
from tests.helpers import TestClock


def _files(media: Path) -> set[str]:
    return {str(p.relative_to(media)) for p in media.rglob("*") if p.is_file()}


async def _squeeze(rt: Runtime, now: float, days: float = 14) -> set[str]:
    """A sweep that wants every byte back (the disk is "full"); what is left."""
    media = Path(rt.settings.storage.media_dir)
    await sweep(rt.store, media, days=days, max_bytes=0, now=now)
    return _files(media)


async def test_a_running_chain_keeps_its_segments_and_a_finished_one_loses_them_after_the_grace(
    tmp_path,
):
    clock = TestClock()
    rt, kie, _ = await _runtime(tmp_path, clock)
    try:
        job = await rt.tracker.submit(SEED, IMAGE, id="seed")
        # Segment 1 is made and its last frame handed on; segment 2 is being made.
        await _drive(rt, clock, job.id, until=lambda: len(kie.created) == 2)
        parent = await rt.store.get_job("seed")
        assert parent is not None and parent.state == JobState.CHAINING and parent.segment == 1
        one = await rt.store.get_job("seed-1")
        two = await rt.store.get_job("seed-2")
        assert one is not None and two is not None
        assert one.state == JobState.DELIVERED and one.video_path  # done, as a job of its own
        segment_1 = str(Path(one.video_path).relative_to(rt.settings.storage.media_dir))
        frame = str(Path(two.image_path).relative_to(rt.settings.storage.media_dir))
        assert frame != "images/seed.png"

        # Disk pressure, even long after: the chain is still under way, so nothing of it goes.
        kept = await _squeeze(rt, clock.now() + 60 * 86400)
        assert {segment_1, frame, "images/seed.png"} <= kept

        job = await _drive(rt, clock, "seed")
        assert job.state == JobState.DELIVERED and job.video_path
        joined = str(Path(job.video_path).relative_to(rt.settings.storage.media_dir))
        segment_2 = f"videos/{job.id}-2.mp4"
        everything = {"images/seed.png", frame, segment_1, segment_2, joined}
        assert _files(Path(rt.settings.storage.media_dir)) == everything

        # Within the grace after it ended the segments stay (a retry or redo reuses them).
        media = Path(rt.settings.storage.media_dir)
        await sweep(rt.store, media, days=14, max_bytes=10**12, now=clock.now() + 60)
        assert _files(media) == everything
        # After it: the segment videos and the frame go; the image and the video stay.
        result = await sweep(
            rt.store, media, days=14, max_bytes=10**12, now=clock.now() + CHAIN_GRACE + 1
        )
        assert result.removed == 3
        assert _files(media) == {"images/seed.png", joined}
        assert probe(media / joined).frames > 0  # the delivered video is intact
    finally:
        await rt.close()


async def test_a_retry_keeps_the_segments_it_reuses_from_the_chain_that_failed(tmp_path):
    clock = TestClock()
    rt, kie, _ = await _runtime(tmp_path, clock)
    media = Path(tmp_path / "media")
    try:
        job = await rt.tracker.submit(SEED, IMAGE, id="first")
        await _drive(rt, clock, job.id, until=lambda: len(kie.created) == 1)
        kie.plan = TaskPlan(waiting=2, duration=20, outcome="fail")  # segment 2 fails
        job = await _drive(rt, clock, job.id)
        assert job.state == JobState.FAILED
        assert "videos/first-1.mp4" in _files(media)

        # Long after the failed chain ended, a retry from segment 2 runs: segment 1 is its.
        clock.advance(2 * CHAIN_GRACE)
        kie.plan = TaskPlan(waiting=2, duration=3600)  # still generating during the sweep
        again = await rt.tracker.chains.retry_from(job.id, 2, id="again")
        await _drive(rt, clock, again.id, until=lambda: len(kie.created) == 3)
        assert "videos/first-1.mp4" in await _squeeze(rt, clock.now())
        assert "videos/first-1.mp4" in await _squeeze(rt, clock.now() + 60 * 86400)
    finally:
        await rt.close()


async def test_a_failed_chain_loses_its_segments_after_the_grace(tmp_path):
    clock = TestClock()
    rt, kie, _ = await _runtime(tmp_path, clock)
    media = Path(tmp_path / "media")
    try:
        job = await rt.tracker.submit(SEED, IMAGE, id="first")
        await _drive(rt, clock, job.id, until=lambda: len(kie.created) == 1)
        kie.plan = TaskPlan(waiting=2, duration=20, outcome="fail")
        job = await _drive(rt, clock, job.id)
        assert job.state == JobState.FAILED
        before = _files(media)
        assert {"images/first.png", "videos/first-1.mp4"} <= before
        await sweep(rt.store, media, days=14, max_bytes=10**12, now=clock.now() + 60)
        assert _files(media) == before
        await sweep(rt.store, media, days=14, max_bytes=10**12, now=clock.now() + CHAIN_GRACE + 1)
        assert _files(media) == {"images/first.png"}
    finally:
        await rt.close()
