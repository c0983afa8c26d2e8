"""A chain's Retry from segment k and Redo segment N through the intake, against the in-memory
kie.ai whose results are real little mp4s: the segments made again are reserved under the
guild's rules exactly as a Generate of the chain is (its segment cap included), and a chain
whose made segment's last frame could not be handed on is retried from the next segment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain.storyboard import Shot, Storyboard
from bot.drafts.store import Drafts
from bot.i18n.strings import error_text
from bot.jobs.intake import Again, Intake, Order, Refused, Started, StatusPosted, retry_segment
from bot.jobs.states import JobState
from bot.jobs.store import Job
from bot.media.images import prepare_image
from bot.models.kling import KlingOmni
from bot.present.cards import status_text
from bot.quota.policy import QuotaRefused
from bot.runtime import Runtime
from tests.fakes.fakekie import KLING_MODEL, TaskPlan
from tests.fakes.memkie import URL, MemoryKie
from tests.helpers import RecordingDelivery, TestClock, make_settings, png_bytes

GUILD, ALICE, CHANNEL = 100, 7, 300
#: The seed's longest storyboard: two Kling segments of 13 s, 182 credits each.
SEED = Storyboard(
    shots=tuple(Shot(scene=f"Scene {i}: the kitten, moment {i}", tenths=25) for i in range(1, 11)),
    length=25,
    aspect="landscape",
)
NEW_ID = "abc123abc123"


@pytest.fixture
async def kling(tmp_path: Path, clock: TestClock) -> AsyncIterator[Runtime]:
    """A bot whose model is Kling (15 s a video), whose videos are real."""
    kie = MemoryKie(clock, video_results=True)
    kie.plan = TaskPlan(waiting=2, duration=20)
    settings = make_settings(tmp_path, URL, kie={"model": KLING_MODEL})
    rt = await Runtime.build(settings, RecordingDelivery(), kie=kie, clock=clock, origin="discord")
    yield rt
    await rt.close()


@pytest.fixture
def intake(kling: Runtime, clock: TestClock) -> Intake:
    assert kling.quotas is not None
    return Intake(
        tracker=kling.tracker, quotas=kling.quotas, clock=clock, model=lambda: kling.models.primary
    )


async def _posted(job: Job) -> StatusPosted:
    return StatusPosted(900, CHANNEL)


async def _chain(
    kling: Runtime, intake: Intake, clock: TestClock, tmp_path: Path, fail_second: bool = False
) -> Job:
    """Generate the seed and run it to its end (delivered, or segment 2 failed)."""
    kie = kling.kie
    assert isinstance(kie, MemoryKie)
    path = tmp_path / "draft.png"
    path.write_bytes(prepare_image(png_bytes(640, 360), KlingOmni.image_spec).data)
    draft = await Drafts(kling.store, clock).create(
        SEED, guild_id=GUILD, channel_id=CHANNEL, author_id=ALICE, image_path=str(path), source_id=1
    )
    order = Order(
        board=SEED,
        image_path=draft.image_path,
        guild_id=GUILD,
        user_id=ALICE,
        channel_id=CHANNEL,
        draft_id=draft.id,
        revision=draft.revision,
    )
    outcome = await intake.generate(order, post_status=_posted)
    assert isinstance(outcome, Started)
    for _ in range(400):
        await kling.tracker.run_once()
        job = await kling.store.get_job(outcome.job.id)
        assert job is not None
        if fail_second and len(kie.created) == 1:
            kie.plan = TaskPlan(waiting=2, duration=20, outcome="fail")
        if not job.active and job.delivery == "done":
            kie.plan = TaskPlan(waiting=2, duration=20)
            return job
        clock.advance(5)
    raise AssertionError("the chain never ended")


@pytest.mark.parametrize("kind", ["retry", "redo"])
async def test_a_retry_or_redo_over_the_servers_lowered_segment_cap_is_refused_like_generate(
    kling: Runtime, intake: Intake, clock: TestClock, tmp_path: Path, kind: str
) -> None:
    assert kling.quotas is not None
    source = await _chain(kling, intake, clock, tmp_path, fail_second=kind == "retry")
    assert source.segments == 2
    created = len(kling.kie.created)  # type: ignore[attr-defined]
    # The server now allows one segment a video: the new video would be made of two.
    await kling.quotas.set(GUILD, "max_segments", "1", actor_id=0)
    assert await intake.cost(kind, source.id, 2) == 182  # type: ignore[arg-type]
    request = Again(kind, source.id, 2, job_id=NEW_ID, user_id=ALICE)  # type: ignore[arg-type]
    refused = await intake.again(request, post_status=_posted)
    assert isinstance(refused, Refused) and refused.stage == "quota"
    assert isinstance(refused.error, QuotaRefused) and refused.error.code == "segments"
    assert refused.error.params == {"segments": 2, "limit": 1}
    assert error_text(refused.error, "en") == (
        "This storyboard needs 2 segments; this server allows at most 1 segment per video. "
        "Shorten the shots or remove some."
    )
    # Nothing stored, reserved or sent.
    assert await kling.store.get_job(NEW_ID) is None
    assert await kling.quotas.usage_state(NEW_ID) is None
    assert len(kling.kie.created) == created  # type: ignore[attr-defined]

    # Within the cap again, the same confirmation starts it.
    await kling.quotas.set(GUILD, "max_segments", "2", actor_id=0)
    started = await intake.again(request, post_status=_posted)
    assert isinstance(started, Started) and started.job.id == NEW_ID
    assert await kling.quotas.usage_state(NEW_ID) == "reserved"


async def test_a_chain_whose_frame_could_not_be_handed_on_is_retried_from_the_next_segment(
    kling: Runtime,
    intake: Intake,
    clock: TestClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.jobs import chaining

    real = chaining._prepare_frame

    async def broken(*args: Any) -> Path:
        raise OSError("No space left on device")

    monkeypatch.setattr(chaining, "_prepare_frame", broken)
    kie = kling.kie
    assert isinstance(kie, MemoryKie) and kling.quotas is not None
    failed = await _chain(kling, intake, clock, tmp_path)
    assert (failed.state, failed.fail_code) == (JobState.UNDELIVERABLE, "frame_failed")
    assert failed.fail_params == {"segment": 1, "segments": 2}
    assert len(kie.created) == 1  # segment 2 was never sent; segment 1 was made and counts
    assert await kling.quotas.usage_state(failed.id) == "charged"
    # What the member reads, and the button offered: a retry from segment 2.
    assert retry_segment(failed) == 2
    assert (
        "Segment 1 was made and is kept: a retry from segment 2 does not pay for it again."
        in status_text(failed, "en").splitlines()
    )
    assert await intake.cost("retry", failed.id, 2) == 182

    monkeypatch.setattr(chaining, "_prepare_frame", real)
    request = Again("retry", failed.id, 2, job_id=NEW_ID, user_id=ALICE)
    started = await intake.again(request, post_status=_posted)
    assert isinstance(started, Started)
    for _ in range(400):
        await kling.tracker.run_once()
        again = await kling.store.get_job(NEW_ID)
        assert again is not None
        if not again.active:
            break
        clock.advance(5)
    assert again.state == JobState.DELIVERED
    assert len(kie.created) == 2  # only segment 2, from segment 1's last frame
    assert kie.created[1]["input"]["image_urls"] == [kie.uploads[-1]["downloadUrl"]]
    async with kling.store.db.execute("SELECT credits FROM usage WHERE job_id = ?", (NEW_ID,)) as c:
        assert (await c.fetchone())[0] == 182
