"""Reservations under concurrency: no limit is ever exceeded, within one process or across many.

The limits hold because each reservation is one ``BEGIN IMMEDIATE`` transaction: SQLite lets one
writer at a time check the counts and insert, across tasks, threads and processes alike.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot.config.settings import QuotaDefaults
from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.store import Store
from bot.quota.policy import QuotaRefused, Quotas

GUILD = 100
BOARD = Storyboard(shots=(Shot(scene="A kitten with headphones", tenths=100),), length=10)
DEFAULTS = QuotaDefaults(
    user_daily=None,
    user_concurrent=None,
    user_cooldown_seconds=0,
    guild_daily=None,
    guild_concurrent=3,
    guild_monthly_credits=None,
)


async def _attempt(quotas: Quotas, job_id: str, user_id: int) -> bool:
    try:
        await quotas.reserve(
            job_id=job_id,
            guild_id=GUILD,
            user_id=user_id,
            channel_id=None,
            role_ids=[],
            board=BOARD,
            model_name="sora-2-pro-storyboard",
            credits=150,
            now=time.time(),
        )
    except QuotaRefused as exc:
        assert exc.code in {"guild_concurrent", "guild_daily", "guild_budget", "user_concurrent"}
        return False
    return True


async def _rows(path: Path) -> list[tuple[str, int, str]]:
    store = await Store.open(path)
    try:
        async with store.db.execute("SELECT job_id, user_id, state FROM usage") as cur:
            return [tuple(r) for r in await cur.fetchall()]
    finally:
        await store.close()


async def _prepare(path: Path) -> None:
    """Create the database (migrations run once, before the workers open it)."""
    store = await Store.open(path)
    await store.close()


async def test_fifty_simultaneous_presses_start_exactly_three(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "q.db")
    try:
        quotas = Quotas(store, DEFAULTS)
        results = await asyncio.gather(*(_attempt(quotas, f"j{i}", i) for i in range(50)))
        assert sum(results) == 3
        summary = await quotas.usage(GUILD, 999, time.time())
        assert summary.guild_running == 3
        assert summary.refusal is not None and summary.refusal.code == "guild_concurrent"
    finally:
        await store.close()


async def test_many_limits_at_once_in_one_process(tmp_path: Path) -> None:
    """Users press many times: per-user and per-guild limits hold together."""
    store = await Store.open(tmp_path / "q.db")
    try:
        defaults = DEFAULTS.model_copy(update={"user_concurrent": 1, "guild_concurrent": 4})
        quotas = Quotas(store, defaults)
        presses = [(f"u{u}p{p}", u) for p in range(8) for u in range(6)]
        results = await asyncio.gather(*(_attempt(quotas, j, u) for j, u in presses))
        assert sum(results) == 4
        rows = await _rows(tmp_path / "q.db")
        users = [r[1] for r in rows]
        assert len(rows) == 4 and len(set(users)) == 4  # at most one each
    finally:
        await store.close()


def _thread_worker(path: Path, worker: int, attempts: int, barrier: threading.Barrier) -> int:
    async def run() -> int:
        store = await Store.open(path)
        try:
            quotas = Quotas(store, DEFAULTS)
            barrier.wait(timeout=10)
            won = 0
            for n in range(attempts):
                won += await _attempt(quotas, f"t{worker}-{n}", worker * 100 + n)
            return won
        finally:
            await store.close()

    return asyncio.run(run())


async def test_threads_with_their_own_connections_never_exceed_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    await _prepare(path)
    threads = 8
    barrier = threading.Barrier(threads)
    loop = asyncio.get_running_loop()
    # Its own pool: the default executor may have fewer threads than the barrier needs.
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = await asyncio.gather(
            *(
                loop.run_in_executor(pool, _thread_worker, path, w, 5, barrier)
                for w in range(threads)
            )
        )
    assert sum(results) == 3
    rows = await _rows(path)
    assert len(rows) == 3 and all(r[2] == "reserved" for r in rows)


def _process_worker(path: str, worker: int, attempts: int, barrier, out) -> None:  # type: ignore[no-untyped-def]
    won = _thread_worker(Path(path), worker, attempts, barrier)
    out.put(won)


def test_processes_never_exceed_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    asyncio.run(_prepare(path))
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(4)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_process_worker, args=(str(path), w, 10, barrier, out)) for w in range(4)
    ]
    for p in procs:
        p.start()
    try:
        won = [out.get(timeout=30) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
    assert all(p.exitcode == 0 for p in procs)
    assert sum(won) == 3
    rows = asyncio.run(_rows(path))
    assert len(rows) == 3
