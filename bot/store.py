"""The SQLite store (aiosqlite, WAL): jobs, drafts and their revisions, usage, secrets.

Every write that precedes a step costing money or posting a message is committed before the
step starts: a crash at any point leaves a row that says exactly what has and has not happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import aiosqlite
from pydantic import BaseModel, ConfigDict

from bot.backup import backup_before_migrating
from bot.files import create_private, private_dir, tighten
from bot.jobs.states import (
    ACTIVE_STATES,
    IllegalTransition,
    JobState,
    check,
)
from bot.migrations import LATEST, migrate, schema_version
from bot.storyboard import Storyboard


class Job(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    origin: str = "cli"
    owner_id: int | None = None
    guild_id: int | None = None
    channel_id: int | None = None
    draft_id: str | None = None
    revision: int | None = None
    card_message_id: int | None = None
    status_message_id: int | None = None
    result_message_id: int | None = None
    model: str
    storyboard: Storyboard
    image_path: str
    image_url: str | None = None
    task_id: str | None = None
    state: JobState
    kie_state: str | None = None
    progress: int | None = None
    fail_code: str | None = None  # a reason code (bot.reasons), rendered for members
    fail_msg: str | None = None  # the operator's detail: kie.ai's own words, hosts, fields
    fail_params: dict[str, Any] | None = None  # the reason's values
    # Held back because a kie.ai host cannot be reached: {"host", "setting", "since", "until"}.
    stall: dict[str, Any] | None = None
    result_url: str | None = None
    video_path: str | None = None
    video_bytes: int | None = None
    out_path: str | None = None
    delivery: str = "pending"
    reads: int = 0
    created_at: float
    submitted_at: float | None = None
    finished_at: float | None = None
    deadline_at: float
    next_check_at: float | None = None
    updated_at: float
    credits: int | None = None
    fallback_from: str | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


_JOB_COLUMNS = tuple(Job.model_fields)


_JSON_COLUMNS = frozenset({"fail_params", "stall"})


def _row_to_job(row: aiosqlite.Row) -> Job:
    data = dict(row)
    data["storyboard"] = Storyboard.model_validate_json(data["storyboard"])
    for key in _JSON_COLUMNS:
        if data.get(key) is not None:
            data[key] = json.loads(data[key])
    return Job.model_validate(data)


def _encode(key: str, value: Any) -> Any:
    if key == "storyboard" and isinstance(value, Storyboard):
        return value.model_dump_json()
    if key in _JSON_COLUMNS and value is not None:
        return json.dumps(value, sort_keys=True)
    if isinstance(value, StrEnum):
        return str(value)
    return value


@dataclass(frozen=True)
class JobOwner:
    """Which jobs one process follows: those of one origin ("discord", "cli"), or only the
    listed ids (a `render` or `resume`). The scheduler's queries filter by it in SQL, so a job
    another process left behind is never due here."""

    origin: str | None = None
    ids: frozenset[str] | None = None


def _owned(owner: JobOwner | None, skip: Collection[str]) -> tuple[str, list[Any]]:
    where, params = "", []
    if owner is not None and owner.ids is not None:
        ids = sorted(owner.ids)
        where += f" AND id IN ({', '.join('?' for _ in ids)})" if ids else " AND 0"
        params.extend(ids)
    elif owner is not None and owner.origin is not None:
        where += " AND origin = ?"
        params.append(owner.origin)
    if skip:
        where += f" AND id NOT IN ({', '.join('?' for _ in skip)})"
        params.extend(skip)
    return where, params


def new_id() -> str:
    return secrets.token_hex(6)


class Store:
    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self.db = db
        self.path = path
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
    async def open(cls, path: str | Path) -> Store:
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
        return cls(db, path)

    async def close(self) -> None:
        await self.db.close()

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

    # -- jobs ----------------------------------------------------------------------------
    async def create_job(self, **fields: Any) -> Job:
        now = time.time()
        fields.setdefault("id", new_id())
        fields.setdefault("state", JobState.QUEUED)
        fields.setdefault("created_at", now)
        fields.setdefault("updated_at", now)
        fields.setdefault("next_check_at", now)
        job = Job.model_validate(fields)
        data = {k: _encode(k, v) for k, v in job.model_dump().items()}
        data["storyboard"] = job.storyboard.model_dump_json()
        cols = ", ".join(data)
        marks = ", ".join("?" for _ in data)
        await self.write(f"INSERT INTO jobs ({cols}) VALUES ({marks})", data.values())
        return job

    async def get_job(self, job_id: str) -> Job | None:
        async with self.db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)) as cur:
            row = await cur.fetchone()
        return _row_to_job(row) if row else None

    async def job_by_task(self, task_id: str) -> Job | None:
        async with self.db.execute("SELECT * FROM jobs WHERE task_id = ?", (task_id,)) as cur:
            row = await cur.fetchone()
        return _row_to_job(row) if row else None

    async def transition(
        self, job_id: str, frm: JobState | Iterable[JobState], to: JobState, **fields: Any
    ) -> Job | None:
        """Move a job from one of ``frm`` to ``to`` (and write ``fields``), atomically: only
        if it is still in one of ``frm``. Returns the job as stored afterwards, or None when it
        had moved on (a Cancel press, a callback, another step). A pair the transition table
        does not allow raises IllegalTransition: nothing else may write ``state``."""
        states = [frm] if isinstance(frm, JobState) else list(frm)
        if not states:
            raise ValueError("transition needs at least one state to come from")
        check(states, to)
        return await self._write_job(job_id, states, {**fields, "state": to})

    async def update_job(
        self, job_id: str, *, expect: Iterable[JobState] | None = None, **fields: Any
    ) -> Job | None:
        """Write ``fields`` (never ``state``: see :meth:`transition`); with ``expect``, only if
        the job is still in one of those states.

        Returns the job as stored afterwards, or None when ``expect`` did not hold.
        """
        if "state" in fields:
            raise IllegalTransition("a job's state changes only through Store.transition")
        return await self._write_job(job_id, None if expect is None else list(expect), fields)

    async def _write_job(
        self, job_id: str, expect: list[JobState] | None, fields: dict[str, Any]
    ) -> Job | None:
        unknown = set(fields) - set(_JOB_COLUMNS)
        if unknown:
            raise KeyError(f"not job columns: {sorted(unknown)}")
        fields["updated_at"] = time.time()
        sets = ", ".join(f"{k} = ?" for k in fields)
        params: list[Any] = [_encode(k, v) for k, v in fields.items()]
        sql = f"UPDATE jobs SET {sets} WHERE id = ?"
        params.append(job_id)
        if expect is not None:
            states = [str(s) for s in expect]
            sql += f" AND state IN ({', '.join('?' for _ in states)})"
            params.extend(states)
        if await self.write(sql, params) == 0:
            return None
        return await self.get_job(job_id)

    async def due_jobs(
        self,
        now: float,
        limit: int = 100,
        *,
        owner: JobOwner | None = None,
        skip: Collection[str] = (),
    ) -> list[Job]:
        """Jobs due by ``now`` that ``owner`` processes (all jobs without one), oldest due
        first, leaving out ``skip`` (the ids a step is already working on)."""
        where, params = _owned(owner, skip)
        async with self.db.execute(
            f"SELECT * FROM jobs WHERE next_check_at IS NOT NULL AND next_check_at <= ?{where} "
            "ORDER BY next_check_at LIMIT ?",
            (now, *params, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [_row_to_job(r) for r in rows]

    async def next_check_at(
        self, *, owner: JobOwner | None = None, skip: Collection[str] = ()
    ) -> float | None:
        """When the next job ``owner`` processes falls due (None: none is scheduled)."""
        where, params = _owned(owner, skip)
        async with self.db.execute(
            f"SELECT MIN(next_check_at) FROM jobs WHERE next_check_at IS NOT NULL{where}",
            params,
        ) as cur:
            row = await cur.fetchone()
        return row[0] if row and row[0] is not None else None

    async def queue_position(self, job_id: str) -> int | None:
        """1-based position among jobs not yet sent to kie.ai, oldest first."""
        async with self.db.execute(
            "SELECT id FROM jobs WHERE state = ? ORDER BY created_at, id", (JobState.QUEUED,)
        ) as cur:
            ids = [r[0] for r in await cur.fetchall()]
        return ids.index(job_id) + 1 if job_id in ids else None

    async def jobs_for_owner(
        self, guild_id: int | None, owner_id: int, limit: int = 10
    ) -> list[Job]:
        async with self.db.execute(
            "SELECT * FROM jobs WHERE guild_id IS ? AND owner_id = ? "
            "ORDER BY created_at DESC LIMIT ?",
            (guild_id, owner_id, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [_row_to_job(r) for r in rows]

    async def recent_jobs(self, limit: int = 20) -> list[Job]:
        async with self.db.execute(
            "SELECT * FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,)
        ) as cur:
            rows = await cur.fetchall()
        return [_row_to_job(r) for r in rows]


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


__all__ = ["ACTIVE_STATES", "Job", "JobOwner", "JobState", "Store", "new_id"]
