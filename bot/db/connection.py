"""The SQLite connection (aiosqlite, WAL, ``synchronous=FULL``), its write lock and the meta table.

Every write that precedes a step costing money or posting a message is committed before the
step starts: a crash at any point leaves a row that says exactly what has and has not happened.
Each table's SQL lives with its owner (jobs with the engine, drafts with drafts, usage with the
quota ledger); this module knows only the connection, transactions and ``meta``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any, Self

import aiosqlite

from bot.db.backup import backup_before_migrating
from bot.db.files import create_private, private_dir, tighten
from bot.db.migrations import LATEST, migrate, schema_version

#: How the Discord bot's last start read thread messages: "full", "off" (by setting) or
#: "degraded". The bot writes it; ``doctor`` reads it without importing Discord.
CONTENT_MODE_KEY = "message_content_mode"


def new_id() -> str:
    return secrets.token_hex(6)


class Database:
    """One aiosqlite connection in WAL mode, migrated on open, with a write lock, and a second,
    read-only connection for the reads an interaction answers from.

    aiosqlite runs each connection's statements one after another on its own thread: a read
    on the writing connection waits behind every write queued before it (each commit an
    fsync), which under a sweep of thousands of jobs is hundreds of milliseconds. In WAL mode
    a reader never waits for the writer. Reads run through :meth:`read`, each whole in one
    call: statements interleaved on one connection share the read snapshot of the oldest one
    still open, and could go on seeing a job as it was seconds ago.
    """

    def __init__(
        self, db: aiosqlite.Connection, path: Path, reader: aiosqlite.Connection | None = None
    ) -> None:
        self.db = db
        self.path = path
        # Read-only; the writing connection itself for an in-memory database.
        self._reader = reader or db
        # One connection is shared by every task: a write issued while another task holds a
        # transaction would silently join it. Every write takes this lock.
        self.lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error), excluding other writers."""
        async with self.lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")

    async def write(self, sql: str, params: Iterable[Any] = ()) -> int:
        """One statement under the write lock; returns the number of rows changed."""
        async with self.lock:
            async with self.db.execute(sql, tuple(params)) as cur:
                return cur.rowcount

    @classmethod
    async def open(cls, path: str | Path) -> Self:
        path = Path(path)
        if str(path) != ":memory:":
            # It holds the bot's secrets: 0600, and SQLite gives its -wal and -shm files the
            # database's mode.
            private_dir(path.parent)
            create_private(path)
            tighten(path, f"{path}-wal", f"{path}-shm")
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            db.row_factory = aiosqlite.Row
            # Each PRAGMA's cursor is closed at once: an open one blocks the migrations' COMMIT.
            for pragma in (
                "PRAGMA journal_mode=WAL",
                # FULL: a commit survives power loss too, not only a crash of the process (in
                # WAL mode NORMAL can lose the last commits, e.g. a job's `submitting`, and
                # the job would be sent again). The write rate is tiny: bench/sqlite_writes.py.
                "PRAGMA synchronous=FULL",
                "PRAGMA foreign_keys=ON",
                "PRAGMA busy_timeout=5000",
            ):
                async with db.execute(pragma):
                    pass
            # An existing database with pending migrations is copied first (beside it).
            current = await schema_version(db)
            if 0 < current < LATEST and str(path) != ":memory:":
                await asyncio.to_thread(backup_before_migrating, path, current, LATEST)
            await migrate(db)
        except BaseException:
            # e.g. a database newer than this bot: don't leave the connection's thread behind.
            await db.close()
            raise
        if str(path) == ":memory:":
            return cls(db, path)
        try:
            reader = await _open_reader(path)
        except BaseException:
            await db.close()
            raise
        return cls(db, path, reader)

    async def close(self) -> None:
        try:
            if self._reader is not self.db:
                await self._reader.close()
        finally:
            await self.db.close()

    async def read(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        """Every row of one query, on the reading connection, as of the last commit: not
        queued behind the writes in progress (nor seeing a transaction not yet committed)."""
        return list(await self._reader.execute_fetchall(sql, tuple(params)))

    # -- meta ----------------------------------------------------------------------------
    async def get_meta(self, key: str) -> str | None:
        async with self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)) as cur:
            row = await cur.fetchone()
        return row["value"] if row else None

    async def set_meta(self, key: str, value: str) -> None:
        await self.write(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def secret(self, key: str) -> str:
        """A random secret created once and kept in the database (e.g. for callback tokens)."""
        value = await self.get_meta(key)
        if value is None:
            await self.write(
                "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)",
                (key, secrets.token_hex(32)),
            )
            value = await self.get_meta(key)
        assert value is not None
        return value


async def _open_reader(path: Path) -> aiosqlite.Connection:
    """A read-only connection to the (migrated, WAL) database at ``path``."""
    uri = f"{(await asyncio.to_thread(path.resolve)).as_uri()}?mode=ro"
    reader = await aiosqlite.connect(uri, uri=True, isolation_level=None)
    try:
        reader.row_factory = aiosqlite.Row
        for pragma in ("PRAGMA query_only=ON", "PRAGMA busy_timeout=5000"):
            async with reader.execute(pragma):
                pass
    except BaseException:
        await reader.close()
        raise
    return reader


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
