"""Admin changes to the quota: a guild's overrides (``quota_settings``), their log
(``quota_changes``) and the owners' kill switch; the only writer of those tables.

Every change is one ``BEGIN IMMEDIATE`` transaction that reads the current value, writes the new
one and logs it (who, when, setting, old, new). Adding or removing one entry of a list (a
channel, a role, a blocked term) is such a read-modify-write, so two admins changing one list at
once both count, whether their bots share a connection or only the database file.
"""

from __future__ import annotations

import json
import time
from typing import Any

import aiosqlite
from pydantic import BaseModel, ConfigDict

from bot.db.connection import Database
from bot.quota.settings import SETTING_NAMES, QuotaSettings, dump

PAUSED_KEY = "quota.paused"
# The guild id of bot-wide entries in the change log (the kill switch).
BOT_WIDE = 0


class QuotaChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    guild_id: int
    actor_id: int | None
    setting: str
    old: Any
    new: Any
    at: float


async def is_paused(db: aiosqlite.Connection) -> bool:
    """Whether the kill switch is on (read on ``db``, in a transaction or not)."""
    async with db.execute("SELECT value FROM meta WHERE key = ?", (PAUSED_KEY,)) as cur:
        row = await cur.fetchone()
    return bool(row and row["value"] == "1")


class Admin:
    """The changes guild admins and bot owners make, each one transaction."""

    def __init__(self, store: Database, settings: QuotaSettings) -> None:
        self.store = store
        self.settings = settings

    async def set(
        self, guild_id: int, name: str, value: Any, *, actor_id: int | None
    ) -> tuple[Any, Any]:
        """Override one setting for the guild; returns ``(old, new)`` and logs the change."""
        new = self.settings.validate_value(name, value)
        async with self.store.transaction() as db:
            old = getattr(await self.settings.get(guild_id, db), name)
            await self._write(db, guild_id, name, old, new, actor_id)
        return old, new

    async def add_item(
        self, guild_id: int, name: str, item: Any, *, actor_id: int | None
    ) -> tuple[Any, Any]:
        """Add entries to a list setting (a channel or role id, or terms typed
        ``"a, b"``); returns ``(old, new)``, equal when every entry was there already."""
        extra = self._items(name, item)
        async with self.store.transaction() as db:
            old = list(getattr(await self.settings.get(guild_id, db), name))
            new = old + [x for x in dict.fromkeys(extra) if x not in old]
            if new != old:
                await self._write(db, guild_id, name, old, new, actor_id)
        return old, new

    async def remove_item(
        self, guild_id: int, name: str, item: Any, *, actor_id: int | None
    ) -> tuple[Any, Any]:
        """Remove entries from a list setting; returns ``(old, new)``, equal when none of
        them was there."""
        gone = self._items(name, item)
        async with self.store.transaction() as db:
            old = list(getattr(await self.settings.get(guild_id, db), name))
            new = [x for x in old if x not in gone]
            if new != old:
                await self._write(db, guild_id, name, old, new, actor_id)
        return old, new

    def _items(self, name: str, item: Any) -> list[Any]:
        """The entries ``item`` stands for, validated as the setting's own values."""
        return list(self.settings.validate_value(name, item if isinstance(item, str) else [item]))

    async def reset(self, guild_id: int, *, actor_id: int | None, name: str | None = None) -> None:
        """Drop the guild's overrides (all of them, or one setting): back to the defaults."""
        if name is not None and name not in SETTING_NAMES:
            self.settings.validate_value(name, None)  # raises: unknown setting
        async with self.store.transaction() as db:
            before = await self.settings.get(guild_id, db)
            overridden = await self.settings.overrides(guild_id, db)
            names = [name] if name is not None else sorted(overridden)
            for key in names:
                if key not in overridden:
                    continue
                await db.execute(
                    "DELETE FROM quota_settings WHERE guild_id = ? AND name = ?", (guild_id, key)
                )
                base = self.settings.base[key]
                await self._log(db, guild_id, actor_id, key, getattr(before, key), base)

    async def changes(self, guild_id: int, limit: int = 10) -> list[QuotaChange]:
        """The latest setting changes, newest first."""
        async with self.store.db.execute(
            "SELECT * FROM quota_changes WHERE guild_id = ? ORDER BY id DESC LIMIT ?",
            (guild_id, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [
            QuotaChange(
                guild_id=r["guild_id"],
                actor_id=r["actor_id"],
                setting=r["setting"],
                old=json.loads(r["old"]) if r["old"] is not None else None,
                new=json.loads(r["new"]) if r["new"] is not None else None,
                at=r["created_at"],
            )
            for r in rows
        ]

    async def pause(self, actor_id: int | None, paused: bool) -> None:
        """Stop (or resume) all new submissions bot-wide; jobs already running finish."""
        async with self.store.transaction() as db:
            old = await is_paused(db)
            await db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (PAUSED_KEY, "1" if paused else "0"),
            )
            await self._log(db, BOT_WIDE, actor_id, "paused", old, paused)

    async def _write(
        self,
        db: aiosqlite.Connection,
        guild_id: int,
        name: str,
        old: Any,
        new: Any,
        actor_id: int | None,
    ) -> None:
        await db.execute(
            "INSERT INTO quota_settings(guild_id, name, value) VALUES (?, ?, ?) "
            "ON CONFLICT(guild_id, name) DO UPDATE SET value = excluded.value",
            (guild_id, name, dump(new)),
        )
        await self._log(db, guild_id, actor_id, name, old, new)

    @staticmethod
    async def _log(
        db: aiosqlite.Connection,
        guild_id: int,
        actor_id: int | None,
        setting: str,
        old: Any,
        new: Any,
    ) -> None:
        await db.execute(
            "INSERT INTO quota_changes(guild_id, actor_id, setting, old, new, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (guild_id, actor_id, setting, dump(old), dump(new), time.time()),
        )
