"""What the stored files are, whose they are, and which must stay: every file the database
names (a job's reference image and video, a chain's segment videos and frames, every
revision's image of a draft), read once per sweep into a :class:`Catalog`.

Whose
    A job's files are its owner's in its guild (the command line's jobs are nobody in
    particular's, all together); a draft's images are its author's. A file only discarded
    drafts name, a draft whose card was never posted, or that nothing names, is nobody's.

Protected (never removed)
    The files of an unfinished job (kie.ai is working on it, or its video is still being
    delivered); every segment video and frame of a chain that is still under way, including
    the segments of an earlier chain it reuses and the frame being handed to its next segment;
    the current image of a live draft (posted, or being posted for :data:`POSTING_GRACE`, and
    changed within ``days``).

Spent (removed by the next sweep)
    A chain's segment videos and frames, :data:`CHAIN_GRACE` after the chain delivered its
    video or ended without it (a retry or a redo started within it reuses them). The chain's
    own reference image and joined video are its owner's files like any job's.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from bot.chain.record import ChainRecord
from bot.jobs.store import ACTIVE_STATES, Store

#: A draft whose card is not posted yet is live for this long (seconds) after it was made.
POSTING_GRACE = 3600.0
#: A chain's segment videos and frames are kept this long (seconds) after it ended.
CHAIN_GRACE = 3600.0

#: Whose a file is: (guild id, user id); (None, None) for the command line's jobs.
Holder = tuple[int | None, int | None]


@dataclass
class Catalog:
    """Every file the database names, by its real path."""

    protected: set[str] = field(default_factory=set)
    holder: dict[str, Holder] = field(default_factory=dict)
    #: Named by a job or by a draft that is not discarded or abandoned.
    needed: set[str] = field(default_factory=set)
    #: Segment videos and frames of chains that ended more than CHAIN_GRACE ago.
    spent: set[str] = field(default_factory=set)

    def add(self, path: str | None, holder: Holder, *, needed: bool, protect: bool = False) -> None:
        if not path:
            return
        real = os.path.realpath(path)
        if needed:
            self.needed.add(real)
            self.holder[real] = holder
        else:
            self.holder.setdefault(real, holder)
        if protect:
            self.protected.add(real)


def draft_state(row: Any, *, now: float, cutoff: float) -> str:
    """``live`` (its current image is kept), ``idle`` (not changed for ``days``), ``dead``
    (discarded, or its card was never posted)."""
    if row["state"] != "active":
        return "dead"
    if row["card_message_id"] is None:
        return "live" if row["created_at"] >= now - POSTING_GRACE else "dead"
    return "live" if row["updated_at"] >= cutoff else "idle"


async def catalog(store: Store, *, now: float, days: float) -> Catalog:
    cutoff = now - days * 86400
    cat = Catalog()
    await _jobs(store, cat, now=now)
    drafts: dict[str, tuple[Holder, str]] = {}
    async with store.db.execute(
        "SELECT id, guild_id, author_id, state, image_path, card_message_id, created_at, "
        "updated_at FROM drafts"
    ) as cur:
        for row in await cur.fetchall():
            holder = (row["guild_id"], row["author_id"])
            state = draft_state(row, now=now, cutoff=cutoff)
            drafts[row["id"]] = (holder, state)
            cat.add(row["image_path"], holder, needed=state != "dead", protect=state == "live")
    async with store.db.execute(
        "SELECT draft_id, image_path FROM draft_revisions WHERE image_path IS NOT NULL"
    ) as cur:
        for row in await cur.fetchall():
            holder, state = drafts.get(row["draft_id"], ((None, None), "dead"))
            cat.add(row["image_path"], holder, needed=state != "dead")
    cat.spent -= cat.needed | cat.protected
    return cat


async def _jobs(store: Store, cat: Catalog, *, now: float) -> None:
    states = {str(s) for s in ACTIVE_STATES}
    async with store.db.execute(
        "SELECT id, parent_id, guild_id, owner_id, state, delivery, image_path, video_path, "
        "chain, finished_at, updated_at FROM jobs"
    ) as cur:
        rows = {row["id"]: row for row in await cur.fetchall()}

    def busy(row: Any) -> bool:
        return row["state"] in states or row["delivery"] == "pending"

    def status(parent: Any | None) -> str:
        """A chain's: ``busy`` (under way), ``grace`` (ended within CHAIN_GRACE), ``spent``."""
        if parent is None:
            return "spent"
        if busy(parent):
            return "busy"
        ended = parent["finished_at"] or parent["updated_at"] or 0.0
        return "grace" if now < ended + CHAIN_GRACE else "spent"

    def segment_file(path: str | None, holder: Holder, chain: str, *, busy: bool) -> None:
        if not path:
            return
        if chain == "spent":
            cat.holder.setdefault(os.path.realpath(path), holder)
            cat.spent.add(os.path.realpath(path))
        else:
            cat.add(path, holder, needed=True, protect=busy or chain == "busy")

    for row in rows.values():
        holder = (row["guild_id"], row["owner_id"])
        if row["parent_id"] is not None:  # one segment of a chain
            chain = status(rows.get(row["parent_id"]))
            for path in (row["image_path"], row["video_path"]):
                segment_file(path, holder, chain, busy=busy(row))
            continue
        for path in (row["image_path"], row["video_path"]):
            cat.add(path, holder, needed=True, protect=busy(row))
        if row["chain"] is None:
            continue
        # The segments its record names (an earlier chain's it reuses too) and its frame.
        chain = status(row)
        rec = _record(row["chain"])
        if rec is None:
            continue
        segment_file(rec.frame, holder, chain, busy=False)
        for seg in rec.segments:
            child = rows.get(seg.job) if seg.job else None
            if child is not None:
                for path in (child["image_path"], child["video_path"]):
                    segment_file(path, holder, chain, busy=busy(child))


def _record(raw: Any) -> ChainRecord | None:
    with contextlib.suppress(ValueError, TypeError):
        return ChainRecord.load(json.loads(raw) if isinstance(raw, (str, bytes)) else raw)
    return None
