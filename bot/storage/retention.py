"""The retention policy for stored reference images and videos, and what one member may store.

Whose files, and which are never removed or removed at once, is bot.storage.catalog: an
unfinished job's files and a live draft's current image are never removed, nor the segment
videos and frames of a chain still under way; those of a chain that delivered or ended go
:data:`CHAIN_GRACE` after it ended.

A sweep (every ``[retention] sweep_minutes``)
    1. A finished chain's spent segment videos and frames go, and files older than ``days``.
    2. While the media directory holds more than ``max_bytes`` (or its disk has less than
       ``min_free_bytes`` free), in this order:

       a. files that are nobody's, oldest first;
       b. the files of members over their own share (their guild's ``user_storage_mb``; bot
          owners have none): the member furthest over loses their oldest file, and again, until
          everyone is within their share;
       c. then the member who stores the most loses their oldest file, and again.

    So a member who stores a lot only ever pushes out their own files first.

Caps (:func:`check_room`, before anything is stored)
    When a member makes a draft, their live drafts with a posted card (``user_active_drafts``);
    when they make one or add an image to one, the bytes they store in the guild with the new
    image (``user_storage_mb``; the files of their own discarded drafts are removed first to make
    room), and the disk's free space (``min_free_mb``). A refusal is a :class:`StorageRefused`
    naming the cap and the numbers.

A guild's files go when the bot leaves it (:func:`forget_guild`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.domain.errors import UserError
from bot.jobs.store import Store
from bot.storage.catalog import CHAIN_GRACE, POSTING_GRACE, Catalog, Holder, catalog

if TYPE_CHECKING:
    from bot.quota.policy import Quotas

log = logging.getLogger(__name__)

SUBDIRS = ("images", "drafts", "videos")
MB = 1_000_000
__all__ = [
    "CHAIN_GRACE",
    "POSTING_GRACE",
    "StorageRefused",
    "SweepResult",
    "check_room",
    "forget_guild",
    "free_bytes",
    "live_cards",
    "member_bytes",
    "reclaim",
    "sweep",
]


@dataclass(frozen=True)
class SweepResult:
    removed: int
    freed: int
    kept_bytes: int


class StorageRefused(UserError):
    """A draft or an image refused before it was stored: ``code`` names the cap
    (``user_drafts``, ``user_storage``, ``disk_full``), ``params`` hold the numbers (and the
    English message's ``drafts`` is empty: ``cards`` are the member's live drafts as
    ``(channel id, card message id)``, least recently changed first, for the caller to link).
    Worded as ``storage.<code>``."""

    prefix = "storage"

    def __init__(self, code: str, *, cards: Iterable[tuple[int, int]] = (), **params: Any) -> None:
        super().__init__(code, **params)
        self.cards = tuple(cards)


# --------------------------------------------------------------------------- sweeps


@dataclass
class _Entry:
    mtime: float
    size: int
    path: Path
    holder: Holder | None
    protected: bool
    unneeded: bool
    spent: bool


def _files(media_dir: Path) -> list[tuple[float, int, Path]]:
    out = []
    for sub in SUBDIRS:
        folder = media_dir / sub
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.is_file() and not path.name.endswith(".part"):
                st = path.stat()
                out.append((st.st_mtime, st.st_size, path))
    out.sort()
    return out


def free_bytes(media_dir: Path) -> int:
    """Free space on the disk of ``media_dir`` (or of its nearest folder that exists)."""
    folder = Path(media_dir).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


async def sweep(
    store: Store,
    media_dir: Path,
    *,
    days: float,
    max_bytes: int,
    now: float,
    min_free_bytes: int = 0,
    quotas: Quotas | None = None,
) -> SweepResult:
    """Apply the policy once (see the module's docstring). ``quotas`` gives each member's
    share (their guild's ``user_storage_mb``); without it nobody has one."""
    cat = await catalog(store, now=now, days=days)
    shares = await _shares(quotas, set(cat.holder.values()))
    result = await asyncio.to_thread(
        _sweep_files, media_dir, cat, now - days * 86400, max_bytes, shares, min_free_bytes
    )
    if result.removed:
        log.info("retention: removed %d files (%.1f MB)", result.removed, result.freed / MB)
    return result


async def _shares(quotas: Quotas | None, holders: set[Holder]) -> dict[Holder, int]:
    """Each member's share in bytes (members without one are left out)."""
    if quotas is None:
        return {}
    limits: dict[int, int | None] = {}
    shares: dict[Holder, int] = {}
    for guild_id, user_id in holders:
        if guild_id is None or user_id is None or quotas.is_owner(user_id):
            continue
        if guild_id not in limits:
            limits[guild_id] = (await quotas.get(guild_id)).user_storage_mb
        limit = limits[guild_id]
        if limit is not None:
            shares[(guild_id, user_id)] = limit * MB
    return shares


def _sweep_files(
    media_dir: Path,
    catalog: Catalog,
    cutoff: float,
    max_bytes: int,
    shares: dict[Holder, int],
    min_free_bytes: int,
) -> SweepResult:
    entries = []
    for mtime, size, path in _files(media_dir):
        real = os.path.realpath(path)
        entries.append(
            _Entry(
                mtime,
                size,
                path,
                catalog.holder.get(real),
                real in catalog.protected,
                real not in catalog.needed,
                real in catalog.spent,
            )
        )
    total = sum(e.size for e in entries)
    removed = freed = 0

    def drop(entry: _Entry) -> None:
        nonlocal total, removed, freed
        try:
            entry.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("retention: could not remove %s: %s", entry.path, exc)
            return
        removed += 1
        freed += entry.size
        total -= entry.size

    # 1. A finished chain's segments, and by age.
    kept: list[_Entry] = []
    for entry in entries:
        if not entry.protected and (entry.spent or entry.mtime < cutoff):
            drop(entry)
        else:
            kept.append(entry)

    budget = max_bytes
    if min_free_bytes > 0 and kept:
        shortfall = min_free_bytes - free_bytes(media_dir)
        if shortfall > 0:
            budget = min(budget, total - shortfall)
    if total <= budget:
        return SweepResult(removed, freed, total)

    # 2a. Nobody's files, oldest first.
    evictable = [e for e in kept if not e.protected]
    for entry in evictable:
        if total <= budget:
            return SweepResult(removed, freed, total)
        if entry.unneeded:
            drop(entry)

    # 2b, 2c. Members' own oldest files: those over their share first, then the largest.
    held: collections.Counter[Holder] = collections.Counter()
    for entry in kept:
        if entry.holder is not None:
            held[entry.holder] += entry.size
    queues: dict[Holder, collections.deque[_Entry]] = collections.defaultdict(collections.deque)
    for entry in evictable:  # oldest first
        if not entry.unneeded and entry.holder is not None:
            queues[entry.holder].append(entry)
    while total > budget:
        ready = [h for h, q in queues.items() if q]
        if not ready:
            break
        over = [h for h in ready if h in shares and held[h] > shares[h]]
        if over:
            holder = max(over, key=lambda h: (held[h] - shares[h], -queues[h][0].mtime))
        else:
            holder = max(ready, key=lambda h: (held[h], -queues[h][0].mtime))
        entry = queues[holder].popleft()
        before = removed
        drop(entry)
        if removed > before:
            held[holder] -= entry.size
    return SweepResult(removed, freed, total)


# --------------------------------------------------------------------------- caps


async def live_cards(
    store: Store, guild_id: int, user_id: int, *, now: float, days: float
) -> list[tuple[int, int]]:
    """A member's live drafts in a guild whose card was posted, as ``(channel id, card message
    id)``, least recently changed first."""
    async with store.db.execute(
        "SELECT channel_id, card_message_id FROM drafts WHERE guild_id = ? AND author_id = ? "
        "AND state = 'active' AND card_message_id IS NOT NULL AND updated_at >= ? "
        "ORDER BY updated_at, card_message_id",
        (guild_id, user_id, now - days * 86400),
    ) as cur:
        return [(r["channel_id"], r["card_message_id"]) for r in await cur.fetchall()]


async def member_bytes(store: Store, guild_id: int, user_id: int) -> int:
    """What a member's drafts (every revision's image) and jobs in a guild keep on disk."""
    paths: set[str] = set()
    async with store.db.execute(
        "SELECT image_path, video_path FROM jobs WHERE guild_id = ? AND owner_id = ?",
        (guild_id, user_id),
    ) as cur:
        for row in await cur.fetchall():
            paths.update(p for p in row if p)
    async with store.db.execute(
        "SELECT r.image_path FROM draft_revisions r JOIN drafts d ON d.id = r.draft_id "
        "WHERE d.guild_id = ? AND d.author_id = ? AND r.image_path IS NOT NULL "
        "UNION SELECT image_path FROM drafts "
        "WHERE guild_id = ? AND author_id = ? AND image_path IS NOT NULL",
        (guild_id, user_id, guild_id, user_id),
    ) as cur:
        paths.update(r[0] for r in await cur.fetchall())
    return await asyncio.to_thread(_sizes, paths)


def _sizes(paths: Iterable[str]) -> int:
    seen: set[str] = set()
    total = 0
    for path in paths:
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        with contextlib.suppress(OSError):
            total += os.stat(real).st_size
    return total


async def reclaim(store: Store, guild_id: int, user_id: int, *, now: float, days: float) -> int:
    """Remove the files of a member's own discarded (or never posted) drafts in a guild that
    nothing else needs; returns the bytes freed."""
    cat = await catalog(store, now=now, days=days)
    mine = [
        real
        for real, holder in cat.holder.items()
        if holder == (guild_id, user_id) and real not in cat.needed and real not in cat.protected
    ]
    return await asyncio.to_thread(_remove, mine)


def _remove(paths: Iterable[str]) -> int:
    freed = 0
    for path in paths:
        try:
            size = os.stat(path).st_size
            os.unlink(path)
        except OSError:
            continue
        freed += size
    return freed


def _mb(n: float) -> str:
    return f"{n / MB:.1f}"


async def check_room(
    store: Store,
    media_dir: Path,
    *,
    guild_id: int,
    user_id: int,
    need: int,
    now: float,
    days: float,
    active_drafts: int | None = None,
    storage_mb: int | None = None,
    min_free_mb: float = 0.0,
) -> None:
    """Raise StorageRefused unless a member may store ``need`` more bytes in a guild.

    ``active_drafts``: the cap on their live drafts (only when a draft is being made);
    ``storage_mb``: the cap on what they store; ``min_free_mb``: the disk's free space to keep.
    None (or 0 for ``min_free_mb``): no such cap.
    """
    shown_days = f"{days:g}"
    if active_drafts is not None:
        cards = await live_cards(store, guild_id, user_id, now=now, days=days)
        if len(cards) >= active_drafts:
            raise StorageRefused(
                "user_drafts",
                cards=cards,
                count=len(cards),
                limit=active_drafts,
                days=shown_days,
                drafts="",
            )
    if storage_mb is not None:
        limit = storage_mb * MB
        used = await member_bytes(store, guild_id, user_id)
        if used + need > limit and await reclaim(store, guild_id, user_id, now=now, days=days):
            used = await member_bytes(store, guild_id, user_id)
        if used + need > limit:
            raise StorageRefused(
                "user_storage",
                used=_mb(used),
                need=_mb(need),
                limit=storage_mb,
                days=shown_days,
            )
    if min_free_mb > 0:
        free = await asyncio.to_thread(free_bytes, media_dir)
        if free - need < min_free_mb * MB:
            log.warning(
                "the disk of %s has %.0f MB free, under [retention] min_free_mb (%g): "
                "refusing new drafts and images",
                media_dir,
                free / MB,
                min_free_mb,
            )
            raise StorageRefused(
                "disk_full",
                free=f"{free / MB:.0f}",
                min=f"{min_free_mb:g}",
            )


# --------------------------------------------------------------------------- leaving a guild


async def forget_guild(store: Store, guild_id: int) -> int:
    """Remove every stored file of a guild's jobs and drafts (the bot left it)."""
    paths: set[str] = set()
    async with store.db.execute(
        "SELECT image_path, video_path FROM jobs WHERE guild_id = ?", (guild_id,)
    ) as cur:
        for row in await cur.fetchall():
            paths.update(p for p in row if p)
    async with store.db.execute(
        "SELECT image_path FROM drafts WHERE guild_id = ? AND image_path IS NOT NULL "
        "UNION SELECT r.image_path FROM draft_revisions r JOIN drafts d ON d.id = r.draft_id "
        "WHERE d.guild_id = ? AND r.image_path IS NOT NULL",
        (guild_id, guild_id),
    ) as cur:
        paths.update(r[0] for r in await cur.fetchall())
    return await asyncio.to_thread(_unlink_all, paths)


def _unlink_all(paths: set[str]) -> int:
    removed = 0
    for p in paths:
        try:
            Path(p).unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed
