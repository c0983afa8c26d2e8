"""The reading connection: reads an interaction answers from never queue behind the writes,
and always see the last commit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosqlite
import pytest

from bot.db.connection import Database

# A statement that keeps the writing connection's thread busy for a while (about a second on
# a slow machine): the kind of queue a sweep of thousands of jobs builds there.
SLOW_WRITE = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) "
    "UPDATE t SET v = (SELECT count(*) FROM n) WHERE id = 1"
)


@pytest.fixture
async def db(tmp_path: Path):
    database = await Database.open(tmp_path / "bot.db")
    await database.write("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
    async with database.transaction() as conn:
        await conn.executemany("INSERT INTO t VALUES (?, 0)", [(i,) for i in range(50)])
    yield database
    await database.close()


async def test_a_read_does_not_wait_behind_the_writes_queued_before_it(db):
    slow = asyncio.create_task(db.write(SLOW_WRITE))
    await asyncio.sleep(0)  # the slow write is on the writer's thread
    # Answered while the write was still running: queued behind it, the read would see 3000000.
    assert [r["v"] for r in await db.read("SELECT v FROM t WHERE id = 1")] == [0]
    await slow
    assert [r["v"] for r in await db.read("SELECT v FROM t WHERE id = 1")] == [3000000]


async def test_a_read_sees_what_was_committed_not_a_transaction_under_way(db):
    async with db.transaction() as conn:
        await conn.execute("UPDATE t SET v = 7 WHERE id = 2")
        assert [r["v"] for r in await db.read("SELECT v FROM t WHERE id = 2")] == [0]
    assert [r["v"] for r in await db.read("SELECT v FROM t WHERE id = 2")] == [7]


async def test_reads_interleaved_with_writes_each_see_the_last_commit(db):
    # Readers keep the reading connection busy while tasks write their own row and read it
    # back: a read that shared the snapshot of another one still open (statements interleaved
    # on the reading connection) would miss the write its own task had just committed.
    done = False

    async def browse() -> None:
        while not done:
            await db.read("SELECT * FROM t")

    async def one(i: int) -> list[int]:
        seen = []
        for n in range(1, 11):
            await db.write("UPDATE t SET v = ? WHERE id = ?", (n, i))
            seen.append((await db.read("SELECT v FROM t WHERE id = ?", (i,)))[0]["v"])
        return seen

    browsers = [asyncio.create_task(browse()) for _ in range(10)]
    try:
        assert await asyncio.gather(*(one(i) for i in range(20))) == [list(range(1, 11))] * 20
    finally:
        done = True
        await asyncio.gather(*browsers)


async def test_the_reading_connection_cannot_write(db):
    with pytest.raises(aiosqlite.OperationalError):
        await db.read("UPDATE t SET v = 1")
    assert [r["v"] for r in await db.read("SELECT v FROM t WHERE id = 0")] == [0]


async def test_an_in_memory_database_reads_on_its_one_connection():
    database = await Database.open(":memory:")
    try:
        await database.write("CREATE TABLE t (v)")
        await database.write("INSERT INTO t VALUES (1)")
        assert [r["v"] for r in await database.read("SELECT v FROM t")] == [1]
    finally:
        await database.close()
