"""bot.drafts.store on a real store: revisions, conflicts, history, editors and look-ups."""

from __future__ import annotations

import pytest

from bot.domain.storyboard import Shot, Storyboard, rebalance
from bot.drafts.store import Drafts, RevisionConflict
from bot.models.sora import SoraStoryboard
from tests.helpers import TestClock

SORA = SoraStoryboard.limits
NOW = 1_700_000_000.0


def board(*shots: tuple[str, int | None], length: int = 10) -> Storyboard:
    """Shots as (scene, tenths); tenths None is an automatic shot."""
    raw = tuple(Shot(scene=s, tenths=t or 0, auto=t is None) for s, t in shots)
    return Storyboard(shots=rebalance(raw, length, SORA), length=length)


def seen(b: Storyboard) -> list[tuple[str, float]]:
    """What the card shows: each shot's scene and seconds."""
    return [(s.scene, s.seconds) for s in b.shots]


START = board(("a kitten", 40), ("a puppy", None))  # 4 s + 6 s of 10
SECOND = board(("a kitten", 40), ("a dog", None))
THIRD = board(("a dog", None), length=15)


@pytest.fixture
def clock() -> TestClock:
    return TestClock(start=NOW)


async def new_draft(drafts: Drafts, image_path: str | None = None):
    return await drafts.create(
        START, guild_id=1, channel_id=2, author_id=100, image_path=image_path
    )


# -- create and revise ------------------------------------------------------------------------


async def test_create_stores_revision_one(drafts: Drafts) -> None:
    draft = await new_draft(drafts)

    assert draft.revision == 1
    assert draft.active and draft.state == "active"
    assert (draft.guild_id, draft.channel_id, draft.author_id) == (1, 2, 100)
    assert seen(draft.board) == [("a kitten", 4.0), ("a puppy", 6.0)]
    assert draft.board.length == 10
    assert draft.created_at == draft.updated_at == NOW
    assert draft.content_notice is False
    fetched = await drafts.get(draft.id)
    assert fetched == draft


async def test_revise_stores_revision_two_with_parent_one(drafts: Drafts, clock: TestClock) -> None:
    draft = await new_draft(drafts)
    clock.advance(5)

    new = await drafts.revise(draft.id, SECOND, editor_id=200, note="#2 a dog")

    assert new.revision == 2
    assert seen(new.board) == [("a kitten", 4.0), ("a dog", 6.0)]
    assert new.updated_at == NOW + 5
    assert new.created_at == NOW
    # The first revision is still there, unchanged.
    old = await drafts.get(draft.id, revision=1)
    assert old is not None and seen(old.board) == [("a kitten", 4.0), ("a puppy", 6.0)]
    assert await drafts.get(draft.id, revision=3) is None
    revs = await drafts.revisions(draft.id)
    assert [(r.revision, r.parent) for r in revs] == [(1, 0), (2, 1)]


async def test_revise_with_a_stale_base_is_refused(drafts: Drafts) -> None:
    draft = await new_draft(drafts)
    await drafts.revise(draft.id, SECOND, editor_id=200, base_revision=1)

    with pytest.raises(RevisionConflict) as info:
        await drafts.revise(draft.id, THIRD, editor_id=300, base_revision=1)

    assert info.value.current == 2
    assert str(info.value) == "the draft is at revision 2"
    now = await drafts.get(draft.id)
    assert now is not None and now.revision == 2
    assert seen(now.board) == [("a kitten", 4.0), ("a dog", 6.0)]
    assert len(await drafts.revisions(draft.id)) == 2


async def test_revise_an_unknown_draft(drafts: Drafts) -> None:
    with pytest.raises(KeyError):
        await drafts.revise("nope", SECOND, editor_id=1)
    assert await drafts.get("nope") is None


async def test_update_refuses_unknown_columns(drafts: Drafts) -> None:
    draft = await new_draft(drafts)
    with pytest.raises(KeyError, match="revision"):
        await drafts.update(draft.id, revision=7)
    again = await drafts.get(draft.id)
    assert again is not None and again.revision == 1


# -- history ----------------------------------------------------------------------------------


async def test_revisions_list_oldest_first_with_editor_note_renumbers_and_image(
    drafts: Drafts, clock: TestClock
) -> None:
    draft = await new_draft(drafts)
    await drafts.update(draft.id, image_path="/media/drafts/first.png")
    clock.advance(10)
    await drafts.revise(draft.id, SECOND, editor_id=200, note="#2 a dog")
    clock.advance(10)
    await drafts.revise(draft.id, THIRD, editor_id=300, note="-#1\nlength 15", renumbers=True)
    clock.advance(10)
    latest = await drafts.revise(
        draft.id,
        THIRD,
        editor_id=100,
        note="new reference image",
        image_path="/media/drafts/second.png",
    )

    revs = await drafts.revisions(draft.id)

    assert [
        (r.revision, r.parent, r.editor_id, r.note, r.renumbers, r.image_path, r.created_at)
        for r in revs
    ] == [
        (1, 0, 100, "created", False, "/media/drafts/first.png", NOW),
        (2, 1, 200, "#2 a dog", False, "/media/drafts/first.png", NOW + 10),
        (3, 2, 300, "-#1\nlength 15", True, "/media/drafts/first.png", NOW + 20),
        (4, 3, 100, "new reference image", False, "/media/drafts/second.png", NOW + 30),
    ]
    assert [seen(r.board) for r in revs] == [
        [("a kitten", 4.0), ("a puppy", 6.0)],
        [("a kitten", 4.0), ("a dog", 6.0)],
        [("a dog", 15.0)],
        [("a dog", 15.0)],
    ]
    # The draft uses the new image; looking at revision 1 shows the image it had.
    assert latest.image_path == "/media/drafts/second.png"
    first = await drafts.get(draft.id, revision=1)
    assert first is not None and first.image_path == "/media/drafts/first.png"


async def test_revise_keeps_the_image_when_none_is_given(drafts: Drafts) -> None:
    draft = await new_draft(drafts)
    await drafts.update(draft.id, image_path="/media/a.png")
    new = await drafts.revise(draft.id, SECOND, editor_id=1)
    assert new.image_path == "/media/a.png"
    assert [r.image_path for r in await drafts.revisions(draft.id)] == [
        "/media/a.png",
        "/media/a.png",
    ]


async def test_revise_with_an_explicit_parent(drafts: Drafts) -> None:
    draft = await new_draft(drafts)
    await drafts.revise(draft.id, SECOND, editor_id=1)
    await drafts.revise(draft.id, START, editor_id=1, note="undo revision 2", parent=0)
    assert [(r.revision, r.parent) for r in await drafts.revisions(draft.id)] == [
        (1, 0),
        (2, 1),
        (3, 0),
    ]


async def test_first_revision_keeps_the_image_it_was_created_with(drafts: Drafts) -> None:
    draft = await new_draft(drafts, image_path="/media/drafts/first.png")
    assert draft.image_path == "/media/drafts/first.png"
    await drafts.revise(draft.id, START, editor_id=1, image_path="/media/drafts/second.png")

    revs = await drafts.revisions(draft.id)

    assert [r.image_path for r in revs] == [
        "/media/drafts/first.png",
        "/media/drafts/second.png",
    ]


async def test_revision_at_picks_the_revision_current_at_a_time(
    drafts: Drafts, clock: TestClock
) -> None:
    draft = await new_draft(drafts)  # revision 1 at NOW
    clock.advance(60)
    await drafts.revise(draft.id, SECOND, editor_id=1)  # revision 2 at NOW + 60
    clock.advance(60)
    await drafts.revise(draft.id, THIRD, editor_id=1)  # revision 3 at NOW + 120

    assert await drafts.revision_at(draft.id, NOW - 1) is None
    assert await drafts.revision_at(draft.id, NOW) == 1
    assert await drafts.revision_at(draft.id, NOW + 59.9) == 1
    assert await drafts.revision_at(draft.id, NOW + 60) == 2
    assert await drafts.revision_at(draft.id, NOW + 119) == 2
    assert await drafts.revision_at(draft.id, NOW + 120) == 3
    assert await drafts.revision_at(draft.id, NOW + 10_000) == 3
    assert await drafts.revision_at("nope", NOW + 10_000) is None


# -- editors and notices ----------------------------------------------------------------------


async def test_editors_are_added_once_and_listed_in_the_order_added(
    drafts: Drafts, clock: TestClock
) -> None:
    draft = await new_draft(drafts)
    assert await drafts.editors(draft.id) == []

    assert await drafts.add_editor(draft.id, 30, added_by=100) is True
    clock.advance(1)
    assert await drafts.add_editor(draft.id, 10, added_by=100) is True
    clock.advance(1)
    assert await drafts.add_editor(draft.id, 30, added_by=100) is False  # already

    assert await drafts.editors(draft.id) == [30, 10]


async def test_remove_editor(drafts: Drafts) -> None:
    draft = await new_draft(drafts)
    await drafts.add_editor(draft.id, 30, added_by=100)
    await drafts.add_editor(draft.id, 10, added_by=100)

    assert await drafts.remove_editor(draft.id, 30) is True
    assert await drafts.remove_editor(draft.id, 30) is False
    assert await drafts.remove_editor(draft.id, 999) is False
    assert await drafts.editors(draft.id) == [10]
    # Removed, they can be added again.
    assert await drafts.add_editor(draft.id, 30, added_by=100) is True
    assert sorted(await drafts.editors(draft.id)) == [10, 30]


async def test_editors_belong_to_one_draft(drafts: Drafts) -> None:
    one = await new_draft(drafts)
    two = await new_draft(drafts)
    await drafts.add_editor(one.id, 30, added_by=100)
    assert await drafts.editors(two.id) == []
    assert await drafts.add_editor(two.id, 30, added_by=100) is True


async def test_content_notice_is_claimed_exactly_once(drafts: Drafts) -> None:
    one = await new_draft(drafts)
    two = await new_draft(drafts)

    assert await drafts.claim_content_notice(one.id) is True
    assert await drafts.claim_content_notice(one.id) is False
    assert await drafts.claim_content_notice(one.id) is False
    again = await drafts.get(one.id)
    assert again is not None and again.content_notice is True
    # Another draft has its own notice.
    assert await drafts.claim_content_notice(two.id) is True


# -- look-ups ---------------------------------------------------------------------------------


async def test_by_thread_and_by_card(drafts: Drafts) -> None:
    one = await new_draft(drafts)
    two = await new_draft(drafts)
    await drafts.update(one.id, card_message_id=500, thread_id=600)
    await drafts.update(two.id, card_message_id=501, thread_id=601)
    await drafts.revise(one.id, SECOND, editor_id=1)

    by_thread = await drafts.by_thread(600)
    by_card = await drafts.by_card(501)

    assert by_thread is not None and by_thread.id == one.id
    assert by_thread.revision == 2 and seen(by_thread.board)[1] == ("a dog", 6.0)
    assert (by_thread.card_message_id, by_thread.thread_id) == (500, 600)
    assert by_card is not None and by_card.id == two.id and by_card.revision == 1
    assert await drafts.by_thread(500) is None  # a card id is not a thread id
    assert await drafts.by_card(600) is None
    assert await drafts.by_thread(999) is None


async def test_revision_at_orders_discord_revisions_by_snowflake(drafts: Drafts, clock) -> None:
    draft = await drafts.create(
        START, guild_id=1, channel_id=2, author_id=100, image_path=None, source_id=1000
    )
    clock.advance(3600)  # the host's clock says much later: it does not matter
    await drafts.revise(draft.id, SECOND, editor_id=100, source_id=2000)
    assert await drafts.revision_at(draft.id, 0, source_id=999) is None
    assert await drafts.revision_at(draft.id, 0, source_id=1500) == 1
    assert await drafts.revision_at(draft.id, 0, source_id=2001) == 2
    # A revision made elsewhere (no snowflake) is placed by its time.
    await drafts.revise(draft.id, THIRD, editor_id=None)
    assert await drafts.revision_at(draft.id, clock.now(), source_id=2001) == 3
    assert await drafts.revision_at(draft.id, clock.now() - 1, source_id=2001) == 2
