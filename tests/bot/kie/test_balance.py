"""The low-balance warning: once when the balance falls under the level, again after a refill."""

from __future__ import annotations

from bot.jobs.store import Store
from bot.kie.balance import check_balance
from tests.fakes.memkie import MemoryKie


async def test_warns_once_and_rearms_after_a_top_up(tmp_path):
    store = await Store.open(tmp_path / "b.db")
    kie = MemoryKie(lambda: 0.0)
    kie.fake.credits = 5000
    assert await check_balance(kie, store, 1000) is None
    kie.fake.credits = 800.5
    assert await check_balance(kie, store, 1000) == 800.5
    assert await check_balance(kie, store, 1000) is None  # told once
    kie.fake.credits = 2000
    assert await check_balance(kie, store, 1000) is None
    kie.fake.credits = 10
    assert await check_balance(kie, store, 1000) == 10  # re-armed by the top-up
    assert await check_balance(kie, store, 0) is None  # 0: never warn
    await store.close()
