"""The card's forms as edits: only what changed from the revision shown, written as the thread
grammar writes it (how a refusal quotes it), and applied as a member expects."""

from __future__ import annotations

import pytest

from bot.domain.edit_grammar import Edit, apply
from bot.domain.storyboard import Shot, Storyboard, StoryboardError
from bot.drafts.forms import add_edit, list_board, settings_edits, shot_edits, shot_values
from bot.i18n.strings import error_text
from bot.models.sora import SoraStoryboard

LIMITS = SoraStoryboard.limits
BOARD = Storyboard(
    shots=(
        Shot(scene="A kitten with headphones", tenths=50),
        Shot(scene="It licks its lips", tenths=50, auto=True),
        Shot(scene="It falls asleep", tenths=50, auto=True),
    ),
    length=15,
    aspect="landscape",
)


def lines(edits: list[Edit]) -> list[str]:
    return [e.line for e in edits]


def test_the_one_shot_form_opens_with_the_shot_as_it_stands() -> None:
    assert shot_values(BOARD, 1) == {
        "scene": "A kitten with headphones",
        "duration": "5",
        "position": "1",
    }
    # An automatic duration is left blank (blank: automatic).
    assert shot_values(BOARD, 2)["duration"] == ""


def test_a_one_shot_form_sent_back_as_shown_asks_for_nothing() -> None:
    for n in (1, 2, 3):
        assert shot_edits(BOARD, n, shot_values(BOARD, n)) == []


def test_the_one_shot_form_asks_only_for_what_changed() -> None:
    values = {**shot_values(BOARD, 2), "scene": "  It yawns  "}
    assert lines(shot_edits(BOARD, 2, values)) == ["#2 It yawns"]

    values = {**shot_values(BOARD, 2), "duration": "4.5s", "position": "1"}
    edits = shot_edits(BOARD, 2, values)
    assert lines(edits) == ["#2 = 4.5s", "move #2 #1"]
    board = apply(BOARD, edits, LIMITS).board
    assert [(s.scene, s.tenths, s.auto) for s in board.shots] == [
        ("It licks its lips", 45, False),
        ("A kitten with headphones", 50, False),
        ("It falls asleep", 55, True),
    ]

    # A fixed duration cleared: automatic again.
    assert lines(shot_edits(BOARD, 1, {**shot_values(BOARD, 1), "duration": ""})) == ["#1 = auto"]


def test_delete_in_the_one_shot_form_wins_over_anything_typed() -> None:
    values = {**shot_values(BOARD, 3), "scene": "changed", "delete": True}
    assert lines(shot_edits(BOARD, 3, values)) == ["-#3"]


def test_a_shot_deleted_since_the_form_opened_is_written_in_full() -> None:
    shown = BOARD.with_shots(BOARD.shots[:2])
    values = {"scene": "It wakes up", "duration": "", "position": "3"}
    assert lines(shot_edits(shown, 3, values)) == ["#3 It wakes up", "#3 = auto"]


def test_a_duration_that_is_not_one_names_the_shot_and_the_fix() -> None:
    with pytest.raises(StoryboardError) as err:
        shot_edits(BOARD, 2, {**shot_values(BOARD, 2), "duration": "soon"})
    assert str(err.value) == 'Shot 2: "soon" is not a duration; write seconds like 7.5 or 7.5s.'
    # A new shot is named by the number it would have, in the reader's words.
    with pytest.raises(StoryboardError) as err:
        add_edit(3, {"scene": "It yawns", "duration": "soon"})
    assert str(err.value).startswith('Shot 4: "soon" is not a duration')
    assert error_text(err.value, "zh-CN").startswith("第 4 个镜头：")
    with pytest.raises(StoryboardError) as err:
        add_edit(3, {"scene": "It yawns", "duration": "soon", "position": "2"})
    assert str(err.value).startswith('Shot 2: "soon" is not a duration')
    with pytest.raises(StoryboardError) as err:
        shot_edits(BOARD, 2, {**shot_values(BOARD, 2), "duration": "soon"})
    assert error_text(err.value, "zh-CN").startswith("第 2 个镜头：")


def test_the_new_shot_form_adds_at_the_position_chosen_or_at_the_end() -> None:
    assert add_edit(3, {"scene": "It yawns", "duration": "", "position": ""}).line == "+ It yawns"
    end = add_edit(3, {"scene": "It yawns", "duration": "2", "position": "4"})
    assert (end.line, end.shot, end.tenths) == ("+ 2s | It yawns", None, 20)
    first = add_edit(3, {"scene": "It yawns", "duration": "", "position": "1"})
    assert (first.line, first.shot) == ("+#1 It yawns", 1)
    board = apply(BOARD, [first], LIMITS).board
    assert [s.scene for s in board.shots][:2] == ["It yawns", "A kitten with headphones"]


def test_the_settings_form_asks_only_for_the_settings_changed() -> None:
    assert settings_edits(BOARD, {"length": "15", "aspect": "landscape", "image": None}) == []
    assert settings_edits(BOARD, {"length": "", "aspect": ""}) == []
    edits = settings_edits(BOARD, {"length": "25", "aspect": "portrait"})
    assert lines(edits) == ["length 25", "aspect portrait"]
    assert [(e.length, e.aspect) for e in edits] == [(25, None), (None, "portrait")]


def test_the_whole_list_form_replaces_the_shots_at_the_draft_length() -> None:
    board = list_board(BOARD, "6 | A kitten with headphones\n\nIt smiles\n", LIMITS)
    assert (board.length, board.aspect) == (15, "landscape")
    assert [(s.scene, s.tenths, s.auto) for s in board.shots] == [
        ("A kitten with headphones", 60, False),
        ("It smiles", 90, True),
    ]
    with pytest.raises(StoryboardError):
        list_board(BOARD, "   \n", LIMITS)
