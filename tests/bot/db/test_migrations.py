"""Schema migrations: from an empty file to each version, and from every version to the latest."""

from __future__ import annotations

import gc
import time
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest

from bot.db import migrations
from bot.db.migrations import LATEST, MIGRATIONS, MigrationError, migrate, schema_version
from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.store import JobState, Store

BOARD = Storyboard(
    shots=(
        Shot(scene="一只小猫戴着耳机", tenths=75),
        Shot(scene="The kitten", tenths=75, auto=True),
    ),
    length=15,
    aspect="portrait",
)


@pytest.fixture
async def connect(tmp_path: Path) -> AsyncIterator:
    opened: list[aiosqlite.Connection] = []

    async def _connect(name: str = "db.sqlite") -> aiosqlite.Connection:
        db = await aiosqlite.connect(tmp_path / name, isolation_level=None)
        db.row_factory = aiosqlite.Row
        opened.append(db)
        return db

    yield _connect
    for db in opened:
        await db.close()


async def schema(db: aiosqlite.Connection) -> tuple[int, list[tuple[str, str, str, str | None]]]:
    async with db.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master "
        "WHERE type IN ('table', 'index') ORDER BY type, name"
    ) as cur:
        rows = [tuple(r) for r in await cur.fetchall()]
    return await schema_version(db), rows


async def tables(db: aiosqlite.Connection) -> set[str]:
    async with db.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cur:
        return {r[0] for r in await cur.fetchall()}


async def columns(db: aiosqlite.Connection, table: str) -> set[str]:
    async with db.execute(f"PRAGMA table_info({table})") as cur:
        return {r[1] for r in await cur.fetchall()}


def test_there_is_at_least_one_migration():
    assert LATEST == len(MIGRATIONS) >= 2


@pytest.mark.parametrize("version", range(LATEST + 1))
async def test_an_empty_file_migrates_to_each_version(connect, version):
    db = await connect()
    assert await schema_version(db) == 0
    assert await migrate(db, target=version) == version
    async with db.execute("PRAGMA user_version") as cur:
        assert (await cur.fetchone())[0] == version
    names = await tables(db)
    if version == 0:
        assert names == set()
    if version >= 1:
        assert {"meta", "drafts", "draft_revisions", "jobs"} <= names
    if version == 1:
        assert "usage" not in names and "credits" not in await columns(db, "jobs")
    if version >= 2:
        assert "usage" in names and {"credits", "fallback_from"} <= await columns(db, "jobs")
    # Migrating to the same version again changes nothing.
    before = await schema(db)
    assert await migrate(db, target=version) == version
    assert await schema(db) == before


@pytest.mark.parametrize("start", range(LATEST))
async def test_every_earlier_version_upgrades_to_the_fresh_schema(connect, start):
    fresh = await connect("fresh.sqlite")
    assert await migrate(fresh) == LATEST

    old = await connect("old.sqlite")
    await migrate(old, target=start)
    assert await schema_version(old) == start
    assert await migrate(old) == LATEST

    assert await schema(old) == await schema(fresh)
    version, rows = await schema(fresh)
    assert version == LATEST
    assert any(r[0] == "index" and r[1] == "jobs_due" for r in rows)


async def test_a_job_written_at_version_1_survives_the_upgrade(connect, tmp_path):
    db = await connect()
    await migrate(db, target=1)
    now = time.time()
    await db.execute(
        "INSERT INTO jobs (id, origin, owner_id, guild_id, channel_id, model, storyboard, "
        "image_path, task_id, state, kie_state, progress, result_url, created_at, deadline_at, "
        "next_check_at, updated_at) VALUES (?, 'discord', 7, 8, 9, 'sora-2-pro-storyboard', ?, "
        "'img.png', 'task_1', 'running', 'generating', 40, NULL, ?, ?, ?, ?)",
        ("job1", BOARD.model_dump_json(), now, now + 1800, now + 10, now),
    )
    await db.execute("INSERT INTO meta (key, value) VALUES ('callback_secret', 'abc')")

    assert await migrate(db) == LATEST
    store = Store(db, tmp_path / "db.sqlite")
    job = await store.get_job("job1")
    assert job is not None
    assert job.storyboard == BOARD
    assert (job.origin, job.owner_id, job.guild_id, job.channel_id) == ("discord", 7, 8, 9)
    assert (job.task_id, job.state, job.kie_state, job.progress) == (
        "task_1",
        JobState.RUNNING,
        "generating",
        40,
    )
    assert job.deadline_at == now + 1800
    assert (job.credits, job.fallback_from, job.delivery, job.reads) == (None, None, "pending", 0)
    assert await store.job_by_task("task_1") == job
    assert await store.secret("callback_secret") == "abc"


async def test_a_database_newer_than_the_bot_is_refused(connect, tmp_path):
    db = await connect("newer.sqlite")
    await migrate(db)
    await db.execute(f"PRAGMA user_version = {LATEST + 1}")
    before = await schema(db)

    with pytest.raises(MigrationError, match="newer"):
        await migrate(db)
    assert await schema(db) == before
    with pytest.raises(MigrationError):
        await Store.open(tmp_path / "newer.sqlite")


async def test_a_refused_open_closes_its_connection(connect, tmp_path):
    db = await connect("newer.sqlite")
    await db.execute(f"PRAGMA user_version = {LATEST + 1}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            await Store.open(tmp_path / "newer.sqlite")
        except MigrationError:
            pass
        gc.collect()
    leaks = [w for w in caught if "deleted before being closed" in str(w.message)]
    assert leaks == []


async def test_a_failing_migration_leaves_the_previous_version_intact(connect, monkeypatch):
    db = await connect()
    await migrate(db)
    before = await schema(db)
    broken = "CREATE TABLE half_done (x INTEGER);\nCREATE TABLE broken (;"
    monkeypatch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS, broken])

    with pytest.raises(aiosqlite.OperationalError):
        await migrate(db, target=LATEST + 1)

    assert not db.in_transaction
    await db.execute("CREATE TABLE later (x INTEGER)")  # the next write commits on its own
    version, rows = await schema(db)
    assert version == LATEST
    assert "half_done" not in {r[1] for r in rows}
    assert [r for r in rows if r[1] != "later"] == before[1]


async def test_the_store_runs_in_wal_mode(tmp_path):
    store = await Store.open(tmp_path / "sub" / "bot.db")
    try:
        async with store.db.execute("PRAGMA journal_mode") as cur:
            assert (await cur.fetchone())[0] == "wal"
        async with store.db.execute("PRAGMA foreign_keys") as cur:
            assert (await cur.fetchone())[0] == 1
        assert await schema_version(store.db) == LATEST
    finally:
        await store.close()
