"""bot.drafts.editing on a real store: edits, stale edits, concurrency, checks, undo and images."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.edit_grammar import Edit, EditError, apply, parse_message
from bot.domain.storyboard import Shot, Storyboard, StoryboardError, fmt_tenths, rebalance, validate
from bot.drafts.editing import DraftEditor, NothingToUndo, StaleEdit
from bot.drafts.store import Draft, Drafts
from bot.jobs.store import Store
from bot.media.images import prepare_image
from bot.models.sora import SoraStoryboard
from tests.helpers import TestClock, png_bytes

MODEL = SoraStoryboard()
LIMITS = MODEL.limits
NOW = 1_700_000_000.0
FIRST_IMAGE = "/media/drafts/first.png"


def board(*shots: tuple[str, int | None], length: int = 10) -> Storyboard:
    """Shots as (scene, tenths); tenths None is an automatic shot."""
    raw = tuple(Shot(scene=s, tenths=t or 0, auto=t is None) for s, t in shots)
    return Storyboard(shots=rebalance(raw, length, LIMITS), length=length)


def seen(b: Storyboard) -> list[tuple[str, float]]:
    """What the card shows: each shot's scene and seconds."""
    return [(s.scene, s.seconds) for s in b.shots]


def edits(text: str) -> tuple[Edit, ...]:
    cmd = parse_message(text)
    assert cmd is not None and cmd.kind == "edit", text
    return cmd.edits


# A kitten for 4 s, then a puppy sharing the 6 s left.
START = board(("a kitten", 40), ("a puppy", None))
START_SEEN = [("a kitten", 4.0), ("a puppy", 6.0)]


@pytest.fixture
def clock() -> TestClock:
    return TestClock(start=NOW)


@pytest.fixture
def media(tmp_path: Path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def editor(drafts: Drafts, media: Path) -> DraftEditor:
    return DraftEditor(drafts, model=lambda: MODEL, media_dir=media)


@pytest.fixture
async def draft(drafts: Drafts) -> Draft:
    """A draft as the /storyboard command makes it: created, then given its image."""
    d = await drafts.create(START, guild_id=1, channel_id=2, author_id=100, image_path=None)
    await drafts.update(d.id, image_path=FIRST_IMAGE)
    got = await drafts.get(d.id)
    assert got is not None
    return got


async def current(drafts: Drafts, draft_id: str) -> Draft:
    d = await drafts.get(draft_id)
    assert d is not None
    return d


# -- edit -------------------------------------------------------------------------------------


async def test_a_message_is_applied_as_one_revision(
    editor: DraftEditor, drafts: Drafts, draft: Draft
) -> None:
    outcome = await editor.edit(
        draft.id, edits("#1 a cat\n+ a bird\nlength 15"), editor_id=200, base_revision=1
    )

    assert outcome.kind == "edit"
    assert outcome.draft.revision == 2
    # The cat keeps 4 s; the puppy and the new bird share the 11 s left.
    assert seen(outcome.draft.board) == [("a cat", 4.0), ("a puppy", 5.5), ("a bird", 5.5)]
    assert outcome.draft.board.length == 15
    assert outcome.before == START
    assert outcome.applied is not None and outcome.applied.renumbers is True
    assert outcome.applied.resplit is True
    assert outcome.draft.image_path == FIRST_IMAGE
    revs = await drafts.revisions(draft.id)
    assert [(r.revision, r.parent, r.editor_id, r.note, r.renumbers) for r in revs] == [
        (1, 0, 100, "created", False),
        (2, 1, 200, "#1 a cat\n+ a bird\nlength 15", True),
    ]
    assert await current(drafts, draft.id) == outcome.draft


async def test_edit_note_can_be_given(editor: DraftEditor, drafts: Drafts, draft: Draft) -> None:
    await editor.edit(draft.id, edits("#2 a dog"), editor_id=1, note="shot 2 (modal)")
    revs = await drafts.revisions(draft.id)
    assert revs[-1].note == "shot 2 (modal)"
    assert revs[-1].renumbers is False


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        (
            "#1 = 20s",
            "shot_duration",
            "`#1 = 20s`: a shot lasts 0.1 to 15 s, not 20 s; type a duration in that range.",
        ),
        (
            "#9 a bird",
            "edit_no_shot",
            "`#9 a bird`: there is no shot 9; this storyboard has 2 shots (#1-#2).",
        ),
        (
            "length 7",
            "length",
            "`length 7`: a video is 10, 15 or 25 s long; 7 s is not available.",
        ),
        # All or nothing: the first line is fine, the second is not, neither is applied.
        (
            "#1 a cat\n#9 a bird",
            "edit_no_shot",
            "`#9 a bird`: there is no shot 9; this storyboard has 2 shots (#1-#2).",
        ),
        # The total breaks only with the second line.
        (
            "#2 = 5s\n#1 = 6s",
            "total_over",
            "`#1 = 6s`: the shots would add up to 11 s, more than the 10 s video; shorten a "
            "shot or write `length 15`.",
        ),
    ],
)
async def test_a_refused_edit_quotes_the_line_and_changes_nothing(
    editor: DraftEditor, drafts: Drafts, draft: Draft, text: str, code: str, message: str
) -> None:
    with pytest.raises(EditError) as info:
        await editor.edit(draft.id, edits(text), editor_id=200, base_revision=1)

    assert info.value.code == code
    assert str(info.value) == message
    now = await current(drafts, draft.id)
    assert now.revision == 1
    assert seen(now.board) == START_SEEN and now.board.length == 10
    assert len(await drafts.revisions(draft.id)) == 1


async def test_edit_of_an_unknown_draft(editor: DraftEditor) -> None:
    with pytest.raises(KeyError):
        await editor.edit("nope", edits("#1 a cat"), editor_id=1)


# -- edits written against an older revision --------------------------------------------------


@pytest.mark.parametrize(
    ("between", "after"),
    [
        ("-#1", [("a puppy", 10.0)]),
        ("move #2 #1", [("a puppy", 6.0), ("a kitten", 4.0)]),
        ("+#1 a bird", [("a bird", 3.0), ("a kitten", 4.0), ("a puppy", 3.0)]),
        ("swap #1 #2", [("a puppy", 6.0), ("a kitten", 4.0)]),
    ],
)
async def test_a_stale_edit_by_number_across_a_renumbering_is_refused(
    editor: DraftEditor,
    drafts: Drafts,
    draft: Draft,
    between: str,
    after: list[tuple[str, float]],
) -> None:
    # Someone renumbers the shots while another person types "#1 ..." looking at revision 1.
    await editor.edit(draft.id, edits(between), editor_id=300, base_revision=1)

    with pytest.raises(StaleEdit) as info:
        await editor.edit(draft.id, edits("length 15\n#1 a tiger"), editor_id=200, base_revision=1)

    err = info.value
    assert isinstance(err, EditError)
    assert err.code == "edit_stale"
    assert str(err) == (
        f"`#1 a tiger`: the shots were renumbered while you wrote this (revision 2: "
        f"`{between}`), so #numbers may now mean other shots. Nothing was changed; check the "
        "numbers in revision 2 and send it again."
    )
    assert err.params["line"] == "#1 a tiger"
    assert (err.params["revision"], err.params["changed"], err.params["editor"]) == (2, 2, 300)
    now = await current(drafts, draft.id)
    assert now.revision == 2
    assert seen(now.board) == after and now.board.length == 10


async def test_a_stale_edit_names_the_latest_renumbering(
    editor: DraftEditor, drafts: Drafts, draft: Draft
) -> None:
    await editor.edit(draft.id, edits("+ a bird"), editor_id=300)  # 2: renumbers
    await editor.edit(draft.id, edits("swap #1 #2"), editor_id=301)  # 3: renumbers
    await editor.edit(draft.id, edits("#3 = 2s"), editor_id=302)  # 4: does not

    with pytest.raises(StaleEdit) as info:
        await editor.edit(draft.id, edits("#2 a tiger"), editor_id=200, base_revision=1)

    assert "(revision 3: `swap #1 #2`)" in str(info.value)
    assert "check the numbers in revision 4 and send it again" in str(info.value)
    assert info.value.params["editor"] == 301
    assert (await current(drafts, draft.id)).revision == 4


@pytest.mark.parametrize(
    ("between", "after"),
    [
        # Shot 1's new duration is kept, and the new scene goes to shot 2.
        ("#1 = 5s", ([("a kitten", 5.0), ("a dog", 5.0)], 10)),
        ("length 15", ([("a kitten", 4.0), ("a dog", 11.0)], 15)),
        ("#1 a cat", ([("a cat", 4.0), ("a dog", 6.0)], 10)),
    ],
)
async def test_a_stale_edit_applies_when_nothing_was_renumbered(
    editor: DraftEditor,
    drafts: Drafts,
    draft: Draft,
    between: str,
    after: tuple[list[tuple[str, float]], int],
) -> None:
    await editor.edit(draft.id, edits(between), editor_id=300, base_revision=1)

    outcome = await editor.edit(draft.id, edits("#2 a dog"), editor_id=200, base_revision=1)

    assert outcome.draft.revision == 3
    assert (seen(outcome.draft.board), outcome.draft.board.length) == after
    revs = await drafts.revisions(draft.id)
    assert [(r.revision, r.parent, r.note) for r in revs] == [
        (1, 0, "created"),
        (2, 1, between),
        (3, 2, "#2 a dog"),
    ]


async def test_a_renumbering_before_the_base_is_no_conflict(
    editor: DraftEditor, drafts: Drafts, draft: Draft
) -> None:
    await editor.edit(draft.id, edits("-#1"), editor_id=300)  # 2
    await editor.edit(draft.id, edits("length 15"), editor_id=300)  # 3
    # Written while looking at revision 2: the numbering has not changed since.
    outcome = await editor.edit(draft.id, edits("#1 a dog"), editor_id=200, base_revision=2)
    assert outcome.draft.revision == 4
    assert seen(outcome.draft.board) == [("a dog", 15.0)]


@pytest.mark.parametrize(
    ("text", "after"),
    [
        # Added at the end of the current list: the other edit's deletion is kept.
        ("+ a bird", ([("a puppy", 5.0), ("a bird", 5.0)], 10)),
        ("length 15", ([("a puppy", 15.0)], 15)),
        ("aspect portrait", ([("a puppy", 10.0)], 10)),
    ],
)
async def test_an_edit_that_names_no_shot_never_conflicts(
    editor: DraftEditor,
    drafts: Drafts,
    draft: Draft,
    text: str,
    after: tuple[list[tuple[str, float]], int],
) -> None:
    await editor.edit(draft.id, edits("-#1"), editor_id=300, base_revision=1)

    outcome = await editor.edit(draft.id, edits(text), editor_id=200, base_revision=1)

    assert outcome.draft.revision == 3
    assert (seen(outcome.draft.board), outcome.draft.board.length) == after


async def test_two_edits_at_once_both_apply_one_after_the_other(
    editor: DraftEditor, drafts: Drafts, draft: Draft
) -> None:
    one, two = await asyncio.gather(
        editor.edit(draft.id, edits("#1 a cat"), editor_id=200, base_revision=1),
        editor.edit(draft.id, edits("#2 a dog"), editor_id=300, base_revision=1),
    )

    assert sorted([one.draft.revision, two.draft.revision]) == [2, 3]
    now = await current(drafts, draft.id)
    assert now.revision == 3
    assert seen(now.board) == [("a cat", 4.0), ("a dog", 6.0)]
    revs = await drafts.revisions(draft.id)
    assert [(r.revision, r.parent) for r in revs] == [(1, 0), (2, 1), (3, 2)]
    assert sorted(r.editor_id for r in revs[1:]) == [200, 300]


async def test_two_edits_at_once_the_second_is_refused_after_a_renumbering(
    editor: DraftEditor, drafts: Drafts, draft: Draft
) -> None:
    first, second = await asyncio.gather(
        editor.edit(draft.id, edits("-#1"), editor_id=300, base_revision=1),
        editor.edit(draft.id, edits("#2 a dog"), editor_id=200, base_revision=1),
        return_exceptions=True,
    )

    assert not isinstance(first, BaseException) and first.draft.revision == 2
    assert isinstance(second, StaleEdit) and second.code == "edit_stale"
    now = await current(drafts, draft.id)
    assert now.revision == 2 and seen(now.board) == [("a puppy", 10.0)]


# -- checks -----------------------------------------------------------------------------------


async def test_an_extra_check_can_refuse_an_edit(
    editor: DraftEditor, drafts: Drafts, draft: Draft
) -> None:
    checked: list[Storyboard] = []

    async def no_dogs(b: Storyboard) -> None:
        checked.append(b)
        if any("dog" in s.scene for s in b.shots):
            raise StoryboardError("blocked_term", "This server does not allow `dog`.", term="dog")

    with pytest.raises(StoryboardError) as info:
        await editor.edit(draft.id, edits("#2 a dog"), editor_id=200, extra_check=no_dogs)

    assert info.value.code == "blocked_term"
    assert str(info.value) == "This server does not allow `dog`."
    # The check saw the storyboard the edit would make.
    assert [seen(b) for b in checked] == [[("a kitten", 4.0), ("a dog", 6.0)]]
    now = await current(drafts, draft.id)
    assert now.revision == 1 and seen(now.board) == START_SEEN
    assert len(await drafts.revisions(draft.id)) == 1
    # Another edit passes the same check.
    ok = await editor.edit(draft.id, edits("#2 a cat"), editor_id=200, extra_check=no_dogs)
    assert ok.draft.revision == 2


async def test_the_editors_own_check_applies_to_every_edit(
    drafts: Drafts, draft: Draft, media: Path
) -> None:
    async def no_cats(b: Storyboard) -> None:
        if any("cat" in s.scene for s in b.shots):
            raise StoryboardError("blocked_term", "This server does not allow `cat`.")

    editor = DraftEditor(drafts, model=lambda: MODEL, media_dir=media, check=no_cats)
    with pytest.raises(StoryboardError, match="does not allow `cat`"):
        await editor.edit(draft.id, edits("#1 a cat"), editor_id=200)
    with pytest.raises(StoryboardError, match="does not allow `cat`"):
        await editor.replace_shots(draft.id, board(("a cat", None)), editor_id=200)
    assert (await current(drafts, draft.id)).revision == 1


# -- undo -------------------------------------------------------------------------------------


async def test_undo_walks_back_one_edit_at_a_time(
    editor: DraftEditor, drafts: Drafts, draft: Draft
) -> None:
    await editor.edit(draft.id, edits("#1 a cat"), editor_id=200)  # 2
    await editor.edit(draft.id, edits("#2 a dog\nlength 15"), editor_id=300)  # 3

    first = await editor.undo(draft.id, editor_id=100)

    assert first.kind == "undo"
    assert first.draft.revision == 4
    assert seen(first.draft.board) == [("a cat", 4.0), ("a puppy", 6.0)]
    assert first.draft.board.length == 10
    assert seen(first.before) == [("a cat", 4.0), ("a dog", 11.0)]
    assert first.undone is not None
    assert (first.undone.revision, first.undone.note) == (3, "#2 a dog\nlength 15")

    second = await editor.undo(draft.id, editor_id=100)

    assert second.draft.revision == 5
    assert seen(second.draft.board) == START_SEEN
    assert second.undone is not None

    with pytest.raises(NothingToUndo) as info:
        await editor.undo(draft.id, editor_id=100)

    assert info.value.code == "nothing_to_undo"
    assert str(info.value) == (
        "There is nothing to undo: this is the storyboard as it was created."
    )
    now = await current(drafts, draft.id)
    assert now.revision == 5 and seen(now.board) == START_SEEN
    revs = await drafts.revisions(draft.id)
    assert [(r.revision, r.parent, r.editor_id) for r in revs] == [
        (1, 0, 100),
        (2, 1, 200),
        (3, 2, 300),
        (4, 1, 100),
        (5, 0, 100),
    ]
    assert revs[3].note == "undo revision 3"


async def test_a_second_undo_names_the_edit_it_takes_back(
    editor: DraftEditor, drafts: Drafts, draft: Draft
) -> None:
    await editor.edit(draft.id, edits("#1 a cat"), editor_id=200)  # 2
    await editor.edit(draft.id, edits("#2 a dog"), editor_id=300)  # 3
    await editor.undo(draft.id, editor_id=100)  # 4: back to 2

    second = await editor.undo(draft.id, editor_id=100)  # 5: back to 1

    assert seen(second.draft.board) == START_SEEN
    assert second.undone is not None
    assert (second.undone.revision, second.undone.note) == (2, "#1 a cat")
    assert (await drafts.revisions(draft.id))[-1].note == "undo revision 2"


async def test_undo_then_a_new_edit_is_a_stack(
    editor: DraftEditor, drafts: Drafts, draft: Draft
) -> None:
    await editor.edit(draft.id, edits("#1 a cat"), editor_id=200)  # 2
    await editor.undo(draft.id, editor_id=200)  # 3: as created
    new = await editor.edit(draft.id, edits("#2 a dog"), editor_id=200)  # 4

    assert seen(new.draft.board) == [("a kitten", 4.0), ("a dog", 6.0)]
    revs = await drafts.revisions(draft.id)
    assert (revs[-1].revision, revs[-1].parent) == (4, 3)

    back = await editor.undo(draft.id, editor_id=200)  # 5

    # Back to the undo's storyboard, not to the cat that was undone before.
    assert back.draft.revision == 5
    assert seen(back.draft.board) == START_SEEN
    assert back.undone is not None and back.undone.revision == 4
    with pytest.raises(NothingToUndo):
        await editor.undo(draft.id, editor_id=200)
    assert (await current(drafts, draft.id)).revision == 5


async def test_undo_of_a_renumbering_renumbers(
    editor: DraftEditor, drafts: Drafts, draft: Draft
) -> None:
    await editor.edit(draft.id, edits("-#1"), editor_id=300)  # 2: [puppy]
    await editor.undo(draft.id, editor_id=300)  # 3: [kitten, puppy] again

    assert (await drafts.revisions(draft.id))[-1].renumbers is True
    # Someone looking at revision 2 meant the puppy by #1; now #1 is the kitten.
    with pytest.raises(StaleEdit) as info:
        await editor.edit(draft.id, edits("#1 a tiger"), editor_id=200, base_revision=2)
    assert "(revision 3: `undo revision 2`)" in str(info.value)
    now = await current(drafts, draft.id)
    assert now.revision == 3 and seen(now.board) == START_SEEN


async def test_a_second_undo_across_a_deletion_renumbers(
    editor: DraftEditor, drafts: Drafts, draft: Draft
) -> None:
    await editor.edit(draft.id, edits("-#1"), editor_id=300)  # 2: [puppy]
    await editor.edit(draft.id, edits("#1 = 5s"), editor_id=300)  # 3: [puppy 5 s]
    await editor.undo(draft.id, editor_id=300)  # 4: [puppy]
    await editor.undo(draft.id, editor_id=300)  # 5: [kitten, puppy]
    assert seen((await current(drafts, draft.id)).board) == START_SEEN

    # Written looking at revision 4, where #1 was the puppy.
    with pytest.raises(StaleEdit):
        await editor.edit(draft.id, edits("#1 a tiger"), editor_id=200, base_revision=4)

    now = await current(drafts, draft.id)
    assert now.revision == 5 and seen(now.board) == START_SEEN


# -- images -----------------------------------------------------------------------------------


async def test_replace_image_writes_the_file_and_keeps_the_board(
    editor: DraftEditor, drafts: Drafts, draft: Draft, media: Path
) -> None:
    image = prepare_image(png_bytes(color="teal"), MODEL.image_spec)

    outcome = await editor.replace_image(draft.id, image, editor_id=200)

    assert outcome.kind == "image"
    path = Path(outcome.draft.image_path or "")
    assert path.parent == media / "drafts"
    assert path.name.startswith(f"{draft.id}-") and path.suffix == ".png"
    assert path.read_bytes() == image.data
    assert outcome.draft.revision == 2
    assert outcome.draft.board == START
    revs = await drafts.revisions(draft.id)
    assert [(r.revision, r.note, r.image_path, r.renumbers) for r in revs] == [
        (1, "created", FIRST_IMAGE, False),
        (2, "new reference image", str(path), False),
    ]


async def test_undo_of_a_new_image_restores_the_previous_one(
    editor: DraftEditor, drafts: Drafts, draft: Draft
) -> None:
    await editor.edit(draft.id, edits("#1 a cat"), editor_id=200)  # 2
    image = prepare_image(png_bytes(color="teal"), MODEL.image_spec)
    replaced = await editor.replace_image(draft.id, image, editor_id=200)  # 3
    new_path = replaced.draft.image_path
    assert new_path and new_path != FIRST_IMAGE

    outcome = await editor.undo(draft.id, editor_id=200)  # 4

    assert outcome.draft.image_path == FIRST_IMAGE
    assert seen(outcome.draft.board) == [("a cat", 4.0), ("a puppy", 6.0)]
    assert outcome.undone is not None and outcome.undone.image_path == new_path
    revs = await drafts.revisions(draft.id)
    assert [r.image_path for r in revs] == [FIRST_IMAGE, FIRST_IMAGE, new_path, FIRST_IMAGE]
    # The undo of the edit before it keeps the restored image.
    again = await editor.undo(draft.id, editor_id=200)
    assert again.draft.image_path == FIRST_IMAGE
    assert seen(again.draft.board) == START_SEEN


async def test_undo_of_a_new_image_on_a_draft_created_with_an_image(
    editor: DraftEditor, drafts: Drafts
) -> None:
    d = await drafts.create(START, guild_id=1, channel_id=2, author_id=100, image_path=FIRST_IMAGE)
    image = prepare_image(png_bytes(color="teal"), MODEL.image_spec)
    await editor.replace_image(d.id, image, editor_id=200)

    outcome = await editor.undo(d.id, editor_id=200)

    assert outcome.draft.image_path == FIRST_IMAGE


async def test_replace_shots_renumbers_and_is_validated(
    editor: DraftEditor, drafts: Drafts, draft: Draft
) -> None:
    with pytest.raises(StoryboardError) as info:
        await editor.replace_shots(draft.id, board(("a", 160), length=25), editor_id=200)
    assert info.value.code == "shot_duration"
    assert (await current(drafts, draft.id)).revision == 1

    outcome = await editor.replace_shots(draft.id, board(("a cow", None)), editor_id=200)

    assert seen(outcome.draft.board) == [("a cow", 10.0)]
    revs = await drafts.revisions(draft.id)
    assert (revs[-1].revision, revs[-1].note, revs[-1].renumbers) == (2, "shots:\na cow", True)
    with pytest.raises(StaleEdit):
        await editor.edit(draft.id, edits("#2 a dog"), editor_id=300, base_revision=1)


# -- property ---------------------------------------------------------------------------------

_n = st.one_of(st.integers(1, 3), st.integers(0, 5))  # mostly shots that exist
# Mostly durations a shot may have, sometimes one it may not (0 and over 15 s).
_secs = st.one_of(st.integers(10, 60), st.integers(0, 170)).map(fmt_tenths)
_scene = st.sampled_from(["kitten", "小猫，戴着耳机", "wide | close", "a cat", "x" * 351])
LINES = st.one_of(
    st.builds("#{} {}".format, _n, _scene),
    st.builds("#{} = {}".format, _n, _secs),
    st.builds("+ {}".format, _scene),
    st.builds("+ {}s | {}".format, _secs, _scene),
    st.builds("+#{} {}".format, _n, _scene),
    st.builds("-#{}".format, _n),
    st.builds("move #{} #{}".format, _n, _n),
    st.builds("length {}".format, st.sampled_from([10, 15, 20, 25])),
)
MESSAGE = st.lists(LINES, min_size=1, max_size=2).map("\n".join)
# About one operation in three is an undo.
OP = st.tuples(st.integers(0, 2), MESSAGE).map(lambda t: "undo" if t[0] == 2 else t[1])
OPS = st.lists(OP, min_size=2, max_size=10)


async def _run_ops(root: Path, ops: list[str]) -> None:
    store = await Store.open(root / "p.db")
    try:
        drafts = Drafts(store, TestClock(start=NOW))
        editor = DraftEditor(drafts, model=lambda: MODEL, media_dir=root / "media")
        d = await drafts.create(START, guild_id=1, channel_id=2, author_id=1, image_path=None)
        stack = [START]  # what undo goes back to, most recent last
        rev = 1
        for op in ops:
            if op == "undo":
                try:
                    outcome = await editor.undo(d.id, editor_id=1)
                except NothingToUndo:
                    assert len(stack) == 1
                else:
                    stack.pop()
                    rev += 1
                    assert outcome.draft.board == stack[-1]
            else:
                try:  # some generated lines cannot be read: nothing is sent then
                    cmd = parse_message(op)
                except EditError:
                    continue
                assert cmd is not None and cmd.kind == "edit", op
                parsed = cmd.edits
                try:
                    outcome = await editor.edit(d.id, parsed, editor_id=1, base_revision=rev)
                except EditError as err:
                    assert str(err).startswith("`")
                    with pytest.raises(EditError):
                        apply(stack[-1], parsed, LIMITS)
                else:
                    rev += 1
                    assert outcome.draft.board == apply(stack[-1], parsed, LIMITS).board
                    stack.append(outcome.draft.board)
            now = await drafts.get(d.id)
            assert now is not None
            assert now.revision == rev
            assert now.board == stack[-1]
            validate(now.board, LIMITS)
        assert [r.revision for r in await drafts.revisions(d.id)] == list(range(1, rev + 1))
    finally:
        await store.close()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_edits_and_undos_keep_the_draft_valid_and_count_revisions(ops: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_run_ops(Path(tmp), ops))
