"""The retention policy on a real store and real files."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import aiosqlite
import pytest

from bot.config.settings import QuotaDefaults
from bot.db.migrations import migrate, schema_version
from bot.domain.storyboard import Shot, Storyboard
from bot.drafts.store import Draft, Drafts
from bot.i18n.strings import t
from bot.jobs.store import Job, JobState, Store
from bot.quota.policy import Quotas
from bot.storage import retention
from bot.storage.retention import (
    POSTING_GRACE,
    StorageRefused,
    SweepResult,
    check_room,
    forget_guild,
    member_bytes,
    sweep,
)
from tests.helpers import TestClock

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


# -- whose files: members, drafts and shares -------------------------------------------------

MB = 1_000_000
GUILD = 1
ALICE, BOB, OWNER = 11, 12, 99


async def make_draft(
    store: Store,
    media: Path,
    author: int,
    images: list[tuple[str, float]],
    *,
    guild: int = GUILD,
    size: int = MB,
    state: str = "active",
    card: bool = True,
    changed_days_ago: float = 0,
    made_days_ago: float | None = None,
) -> Draft:
    """A draft of ``author`` whose revisions used ``images`` (``(relative path, age in days)``,
    the last one current), each ``size`` bytes, last changed ``changed_days_ago``."""
    made = NOW - (made_days_ago if made_days_ago is not None else changed_days_ago) * DAY
    drafts = Drafts(store, TestClock(made))
    paths = [put(media, rel, size, age_days=age) for rel, age in images]
    draft = await drafts.create(
        BOARD, guild_id=guild, channel_id=100 + author, author_id=author, image_path=str(paths[0])
    )
    for path in paths[1:]:
        await drafts.revise(draft.id, BOARD, editor_id=author, image_path=str(path))
    await store.db.execute(
        "UPDATE drafts SET state = ?, card_message_id = ?, updated_at = ? WHERE id = ?",
        (state, 5000 + len(draft.id) + author if card else None, NOW - changed_days_ago * DAY,
         draft.id),
    )  # fmt: skip
    got = await drafts.get(draft.id)
    assert got is not None
    return got


async def delivered(store: Store, media: Path, owner: int, name: str, *, video: int, age: float):
    image = put(media, f"images/{name}.png", MB // 10, age_days=age)
    path = put(media, f"videos/{name}.mp4", video, age_days=age)
    return await add_job(
        store, image, guild_id=GUILD, owner_id=owner, state=JobState.DELIVERED,
        video_path=str(path), delivery="done",
    )  # fmt: skip


def quotas(store: Store, **limits) -> Quotas:
    q = Quotas(store, QuotaDefaults(**limits))
    q.add_owners([OWNER])
    return q


@pytest.mark.parametrize("shares", [True, False])
async def test_one_members_big_drafts_cannot_push_out_anothers_video_or_image(store, media, shares):
    # Bob made a draft and a video from it three days ago.
    await make_draft(store, media, BOB, [("drafts/bob.png", 3)])
    await delivered(store, media, BOB, "bob", video=2 * MB, age=3)
    # Since then Alice made four big drafts and gave each of them a new image.
    for n in range(4):
        await make_draft(
            store, media, ALICE, [(f"drafts/a{n}-old.png", 2), (f"drafts/a{n}.png", 1)]
        )
    # 11.1 MB stored, 9 MB allowed.
    q = quotas(store, user_storage_mb=5) if shares else None
    result = await sweep(store, media, days=14, max_bytes=9 * MB, now=NOW, quotas=q)

    left = names(media)
    # Bob's files stay, though they are the oldest; Alice's live drafts keep their images.
    assert {"drafts/bob.png", "images/bob.png", "videos/bob.mp4"} <= left
    assert {f"drafts/a{n}.png" for n in range(4)} <= left
    # Alice's replaced images went instead: three of them are enough.
    assert len([n for n in left if n.endswith("-old.png")]) == 1
    assert result == SweepResult(removed=3, freed=3 * MB, kept_bytes=8_100_000)


async def test_nobodys_files_go_first_even_the_newest(store, media, clock=None):
    await delivered(store, media, ALICE, "alice", video=MB, age=6)
    await delivered(store, media, BOB, "bob", video=MB, age=5)
    put(media, "images/stray.png", MB, age_days=0)  # no job or draft names it
    await make_draft(store, media, ALICE, [("drafts/gone.png", 0)], state="discarded")
    # A card that was never posted: an hour and more ago, so not being posted now.
    await make_draft(
        store, media, BOB, [("drafts/unposted.png", 0)], card=False,
        made_days_ago=2 * POSTING_GRACE / DAY,
    )  # fmt: skip
    await make_draft(store, media, BOB, [("drafts/posting.png", 0)], card=False)
    result = await sweep(store, media, days=14, max_bytes=3_200_000, now=NOW)

    assert names(media) == {
        "images/alice.png", "videos/alice.mp4", "images/bob.png", "videos/bob.mp4",
        "drafts/posting.png",
    }  # fmt: skip
    assert result.removed == 3


async def test_a_member_over_their_share_loses_their_own_oldest_file_first(store, media):
    await delivered(store, media, BOB, "bob", video=MB, age=9)  # the oldest video of all
    await delivered(store, media, ALICE, "alice1", video=2 * MB, age=5)
    await delivered(store, media, ALICE, "alice2", video=2 * MB, age=4)
    await delivered(store, media, OWNER, "owner", video=3 * MB, age=8)  # owners have no share
    # 8.4 MB, 7 MB allowed; Alice stores 4.2 MB and her share is 3.
    result = await sweep(
        store, media, days=14, max_bytes=7 * MB, now=NOW, quotas=quotas(store, user_storage_mb=3)
    )
    assert "videos/alice1.mp4" not in names(media)
    assert {"videos/bob.mp4", "videos/owner.mp4", "videos/alice2.mp4"} <= names(media)
    # Her oldest file first: the reference image of her first video went before its video.
    assert "images/alice1.png" not in names(media)
    assert result.removed == 2


async def test_within_their_shares_the_member_storing_the_most_goes_first(store, media):
    await delivered(store, media, BOB, "bob", video=MB, age=9)
    await delivered(store, media, ALICE, "alice1", video=2 * MB, age=5)
    await delivered(store, media, ALICE, "alice2", video=2 * MB, age=4)
    # Shares add up to more than the disk: nobody is over theirs, Alice stores the most.
    await sweep(
        store, media, days=14, max_bytes=4 * MB, now=NOW, quotas=quotas(store, user_storage_mb=10)
    )
    assert names(media) == {"images/bob.png", "videos/bob.mp4", "images/alice2.png",
                            "videos/alice2.mp4"}  # fmt: skip


async def test_a_live_drafts_current_image_is_never_removed(store, media):
    # Changed yesterday, its image made 20 days ago: it stays, past the age and over the size.
    await make_draft(store, media, ALICE, [("drafts/first.png", 30), ("drafts/live.png", 20)],
                     changed_days_ago=1)  # fmt: skip
    # Left alone for longer than the retention: its image goes with its age.
    await make_draft(store, media, BOB, [("drafts/idle.png", 20)], changed_days_ago=15)
    result = await sweep(store, media, days=14, max_bytes=0, now=NOW)
    assert names(media) == {"drafts/live.png"}
    assert result == SweepResult(removed=2, freed=2 * MB, kept_bytes=MB)


async def test_too_little_free_disk_frees_files_as_over_the_size(store, media, monkeypatch):
    put(media, "videos/a.mp4", 400, age_days=3)
    put(media, "videos/b.mp4", 300, age_days=2)
    put(media, "videos/c.mp4", 200, age_days=1)
    usage = shutil_usage(free=1000)
    monkeypatch.setattr(retention.shutil, "disk_usage", usage)
    # 1000 bytes free, 1500 wanted: 500 more must go (a and b), though under max_bytes.
    result = await sweep(store, media, days=14, max_bytes=10**9, now=NOW, min_free_bytes=1500)
    assert names(media) == {"videos/c.mp4"}
    assert result == SweepResult(removed=2, freed=700, kept_bytes=200)
    assert usage.asked  # on the media directory (or the folder it is in)


def shutil_usage(*, free: int):
    def disk_usage(path):
        disk_usage.asked.append(Path(path))
        return SimpleNamespace(total=10**12, used=10**12 - free, free=free)

    disk_usage.asked = []
    return disk_usage


# -- caps: what a member may store -----------------------------------------------------------


async def refused(coro) -> StorageRefused:
    with pytest.raises(StorageRefused) as info:
        await coro
    return info.value


def room(store: Store, media: Path, **kw):
    args = {"guild_id": GUILD, "user_id": ALICE, "need": MB, "now": NOW, "days": 14}
    args.update(kw)
    return check_room(store, media, **args)


async def test_the_cap_on_active_drafts(store, media):
    old = await make_draft(store, media, ALICE, [("drafts/1.png", 0)], changed_days_ago=3)
    new = await make_draft(store, media, ALICE, [("drafts/2.png", 0)], changed_days_ago=1)
    # Not counted: discarded, never posted, left alone past the retention, someone else's,
    # another server's.
    await make_draft(store, media, ALICE, [("drafts/3.png", 0)], state="discarded")
    await make_draft(store, media, ALICE, [("drafts/4.png", 0)], card=False)
    await make_draft(store, media, ALICE, [("drafts/5.png", 0)], changed_days_ago=15)
    await make_draft(store, media, BOB, [("drafts/6.png", 0)])
    await make_draft(store, media, ALICE, [("drafts/7.png", 0)], guild=2)

    await room(store, media, active_drafts=3)
    err = await refused(room(store, media, active_drafts=2))
    assert err.code == "user_drafts"
    assert err.params == {"count": 2, "limit": 2, "days": "14", "drafts": ""}
    assert err.cards == (
        (old.channel_id, old.card_message_id),
        (new.channel_id, new.card_message_id),
    )
    assert str(err) == (
        "You have 2 active drafts in this server and the limit is 2: discard one you no longer "
        "need (the Discard button on its card) and try again. Drafts left unchanged for 14 days "
        "stop counting."
    )
    await room(store, media, active_drafts=None)  # no cap


async def test_the_cap_on_stored_bytes(store, media):
    await make_draft(store, media, ALICE, [("drafts/a1.png", 1), ("drafts/a2.png", 0)])
    await delivered(store, media, ALICE, "alice", video=3 * MB, age=1)
    # Someone else's and another server's files are not hers.
    await delivered(store, media, BOB, "bob", video=3 * MB, age=1)
    await make_draft(store, media, ALICE, [("drafts/elsewhere.png", 0)], guild=2)
    assert await member_bytes(store, GUILD, ALICE) == 5_100_000

    await room(store, media, storage_mb=7, need=1_900_000)
    err = await refused(room(store, media, storage_mb=7, need=2 * MB))
    assert err.code == "user_storage"
    assert err.params == {"used": "5.1", "need": "2.0", "limit": 7, "days": "14"}
    assert str(err) == (
        "Your images and videos in this server take 5.1 MB and this image needs 2.0 MB more; "
        "the limit is 7 MB a member. Discard drafts you no longer need (their images are "
        "removed then) or wait: stored files are removed after 14 days."
    )


async def test_a_members_discarded_drafts_make_room_for_her_new_image(store, media):
    gone = await make_draft(
        store, media, ALICE, [("drafts/old1.png", 2), ("drafts/old2.png", 1)], state="discarded"
    )
    await make_draft(store, media, ALICE, [("drafts/live.png", 0)])
    await make_draft(store, media, BOB, [("drafts/bob.png", 0)], state="discarded")
    # A video made from the discarded draft keeps its own copy of the image.
    job = await delivered(store, media, ALICE, "alice", video=MB, age=1)
    await store.update_job(job.id, draft_id=gone.id)
    assert await member_bytes(store, GUILD, ALICE) == 4_100_000

    await room(store, media, storage_mb=4, need=MB)  # 2.1 MB once her discarded draft's go

    assert names(media) == {"drafts/live.png", "drafts/bob.png", "images/alice.png",
                            "videos/alice.mp4"}  # fmt: skip
    assert await member_bytes(store, GUILD, ALICE) == 2_100_000
    err = await refused(room(store, media, storage_mb=4, need=2 * MB))  # nothing more to free
    assert err.params["used"] == "2.1"


async def test_too_little_free_disk_refuses(store, media, monkeypatch):
    monkeypatch.setattr(retention.shutil, "disk_usage", shutil_usage(free=250 * MB))
    await room(store, media, min_free_mb=200, need=10 * MB)
    err = await refused(room(store, media, min_free_mb=300, need=MB))
    assert err.code == "disk_full"
    assert err.params == {"free": "250", "min": "300"}
    assert str(err) == (
        "The bot's disk is nearly full (250 MB free; it keeps at least 300 MB free), so no new "
        "drafts or images can be stored right now. Please try again later."
    )
    # The new image itself must leave the margin free.
    await refused(room(store, media, min_free_mb=200, need=51 * MB))
    await room(store, media, min_free_mb=0, need=MB)


async def test_free_disk_is_read_where_the_media_will_be(tmp_path, monkeypatch):
    usage = shutil_usage(free=1)
    monkeypatch.setattr(retention.shutil, "disk_usage", usage)
    assert retention.free_bytes(tmp_path / "not" / "yet") == 1
    assert usage.asked == [tmp_path]


async def test_refusals_read_as_the_strings_members_see(store, media, monkeypatch):
    await make_draft(store, media, ALICE, [("drafts/1.png", 0)])
    monkeypatch.setattr(retention.shutil, "disk_usage", shutil_usage(free=MB))
    errors = [
        await refused(room(store, media, active_drafts=1)),
        await refused(room(store, media, storage_mb=1)),
        await refused(room(store, media, min_free_mb=300)),
    ]
    assert [e.code for e in errors] == ["user_drafts", "user_storage", "disk_full"]
    for err in errors:
        assert t(f"storage.{err.code}", "en", **err.params) == str(err)
        chinese = t(f"storage.{err.code}", "zh", **err.params)
        assert "{" not in chinese
        for value in err.params.values():
            assert str(value) in chinese


# -- the schema ------------------------------------------------------------------------------


async def test_drafts_are_found_by_author_after_the_upgrade(tmp_path):
    async with aiosqlite.connect(tmp_path / "v4.db", isolation_level=None) as db:
        await migrate(db, target=4)
        await db.execute(
            "INSERT INTO drafts (id, guild_id, channel_id, author_id, image_path, revision, "
            "state, created_at, updated_at) VALUES ('d1', 1, 2, 3, 'x.png', 1, 'active', 0, 0)"
        )
        await db.execute(
            "INSERT INTO draft_revisions (draft_id, revision, storyboard, created_at) "
            "VALUES ('d1', 1, ?, 0)",
            (BOARD.model_dump_json(),),
        )
    store = await Store.open(tmp_path / "v4.db")
    try:
        assert await schema_version(store.db) >= 5
        async with store.db.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM drafts WHERE guild_id = 1 AND author_id = 3 "
            "AND state = 'active'"
        ) as cur:
            plan = " ".join(str(r["detail"]) for r in await cur.fetchall())
        assert "drafts_author" in plan
        draft = await Drafts(store).get("d1")
        assert draft is not None and draft.author_id == 3
    finally:
        await store.close()


async def test_forget_guild_removes_every_revisions_image(store, media):
    await make_draft(store, media, ALICE, [("drafts/r1.png", 0), ("drafts/r2.png", 0)])
    assert await forget_guild(store, GUILD) == 2
    assert names(media) == set()
