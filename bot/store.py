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
from collections.abc import AsyncIterator, Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any

import aiosqlite
from pydantic import BaseModel, ConfigDict

from bot.backup import backup_before_migrating
from bot.migrations import LATEST, migrate, schema_version
from bot.storyboard import Storyboard


class JobState(StrEnum):
    QUEUED = "queued"  # stored, not yet sent to kie.ai (may be held back by the rate limit)
    SUBMITTING = "submitting"  # createTask is being sent: a crash here means "outcome unknown"
    RUNNING = "running"  # kie.ai accepted it (task_id known)
    SUCCEEDED = "succeeded"  # kie.ai finished it (result_url known)
    FETCHED = "fetched"  # the video is on our disk (video_path)
    DELIVERED = "delivered"  # handed to the delivery (posted / written)
    FAILED = "failed"  # kie.ai says the generation failed (fail_msg)
    REFUSED = "refused"  # kie.ai refused it before creating a task: nothing was spent
    UNKNOWN = "unknown"  # createTask outcome unknown: never resubmitted
    EXPIRED = "expired"  # the deadline passed
    CANCELLED = "cancelled"  # cancelled before it was submitted
    UNDELIVERABLE = "undeliverable"  # the video exists but could not be delivered


ACTIVE_STATES = frozenset(
    {
        JobState.QUEUED,
        JobState.SUBMITTING,
        JobState.RUNNING,
        JobState.SUCCEEDED,
        JobState.FETCHED,
        JobState.UNKNOWN,
    }
)
TERMINAL_STATES = frozenset(set(JobState) - ACTIVE_STATES)


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
            path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            db.row_factory = aiosqlite.Row
            # Each PRAGMA's cursor is closed at once: an open one blocks the migrations' COMMIT.
            for pragma in (
                "PRAGMA journal_mode=WAL",
                "PRAGMA synchronous=NORMAL",
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

    async def update_job(
        self, job_id: str, *, expect: Iterable[JobState] | None = None, **fields: Any
    ) -> Job | None:
        """Write ``fields``; with ``expect``, only if the job is still in one of those states.

        Returns the job as stored afterwards, or None when ``expect`` did not hold.
        """
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

    async def due_jobs(self, now: float, limit: int = 100) -> list[Job]:
        async with self.db.execute(
            "SELECT * FROM jobs WHERE next_check_at IS NOT NULL AND next_check_at <= ? "
            "ORDER BY next_check_at LIMIT ?",
            (now, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [_row_to_job(r) for r in rows]

    async def next_check_at(self) -> float | None:
        async with self.db.execute(
            "SELECT MIN(next_check_at) FROM jobs WHERE next_check_at IS NOT NULL"
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
