"""What the card's forms ask for, as edits: the one-shot form, the new-shot form, the settings
form and the whole list.

A form shows a revision; what comes back is compared with what it showed, so a value left as
shown never undoes someone else's change made while the form was open. Each edit is written
as the thread grammar would write it (``#2 = 5s``, ``move #2 #1``), which is how refusals quote
it and how the revision's note reads.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain.edit_grammar import Edit
from bot.domain.shot_grammar import parse_duration, parse_lines, resolve, split_block
from bot.domain.storyboard import Limits, Storyboard, fmt_tenths

#: What a form hands on: field name -> what was typed or chosen (text, a checkbox's bool).
Values = Mapping[str, object]


def _text(values: Values, name: str) -> str:
    return str(values.get(name) or "").strip()


def shot_values(board: Storyboard, number: int) -> dict[str, str]:
    """The one-shot form's fields for shot ``number`` as it stands (blank duration: auto)."""
    shot = board.shots[number - 1]
    return {
        "scene": shot.scene,
        "duration": "" if shot.auto else fmt_tenths(shot.tenths),
        "position": str(number),
    }


def shot_edits(shown: Storyboard, number: int, values: Values) -> list[Edit]:
    """The edits the one-shot form asks for, compared with the revision it showed: delete,
    or a new scene, a new duration (blank: automatic) and a new position, each only when it
    differs. Raises StoryboardError for a duration that is not one."""
    if values.get("delete"):
        return [Edit(kind="delete", line=f"-#{number}", shot=number)]
    shot = shown.shots[number - 1] if number <= len(shown.shots) else None
    edits: list[Edit] = []
    scene = _text(values, "scene")
    typed = _text(values, "duration")
    tenths = parse_duration(typed, where=number) if typed else None
    if shot is None or scene != shot.scene:
        edits.append(Edit(kind="scene", line=f"#{number} {scene}", shot=number, scene=scene))
    if (
        shot is None
        or (tenths is None) != shot.auto
        or (tenths is not None and tenths != shot.tenths)
    ):
        line = f"#{number} = {fmt_tenths(tenths) + 's' if tenths is not None else 'auto'}"
        edits.append(Edit(kind="duration", line=line, shot=number, tenths=tenths))
    position = _text(values, "position")
    if position.isdigit() and int(position) != number:
        to = int(position)
        edits.append(Edit(kind="move", line=f"move #{number} #{to}", shot=number, to=to))
    return edits


def add_edit(count: int, values: Values) -> Edit:
    """The new-shot form as one ``add``: at the chosen position (the end when none, or when
    the position is past the ``count`` shots the form showed). Raises StoryboardError for a
    duration that is not one."""
    scene = _text(values, "scene")
    typed = _text(values, "duration")
    position = _text(values, "position")
    at = int(position) if position.isdigit() and int(position) <= count else None
    # A duration that is not one is named by the number the new shot would have.
    tenths = parse_duration(typed, where=at or count + 1) if typed else None
    head = "+" if at is None else f"+#{at}"
    line = f"{head} {fmt_tenths(tenths)}s | {scene}" if tenths is not None else f"{head} {scene}"
    return Edit(kind="add", line=line, shot=at, scene=scene, tenths=tenths)


def settings_edits(shown: Storyboard, values: Values) -> list[Edit]:
    """The settings form's length and aspect, only those changed from what it showed."""
    edits: list[Edit] = []
    length = _text(values, "length")
    if length.isdigit() and int(length) != shown.length:
        n = int(length)
        edits.append(Edit(kind="length", line=f"length {n}", length=n))
    aspect = _text(values, "aspect")
    if aspect and aspect != shown.aspect:
        edits.append(Edit(kind="aspect", line=f"aspect {aspect}", aspect=aspect))
    return edits


def list_board(board: Storyboard, text: str, limits: Limits) -> Storyboard:
    """The whole-list form: ``board`` with the shots typed (one per line) in its place, at
    its length. Raises StoryboardError for a line or a list the grammar or ``limits`` refuse."""
    lines = parse_lines(split_block(text))
    return board.with_shots(resolve(lines, board.length, limits))
