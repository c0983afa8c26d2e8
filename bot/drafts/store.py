"""Drafts: a storyboard being written, with every accepted edit kept as a numbered revision."""

from __future__ import annotations

from typing import Any

import aiosqlite
from pydantic import BaseModel, ConfigDict

from bot.db.connection import Database, new_id
from bot.domain.clock import Clock
from bot.domain.storyboard import Storyboard


class Draft(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    guild_id: int | None
    channel_id: int | None
    author_id: int | None
    card_message_id: int | None = None
    thread_id: int | None = None
    image_path: str | None = None
    revision: int
    state: str  # "active" | "discarded"
    created_at: float
    updated_at: float
    board: Storyboard
    content_notice: bool = False  # the thread was told plain replies are not read

    @property
    def active(self) -> bool:
        return self.state == "active"


class Revision(BaseModel):
    """One stored version of a draft: who made it, when, and what it was derived from."""

    model_config = ConfigDict(frozen=True)

    revision: int
    parent: int  # the revision it was derived from (0: none); undo goes back to it
    copies: int | None  # an undo: the revision whose storyboard it restores
    source_id: int | None = None  # the Discord message or interaction that made it
    renumbers: bool  # shots were added, deleted or moved by it
    editor_id: int | None
    note: str
    created_at: float
    image_path: str | None
    board: Storyboard


class RevisionConflict(Exception):
    """The draft changed since the edit was based on it."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the draft is at revision {current}")
        self.current = current


class Drafts:
    """Draft rows and their revisions, in the shared store."""

    def __init__(self, store: Database, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or Clock()

    @property
    def db(self) -> aiosqlite.Connection:
        return self.store.db

    async def create(
        self,
        board: Storyboard,
        *,
        guild_id: int | None,
        channel_id: int | None,
        author_id: int | None,
        image_path: str | None,
        draft_id: str | None = None,
        source_id: int | None = None,
    ) -> Draft:
        now = self.clock.now()
        draft_id = draft_id or new_id()
        async with self.store.transaction():
            await self.db.execute(
                "INSERT INTO drafts (id, guild_id, channel_id, author_id, image_path, revision, "
                "state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, 'active', ?, ?)",
                (draft_id, guild_id, channel_id, author_id, image_path, now, now),
            )
            await self.db.execute(
                "INSERT INTO draft_revisions (draft_id, revision, storyboard, editor_id, note, "
                "created_at, parent, image_path, source_id) "
                "VALUES (?, 1, ?, ?, 'created', ?, 0, ?, ?)",
                (draft_id, board.model_dump_json(), author_id, now, image_path, source_id),
            )
        draft = await self.get(draft_id)
        assert draft is not None
        return draft

    async def get(self, draft_id: str, revision: int | None = None) -> Draft | None:
        # One query (the draft and its revision read together, as of one commit).
        rows = await self.store.read(
            "SELECT d.*, r.storyboard AS rev_board, r.image_path AS rev_image FROM drafts d "
            "JOIN draft_revisions r ON r.draft_id = d.id AND r.revision = COALESCE(?, d.revision) "
            "WHERE d.id = ?",
            (revision or None, draft_id),  # 0 or None: the current revision
        )
        if not rows:
            return None
        data: dict[str, Any] = dict(rows[0])
        data["board"] = Storyboard.model_validate_json(data.pop("rev_board"))
        rev_image = data.pop("rev_image")
        if revision is not None and rev_image:
            data["image_path"] = rev_image
        return Draft.model_validate(data)

    async def by_card(self, message_id: int) -> Draft | None:
        """The draft whose card is ``message_id``."""
        async with self.db.execute(
            "SELECT id FROM drafts WHERE card_message_id = ?", (message_id,)
        ) as cur:
            row = await cur.fetchone()
        return await self.get(row["id"]) if row else None

    async def by_thread(self, thread_id: int) -> Draft | None:
        """The draft whose thread is ``thread_id``."""
        async with self.db.execute(
            "SELECT id FROM drafts WHERE thread_id = ?", (thread_id,)
        ) as cur:
            row = await cur.fetchone()
        return await self.get(row["id"]) if row else None

    async def revisions(self, draft_id: str) -> list[Revision]:
        """Every revision, oldest first."""
        async with self.db.execute(
            "SELECT r.*, d.image_path AS first_image FROM draft_revisions r "
            "JOIN drafts d ON d.id = r.draft_id WHERE r.draft_id = ? ORDER BY r.revision",
            (draft_id,),
        ) as cur:
            rows = await cur.fetchall()
        out: list[Revision] = []
        for row in rows:
            image = row["image_path"] or (out[-1].image_path if out else row["first_image"])
            parent = row["parent"] if row["parent"] is not None else row["revision"] - 1
            out.append(
                Revision(
                    revision=row["revision"],
                    parent=parent,
                    copies=row["copies"],
                    source_id=row["source_id"],
                    renumbers=bool(row["renumbers"]),
                    editor_id=row["editor_id"],
                    note=row["note"],
                    created_at=row["created_at"],
                    image_path=image,
                    board=Storyboard.model_validate_json(row["storyboard"]),
                )
            )
        return out

    async def revision_at(
        self, draft_id: str, when: float, *, source_id: int | None = None
    ) -> int | None:
        """The revision that was current at ``when`` (None: the draft did not exist yet).

        With ``source_id`` (a Discord snowflake, e.g. a message's id), revisions made from
        Discord are ordered by their own snowflakes, on Discord's clock; ``when`` orders only
        the others.
        """
        async with self.db.execute(
            "SELECT MAX(revision) AS r FROM draft_revisions WHERE draft_id = ? AND ("
            "(source_id IS NOT NULL AND source_id < ?) OR "
            "((source_id IS NULL OR ? IS NULL) AND created_at <= ?))",
            (draft_id, source_id, source_id, when),
        ) as cur:
            row = await cur.fetchone()
        return row["r"] if row and row["r"] is not None else None

    # -- editors ---------------------------------------------------------------------------
    async def editors(self, draft_id: str) -> list[int]:
        """Members the author let edit, in the order they were added."""
        rows = await self.store.read(
            "SELECT user_id FROM draft_editors WHERE draft_id = ? ORDER BY created_at, user_id",
            (draft_id,),
        )
        return [int(r["user_id"]) for r in rows]

    async def add_editor(self, draft_id: str, user_id: int, *, added_by: int | None) -> bool:
        """Let ``user_id`` edit; False when they already could."""
        async with self.store.transaction():
            cur = await self.db.execute(
                "INSERT OR IGNORE INTO draft_editors (draft_id, user_id, added_by, created_at) "
                "VALUES (?, ?, ?, ?)",
                (draft_id, user_id, added_by, self.clock.now()),
            )
            return cur.rowcount > 0

    async def remove_editor(self, draft_id: str, user_id: int) -> bool:
        """False when ``user_id`` was not an added editor."""
        async with self.store.transaction():
            cur = await self.db.execute(
                "DELETE FROM draft_editors WHERE draft_id = ? AND user_id = ?",
                (draft_id, user_id),
            )
            return cur.rowcount > 0

    async def claim_content_notice(self, draft_id: str) -> bool:
        """True exactly once per draft: the caller tells the thread plain replies are unread."""
        async with self.store.transaction():
            cur = await self.db.execute(
                "UPDATE drafts SET content_notice = 1 WHERE id = ? AND content_notice = 0",
                (draft_id,),
            )
            return cur.rowcount > 0

    async def update(self, draft_id: str, **fields: Any) -> None:
        allowed = {"card_message_id", "thread_id", "image_path", "state", "channel_id"}
        if set(fields) - allowed:
            raise KeyError(f"not draft columns: {sorted(set(fields) - allowed)}")
        fields["updated_at"] = self.clock.now()
        sets = ", ".join(f"{k} = ?" for k in fields)
        async with self.store.transaction():
            await self.db.execute(
                f"UPDATE drafts SET {sets} WHERE id = ?", (*fields.values(), draft_id)
            )
            if "image_path" in fields:  # the image the current revision uses
                await self.db.execute(
                    "UPDATE draft_revisions SET image_path = ? WHERE draft_id = ? AND revision = "
                    "(SELECT revision FROM drafts WHERE id = ?)",
                    (fields["image_path"], draft_id, draft_id),
                )

    async def revise(
        self,
        draft_id: str,
        board: Storyboard,
        *,
        editor_id: int | None,
        note: str = "",
        base_revision: int | None = None,
        parent: int | None = None,
        copies: int | None = None,
        renumbers: bool = False,
        image_path: str | None = None,
        source_id: int | None = None,
    ) -> Draft:
        """Store ``board`` as the next revision, atomically.

        With ``base_revision``, refuse (RevisionConflict) if another edit came in since.
        ``parent`` (default: the current revision) is what undo returns to; ``image_path``
        (default: unchanged) replaces the reference image.
        """
        async with self.store.transaction():
            async with self.db.execute(
                "SELECT revision, image_path FROM drafts WHERE id = ?", (draft_id,)
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise KeyError(draft_id)
            current = int(row["revision"])
            if base_revision is not None and base_revision != current:
                raise RevisionConflict(current)
            now = self.clock.now()
            image = image_path or row["image_path"]
            await self.db.execute(
                "INSERT INTO draft_revisions (draft_id, revision, storyboard, editor_id, note, "
                "created_at, parent, copies, renumbers, image_path, source_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    draft_id,
                    current + 1,
                    board.model_dump_json(),
                    editor_id,
                    note,
                    now,
                    current if parent is None else parent,
                    copies,
                    int(renumbers),
                    image,
                    source_id,
                ),
            )
            await self.db.execute(
                "UPDATE drafts SET revision = ?, image_path = ?, updated_at = ? WHERE id = ?",
                (current + 1, image, now, draft_id),
            )
        draft = await self.get(draft_id)
        assert draft is not None
        return draft

    async def delete(self, draft_id: str) -> None:
        """Remove a draft with its revisions and editors (one whose card could not be posted:
        nobody has seen it). Jobs made from it keep their own copies and forget the draft."""
        async with self.store.transaction():
            await self.db.execute("DELETE FROM drafts WHERE id = ?", (draft_id,))

    async def for_guild(self, guild_id: int) -> list[Draft]:
        async with self.db.execute("SELECT id FROM drafts WHERE guild_id = ?", (guild_id,)) as cur:
            ids = [r["id"] for r in await cur.fetchall()]
        drafts = [await self.get(i) for i in ids]
        return [d for d in drafts if d is not None]
