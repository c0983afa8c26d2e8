"""The retention policy on a real store and real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.drafts import Drafts
from bot.retention import SweepResult, forget_guild, sweep
from bot.store import Job, JobState, Store
from bot.storyboard import Shot, Storyboard

NOW = 1_700_000_000.0
DAY = 86400
BOARD = Storyboard(shots=(Shot(scene="a kitten", tenths=100),), length=10)


@pytest.fixture
def media(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    for sub in ("images", "drafts", "videos"):
        (root / sub).mkdir(parents=True)
    return root


def put(media: Path, rel: str, size: int, age_days: float) -> Path:
    """A file of ``size`` bytes last modified ``age_days`` before NOW."""
    path = media / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    mtime = NOW - age_days * DAY
    os.utime(path, (mtime, mtime))
    return path


async def add_job(store: Store, image: Path, **kw) -> Job:
    fields = {
        "model": "sora-2-pro-storyboard",
        "storyboard": BOARD,
        "image_path": str(image),
        "deadline_at": NOW + 3600,
        "created_at": NOW - 40 * DAY,
    }
    fields.update(kw)
    return await store.create_job(**fields)


def names(media: Path) -> set[str]:
    return {str(p.relative_to(media)) for p in media.rglob("*") if p.is_file()}


# -- by age ----------------------------------------------------------------------------------


async def test_old_files_go_and_new_ones_stay(store, media):
    put(media, "images/old.png", 100, age_days=31)
    put(media, "videos/old.mp4", 1000, age_days=45)
    put(media, "drafts/old.png", 10, age_days=30.5)
    put(media, "images/new.png", 200, age_days=29)
    put(media, "videos/new.mp4", 2000, age_days=1)

    result = await sweep(store, media, days=30, max_bytes=10**9, now=NOW)

    assert names(media) == {"images/new.png", "videos/new.mp4"}
    assert result == SweepResult(removed=3, freed=1110, kept_bytes=2200)


async def test_nothing_to_do(store, media):
    put(media, "images/a.png", 100, age_days=1)
    result = await sweep(store, media, days=30, max_bytes=10**9, now=NOW)
    assert result == SweepResult(removed=0, freed=0, kept_bytes=100)
    assert names(media) == {"images/a.png"}


async def test_an_empty_or_missing_media_dir(store, tmp_path):
    result = await sweep(store, tmp_path / "nowhere", days=30, max_bytes=0, now=NOW)
    assert result == SweepResult(0, 0, 0)


async def test_files_outside_the_media_subfolders_are_left_alone(store, media):
    put(media, "notes.txt", 100, age_days=400)
    put(media, "other/old.png", 100, age_days=400)
    result = await sweep(store, media, days=30, max_bytes=0, now=NOW)
    assert result.removed == 0
    assert names(media) == {"notes.txt", "other/old.png"}


async def test_part_files_are_ignored(store, media):
    put(media, "videos/abc.mp4.part", 5000, age_days=90)
    put(media, "videos/old.mp4", 100, age_days=90)
    result = await sweep(store, media, days=30, max_bytes=0, now=NOW)
    assert names(media) == {"videos/abc.mp4.part"}
    # A download in progress is not counted either.
    assert result == SweepResult(removed=1, freed=100, kept_bytes=0)


# -- by size ---------------------------------------------------------------------------------


async def test_over_the_size_limit_the_oldest_go_first(store, media):
    put(media, "videos/a.mp4", 400, age_days=5)
    put(media, "images/b.png", 300, age_days=4)
    put(media, "drafts/c.png", 200, age_days=3)
    put(media, "videos/d.mp4", 100, age_days=2)
    put(media, "images/e.png", 50, age_days=1)

    # 1050 bytes, at most 400: a, then b go (350 left); c, d, e stay.
    result = await sweep(store, media, days=30, max_bytes=400, now=NOW)

    assert names(media) == {"drafts/c.png", "videos/d.mp4", "images/e.png"}
    assert result == SweepResult(removed=2, freed=700, kept_bytes=350)


async def test_exactly_at_the_limit_is_kept(store, media):
    put(media, "videos/a.mp4", 300, age_days=2)
    put(media, "videos/b.mp4", 100, age_days=1)
    result = await sweep(store, media, days=30, max_bytes=400, now=NOW)
    assert result == SweepResult(removed=0, freed=0, kept_bytes=400)


async def test_age_and_size_together(store, media):
    put(media, "videos/ancient.mp4", 10, age_days=100)
    put(media, "videos/a.mp4", 500, age_days=3)
    put(media, "videos/b.mp4", 500, age_days=2)
    put(media, "videos/c.mp4", 500, age_days=1)
    result = await sweep(store, media, days=30, max_bytes=1000, now=NOW)
    assert names(media) == {"videos/b.mp4", "videos/c.mp4"}
    assert result == SweepResult(removed=2, freed=510, kept_bytes=1000)


# -- files jobs still need -------------------------------------------------------------------


@pytest.mark.parametrize(
    "state",
    [JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING, JobState.SUCCEEDED,
     JobState.FETCHED, JobState.UNKNOWN],
)  # fmt: skip
async def test_an_active_jobs_files_are_never_removed(store, media, state):
    image = put(media, "images/active.png", 300, age_days=90)
    video = put(media, "videos/active.mp4", 700, age_days=90)
    put(media, "images/other.png", 100, age_days=90)
    await add_job(store, image, state=state, video_path=str(video), delivery="done")

    result = await sweep(store, media, days=30, max_bytes=0, now=NOW)

    assert names(media) == {"images/active.png", "videos/active.mp4"}
    assert result == SweepResult(removed=1, freed=100, kept_bytes=1000)


async def test_a_finished_job_whose_delivery_is_pending_keeps_its_files(store, media):
    image = put(media, "images/j.png", 300, age_days=90)
    video = put(media, "videos/j.mp4", 700, age_days=90)
    await add_job(
        store, image, state=JobState.UNDELIVERABLE, video_path=str(video), delivery="pending"
    )
    result = await sweep(store, media, days=30, max_bytes=0, now=NOW)
    assert names(media) == {"images/j.png", "videos/j.mp4"}
    assert result.removed == 0


@pytest.mark.parametrize(
    "state",
    [JobState.DELIVERED, JobState.FAILED, JobState.REFUSED, JobState.EXPIRED,
     JobState.CANCELLED, JobState.UNDELIVERABLE],
)  # fmt: skip
async def test_a_finished_and_announced_jobs_files_can_go(store, media, state):
    image = put(media, "images/j.png", 300, age_days=90)
    video = put(media, "videos/j.mp4", 700, age_days=90)
    await add_job(store, image, state=state, video_path=str(video), delivery="done")
    result = await sweep(store, media, days=30, max_bytes=10**9, now=NOW)
    assert names(media) == set()
    assert result == SweepResult(removed=2, freed=1000, kept_bytes=0)


async def test_protected_files_count_towards_the_size_but_others_go_instead(store, media):
    big = put(media, "images/big.png", 900, age_days=10)
    put(media, "images/small.png", 50, age_days=5)
    put(media, "images/newer.png", 40, age_days=1)
    await add_job(store, big, state=JobState.RUNNING)
    result = await sweep(store, media, days=30, max_bytes=100, now=NOW)
    # Still over the limit with only the protected file left: it is kept all the same.
    assert names(media) == {"images/big.png"}
    assert result == SweepResult(removed=2, freed=90, kept_bytes=900)


async def test_a_job_path_written_differently_still_protects_the_file(store, media, monkeypatch):
    image = put(media, "images/rel.png", 100, age_days=90)
    monkeypatch.chdir(media)
    await add_job(store, image, state=JobState.QUEUED, image_path="images/../images/rel.png")
    result = await sweep(store, media, days=30, max_bytes=0, now=NOW)
    assert names(media) == {"images/rel.png"}
    assert result.removed == 0


# -- leaving a guild -------------------------------------------------------------------------


async def test_forget_guild_removes_that_guilds_files_only(store, media):
    drafts = Drafts(store)
    mine_img = put(media, "images/mine.png", 10, age_days=0)
    mine_vid = put(media, "videos/mine.mp4", 10, age_days=0)
    mine_running = put(media, "images/mine2.png", 10, age_days=0)
    mine_draft = put(media, "drafts/mine.png", 10, age_days=0)
    other_img = put(media, "images/other.png", 10, age_days=0)
    other_vid = put(media, "videos/other.mp4", 10, age_days=0)
    other_draft = put(media, "drafts/other.png", 10, age_days=0)
    dm_img = put(media, "images/dm.png", 10, age_days=0)
    put(media, "images/stray.png", 10, age_days=0)

    await add_job(store, mine_img, guild_id=1, state=JobState.DELIVERED, video_path=str(mine_vid))
    await add_job(store, mine_running, guild_id=1, state=JobState.RUNNING)
    await add_job(store, other_img, guild_id=2, state=JobState.DELIVERED, video_path=str(other_vid))
    await add_job(store, dm_img, guild_id=None, state=JobState.DELIVERED)
    d1 = await drafts.create(BOARD, guild_id=1, channel_id=10, author_id=5, image_path=None)
    await drafts.update(d1.id, image_path=str(mine_draft))
    d2 = await drafts.create(BOARD, guild_id=2, channel_id=20, author_id=5, image_path=None)
    await drafts.update(d2.id, image_path=str(other_draft))
    await drafts.create(BOARD, guild_id=1, channel_id=10, author_id=5, image_path=None)

    removed = await forget_guild(store, 1)

    assert removed == 4
    assert names(media) == {
        "images/other.png",
        "videos/other.mp4",
        "drafts/other.png",
        "images/dm.png",
        "images/stray.png",
    }


async def test_forget_guild_counts_only_files_that_were_there(store, media):
    drafts = Drafts(store)
    img = put(media, "images/shared.png", 10, age_days=0)
    # A job made from a draft shares the draft's image; one already swept is simply skipped.
    d = await drafts.create(BOARD, guild_id=3, channel_id=1, author_id=1, image_path=str(img))
    await add_job(store, img, guild_id=3, state=JobState.DELIVERED, draft_id=d.id, revision=1,
                  video_path=str(media / "videos/gone.mp4"))  # fmt: skip

    assert await forget_guild(store, 3) == 1
    assert names(media) == set()
    assert await forget_guild(store, 3) == 0


async def test_forget_an_unknown_guild(store, media):
    put(media, "images/a.png", 10, age_days=0)
    assert await forget_guild(store, 999) == 0
    assert names(media) == {"images/a.png"}
