"""bot.domain.edit_grammar: the reply-thread edit grammar, its refusals, and that
accepted edits stay valid."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.domain.edit_grammar import (
    Command,
    Edit,
    EditError,
    apply,
    needs_stable_numbering,
    parse_message,
    touches_numbering,
)
from bot.domain.shot_grammar import ShotLine
from bot.domain.storyboard import Shot, Storyboard, StoryboardError, fmt_tenths, rebalance, validate
from bot.models.sora import SoraStoryboard

SORA = SoraStoryboard.limits


def board(*shots: tuple[str, int | None], length: int = 15, aspect: str = "landscape"):
    """Shots as (scene, tenths); tenths None is an automatic shot."""
    raw = tuple(Shot(scene=s, tenths=t or 0, auto=t is None) for s, t in shots)
    return Storyboard(shots=rebalance(raw, length, SORA), length=length, aspect=aspect)


# a, b automatic (5 s each), c 3 s, d 2 s: 15 s.
MIXED = board(("a", None), ("b", None), ("c", 30), ("d", 20))
# Every duration typed: 4 + 5 + 3.5 = 12.5 s of 15.
TYPED = board(("a", 40), ("b", 50), ("c", 35))
ONE = board(("only", None), length=10)


def edits(text: str) -> tuple[Edit, ...]:
    cmd = parse_message(text)
    assert cmd is not None and cmd.kind == "edit", text
    return cmd.edits


def shots(b: Storyboard) -> list[tuple[str, int, bool]]:
    return [(s.scene, s.tenths, s.auto) for s in b.shots]


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#3 new scene", Edit("scene", "#3 new scene", shot=3, scene="new scene")),
        ("  #3   new scene  ", Edit("scene", "#3   new scene", shot=3, scene="new scene")),
        ("#3 4.5 | new", Edit("replace", "#3 4.5 | new", shot=3, scene="new", tenths=45)),
        ("#3 4.5s|new", Edit("replace", "#3 4.5s|new", shot=3, scene="new", tenths=45)),
        ("#3 = 5s", Edit("duration", "#3 = 5s", shot=3, tenths=50)),
        ("#3 = 5", Edit("duration", "#3 = 5", shot=3, tenths=50)),
        ("#3=5秒", Edit("duration", "#3=5秒", shot=3, tenths=50)),
        ("#3 = 2.5 sec", Edit("duration", "#3 = 2.5 sec", shot=3, tenths=25)),
        # A lone duration after #N is a duration, not a scene called "5s".
        ("#3 5s", Edit("duration", "#3 5s", shot=3, tenths=50)),
        # A bar with no duration before it is part of the scene.
        ("#2 wide | close", Edit("scene", "#2 wide | close", shot=2, scene="wide | close")),
        ("+ a kitten", Edit("add", "+ a kitten", scene="a kitten")),
        ("+ 4s | a kitten", Edit("add", "+ 4s | a kitten", scene="a kitten", tenths=40)),
        ("+#2 4s | kit", Edit("add", "+#2 4s | kit", shot=2, scene="kit", tenths=40)),
        ("+ #2 kit", Edit("add", "+ #2 kit", shot=2, scene="kit")),
        ("-#3", Edit("delete", "-#3", shot=3)),
        ("- #3", Edit("delete", "- #3", shot=3)),
        ("move #3 #1", Edit("move", "move #3 #1", shot=3, to=1)),
        ("Move #3 to #1", Edit("move", "Move #3 to #1", shot=3, to=1)),
        ("swap #1 #2", Edit("swap", "swap #1 #2", shot=1, to=2)),
        ("SWAP #1 and #2", Edit("swap", "SWAP #1 and #2", shot=1, to=2)),
        ("length 25", Edit("length", "length 25", length=25)),
        ("Length 10s", Edit("length", "Length 10s", length=10)),
        ("aspect portrait", Edit("aspect", "aspect portrait", aspect="portrait")),
        ("Aspect Landscape", Edit("aspect", "Aspect Landscape", aspect="landscape")),
        # Full-width forms count as ASCII; the scene is kept exactly as typed.
        ("＃３ 新的场景，。", Edit("scene", "＃３ 新的场景，。", shot=3, scene="新的场景，。")),
        (
            "＃３　４．５｜场景",
            Edit("replace", "＃３　４．５｜场景", shot=3, scene="场景", tenths=45),
        ),
        ("＃３＝５秒", Edit("duration", "＃３＝５秒", shot=3, tenths=50)),
        ("＃１２ ＝ ５", Edit("duration", "＃１２ ＝ ５", shot=12, tenths=50)),
        ("＋ ４秒｜小猫１２３", Edit("add", "＋ ４秒｜小猫１２３", scene="小猫１２３", tenths=40)),
        ("＋＃２ 小猫", Edit("add", "＋＃２ 小猫", shot=2, scene="小猫")),
        ("－＃３", Edit("delete", "－＃３", shot=3)),
        ("move ＃３ ＃１", Edit("move", "move ＃３ ＃１", shot=3, to=1)),
        ("length ２５", Edit("length", "length ２５", length=25)),
    ],
)
def test_parse_one_line(text: str, expected: Edit) -> None:
    assert parse_message(text) == Command(kind="edit", edits=(expected,))


def test_parse_several_lines_are_one_edit() -> None:
    cmd = parse_message("#1 dawn\n\n  -#2\nlength 25\n")
    assert cmd == Command(
        kind="edit",
        edits=(
            Edit("scene", "#1 dawn", shot=1, scene="dawn"),
            Edit("delete", "-#2", shot=2),
            Edit("length", "length 25", length=25),
        ),
    )


@pytest.mark.parametrize(
    "text",
    [
        "shots:\n5 | a kitten\na dog",
        "Shots:\n  5 | a kitten  \n\na dog",
        "SHOTS：\n５｜a kitten\na dog",
    ],
)
def test_parse_shots_block(text: str) -> None:
    (edit,) = edits(text)
    assert edit.kind == "shots"
    assert edit.shots == (ShotLine("a kitten", 50), ShotLine("a dog", None))


def test_edits_before_a_shots_block() -> None:
    first, second = edits("length 25\nshots:\n#3 is a scene here")
    assert first.kind == "length"
    assert second.shots == (ShotLine("#3 is a scene here", None),)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("undo", "undo"),
        ("  UNDO \n", "undo"),
        ("show", "show"),
        ("Show", "show"),
        ("generate", "generate"),
        ("go", "generate"),
        ("GO", "generate"),
    ],
)
def test_whole_message_words(text: str, kind: str) -> None:
    assert parse_message(text) == Command(kind=kind)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "nice shot!",
        "I think #3 is too dark?",
        "undo that please",
        "let's go",
        "go go go",
        "show me",
        "generate it",
        "+1",
        "+1 for the kitten",
        "+",
        "#3",
        "#3rd shot is the best",
        "#hashtag",
        "# A heading",
        "- a list item",
        "- #1 priority is the kitten",
        "-3 degrees outside",
        "7.5 | a kitten",
        "a kitten",
        "length is fine",
        "length 25 would be better",
        "aspect ratio?",
        "shots: they look great",
        "moving #3 would help",
        "swap them?",
        "nice!\nreally nice",
    ],
)
def test_conversation_is_left_alone(text: str) -> None:
    assert parse_message(text) is None


# --------------------------------------------------------------------------- parse refusals


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        (
            "#3 new scene\nthanks!",
            "edit_mixed",
            "`thanks!` is not an edit, so nothing was changed. Edit lines start with `#3`, `+`, "
            "`-#3`, `move`, `swap`, `length`, `aspect` or `shots:`; send conversation as a "
            "message of its own.",
        ),
        (
            "looks good, but\n-#2",
            "edit_mixed",
            "`looks good, but` is not an edit, so nothing was changed. Edit lines start with "
            "`#3`, `+`, `-#3`, `move`, `swap`, `length`, `aspect` or `shots:`; send "
            "conversation as a message of its own.",
        ),
        (
            "#3 = 5\ngo",
            "edit_word_alone",
            "`go` works only as a whole message, so nothing was changed. Send the edits, then "
            "`go` on its own.",
        ),
        (
            "Undo\n#1 x",
            "edit_word_alone",
            "`Undo` works only as a whole message, so nothing was changed. Send the edits, then "
            "`undo` on its own.",
        ),
        (
            "#3 = soon",
            "bad_duration",
            '`#3 = soon`: "soon" is not a duration; write seconds like 7.5 or 7.5s.',
        ),
        (
            "#3 =",
            "bad_duration",
            '`#3 =`: "" is not a duration; write seconds like 7.5 or 7.5s.',
        ),
        (
            "#3 = 4.25",
            "duration_precision",
            "`#3 = 4.25`: 4.25 has more than one decimal; durations are in tenths of a second "
            "(e.g. 7.5).",
        ),
        ("#3 4.5 |", "scene_empty", "`#3 4.5 |`: there is no scene after the duration."),
        (
            "+ 4x | kit",
            "bad_duration",
            '`+ 4x | kit`: "4x" is not a duration; write seconds like 7.5 or 7.5s.',
        ),
        ("+#2", "edit_syntax", "`+#2`: write the new shot after it, like `+#2 4s | scene`."),
        (
            "move #3",
            "edit_syntax",
            "`move #3`: write it like this: `move #3 #1` moves shot 3 to position 1.",
        ),
        (
            "swap #1 with the last",
            "edit_syntax",
            "`swap #1 with the last`: write it like this: `swap #1 #2` swaps shots 1 and 2.",
        ),
        (
            "shots:",
            "edit_syntax",
            "`shots:`: write the shots on the next lines of the same message, one a line.",
        ),
        (
            "shots:\n5 | a\n4.55 | b",
            "duration_precision",
            "`4.55 | b`: 4.55 has more than one decimal; durations are in tenths of a second "
            "(e.g. 7.5).",
        ),
    ],
)
def test_parse_refusals(text: str, code: str, message: str) -> None:
    with pytest.raises(EditError) as info:
        parse_message(text)
    assert (info.value.code, str(info.value)) == (code, message)
    assert isinstance(info.value, StoryboardError)


# --------------------------------------------------------------------------- applying


@pytest.mark.parametrize(
    ("start", "text", "after", "resplit", "renumbers"),
    [
        # Scene only: duration (and automatic-ness) kept, nothing re-shared.
        (
            MIXED,
            "#3 new",
            [("a", 50, True), ("b", 50, True), ("new", 30, False), ("d", 20, False)],
            False,
            False,
        ),
        (
            MIXED,
            "#1 new",
            [("new", 50, True), ("b", 50, True), ("c", 30, False), ("d", 20, False)],
            False,
            False,
        ),
        (
            MIXED,
            "#3 4.5 | x",
            [("a", 43, True), ("b", 42, True), ("x", 45, False), ("d", 20, False)],
            True,
            False,
        ),
        # Setting an automatic shot's duration makes it typed.
        (
            MIXED,
            "#1 = 6",
            [("a", 60, False), ("b", 40, True), ("c", 30, False), ("d", 20, False)],
            True,
            False,
        ),
        (
            MIXED,
            "＃３＝５秒",
            [("a", 40, True), ("b", 40, True), ("c", 50, False), ("d", 20, False)],
            True,
            False,
        ),
        (
            MIXED,
            "+ e",
            [("a", 34, True), ("b", 33, True), ("c", 30, False), ("d", 20, False), ("e", 33, True)],
            True,
            True,
        ),
        (
            MIXED,
            "+ 4s | e",
            [
                ("a", 30, True),
                ("b", 30, True),
                ("c", 30, False),
                ("d", 20, False),
                ("e", 40, False),
            ],
            True,
            True,
        ),
        (
            MIXED,
            "+#1 4s | e",
            [
                ("e", 40, False),
                ("a", 30, True),
                ("b", 30, True),
                ("c", 30, False),
                ("d", 20, False),
            ],
            True,
            True,
        ),
        (
            MIXED,
            "+#5 e",
            [("a", 34, True), ("b", 33, True), ("c", 30, False), ("d", 20, False), ("e", 33, True)],
            True,
            True,
        ),
        (MIXED, "-#3", [("a", 65, True), ("b", 65, True), ("d", 20, False)], True, True),
        (
            MIXED,
            "move #3 #1",
            [("c", 30, False), ("a", 50, True), ("b", 50, True), ("d", 20, False)],
            False,
            True,
        ),
        (
            MIXED,
            "move #1 #4",
            [("b", 50, True), ("c", 30, False), ("d", 20, False), ("a", 50, True)],
            False,
            True,
        ),
        (
            MIXED,
            "swap #1 #4",
            [("d", 20, False), ("b", 50, True), ("c", 30, False), ("a", 50, True)],
            False,
            True,
        ),
        (
            MIXED,
            "length 25",
            [("a", 100, True), ("b", 100, True), ("c", 30, False), ("d", 20, False)],
            True,
            False,
        ),
        (TYPED, "-#2", [("a", 40, False), ("c", 35, False)], False, True),
        (
            TYPED,
            "+ e",
            [("a", 40, False), ("b", 50, False), ("c", 35, False), ("e", 25, True)],
            False,
            True,
        ),
        (MIXED, "shots:\n5 | x\ny", [("x", 50, False), ("y", 100, True)], False, True),
        # Several lines, applied in order; the middle state may break a rule the end fixes.
        (
            TYPED,
            "#2 = 14\nlength 25",
            [("a", 40, False), ("b", 140, False), ("c", 35, False)],
            False,
            False,
        ),
        (ONE, "-#1\n+ new", [("new", 100, True)], False, True),
        (MIXED, "-#1\n-#1", [("c", 30, False), ("d", 20, False)], False, True),
    ],
)
def test_apply(
    start: Storyboard,
    text: str,
    after: list[tuple[str, int, bool]],
    resplit: bool,
    renumbers: bool,
) -> None:
    before = start.model_dump()
    result = apply(start, edits(text), SORA)
    assert shots(result.board) == after
    assert (result.resplit, result.renumbers) == (resplit, renumbers)
    validate(result.board, SORA)
    assert start.model_dump() == before


def test_apply_settings() -> None:
    result = apply(MIXED, edits("aspect portrait\nlength 10"), SORA)
    assert (result.board.aspect, result.board.length) == ("portrait", 10)
    assert shots(result.board)[:2] == [("a", 25, True), ("b", 25, True)]
    assert result.resplit and not result.renumbers


# --------------------------------------------------------------------------- apply refusals


@pytest.mark.parametrize(
    ("start", "text", "code", "message"),
    [
        (
            MIXED,
            "#7 new text",
            "edit_no_shot",
            "`#7 new text`: there is no shot 7; this storyboard has 4 shots (#1-#4).",
        ),
        (
            ONE,
            "#2 = 3",
            "edit_no_shot",
            "`#2 = 3`: there is no shot 2; this storyboard has 1 shot (#1).",
        ),
        (
            MIXED,
            "#0 x",
            "edit_no_shot",
            "`#0 x`: there is no shot 0; this storyboard has 4 shots (#1-#4).",
        ),
        (
            MIXED,
            "-#5",
            "edit_no_shot",
            "`-#5`: there is no shot 5; this storyboard has 4 shots (#1-#4).",
        ),
        (
            MIXED,
            "move #2 #9",
            "edit_no_shot",
            "`move #2 #9`: there is no shot 9; this storyboard has 4 shots (#1-#4).",
        ),
        (
            MIXED,
            "swap #5 #1",
            "edit_no_shot",
            "`swap #5 #1`: there is no shot 5; this storyboard has 4 shots (#1-#4).",
        ),
        # Numbers follow the earlier lines of the same message.
        (
            MIXED,
            "-#1\n#4 x",
            "edit_no_shot",
            "`#4 x`: there is no shot 4; this storyboard has 3 shots (#1-#3).",
        ),
        (
            MIXED,
            "+#6 x",
            "edit_no_position",
            "`+#6 x`: a new shot can go at #1 to #5; this storyboard has 4 shots (#1-#4). "
            "Write `+ scene` to add it at the end.",
        ),
        (
            TYPED,
            "#2 = 14",
            "total_over",
            "`#2 = 14`: the shots would add up to 21.5 s, more than the 15 s video; shorten a shot "
            "or write `length 25`.",
        ),
        (
            board(("a", 150), ("b", 50), length=25),
            "+ 9 | c",
            "total_over",
            "`+ 9 | c`: the shots would add up to 29 s, more than the 25 s video; shorten or "
            "delete a shot.",
        ),
        (
            TYPED,
            "length 10",
            "total_over",
            "`length 10`: the shots would add up to 12.5 s, more than the 10 s video; shorten a "
            "shot or write `length 15`.",
        ),
        (
            MIXED,
            "#3 = 13",
            "no_time_left",
            "`#3 = 13`: the typed durations would add up to 15 s of the 15 s video, leaving 0 s "
            "for 2 shots without a duration (each needs at least 0.1 s); shorten a shot or write "
            "`length 25`.",
        ),
        (
            board(("a", 100), ("b", None)),
            "#1 = 15",
            "no_time_left",
            "`#1 = 15`: the typed durations would add up to 15 s of the 15 s video, leaving 0 s "
            "for 1 shot without a duration (each needs at least 0.1 s); shorten a shot or write "
            "`length 25`.",
        ),
        (
            MIXED,
            "#1 = 20",
            "shot_duration",
            "`#1 = 20`: a shot lasts 0.1 to 15 s, not 20 s; type a duration in that range.",
        ),
        (
            MIXED,
            "#1 = 0",
            "shot_duration",
            "`#1 = 0`: a shot lasts 0.1 to 15 s, not 0 s; type a duration in that range.",
        ),
        (
            MIXED,
            "+ 16 | x",
            "shot_duration",
            "`+ 16 | x`: a shot lasts 0.1 to 15 s, not 16 s; type a duration in that range.",
        ),
        (
            MIXED,
            "shots:\na\n16 | b",
            "shot_duration",
            "`shots:`: a shot lasts 0.1 to 15 s, not 16 s (shot 2); type a duration in that range.",
        ),
        (
            board(("a", None), length=10),
            "length 25",
            "shot_duration",
            "`length 25`: shot 1 would last 25 s; a shot lasts 0.1 to 15 s. Add another shot to "
            "share the time, or type its duration.",
        ),
        (
            ONE,
            "-#1",
            "shot_count",
            "`-#1`: a storyboard needs at least one shot; add another first (`+ scene`).",
        ),
        (
            board(*[(str(i), 10) for i in range(10)]),
            "+ x",
            "shot_count",
            "`+ x`: a storyboard has at most 10 shots; this edit would make 11. Delete a shot "
            "first (`-#3`).",
        ),
        (
            MIXED,
            "shots:\n" + "\n".join("x" for _ in range(11)),
            "shot_count",
            "`shots:`: a storyboard has at most 10 shots; this edit would make 11. Delete a shot "
            "first (`-#3`).",
        ),
        (
            MIXED,
            "#2 " + "x" * 351,
            "scene_long",
            f"`#2 {'x' * 351}`: shot 2's scene would be 351 characters; the limit is 350. Shorten "
            "it or split it into two shots.",
        ),
        (
            MIXED,
            "length 20",
            "length",
            "`length 20`: a video is 10, 15 or 25 s long; 20 s is not available.",
        ),
        (
            MIXED,
            "aspect square",
            "aspect",
            "`aspect square`: the aspect is landscape or portrait, not square.",
        ),
    ],
)
def test_apply_refusals(start: Storyboard, text: str, code: str, message: str) -> None:
    before = start.model_dump()
    with pytest.raises(EditError) as info:
        apply(start, edits(text), SORA)
    assert (info.value.code, str(info.value)) == (code, message)
    assert info.value.params["line"]
    assert start.model_dump() == before


def test_all_or_nothing() -> None:
    """A bad later line refuses the whole message; the earlier lines are not applied."""
    before = MIXED.model_dump()
    with pytest.raises(EditError) as info:
        apply(MIXED, edits("#1 changed\n+ added\n#9 nope"), SORA)
    assert str(info.value).startswith("`#9 nope`: there is no shot 9")
    assert MIXED.model_dump() == before


def test_blame_goes_to_the_line_that_broke_the_rule() -> None:
    # Line 1 is fine on its own; line 2 breaks the total and line 3 does not repair it.
    with pytest.raises(EditError) as info:
        apply(TYPED, edits("#1 = 5\n#2 = 9\naspect portrait"), SORA)
    assert info.value.params["line"] == "#2 = 9"


def test_apply_needs_an_edit() -> None:
    with pytest.raises(EditError):
        apply(MIXED, (), SORA)


# --------------------------------------------------------------------------- conflicts


@pytest.mark.parametrize(
    ("text", "touches", "stable"),
    [
        ("#3 x", False, True),
        ("#3 = 4", False, True),
        ("#3 4 | x", False, True),
        ("+ x", True, False),
        ("+#2 x", True, True),
        ("-#2", True, True),
        ("move #2 #1", True, True),
        ("swap #2 #1", True, True),
        ("length 25", False, False),
        ("aspect portrait", False, False),
        ("shots:\nx", True, False),
        ("length 25\n#1 x", False, True),
    ],
)
def test_numbering_helpers(text: str, touches: bool, stable: bool) -> None:
    parsed = edits(text)
    assert (touches_numbering(parsed), needs_stable_numbering(parsed)) == (touches, stable)


# --------------------------------------------------------------------------- property


@st.composite
def boards(draw: st.DrawFn) -> Storyboard:
    n = draw(st.integers(1, 6))
    typed = draw(st.lists(st.one_of(st.none(), st.integers(1, 20)), min_size=n, max_size=n))
    length = draw(st.sampled_from(SORA.lengths))
    try:  # only valid starting boards (one automatic shot alone in 25 s would last too long)
        start = board(*[(f"s{i}", t) for i, t in enumerate(typed)], length=length)
        validate(start, SORA)
    except StoryboardError:
        assume(False)
    return start


_n = st.integers(0, 8)
_secs = st.integers(0, 170).map(fmt_tenths)
_scene = st.sampled_from(["kitten", "小猫，戴着耳机", "wide | close", "x" * 349])
LINES = st.one_of(
    st.builds("#{} {}".format, _n, _scene),
    st.builds("#{} {} | {}".format, _n, _secs, _scene),
    st.builds("＃{}＝{}秒".format, _n, _secs),
    st.builds("+ {}".format, _scene),
    st.builds("+ {}s | {}".format, _secs, _scene),
    st.builds("+#{} {}".format, _n, _scene),
    st.builds("-#{}".format, _n),
    st.builds("move #{} #{}".format, _n, _n),
    st.builds("swap #{} #{}".format, _n, _n),
    st.builds("length {}".format, st.sampled_from([10, 15, 20, 25])),
    st.builds("aspect {}".format, st.sampled_from(["portrait", "landscape", "square"])),
    st.builds(
        lambda xs: "shots:\n" + "\n".join(xs),
        st.lists(st.one_of(_scene, st.builds("{} | {}".format, _secs, _scene)), max_size=4),
    ),
    st.sampled_from(["nice!", "undo", "go"]),
)
MESSAGES = st.lists(LINES, min_size=1, max_size=3).map("\n".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=boards(), messages=st.lists(MESSAGES, min_size=1, max_size=6))
def test_accepted_edits_keep_the_storyboard_valid(start: Storyboard, messages: list[str]) -> None:
    current = start
    validate(current, SORA)
    for text in messages:
        try:
            cmd = parse_message(text)
        except EditError:
            continue
        if cmd is None or cmd.kind != "edit":
            continue
        before = current.model_dump()
        try:
            result = apply(current, cmd.edits, SORA)
        except EditError as err:
            assert str(err).startswith("`")
            assert current.model_dump() == before
            continue
        assert current.model_dump() == before
        validate(result.board, SORA)
        assert result.renumbers == touches_numbering(cmd.edits)
        current = result.board
