"""Generate without Discord: the intake reserves, stores the job held, has its status shown,
then starts it; each refusal leaves nothing reserved and says why."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.storyboard import Shot, Storyboard, StoryboardError
from bot.drafts.store import Draft, Drafts
from bot.jobs.intake import (
    Again,
    DraftRules,
    Intake,
    Order,
    Refused,
    Started,
    StatusPosted,
    retry_segment,
)
from bot.jobs.store import Job, JobState
from bot.media.images import ImageError, prepare_image
from bot.models.sora import SoraStoryboard
from bot.quota.policy import QuotaRefused
from bot.runtime import Runtime
from tests.fakes.fakekie import KLING_MODEL, TaskPlan
from tests.fakes.memkie import URL, MemoryKie
from tests.helpers import RecordingDelivery, TestClock, make_settings, png_bytes

GUILD, ALICE, CHANNEL, STATUS = 100, 7, 300, 900
BOARD = Storyboard(
    shots=(
        Shot(scene="A fluffy orange kitten wearing headphones", tenths=75),
        Shot(scene="The kitten licks its lips, content", tenths=75),
    ),
    length=15,
    aspect="landscape",
)


@pytest.fixture
async def runtime(tmp_path: Path, clock: TestClock) -> AsyncIterator[Runtime]:
    settings = make_settings(tmp_path, URL)
    rt = await Runtime.build(
        settings, RecordingDelivery(), kie=MemoryKie(clock), clock=clock, origin="discord"
    )
    yield rt
    await rt.close()


@pytest.fixture
def intake(runtime: Runtime, clock: TestClock) -> Intake:
    assert runtime.quotas is not None
    return Intake(
        tracker=runtime.tracker,
        quotas=runtime.quotas,
        clock=clock,
        model=lambda: runtime.models.primary,
    )


@pytest.fixture
async def draft(tmp_path: Path, runtime: Runtime, clock: TestClock) -> Draft:
    """A draft and its stored image, prepared as when the draft was made."""
    path = tmp_path / "draft.png"
    path.write_bytes(prepare_image(png_bytes(), SoraStoryboard.image_spec).data)
    return await Drafts(runtime.store, clock).create(
        BOARD,
        guild_id=GUILD,
        channel_id=CHANNEL,
        author_id=ALICE,
        image_path=str(path),
        source_id=1,
    )


#: The draft's own image path (a test may give another, or None).
KEEP = "<the draft's image>"


def order(draft: Draft, *, image_path: str | None = KEEP, board: Storyboard = BOARD) -> Order:
    """Generate ``draft`` (with another image path or storyboard when given)."""
    return Order(
        board=board,
        image_path=draft.image_path if image_path is KEEP else image_path,
        guild_id=GUILD,
        user_id=ALICE,
        channel_id=CHANNEL,
        role_ids=(55,),
        draft_id=draft.id,
        revision=draft.revision,
        card_message_id=800,
    )


class Status:
    """The caller's side: what was acknowledged and which jobs had their status shown."""

    def __init__(self, *, posts: bool = True) -> None:
        self.posts = posts
        self.steps: list[str] = []
        self.shown: list[Job] = []

    async def acknowledge(self) -> None:
        self.steps.append("acknowledged")

    async def post(self, job: Job) -> StatusPosted | None:
        self.steps.append("posted")
        self.shown.append(job)
        return StatusPosted(STATUS, CHANNEL) if self.posts else None


async def usage(runtime: Runtime) -> list[tuple[str, str]]:
    async with runtime.store.db.execute("SELECT job_id, state FROM usage") as cur:
        return [(r["job_id"], r["state"]) for r in await cur.fetchall()]


async def test_a_started_job_is_reserved_held_until_its_status_shows_then_sent(
    runtime: Runtime, intake: Intake, draft: Draft
) -> None:
    status = Status()
    outcome = await intake.generate(
        order(draft), post_status=status.post, acknowledge=status.acknowledge
    )

    assert isinstance(outcome, Started)
    assert status.steps == ["acknowledged", "posted"]
    # The status was posted for a stored job that had not started, holding its reservation.
    (held,) = status.shown
    assert held.state == JobState.QUEUED and held.next_check_at is None
    assert await usage(runtime) == [(held.id, "reserved")]
    job = await runtime.store.get_job(held.id)
    assert job is not None
    assert (job.status_message_id, job.channel_id, job.owner_id, job.guild_id) == (
        STATUS,
        CHANNEL,
        ALICE,
        GUILD,
    )
    assert (job.draft_id, job.revision, job.card_message_id) == (draft.id, draft.revision, 800)
    assert job.next_check_at is not None  # released to the tracker

    await runtime.tracker.run_once()
    kie = runtime.kie
    assert isinstance(kie, MemoryKie)
    (body,) = kie.created
    assert body["input"]["shots"] == [
        {"Scene": "A fluffy orange kitten wearing headphones", "duration": 7.5},
        {"Scene": "The kitten licks its lips, content", "duration": 7.5},
    ]


async def test_an_image_removed_since_the_draft_was_made_refuses_before_anything(
    runtime: Runtime, intake: Intake, draft: Draft, tmp_path: Path
) -> None:
    status = Status()
    gone = str(tmp_path / "swept.png")
    for path in (gone, None):
        outcome = await intake.generate(
            order(draft, image_path=path), post_status=status.post, acknowledge=status.acknowledge
        )
        assert outcome == Refused("image_gone")
    assert status.steps == [] and await usage(runtime) == []


async def test_a_storyboard_the_model_does_not_take_is_refused_with_its_rule(
    runtime: Runtime, intake: Intake, draft: Draft
) -> None:
    status = Status()
    board = BOARD.model_copy(update={"length": 12})
    outcome = await intake.generate(
        order(draft, board=board), post_status=status.post, acknowledge=status.acknowledge
    )
    assert isinstance(outcome, Refused) and outcome.stage == "invalid"
    assert outcome.error is not None and "12" in str(outcome.error)
    assert status.steps == [] and await usage(runtime) == []


async def test_a_server_limit_refuses_after_the_acknowledgement_and_stores_no_job(
    runtime: Runtime, intake: Intake, draft: Draft
) -> None:
    assert runtime.quotas is not None
    await runtime.quotas.set(GUILD, "user_concurrent", "1", actor_id=0)
    first = await intake.generate(order(draft), post_status=Status().post)
    assert isinstance(first, Started)

    status = Status()
    outcome = await intake.generate(
        order(draft), post_status=status.post, acknowledge=status.acknowledge
    )
    assert isinstance(outcome, Refused) and outcome.stage == "quota"
    assert str(outcome.error).startswith("You have 1 video")
    assert status.steps == ["acknowledged"]  # nothing stored, nothing shown
    assert await usage(runtime) == [(first.job.id, "reserved")]
    assert len(await runtime.store.recent_jobs()) == 1


async def test_a_status_that_cannot_be_shown_cancels_the_job_and_releases_the_quota(
    runtime: Runtime, intake: Intake, draft: Draft
) -> None:
    status = Status(posts=False)
    outcome = await intake.generate(order(draft), post_status=status.post)

    assert outcome == Refused("not_posted")
    (held,) = status.shown
    job = await runtime.store.get_job(held.id)
    assert job is not None and job.state == JobState.CANCELLED
    assert await usage(runtime) == [(held.id, "released")]
    await runtime.tracker.run_once()
    kie = runtime.kie
    assert isinstance(kie, MemoryKie) and kie.created == []


async def test_an_error_while_showing_the_status_cancels_the_job_and_propagates(
    runtime: Runtime, intake: Intake, draft: Draft
) -> None:
    shown: list[Job] = []

    async def broken(job: Job) -> StatusPosted | None:
        shown.append(job)
        raise RuntimeError("Discord is down")

    with pytest.raises(RuntimeError, match="Discord is down"):
        await intake.generate(order(draft), post_status=broken)
    (held,) = shown
    job = await runtime.store.get_job(held.id)
    assert job is not None and job.state == JobState.CANCELLED
    assert await usage(runtime) == [(held.id, "released")]


async def test_an_error_after_the_job_left_the_queue_keeps_its_reservation(
    runtime: Runtime, intake: Intake, draft: Draft, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = runtime.tracker.release

    async def released_then_broken(job_id: str, **fields: object) -> None:
        await release(job_id, **fields)
        # The job is on its way to kie.ai when the press's own task fails.
        await runtime.store.transition(job_id, JobState.QUEUED, JobState.SUBMITTING)
        raise RuntimeError("the interaction's task was cancelled")

    monkeypatch.setattr(runtime.tracker, "release", released_then_broken)
    with pytest.raises(RuntimeError):
        status = Status()
        await intake.generate(order(draft), post_status=status.post, acknowledge=status.acknowledge)
    [(job_id, state)] = await usage(runtime)
    job = await runtime.store.get_job(job_id)
    assert job is not None and job.state == JobState.SUBMITTING
    assert state == "reserved"  # what kie.ai may make still counts; the engine settles it


async def test_an_unreadable_image_releases_the_reservation_it_made(
    runtime: Runtime, intake: Intake, draft: Draft, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image at all")
    status = Status()
    with pytest.raises(ImageError):
        await intake.generate(order(draft, image_path=str(broken)), post_status=status.post)
    assert status.shown == []
    assert [state for _job, state in await usage(runtime)] == ["released"]
    assert await runtime.store.recent_jobs() == []


# -- long storyboards ---------------------------------------------------------------------------
#: The seed's longest storyboard: 10 shots of 2.5 s (two Kling segments of 13 s, 182 credits each).
SEED = Storyboard(
    shots=tuple(Shot(scene=f"Scene {i}: the kitten, moment {i}", tenths=25) for i in range(1, 11)),
    length=25,
    aspect="landscape",
)


@pytest.fixture
async def kling(tmp_path: Path, clock: TestClock) -> AsyncIterator[Runtime]:
    """A bot whose model is Kling (15 s and 6 shots a video)."""
    settings = make_settings(tmp_path, URL, kie={"model": KLING_MODEL})
    rt = await Runtime.build(
        settings, RecordingDelivery(), kie=MemoryKie(clock), clock=clock, origin="discord"
    )
    yield rt
    await rt.close()


def intake_of(rt: Runtime, clock: TestClock) -> Intake:
    assert rt.quotas is not None
    return Intake(
        tracker=rt.tracker, quotas=rt.quotas, clock=clock, model=lambda: rt.models.primary
    )


async def credits_of(rt: Runtime, job_id: str) -> int:
    async with rt.store.db.execute("SELECT credits FROM usage WHERE job_id = ?", (job_id,)) as c:
        return int((await c.fetchone())[0])


async def test_a_long_storyboard_is_planned_checked_and_reserved_whole(
    kling: Runtime, clock: TestClock, draft: Draft
) -> None:
    rules = DraftRules(kling.tracker, lambda: kling.models.primary)
    assert rules.limits.lengths == (10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60)
    assert rules.limits.max_shots == 20
    plan = rules.plan(SEED)
    assert (plan.count, plan.price, plan.model) == (2, 364, KLING_MODEL)
    with pytest.raises(StoryboardError) as err:
        rules.validate(SEED.model_copy(update={"length": 65}))
    assert err.value.code == "length"
    with pytest.raises(StoryboardError) as err:  # one shot longer than a segment holds
        rules.validate(Storyboard(shots=(Shot(scene="a long take", tenths=160),), length=20))
    assert err.value.code == "shot_duration" and err.value.params["max"] == "15"

    outcome = await intake_of(kling, clock).generate(
        order(draft, board=SEED), post_status=Status().post
    )
    assert isinstance(outcome, Started) and outcome.job.is_chain
    assert outcome.job.segments == 2
    assert await credits_of(kling, outcome.job.id) == 364  # the whole chain, before anything


async def test_a_retry_is_priced_from_its_segment_and_refused_by_the_quota_like_generate(
    kling: Runtime, clock: TestClock, draft: Draft
) -> None:
    kie = kling.kie
    assert isinstance(kie, MemoryKie) and kling.quotas is not None
    kie.plan = TaskPlan(waiting=2, duration=20, outcome="fail")  # segment 1 fails
    intake = intake_of(kling, clock)
    outcome = await intake.generate(order(draft, board=SEED), post_status=Status().post)
    assert isinstance(outcome, Started)
    failed = outcome.job
    for _ in range(200):
        await kling.tracker.run_once()
        failed = await kling.store.get_job(failed.id) or failed
        if not failed.active:
            break
        clock.advance(5)
    assert failed.fail_code == "segment_failed" and retry_segment(failed) == 1
    assert await intake.cost("retry", failed.id, 1) == 364
    assert await intake.cost("redo", failed.id, 1) is None  # not delivered: no redo

    await kling.quotas.set(GUILD, "guild_monthly_credits", "300", actor_id=0)
    request = Again("retry", failed.id, 1, job_id="abc123abc123", user_id=ALICE)
    status = Status()
    refused = await intake.again(request, post_status=status.post, acknowledge=status.acknowledge)
    assert isinstance(refused, Refused) and refused.stage == "quota"
    assert isinstance(refused.error, QuotaRefused)
    assert status.steps == ["acknowledged"] and await kling.store.get_job("abc123abc123") is None

    await kling.quotas.set(GUILD, "guild_monthly_credits", "1000", actor_id=0)
    started = await intake.again(request, post_status=status.post)
    assert isinstance(started, Started) and started.job.id == "abc123abc123"
    assert await credits_of(kling, "abc123abc123") == 364
    assert await intake.again(request, post_status=status.post) == Refused("already")


async def test_a_plan_over_the_servers_segment_cap_is_refused_before_anything(
    kling: Runtime, clock: TestClock, draft: Draft
) -> None:
    assert kling.quotas is not None
    await kling.quotas.set(GUILD, "max_segments", "1", actor_id=0)
    status = Status()
    refused = await intake_of(kling, clock).generate(
        order(draft, board=SEED), post_status=status.post, acknowledge=status.acknowledge
    )
    assert isinstance(refused, Refused) and refused.stage == "quota"
    assert isinstance(refused.error, QuotaRefused) and refused.error.code == "segments"
    assert refused.error.params == {"segments": 2, "limit": 1}
    assert status.steps == [] and await usage(kling) == []
    assert await kling.store.recent_jobs(5) == []
    assert kling.kie.created == []  # type: ignore[attr-defined]

    # Within the cap, the plan's segments are what the reservation is checked against.
    await kling.quotas.set(GUILD, "max_segments", "2", actor_id=0)
    started = await intake_of(kling, clock).generate(
        order(draft, board=SEED), post_status=status.post
    )
    assert isinstance(started, Started) and started.job.segments == 2


async def test_two_presses_of_one_retry_confirmation_start_one_chain(
    kling: Runtime, clock: TestClock, draft: Draft
) -> None:
    kie = kling.kie
    assert isinstance(kie, MemoryKie)
    kie.plan = TaskPlan(waiting=2, duration=20, outcome="fail")  # segment 1 fails
    intake = intake_of(kling, clock)
    outcome = await intake.generate(order(draft, board=SEED), post_status=Status().post)
    assert isinstance(outcome, Started)
    failed = outcome.job
    for _ in range(200):
        await kling.tracker.run_once()
        failed = await kling.store.get_job(failed.id) or failed
        if not failed.active:
            break
        clock.advance(5)
    request = Again("retry", failed.id, 1, job_id="abc123abc123", user_id=ALICE)
    status = Status()
    answers = await asyncio.gather(
        intake.again(request, post_status=status.post),
        intake.again(request, post_status=status.post),
    )
    assert sorted(type(a).__name__ for a in answers) == ["Refused", "Started"]
    assert Refused("already") in answers
    # One status shown, one chain stored and reserved, still held by the press that won.
    assert [j.id for j in status.shown] == ["abc123abc123"]
    job = await kling.store.get_job("abc123abc123")
    assert job is not None and job.state == JobState.QUEUED
    assert await kling.quotas.usage_state("abc123abc123") == "reserved"
