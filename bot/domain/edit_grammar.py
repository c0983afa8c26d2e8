"""Reply-thread edits: the small grammar people type in a draft's thread to refine a storyboard.

A shot is referred to as ``#N``, so an edit never looks like a shot line (``7.5 | scene``) and a
chat message never looks like an edit: a line is an edit only when it *starts* with the syntax.

    #3 new scene            replace shot 3's scene, keep its duration
    #3 4.5 | new scene      replace shot 3 with a shot line
    #3 = 5s                 set shot 3's duration (also ``= 5``, ``= 5秒``, or just ``#3 5s``)
    #3 = auto               let shot 3 share the time left with the other automatic shots
    + scene / + 4s | scene  add a shot at the end
    +#2 4s | scene          insert it as shot 2
    -#3                     delete shot 3
    move #3 #1              move shot 3 to position 1
    swap #1 #2              swap shots 1 and 2
    length 25               change the video length
    aspect portrait         change the aspect (``landscape`` or ``portrait``)
    shots:                  followed by shot lines on the next lines: replace the whole list

``undo``, ``show`` and ``generate`` (or ``go``) act only when they are the whole message, and so
do ``add @user`` / ``remove @user`` (who else may edit).
Several edit lines in one message are one edit, applied in order, all or nothing; ``#N`` refers to
the numbering as it stands when that line is applied. The full-width forms Chinese keyboards type
(＃ ｜ ＝ ＋ － full-width digits, 秒) count as the ASCII ones; scene text is kept as typed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.domain.shot_grammar import (
    ShotLine,
    normalize,
    parse_duration,
    parse_shot_line,
    split_block,
)
from bot.domain.storyboard import (
    Limits,
    Shot,
    Storyboard,
    StoryboardError,
    fmt_tenths,
    rebalance,
    validate,
)

EditKind = Literal[
    "scene", "replace", "duration", "add", "delete", "move", "swap", "length", "aspect", "shots"
]
CommandKind = Literal["edit", "undo", "show", "generate", "add_editors", "remove_editors"]

WORDS: dict[str, CommandKind] = {
    "undo": "undo",
    "show": "show",
    "generate": "generate",
    "go": "generate",
}
#: Edits that change which shot a number points at.
RENUMBERING: frozenset[EditKind] = frozenset({"add", "delete", "move", "swap", "shots"})

GRAMMAR_HINT = (
    "Edit lines start with `#3`, `+`, `-#3`, `move`, `swap`, `length`, `aspect` or `shots:`"
)


class EditError(StoryboardError):
    """An edit is refused; the message quotes the failing line, the rule, the numbers and a fix."""


@dataclass(frozen=True)
class Edit:
    """One edit line. ``line`` is the line as typed (quoted in refusals)."""

    kind: EditKind
    line: str
    shot: int | None = None  # the shot addressed (#N); for ``add``, the position (None: the end)
    to: int | None = None  # move: the new position; swap: the other shot
    scene: str | None = None
    tenths: int | None = None  # None: automatic (``add``) / unchanged
    length: int | None = None
    aspect: str | None = None
    shots: tuple[ShotLine, ...] = ()

    @property
    def addresses_shots(self) -> bool:
        """Whether the edit names shots by number (and so needs the numbering it was typed for)."""
        return self.shot is not None or self.to is not None


@dataclass(frozen=True)
class Command:
    """What a thread message asks for. ``edits`` is set for ``kind == "edit"`` only."""

    kind: CommandKind
    edits: tuple[Edit, ...] = ()
    users: tuple[int, ...] = ()  # add_editors / remove_editors: the members mentioned


@dataclass(frozen=True)
class Applied:
    board: Storyboard
    resplit: bool  # automatic durations changed: worth a one-line note
    renumbers: bool  # shots were added, deleted or moved


# --------------------------------------------------------------------------- parsing

_I = re.IGNORECASE
_SHOT = re.compile(r"#(\d+)(?=[\s=]|$)")
_ADD = re.compile(r"\+(?:\s*#(\d+))?(?=\s|$)")
_DELETE = re.compile(r"-\s*#(\d+)\s*$")
_MOVE_START = re.compile(r"(move|swap)\s+#\d", _I)
_MOVE = re.compile(r"(move|swap)\s+#(\d+)\s+(?:(?:to|with|and)\s+)?#(\d+)\s*$", _I)
_LENGTH = re.compile(r"length\s*[=:]?\s*(\d+)\s*(?:s|sec|seconds?|秒)?\s*$", _I)
_ASPECT = re.compile(r"aspect\s*[=:]?\s*([a-z]+)\s*$", _I)
_SHOTS = re.compile(r"shots\s*[:：]\s*$", _I)
_EDITORS = re.compile(r"(add|remove)((?:\s+<@!?\d+>)+)\s*$", _I)
_MENTION = re.compile(r"<@!?(\d+)>")
_BARE_DURATION = re.compile(r"\d+(?:\.\d+)?\s*(?:s|sec|秒)?$", _I)


def parse_message(text: str) -> Command | None:
    """The command in a thread message, or None when it is conversation.

    Raises EditError when the message is meant as an edit but cannot be read (a bad line, or
    edit lines mixed with other text); the message quotes the line.
    """
    word = text.strip().lower()
    if word in WORDS:
        return Command(kind=WORDS[word])
    if m := _EDITORS.match(text.strip()):
        users = tuple(dict.fromkeys(int(u) for u in _MENTION.findall(m[2])))
        kind: CommandKind = "add_editors" if m[1].lower() == "add" else "remove_editors"
        return Command(kind=kind, users=users)
    lines = [line.strip() for line in split_block(text)]
    starts = [_starts_edit(line) for line in lines]
    if not any(starts):
        return None
    edits: list[Edit] = []
    for i, line in enumerate(lines):
        if not starts[i]:
            raise _not_an_edit(line)
        if _SHOTS.match(normalize(line)):
            edits.append(_shots_block(line, lines[i + 1 :]))
            break
        edits.append(parse_line(line))
    return Command(kind="edit", edits=tuple(edits))


def _starts_edit(line: str) -> bool:
    """Whether a (stripped) line is meant as an edit: it starts with the edit syntax."""
    norm = normalize(line)
    if m := _SHOT.match(norm):
        return bool(norm[m.end() :].strip())  # a bare "#3" is an answer, not an edit
    if m := _ADD.match(norm):
        return bool(norm[m.end() :].strip()) or m[1] is not None  # "+" alone, "+1": chat
    return bool(
        _DELETE.match(norm)
        or _MOVE_START.match(norm)
        or _LENGTH.match(norm)
        or _ASPECT.match(norm)
        or _SHOTS.match(norm)
    )


def _not_an_edit(line: str) -> EditError:
    word = line.strip().lower()
    if word in WORDS:
        return EditError(
            "edit_word_alone",
            f"`{line}` works only as a whole message, so nothing was changed. Send the edits, "
            f"then `{word}` on its own.",
            line=line,
        )
    return EditError(
        "edit_mixed",
        f"`{line}` is not an edit, so nothing was changed. {GRAMMAR_HINT}; send conversation "
        "as a message of its own.",
        line=line,
    )


def parse_line(line: str) -> Edit:
    """One edit line (not ``shots:``). Raises EditError quoting the line."""
    line = line.strip()
    norm = normalize(line)  # same length as ``line``: offsets in one are offsets in the other
    try:
        if m := _SHOT.match(norm):
            return _shot_edit(line, int(m[1]), line[m.end() :].strip(), norm[m.end() :].strip())
        if m := _ADD.match(norm):
            return _add_edit(line, m, line[m.end() :].strip())
        if m := _DELETE.match(norm):
            return Edit(kind="delete", line=line, shot=int(m[1]))
        if _MOVE_START.match(norm):
            return _move_edit(line, norm)
        if m := _LENGTH.match(norm):
            return Edit(kind="length", line=line, length=int(m[1]))
        if m := _ASPECT.match(norm):
            return Edit(kind="aspect", line=line, aspect=m[1].lower())
    except EditError:
        raise
    except StoryboardError as err:  # the shot-line grammar's own refusals, already prefixed
        raise EditError(err.code, str(err), line=line, **err.params) from None
    raise _not_an_edit(line)


def _shot_edit(line: str, n: int, rest: str, rest_norm: str) -> Edit:
    where = f"`{line}`"
    if rest_norm.startswith("="):
        if rest_norm[1:].strip().lower() == "auto":
            return Edit(kind="duration", line=line, shot=n, tenths=None)
        tenths = parse_duration(rest[1:], where=where)
        return Edit(kind="duration", line=line, shot=n, tenths=tenths)
    if _BARE_DURATION.match(rest_norm):  # "#3 5s": a duration, not a scene called "5s"
        return Edit(kind="duration", line=line, shot=n, tenths=parse_duration(rest, where=where))
    shot = parse_shot_line(rest, where=where)
    if shot.tenths is None:
        return Edit(kind="scene", line=line, shot=n, scene=shot.scene)
    return Edit(kind="replace", line=line, shot=n, scene=shot.scene, tenths=shot.tenths)


def _add_edit(line: str, m: re.Match[str], rest: str) -> Edit:
    at = int(m[1]) if m[1] is not None else None
    if not rest:
        example = "+ 4s | scene" if at is None else f"+#{at} 4s | scene"
        raise _syntax(line, f"write the new shot after it, like `{example}`")
    shot = parse_shot_line(rest, where=f"`{line}`")
    return Edit(kind="add", line=line, shot=at, scene=shot.scene, tenths=shot.tenths)


def _move_edit(line: str, norm: str) -> Edit:
    m = _MOVE.match(norm)
    if m is None:
        example = (
            "`move #3 #1` moves shot 3 to position 1"
            if norm[:4].lower() == "move"
            else ("`swap #1 #2` swaps shots 1 and 2")
        )
        raise _syntax(line, f"write it like this: {example}")
    kind: EditKind = "move" if m[1].lower() == "move" else "swap"
    return Edit(kind=kind, line=line, shot=int(m[2]), to=int(m[3]))


def _shots_block(line: str, rest: Sequence[str]) -> Edit:
    if not rest:
        raise _syntax(line, "write the shots on the next lines of the same message, one a line")
    try:
        shots = tuple(parse_shot_line(x, where=f"`{x.strip()}`") for x in rest)
    except StoryboardError as err:
        raise EditError(err.code, str(err), line=line, **err.params) from None
    return Edit(kind="shots", line=line, shots=shots)


def _syntax(line: str, fix: str) -> EditError:
    return EditError("edit_syntax", f"`{line}`: {fix}.", line=line)


# --------------------------------------------------------------------------- conflicts


def touches_numbering(edits: Iterable[Edit]) -> bool:
    """Whether the edits add, delete or move shots (so ``#N`` means another shot afterwards)."""
    return any(e.kind in RENUMBERING for e in edits)


def needs_stable_numbering(edits: Iterable[Edit]) -> bool:
    """Whether the edits address shots by ``#N`` (and so must not cross a renumbering edit)."""
    return any(e.addresses_shots for e in edits)


# --------------------------------------------------------------------------- applying

# A shot and the index it had in the board the edit started from (None: a new shot).
_Slot = tuple[Shot, int | None]


@dataclass
class _State:
    slots: list[_Slot]
    length: int
    aspect: str

    def board(self, base: Storyboard) -> Storyboard:
        return base.model_copy(
            update={
                "shots": tuple(s for s, _ in self.slots),
                "length": self.length,
                "aspect": self.aspect,
            }
        )


def apply(board: Storyboard, edits: Sequence[Edit], limits: Limits) -> Applied:
    """Apply ``edits`` in order to a copy of ``board``, re-share automatic time, validate.

    Raises EditError quoting the failing line; ``board`` itself is never modified.
    """
    if not edits:
        raise EditError("edit_empty", "There is no edit to apply.")
    state = _State(
        slots=[(s, i) for i, s in enumerate(board.shots)],
        length=board.length,
        aspect=board.aspect,
    )
    errors: list[StoryboardError | None] = []
    for edit in edits:
        _apply_one(state, edit, limits)
        final, error = _settle(state.board(board), limits)
        errors.append(error)
    if error is not None:
        # Blame the line after which the storyboard broke and stayed broken.
        k = len(errors) - 1
        while k > 0 and errors[k - 1] is not None:
            k -= 1
        raise _explain(error, edits[k], final, limits)
    old = board.shots
    resplit = any(
        shot.auto and origin is not None and old[origin].auto and shot.tenths != old[origin].tenths
        for shot, origin in zip(final.shots, (o for _, o in state.slots), strict=True)
    )
    return Applied(board=final, resplit=resplit, renumbers=touches_numbering(edits))


def _settle(board: Storyboard, limits: Limits) -> tuple[Storyboard, StoryboardError | None]:
    """The board with automatic time re-shared, and the first rule it breaks (if any)."""
    try:
        board = board.with_shots(rebalance(board.shots, board.length, limits))
        validate(board, limits)
    except StoryboardError as err:
        return board, err
    return board, None


def _apply_one(state: _State, edit: Edit, limits: Limits) -> None:
    slots = state.slots
    if edit.kind in ("scene", "replace", "duration", "delete", "move", "swap"):
        assert edit.shot is not None
        _need_shot(edit, edit.shot, len(slots))
        i = edit.shot - 1
        shot, origin = slots[i]
        if edit.kind == "scene":
            assert edit.scene is not None
            slots[i] = (shot.model_copy(update={"scene": edit.scene}), origin)
        elif edit.kind in ("replace", "duration"):
            if edit.tenths is not None:
                _check_typed(edit, edit.tenths, limits)
            # No duration: the shot shares the time left with the other automatic ones.
            update: dict[str, object] = {"tenths": edit.tenths or 0, "auto": edit.tenths is None}
            if edit.kind == "replace":
                update["scene"] = edit.scene
            slots[i] = (shot.model_copy(update=update), origin)
        elif edit.kind == "delete":
            del slots[i]
        else:
            assert edit.to is not None
            _need_shot(edit, edit.to, len(slots))
            if edit.kind == "move":
                slots.insert(edit.to - 1, slots.pop(i))
            else:
                j = edit.to - 1
                slots[i], slots[j] = slots[j], slots[i]
    elif edit.kind == "add":
        at = len(slots) + 1 if edit.shot is None else edit.shot
        if not 1 <= at <= len(slots) + 1:
            raise EditError(
                "edit_no_position",
                f"`{edit.line}`: a new shot can go at #1 to #{len(slots) + 1}; "
                f"{_has(len(slots))}. Write `+ scene` to add it at the end.",
                line=edit.line,
                position=at,
                count=len(slots),
            )
        if edit.tenths is not None:
            _check_typed(edit, edit.tenths, limits)
        new = Shot(scene=edit.scene or "", tenths=edit.tenths or 0, auto=edit.tenths is None)
        slots.insert(at - 1, (new, None))
    elif edit.kind == "shots":
        for n, x in enumerate(edit.shots, 1):
            if x.tenths is not None:
                _check_typed(edit, x.tenths, limits, shot=n)
        state.slots = [
            (Shot(scene=x.scene, tenths=x.tenths or 0, auto=x.tenths is None), None)
            for x in edit.shots
        ]
    elif edit.kind == "length":
        assert edit.length is not None
        if edit.length not in limits.lengths:
            raise EditError(
                "length",
                f"`{edit.line}`: a video is {limits.lengths_text()} long; "
                f"{edit.length} s is not available.",
                line=edit.line,
                length=edit.length,
                allowed=limits.lengths_text(),
            )
        state.length = edit.length
    elif edit.kind == "aspect":
        if edit.aspect not in limits.aspects:
            raise EditError(
                "aspect",
                f"`{edit.line}`: the aspect is {' or '.join(limits.aspects)}, not {edit.aspect}.",
                line=edit.line,
                aspect=edit.aspect,
            )
        state.aspect = edit.aspect
    else:  # pragma: no cover - EditKind is closed
        raise AssertionError(edit.kind)


def _has(count: int) -> str:
    if count == 0:
        return "this storyboard has no shots"
    if count == 1:
        return "this storyboard has 1 shot (#1)"
    return f"this storyboard has {count} shots (#1-#{count})"


def _check_typed(edit: Edit, tenths: int, limits: Limits, shot: int | None = None) -> None:
    if not limits.min_shot_tenths <= tenths <= limits.max_shot_tenths:
        low, high = fmt_tenths(limits.min_shot_tenths), fmt_tenths(limits.max_shot_tenths)
        which = "" if shot is None else f" (shot {shot})"
        raise EditError(
            "shot_duration",
            f"`{edit.line}`: a shot lasts {low} to {high} s, not {fmt_tenths(tenths)} s{which}; "
            "type a duration in that range.",
            line=edit.line,
            shot=shot,
            seconds=fmt_tenths(tenths),
            min=low,
            max=high,
        )


def _need_shot(edit: Edit, n: int, count: int) -> None:
    if not 1 <= n <= count:
        raise EditError(
            "edit_no_shot",
            f"`{edit.line}`: there is no shot {n}; {_has(count)}.",
            line=edit.line,
            shot=n,
            count=count,
        )


def _explain(err: StoryboardError, edit: Edit, board: Storyboard, limits: Limits) -> EditError:
    """Restate a rule ``board`` breaks, quoting the line that broke it."""
    q = f"`{edit.line}`"
    p = err.params
    if err.code == "total_over":
        total = board.total_tenths
        return EditError(
            "total_over",
            f"{q}: the shots would add up to {p['total']} s, more than the {p['length']} s "
            f"video; {_time_fix(limits, lambda x: x * 10 >= total)}.",
            line=edit.line,
            **p,
        )
    if err.code == "no_time_left":
        autos = sum(s.auto for s in board.shots)
        need = sum(s.tenths for s in board.shots if not s.auto) + autos * limits.min_shot_tenths
        shots = "1 shot" if autos == 1 else f"{autos} shots"
        return EditError(
            "no_time_left",
            f"{q}: the typed durations would add up to {p['fixed']} s of the {p['length']} s "
            f"video, leaving {p['left']} s for {shots} without a duration (each needs at least "
            f"{p['min']} s); {_time_fix(limits, lambda x: x * 10 >= need)}.",
            line=edit.line,
            **p,
        )
    if err.code == "shot_count":
        if p["count"] == 0:
            text = "a storyboard needs at least one shot; add another first (`+ scene`)"
        else:
            text = (
                f"a storyboard has at most {limits.max_shots} shots; this edit would make "
                f"{p['count']}. Delete a shot first (`-#3`)"
            )
        return EditError("shot_count", f"{q}: {text}.", line=edit.line, **p)
    if err.code == "shot_duration":
        return EditError(
            "shot_duration",
            f"{q}: shot {p['shot']} would last {p['seconds']} s; a shot lasts {p['min']} to "
            f"{p['max']} s. "
            + (
                "Add another shot to share the time, or type its duration."
                if board.shots[p["shot"] - 1].auto
                else "Type a duration in that range."
            ),
            line=edit.line,
            **p,
        )
    if err.code == "scene_long":
        return EditError(
            "scene_long",
            f"{q}: shot {p['shot']}'s scene would be {p['chars']} characters; the limit is "
            f"{p['max']}. Shorten it or split it into two shots.",
            line=edit.line,
            **p,
        )
    message = str(err)
    return EditError(err.code, f"{q}: {message[:1].lower()}{message[1:]}", line=edit.line, **p)


def _time_fix(limits: Limits, fits: Callable[[int], bool]) -> str:
    longer = [x for x in limits.lengths if fits(x)]
    if longer:
        return f"shorten a shot or write `length {longer[0]}`"
    return "shorten or delete a shot"
