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
do ``add @user`` / ``remove @user`` (who else may edit). Chinese keywords work beside the English
ones: 撤销 (undo), 显示 (show), 生成 (generate), 时长 (length), 画幅 (aspect), 横屏 / 竖屏
(landscape / portrait).
Several edit lines in one message are one edit, applied in order, all or nothing; ``#N`` refers to
the numbering as it stands when that line is applied. The full-width forms Chinese keyboards type
(＃ ｜ ＝ ＋ － full-width digits and letters, 秒) count as the ASCII ones (a keyword is read after
NFKC normalization: ｌｅｎｇｔｈ　２５ is length 25); scene text is kept as typed.

A refusal is an :class:`EditError` with a code and the numbers it states; its words are the
catalog's ``err.edit.<code>`` (see :mod:`bot.domain.errors`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.domain.edit_words import ASPECT_WORDS, WORDS, CommandKind, keyword_form
from bot.domain.errors import OneOf
from bot.domain.shot_grammar import (
    ShotLine,
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
#: Edits that change which shot a number points at.
RENUMBERING: frozenset[EditKind] = frozenset({"add", "delete", "move", "swap", "shots"})


class EditError(StoryboardError):
    """An edit is refused; the message quotes the failing line, the rule, the numbers and a fix."""

    prefix = "err.edit"


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
_LENGTH = re.compile(r"(?:length|时长)\s*[=:：]?\s*(\d+)\s*(?:s|sec|seconds?|秒)?\s*$", _I)
_ASPECT = re.compile(r"(?:aspect|画幅)\s*[=:：]?\s*([a-z]+|横屏|竖屏)\s*$", _I)
_SHOTS = re.compile(r"shots\s*[:：]\s*$", _I)
_EDITORS = re.compile(r"(add|remove)((?:\s+<@!?\d+>)+)\s*$", _I)
_MENTION = re.compile(r"<@!?(\d+)>")
_BARE_DURATION = re.compile(r"\d+(?:\.\d+)?\s*(?:s|sec|秒)?$", _I)


def parse_message(text: str) -> Command | None:
    """The command in a thread message, or None when it is conversation.

    Raises EditError when the message is meant as an edit but cannot be read (a bad line, or
    edit lines mixed with other text); the message quotes the line.
    """
    word = keyword_form(text).strip().lower()
    if word in WORDS:
        return Command(kind=WORDS[word])
    if m := _EDITORS.match(keyword_form(text).strip()):
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
        if _SHOTS.match(keyword_form(line)):
            edits.append(_shots_block(line, lines[i + 1 :]))
            break
        edits.append(parse_line(line))
    return Command(kind="edit", edits=tuple(edits))


def _starts_edit(line: str) -> bool:
    """Whether a (stripped) line is meant as an edit: it starts with the edit syntax."""
    norm = keyword_form(line)
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
    word = keyword_form(line).strip().lower()
    if word in WORDS:
        return EditError("edit_word_alone", line=line, word=word)
    return EditError("edit_mixed", line=line)


def parse_line(line: str) -> Edit:
    """One edit line (not ``shots:``). Raises EditError quoting the line."""
    line = line.strip()
    norm = keyword_form(line)  # same length as ``line``: offsets in one are offsets in the other
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
            aspect = m[1].lower()
            return Edit(kind="aspect", line=line, aspect=ASPECT_WORDS.get(aspect, aspect))
    except EditError:
        raise
    except StoryboardError as err:  # the shot-line grammar's own refusals, naming the line
        raise EditError(err.code, shape=err.shape, line=line, **err.params) from None
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
        raise _syntax(line, "add" if at is None else "insert", at=at)
    shot = parse_shot_line(rest, where=f"`{line}`")
    return Edit(kind="add", line=line, shot=at, scene=shot.scene, tenths=shot.tenths)


def _move_edit(line: str, norm: str) -> Edit:
    m = _MOVE.match(norm)
    if m is None:
        raise _syntax(line, "move" if norm[:4].lower() == "move" else "swap")
    kind: EditKind = "move" if m[1].lower() == "move" else "swap"
    return Edit(kind=kind, line=line, shot=int(m[2]), to=int(m[3]))


def _shots_block(line: str, rest: Sequence[str]) -> Edit:
    if not rest:
        raise _syntax(line, "shots")
    try:
        shots = tuple(parse_shot_line(x, where=f"`{x.strip()}`") for x in rest)
    except StoryboardError as err:
        raise EditError(err.code, shape=err.shape, line=line, **err.params) from None
    return Edit(kind="shots", line=line, shots=shots)


def _syntax(line: str, shape: str, **params: object) -> EditError:
    """A keyword without what must follow it; ``shape`` says which (add, insert, move, swap,
    shots), and so which example the message gives."""
    return EditError("edit_syntax", shape=shape, line=line, **params)


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
        raise EditError("edit_empty")
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
                line=edit.line,
                position=at,
                count=len(slots),
                last=len(slots) + 1,
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
                "length", line=edit.line, length=edit.length, allowed=OneOf(limits.lengths)
            )
        state.length = edit.length
    elif edit.kind == "aspect":
        if edit.aspect not in limits.aspects:
            raise EditError(
                "aspect", line=edit.line, aspect=edit.aspect, aspects=OneOf(limits.aspects)
            )
        state.aspect = edit.aspect
    else:  # pragma: no cover - EditKind is closed
        raise AssertionError(edit.kind)


def _check_typed(edit: Edit, tenths: int, limits: Limits, shot: int | None = None) -> None:
    if not limits.min_shot_tenths <= tenths <= limits.max_shot_tenths:
        low, high = fmt_tenths(limits.min_shot_tenths), fmt_tenths(limits.max_shot_tenths)
        raise EditError(
            "shot_duration",
            shape=None if shot is None else "listed",
            line=edit.line,
            **({} if shot is None else {"shot": shot}),
            seconds=fmt_tenths(tenths),
            min=low,
            max=high,
        )


def _need_shot(edit: Edit, n: int, count: int) -> None:
    if not 1 <= n <= count:
        raise EditError(
            "edit_no_shot",
            line=edit.line,
            shot=n,
            count=count,
        )


def _explain(err: StoryboardError, edit: Edit, board: Storyboard, limits: Limits) -> EditError:
    """Restate a rule ``board`` breaks, quoting the line that broke it, with the fix that fits:
    the length that would hold the shots (``longer``), or shortening when none would."""
    p = dict(err.params)
    shape = err.shape
    if err.code == "total_over":
        total = board.total_tenths
        longer = _longer(limits, lambda x: x * 10 >= total)
        p.pop("longer", None)
        shape = None if longer else "shorten"
        p.update({"longer": longer} if longer else {})
    elif err.code == "no_time_left":
        autos = sum(s.auto for s in board.shots)
        need = sum(s.tenths for s in board.shots if not s.auto) + autos * limits.min_shot_tenths
        longer = _longer(limits, lambda x: x * 10 >= need)
        shape = None if longer else "shorten"
        p.update({"longer": longer} if longer else {})
    elif err.code == "shot_count" and p.get("count") == 0:
        shape = "none"
    elif err.code == "shot_duration":
        shape = "after_auto" if board.shots[p["shot"] - 1].auto else "after"
    return EditError(err.code, shape=shape, line=edit.line, **p)


def _longer(limits: Limits, fits: Callable[[int], bool]) -> int | None:
    """The shortest length that ``fits``, if any."""
    return next((x for x in limits.lengths if fits(x)), None)
