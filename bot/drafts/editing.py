"""Changing a draft: edits, undo and a new reference image, each stored as a new revision.

The thread listener, the card's buttons and the per-shot modal all come here, so every way of
editing follows the same rules: the storyboard stays valid, edits to one draft are applied one
at a time, and an edit written against an older revision is refused (not misapplied) when shots
were added, deleted or moved in between.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot.db.connection import new_id
from bot.db.files import write_private
from bot.domain.edit_grammar import Applied, Edit, EditError, apply, needs_stable_numbering
from bot.domain.shot_grammar import format_block
from bot.domain.storyboard import Storyboard
from bot.drafts.store import Draft, Drafts, Revision, RevisionConflict
from bot.media.images import PreparedImage
from bot.models.base import VideoModel

#: Checks a storyboard must pass beyond the model's rules (the server's blocked terms).
Check = Callable[[Storyboard], Awaitable[None]]

OutcomeKind = Literal["edit", "undo", "image"]


class StaleEdit(EditError):
    """The edit names shots by number, and the numbering changed since it was written."""


class NothingToUndo(EditError):
    pass


class FormStale(EditError):
    """A form that replaces the whole list was opened on an older revision."""


class DraftDiscarded(EditError):
    """The draft was discarded (perhaps while a form was open): it takes no more changes."""


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    draft: Draft  # as it is now (the new revision)
    before: Storyboard  # the storyboard the change was applied to
    applied: Applied | None = None  # edits only
    undone: Revision | None = None  # undo only: the revision taken back


class DraftEditor:
    """Applies changes to drafts, one at a time per draft."""

    def __init__(
        self,
        drafts: Drafts,
        model: Callable[[], VideoModel],
        media_dir: Path,
        *,
        check: Check | None = None,
    ) -> None:
        self.drafts = drafts
        self._model = model
        self.media_dir = media_dir
        self._check = check
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, draft_id: str) -> asyncio.Lock:
        lock = self._locks.get(draft_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[draft_id] = lock
        return lock

    async def edit(
        self,
        draft_id: str,
        edits: Sequence[Edit],
        *,
        editor_id: int | None,
        base_revision: int | None = None,
        note: str = "",
        extra_check: Check | None = None,
        source_id: int | None = None,
    ) -> Outcome:
        """Apply ``edits`` (one message's worth, all or nothing) as a new revision.

        ``base_revision``: the revision the author was looking at (the one current when the
        message was sent, or the one a modal showed); None means the current one.
        Raises EditError (StaleEdit for a numbering conflict), StoryboardError, KeyError.
        """
        async with self._lock(draft_id):
            while True:
                draft = await self.get(draft_id)
                base = draft.revision if base_revision is None else base_revision
                if base < draft.revision and needs_stable_numbering(edits):
                    await self._refuse_stale(draft, base, edits)
                applied = apply(draft.board, edits, self._model().limits)
                await self._validate(applied.board, extra_check)
                try:
                    new = await self.drafts.revise(
                        draft.id,
                        applied.board,
                        editor_id=editor_id,
                        source_id=source_id,
                        note=note or "\n".join(e.line for e in edits),
                        base_revision=draft.revision,
                        renumbers=applied.renumbers,
                    )
                except RevisionConflict:  # another process wrote in between: look again
                    continue
                return Outcome(kind="edit", draft=new, before=draft.board, applied=applied)

    async def undo(
        self, draft_id: str, *, editor_id: int | None, source_id: int | None = None
    ) -> Outcome:
        """Take back the latest change (whoever made it); repeated, walks further back."""
        async with self._lock(draft_id):
            while True:
                draft = await self.get(draft_id)
                history = {r.revision: r for r in await self.drafts.revisions(draft_id)}
                last = history[draft.revision]
                # The change being taken back: an undo restores an earlier revision, and
                # undoing it again takes back what that revision had changed.
                taken = last
                while taken.copies is not None and taken.copies in history:
                    taken = history[taken.copies]
                target = history.get(last.parent)
                if target is None:
                    raise NothingToUndo("nothing_to_undo")
                try:
                    new = await self.drafts.revise(
                        draft.id,
                        target.board,
                        editor_id=editor_id,
                        source_id=source_id,
                        note=f"undo revision {taken.revision}",
                        base_revision=draft.revision,
                        parent=target.parent,
                        copies=target.revision,
                        renumbers=taken.renumbers,
                        image_path=target.image_path,
                    )
                except RevisionConflict:
                    continue
                return Outcome(kind="undo", draft=new, before=draft.board, undone=taken)

    async def replace_shots(
        self,
        draft_id: str,
        board: Storyboard,
        *,
        editor_id: int | None,
        base_revision: int | None = None,
        source_id: int | None = None,
    ) -> Outcome:
        """The whole list at once (the Edit form). With ``base_revision``, refused
        (FormStale) when the draft moved on: the list would silently drop those changes."""
        async with self._lock(draft_id):
            draft = await self.get(draft_id)
            if base_revision is not None and base_revision != draft.revision:
                raise FormStale("form_stale", revision=draft.revision)
            await self._validate(board, None)
            note = "shots:\n" + format_block(board.shots)
            new = await self.drafts.revise(
                draft.id,
                board,
                editor_id=editor_id,
                source_id=source_id,
                note=note,
                renumbers=True,
                base_revision=base_revision,
            )
            return Outcome(kind="edit", draft=new, before=draft.board)

    async def replace_image(
        self,
        draft_id: str,
        image: PreparedImage,
        *,
        editor_id: int | None,
        source_id: int | None = None,
    ) -> Outcome:
        """A new reference image (already checked and prepared) for the next generation."""
        path = self.media_dir / "drafts" / f"{draft_id}-{new_id()}.{image.extension}"
        await asyncio.to_thread(write_private, path, image.data)
        async with self._lock(draft_id):
            draft = await self.get(draft_id)
            new = await self.drafts.revise(
                draft.id,
                draft.board,
                editor_id=editor_id,
                source_id=source_id,
                note="new reference image",
                image_path=str(path),
            )
            return Outcome(kind="image", draft=new, before=draft.board)

    async def get(self, draft_id: str) -> Draft:
        """The draft as it stands; raises DraftDiscarded once it was discarded."""
        draft = await self.drafts.get(draft_id)
        if draft is None:
            raise KeyError(draft_id)
        if not draft.active:
            raise DraftDiscarded("draft_discarded")
        return draft

    async def _validate(self, board: Storyboard, extra: Check | None) -> None:
        self._model().validate(board)
        for check in (self._check, extra):
            if check is not None:
                await check(board)

    async def _refuse_stale(self, draft: Draft, base: int, edits: Sequence[Edit]) -> None:
        between = [
            r
            for r in await self.drafts.revisions(draft.id)
            if base < r.revision <= draft.revision and r.renumbers
        ]
        if not between:
            return
        last = between[-1]
        line = next(e.line for e in edits if e.addresses_shots)
        raise StaleEdit(
            "edit_stale",
            line=line,
            revision=draft.revision,
            changed=last.revision,
            note=_first_line(last.note),
            editor=last.editor_id,
        )


def _first_line(note: str) -> str:
    first = note.strip().splitlines()[0] if note.strip() else "edit"
    return first if len(first) <= 60 else first[:59] + "…"
