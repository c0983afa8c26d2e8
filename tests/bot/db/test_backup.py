"""Online backups of the SQLite database, and the backup taken before migrations."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from pathlib import Path

import aiosqlite
import pytest

from bot.db import backup as backup_mod
from bot.db.backup import BackupError, backup, inspect, migration_backup_path, recent_jobs
from bot.db.migrations import LATEST, migrate, schema_version
from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.store import JobState, Store

BOARD = Storyboard(
    shots=(Shot(scene="A kitten with headphones " * 10, tenths=75), Shot(scene="b", tenths=75)),
    length=15,
    aspect="landscape",
)


async def add_job(store: Store, n: int) -> str:
    job = await store.create_job(
        id=f"job{n:06d}",
        model="sora-2-pro-storyboard",
        storyboard=BOARD,
        image_path=f"/media/images/{n}.png",
        deadline_at=time.time() + 1800,
        credits=270,
    )
    return job.id


def ids_in(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {r[0] for r in db.execute("SELECT id FROM jobs")}
    finally:
        db.close()


def integrity(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [r[0] for r in db.execute("PRAGMA integrity_check")]
    finally:
        db.close()


async def test_a_backup_while_jobs_are_written_holds_every_job_committed_before_it(store, tmp_path):
    # Enough rows that a copy takes a while, so writes land while it runs.
    async with store.transaction() as db:
        for n in range(3000):
            await db.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (f"pad{n}", "x" * 1000))
    committed: list[str] = []
    stop = asyncio.Event()
    wrote = asyncio.Event()

    async def writer() -> None:
        n = 0
        while not stop.is_set():
            committed.append(await add_job(store, n))  # appended once committed
            wrote.set()
            n += 1
            if n % 5 == 0:  # and some multi-statement transactions, as the tracker makes
                async with store.transaction() as db:
                    await db.execute(
                        "UPDATE jobs SET reads = reads + 1 WHERE id = ?", (f"job{n - 1:06d}",)
                    )
                    await db.execute("UPDATE meta SET value = ? WHERE key = 'pad0'", (str(n),))

    task = asyncio.create_task(writer())
    try:
        copies = []
        during: list[int] = []  # jobs committed while each copy was being made
        for i in range(5):
            while len(committed) < 20 * (i + 1):
                wrote.clear()
                await wrote.wait()
            before = list(committed)  # every job committed before this backup started
            dest = tmp_path / f"copy{i}.db"
            result = await asyncio.to_thread(backup, store.path, dest)
            copies.append((dest, result, before))
            during.append(len(committed) - len(before))
    finally:
        stop.set()
        await task
    assert sum(during) > 0  # the writer kept committing while the copies were made
    for dest, result, before in copies:
        assert integrity(dest) == ["ok"]
        held = ids_in(dest)
        assert set(before) <= held
        assert held <= set(committed)
        assert result.path == dest
        assert result.jobs == len(held)
        assert result.size == dest.stat().st_size
        assert result.version == LATEST
        # A self-contained file: no WAL beside it, none needed.
        assert not Path(f"{dest}-wal").exists()
        assert result.line() == (
            f"{dest}: {result.size} bytes, {result.jobs} jobs, schema v{LATEST}, integrity ok"
        )
    # The live database is untouched and still takes writes.
    await add_job(store, 999_999)
    assert (await store.get_job("job999999")) is not None


async def test_a_restored_copy_opens_as_the_store(store, tmp_path):
    for n in range(3):
        await add_job(store, n)
    await store.transition("job000001", JobState.QUEUED, JobState.SUBMITTING)
    await store.transition("job000001", JobState.SUBMITTING, JobState.RUNNING, task_id="task_1")
    dest = tmp_path / "backup.db"
    await asyncio.to_thread(backup, store.path, dest)

    restored = tmp_path / "restored" / "store.db"
    restored.parent.mkdir()
    restored.write_bytes(dest.read_bytes())
    again = await Store.open(restored)
    try:
        job = await again.get_job("job000001")
        assert job is not None and job.state == JobState.RUNNING and job.task_id == "task_1"
        assert job.storyboard == BOARD
        assert len(await again.recent_jobs()) == 3
        async with again.db.execute("PRAGMA journal_mode") as cur:
            assert (await cur.fetchone())[0] == "wal"
    finally:
        await again.close()


async def test_a_directory_gets_a_dated_file(store, tmp_path):
    await add_job(store, 1)
    out = tmp_path / "backups"
    out.mkdir()
    result = await asyncio.to_thread(backup, store.path, out)
    assert result.path.parent == out
    assert result.path.name.startswith("store-") and result.path.suffix == ".db"
    assert ids_in(result.path) == {"job000001"}
    assert [p.name for p in out.iterdir()] == [result.path.name]  # no partial file left


async def test_refusals(store, tmp_path):
    with pytest.raises(BackupError, match="is the database itself"):
        backup(store.path, store.path)
    with pytest.raises(BackupError, match="is the database itself"):
        backup(store.path, Path(f"{store.path}-wal"))
    with pytest.raises(BackupError, match="no database at"):
        backup(tmp_path / "missing.db", tmp_path / "copy.db")
    with pytest.raises(BackupError, match="is not a directory"):
        backup(store.path, tmp_path / "no" / "such" / "dir" / "copy.db")
    assert not (tmp_path / "missing.db").exists()  # a backup never creates the source


def test_a_corrupt_database_fails_the_check_and_leaves_no_copy(tmp_path):
    src = tmp_path / "bad.db"
    db = sqlite3.connect(src)
    db.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, body TEXT)")
    db.execute("CREATE INDEX jobs_body ON jobs(body)")
    db.executemany("INSERT INTO jobs VALUES (?, ?)", [(str(i), "x" * 200) for i in range(2000)])
    db.commit()
    db.close()
    raw = bytearray(src.read_bytes())
    page = 4096
    for offset in range(page * 20, page * 24):  # garble a few pages in the middle
        raw[offset] = 0x55
    src.write_bytes(bytes(raw))

    dest = tmp_path / "copy.db"
    with pytest.raises(BackupError) as caught:
        backup(src, dest)
    assert "bad.db" in str(caught.value)
    assert not dest.exists()
    assert list(tmp_path.glob(".*partial")) == []


async def test_inspect_and_recent_jobs_read_without_migrating(tmp_path):
    path = tmp_path / "old.db"
    db = await aiosqlite.connect(path, isolation_level=None)
    try:
        await migrate(db, target=1)
        await _v1_job(db, "old1", created_at=100.0)
        await _v1_job(db, "old2", created_at=200.0)
        await db.execute("INSERT INTO meta (key, value) VALUES ('callback_secret', 'shh')")
        await db.execute("INSERT INTO meta (key, value) VALUES ('mode', 'full')")
    finally:
        await db.close()
    info = inspect(path, ["mode"])
    assert (info.version, info.jobs, info.pending) == (1, 2, LATEST - 1)
    assert info.states == {"running": 2}
    assert info.meta == {"mode": "full"}  # only the keys asked for: never the secrets
    rows = recent_jobs(path, limit=1)
    assert [r["id"] for r in rows] == ["old2"]
    assert "credits" not in rows[0]  # a v2 column, not there yet
    assert inspect(path).version == 1  # still at v1: nothing was migrated
    assert list(tmp_path.glob("*.bak")) == []


async def _v1_job(db: aiosqlite.Connection, job_id: str, created_at: float = 0.0) -> None:
    await db.execute(
        "INSERT INTO jobs (id, model, storyboard, image_path, state, created_at, deadline_at, "
        "updated_at) VALUES (?, 'sora-2-pro-storyboard', ?, 'img.png', 'running', ?, ?, ?)",
        (job_id, BOARD.model_dump_json(), created_at, created_at + 1800, created_at),
    )


# -- the backup before migrations ------------------------------------------------------------
async def _old_database(path: Path, version: int = 1) -> None:
    db = await aiosqlite.connect(path, isolation_level=None)
    try:
        await migrate(db, target=version)
        await _v1_job(db, "old1", created_at=time.time())
        await db.execute("INSERT INTO meta (key, value) VALUES ('callback_secret', 'abc')")
    finally:
        await db.close()


@pytest.mark.parametrize("start", range(1, LATEST))
async def test_migrations_back_an_existing_database_up_first(tmp_path, caplog, start):
    path = tmp_path / "bot.db"
    await _old_database(path, start)
    caplog.set_level(logging.INFO, logger="bot.db.backup")

    store = await Store.open(path)
    try:
        assert await schema_version(store.db) == LATEST
        assert (await store.get_job("old1")) is not None
    finally:
        await store.close()

    copy = tmp_path / f"bot.db.before-v{LATEST}.bak"
    assert copy.is_file()
    info = inspect(copy)
    assert (info.version, info.jobs) == (start, 1)  # the database as it was, before
    assert integrity(copy) == ["ok"]
    [record] = [r for r in caplog.records if r.name == "bot.db.backup"]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert f"schema v{start}" in message and str(copy) in message
    assert f"{LATEST - start} migration" in message and f"before migrating to v{LATEST}" in message

    # Opening it again (now at the latest version) takes no other copy.
    again = await Store.open(path)
    await again.close()
    assert sorted(p.name for p in tmp_path.glob("*.bak")) == [copy.name]


async def test_a_new_database_and_a_current_one_are_not_backed_up(tmp_path):
    path = tmp_path / "fresh.db"
    for _ in range(2):
        store = await Store.open(path)
        await store.close()
    assert list(tmp_path.glob("*.bak")) == []


async def test_an_earlier_migration_backup_is_kept(tmp_path):
    path = tmp_path / "bot.db"
    await _old_database(path)
    first = migration_backup_path(path)
    first.write_bytes(b"an earlier copy")
    store = await Store.open(path)
    await store.close()
    assert first.read_bytes() == b"an earlier copy"
    second = tmp_path / f"bot.db.before-v{LATEST}-2.bak"
    assert inspect(second).version == 1


async def test_no_migration_without_its_backup(tmp_path, monkeypatch):
    path = tmp_path / "bot.db"
    await _old_database(path)

    def full_disk(source, dest):
        raise BackupError(f"could not back {source} up: database or disk is full")

    monkeypatch.setattr(backup_mod, "backup", full_disk)
    with pytest.raises(BackupError, match="disk is full; the database was not migrated"):
        await Store.open(path)
    assert inspect(path).version == 1


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs root to own files as another user",
)
async def test_root_reading_a_stopped_bots_database_leaves_its_files_to_the_bots_user(tmp_path):
    path = tmp_path / "bot.db"
    store = await Store.open(path)
    await add_job(store, 1)
    await store.close()  # the last connection: -wal and -shm are removed
    assert not Path(f"{path}-shm").exists()
    uid, gid = 65534, 65534  # nobody
    os.chown(path, uid, gid)

    inspect(path)
    backup(path, tmp_path / "copy.db")
    for extra in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        if extra.exists():
            assert (extra.stat().st_uid, extra.stat().st_gid) == (uid, gid), extra
