"""bot.quota.admin: setting changes, their log and resets.

Each add or remove of a channel, role or blocked term reads the list and writes it back in one
``BEGIN IMMEDIATE`` transaction, so no change is lost when two admins make one at once: not
between tasks sharing a connection, nor between connections or processes sharing the file.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

from bot.config.settings import QuotaDefaults
from bot.jobs.store import Store
from bot.quota.policy import Quotas
from bot.quota.settings import SETTING_NAMES, GuildQuota
from tests.bot.quota.shared import ALICE, BOB, GUILD, OPEN, OTHER_GUILD


async def test_change_log_and_reset(quotas: Quotas) -> None:
    await quotas.set(GUILD, "user_daily", "3", actor_id=ALICE)
    await quotas.set(GUILD, "user_daily", "4", actor_id=BOB)
    await quotas.set(GUILD, "timezone", "Asia/Shanghai", actor_id=ALICE)
    changes = await quotas.changes(GUILD)
    assert [(c.actor_id, c.setting, c.old, c.new) for c in changes] == [
        (ALICE, "timezone", "UTC", "Asia/Shanghai"),
        (BOB, "user_daily", 3, 4),
        (ALICE, "user_daily", None, 3),
    ]
    assert all(c.at > 0 for c in changes)
    assert len(await quotas.changes(GUILD, limit=1)) == 1

    await quotas.reset(GUILD, actor_id=BOB, name="timezone")
    assert (await quotas.get(GUILD)).timezone == "UTC"
    assert (await quotas.get(GUILD)).user_daily == 4
    await quotas.reset(GUILD, actor_id=BOB)
    assert await quotas.get(GUILD) == GuildQuota.model_validate(
        OPEN.model_dump(include=set(SETTING_NAMES))
    )
    latest = await quotas.changes(GUILD, limit=2)
    assert [(c.actor_id, c.setting, c.old, c.new) for c in latest] == [
        (BOB, "user_daily", 4, None),
        (BOB, "timezone", "Asia/Shanghai", "UTC"),
    ]
    assert await quotas.changes(OTHER_GUILD) == []


async def test_list_items_add_and_remove(quotas: Quotas) -> None:
    await quotas.add_item(GUILD, "channels", "<#11>", actor_id=ALICE)
    await quotas.add_item(GUILD, "channels", 12, actor_id=ALICE)
    # Already there: nothing changes and nothing is logged.
    assert await quotas.add_item(GUILD, "channels", "11", actor_id=ALICE) == ([11, 12], [11, 12])
    assert (await quotas.get(GUILD)).channels == [11, 12]
    assert await quotas.remove_item(GUILD, "channels", "<#11>", actor_id=ALICE) == ([11, 12], [12])
    assert await quotas.remove_item(GUILD, "channels", 11, actor_id=ALICE) == ([12], [12])
    assert (await quotas.get(GUILD)).channels == [12]
    changes = await quotas.changes(GUILD)
    assert [(c.old, c.new) for c in changes] == [([11, 12], [12]), ([11], [11, 12]), ([], [11])]


# -- two admins at once ----------------------------------------------------------------------

ADMIN, OTHER_ADMIN = 1, 2


async def _open(path: Path) -> tuple[Store, Quotas]:
    store = await Store.open(path)
    return store, Quotas(store, QuotaDefaults())


async def test_two_channels_added_at_once_both_stay(tmp_path: Path) -> None:
    store, quotas = await _open(tmp_path / "q.db")
    try:
        await asyncio.gather(
            quotas.add_item(GUILD, "channels", 11, actor_id=ADMIN),
            quotas.add_item(GUILD, "channels", 12, actor_id=OTHER_ADMIN),
        )
        assert sorted((await quotas.get(GUILD)).channels) == [11, 12]
        # Each change is logged against the list as it was when it was made.
        changes = sorted(await quotas.changes(GUILD), key=lambda c: c.at)
        assert [(c.old, c.new) for c in changes] in (
            [([], [11]), ([11], [11, 12])],
            [([], [12]), ([12], [12, 11])],
        )
    finally:
        await store.close()


async def test_many_roles_added_at_once_all_stay(tmp_path: Path) -> None:
    store, quotas = await _open(tmp_path / "q.db")
    try:
        roles = list(range(21, 41))
        await asyncio.gather(*(quotas.add_item(GUILD, "roles", r, actor_id=ADMIN) for r in roles))
        assert sorted((await quotas.get(GUILD)).roles) == roles
        assert len(await quotas.changes(GUILD, limit=100)) == len(roles)
    finally:
        await store.close()


async def test_two_channels_removed_at_once_both_go(tmp_path: Path) -> None:
    store, quotas = await _open(tmp_path / "q.db")
    try:
        await quotas.set(GUILD, "channels", "11, 12, 13", actor_id=ADMIN)
        await asyncio.gather(
            quotas.remove_item(GUILD, "channels", 11, actor_id=ADMIN),
            quotas.remove_item(GUILD, "channels", 13, actor_id=OTHER_ADMIN),
        )
        assert (await quotas.get(GUILD)).channels == [12]
    finally:
        await store.close()


async def test_an_add_and_a_remove_at_once_both_apply(tmp_path: Path) -> None:
    store, quotas = await _open(tmp_path / "q.db")
    try:
        await quotas.set(GUILD, "channels", "11", actor_id=ADMIN)
        await asyncio.gather(
            quotas.add_item(GUILD, "channels", 12, actor_id=ADMIN),
            quotas.remove_item(GUILD, "channels", 11, actor_id=OTHER_ADMIN),
        )
        assert (await quotas.get(GUILD)).channels == [12]
    finally:
        await store.close()


async def test_two_blocked_terms_added_and_removed_at_once(tmp_path: Path) -> None:
    store, quotas = await _open(tmp_path / "q.db")
    try:
        await asyncio.gather(
            quotas.add_item(GUILD, "blocked_terms", "gore", actor_id=ADMIN),
            quotas.add_item(GUILD, "blocked_terms", "血腥", actor_id=OTHER_ADMIN),
            quotas.add_item(GUILD, "blocked_terms", "weapons, drugs", actor_id=ADMIN),
        )
        assert sorted((await quotas.get(GUILD)).blocked_terms) == sorted(
            ["gore", "血腥", "weapons", "drugs"]
        )
        await asyncio.gather(
            quotas.remove_item(GUILD, "blocked_terms", "gore", actor_id=ADMIN),
            quotas.remove_item(GUILD, "blocked_terms", "drugs", actor_id=OTHER_ADMIN),
        )
        assert sorted((await quotas.get(GUILD)).blocked_terms) == sorted(["血腥", "weapons"])
    finally:
        await store.close()


async def test_two_connections_adding_at_once_both_stay(tmp_path: Path) -> None:
    """Two connections to one file (two bot processes): SQLite's write lock orders them."""
    path = tmp_path / "q.db"
    (one, first), (two, second) = await _open(path), await _open(path)
    try:
        await asyncio.gather(
            *(first.add_item(GUILD, "channels", c, actor_id=ADMIN) for c in (11, 13, 15)),
            *(second.add_item(GUILD, "channels", c, actor_id=OTHER_ADMIN) for c in (12, 14, 16)),
            first.add_item(GUILD, "blocked_terms", "gore", actor_id=ADMIN),
            second.add_item(GUILD, "blocked_terms", "blood", actor_id=OTHER_ADMIN),
        )
        for quotas in (first, second):
            quota = await quotas.get(GUILD)
            assert sorted(quota.channels) == [11, 12, 13, 14, 15, 16]
            assert sorted(quota.blocked_terms) == ["blood", "gore"]
        await asyncio.gather(
            first.remove_item(GUILD, "channels", 11, actor_id=ADMIN),
            second.remove_item(GUILD, "channels", 12, actor_id=OTHER_ADMIN),
        )
        assert sorted((await first.get(GUILD)).channels) == [13, 14, 15, 16]
    finally:
        await one.close()
        await two.close()


def _process_worker(path: str, channels: list[int], barrier, out) -> None:  # type: ignore[no-untyped-def]
    async def run() -> None:
        store, quotas = await _open(Path(path))
        try:
            barrier.wait(timeout=20)
            await asyncio.gather(
                *(quotas.add_item(GUILD, "channels", c, actor_id=ADMIN) for c in channels)
            )
        finally:
            await store.close()

    asyncio.run(run())
    out.put(len(channels))


def test_two_processes_adding_at_once_all_stay(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    store, _ = asyncio.run(_open(path))  # migrated once, before the workers open it
    asyncio.run(store.close())
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    out = ctx.Queue()
    halves = [[11, 13, 15, 17], [12, 14, 16, 18]]
    procs = [ctx.Process(target=_process_worker, args=(str(path), h, barrier, out)) for h in halves]
    for p in procs:
        p.start()
    try:
        done = [out.get(timeout=60) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
    assert all(p.exitcode == 0 for p in procs) and done == [4, 4]

    async def channels() -> list[int]:
        store, quotas = await _open(path)
        try:
            return sorted((await quotas.get(GUILD)).channels)
        finally:
            await store.close()

    assert asyncio.run(channels()) == list(range(11, 19))
