"""The retention policy for stored reference images and videos.

Files older than ``days`` go; then, while the media directory is over ``max_bytes``, the oldest
go first. Files an unfinished job still needs are never removed. A guild's files go when the
bot leaves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from bot.store import ACTIVE_STATES, Store

log = logging.getLogger(__name__)

SUBDIRS = ("images", "drafts", "videos")


@dataclass(frozen=True)
class SweepResult:
    removed: int
    freed: int
    kept_bytes: int


async def _protected(store: Store) -> set[str]:
    """Files unfinished jobs still need (a draft card keeps its image in the message)."""
    states = [str(s) for s in ACTIVE_STATES]
    marks = ", ".join("?" for _ in states)
    paths: set[str] = set()
    async with store.db.execute(
        f"SELECT image_path, video_path FROM jobs WHERE state IN ({marks}) OR delivery = 'pending'",
        states,
    ) as cur:
        for row in await cur.fetchall():
            paths.update(p for p in row if p)
    return paths


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


async def sweep(
    store: Store, media_dir: Path, *, days: float, max_bytes: int, now: float
) -> SweepResult:
    protected = await _protected(store)
    result = await asyncio.to_thread(
        _sweep_files, media_dir, protected, now - days * 86400, max_bytes
    )
    if result.removed:
        log.info("retention: removed %d files (%.1f MB)", result.removed, result.freed / 1e6)
    return result


def _sweep_files(
    media_dir: Path, protected: set[str], cutoff: float, max_bytes: int
) -> SweepResult:
    keep = {os.path.realpath(p) for p in protected}
    files = _files(media_dir)
    total = sum(size for _, size, _ in files)
    removed = freed = 0
    for mtime, size, path in files:
        if os.path.realpath(path) in keep:
            continue
        if mtime < cutoff or total > max_bytes:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            removed += 1
            freed += size
            total -= size
    return SweepResult(removed, freed, total)


async def forget_guild(store: Store, guild_id: int) -> int:
    """Remove every stored file of a guild's jobs and drafts (the bot left it)."""
    paths: set[str] = set()
    async with store.db.execute(
        "SELECT image_path, video_path FROM jobs WHERE guild_id = ?", (guild_id,)
    ) as cur:
        for row in await cur.fetchall():
            paths.update(p for p in row if p)
    async with store.db.execute(
        "SELECT image_path FROM drafts WHERE guild_id = ?", (guild_id,)
    ) as cur:
        paths.update(r[0] for r in await cur.fetchall() if r[0])
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
