"""Drafts: a storyboard being written, with every accepted edit kept as a numbered revision."""

from __future__ import annotations

import time
from typing import Any

import aiosqlite
from pydantic import BaseModel, ConfigDict

from bot.store import Store, new_id
from bot.storyboard import Storyboard


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

    @property
    def active(self) -> bool:
        return self.state == "active"


class RevisionConflict(Exception):
    """The draft changed since the edit was based on it."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the draft is at revision {current}")
        self.current = current


class Drafts:
    """Draft rows and their revisions, in the shared store."""

    def __init__(self, store: Store) -> None:
        self.store = store

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
    ) -> Draft:
        now = time.time()
        draft_id = draft_id or new_id()
        async with self.store.transaction():
            await self.db.execute(
                "INSERT INTO drafts (id, guild_id, channel_id, author_id, image_path, revision, "
                "state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, 'active', ?, ?)",
                (draft_id, guild_id, channel_id, author_id, image_path, now, now),
            )
            await self.db.execute(
                "INSERT INTO draft_revisions (draft_id, revision, storyboard, editor_id, note, "
                "created_at) VALUES (?, 1, ?, ?, 'created', ?)",
                (draft_id, board.model_dump_json(), author_id, now),
            )
        draft = await self.get(draft_id)
        assert draft is not None
        return draft

    async def get(self, draft_id: str, revision: int | None = None) -> Draft | None:
        async with self.db.execute("SELECT * FROM drafts WHERE id = ?", (draft_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        data: dict[str, Any] = dict(row)
        rev = revision or data["revision"]
        async with self.db.execute(
            "SELECT storyboard FROM draft_revisions WHERE draft_id = ? AND revision = ?",
            (draft_id, rev),
        ) as cur:
            rrow = await cur.fetchone()
        if rrow is None:
            return None
        data["board"] = Storyboard.model_validate_json(rrow["storyboard"])
        return Draft.model_validate(data)

    async def by_card(self, message_id: int) -> Draft | None:
        async with self.db.execute(
            "SELECT id FROM drafts WHERE card_message_id = ? OR thread_id = ?",
            (message_id, message_id),
        ) as cur:
            row = await cur.fetchone()
        return await self.get(row["id"]) if row else None

    async def update(self, draft_id: str, **fields: Any) -> None:
        allowed = {"card_message_id", "thread_id", "image_path", "state", "channel_id"}
        if set(fields) - allowed:
            raise KeyError(f"not draft columns: {sorted(set(fields) - allowed)}")
        fields["updated_at"] = time.time()
        sets = ", ".join(f"{k} = ?" for k in fields)
        await self.store.write(
            f"UPDATE drafts SET {sets} WHERE id = ?", (*fields.values(), draft_id)
        )

    async def revise(
        self,
        draft_id: str,
        board: Storyboard,
        *,
        editor_id: int | None,
        note: str = "",
        base_revision: int | None = None,
    ) -> Draft:
        """Store ``board`` as the next revision, atomically.

        With ``base_revision``, refuse (RevisionConflict) if another edit came in since.
        """
        async with self.store.transaction():
            async with self.db.execute(
                "SELECT revision FROM drafts WHERE id = ?", (draft_id,)
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise KeyError(draft_id)
            current = int(row["revision"])
            if base_revision is not None and base_revision != current:
                raise RevisionConflict(current)
            now = time.time()
            await self.db.execute(
                "INSERT INTO draft_revisions (draft_id, revision, storyboard, editor_id, note, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (draft_id, current + 1, board.model_dump_json(), editor_id, note, now),
            )
            await self.db.execute(
                "UPDATE drafts SET revision = ?, updated_at = ? WHERE id = ?",
                (current + 1, now, draft_id),
            )
        draft = await self.get(draft_id)
        assert draft is not None
        return draft

    async def for_guild(self, guild_id: int) -> list[Draft]:
        async with self.db.execute("SELECT id FROM drafts WHERE guild_id = ?", (guild_id,)) as cur:
            ids = [r["id"] for r in await cur.fetchall()]
        drafts = [await self.get(i) for i in ids]
        return [d for d in drafts if d is not None]
