"""The submit queue's order: each job's place, given once, when it joins the queue.

Fair queuing by member, then by guild. A job joining the queue gets a *turn*: its member's
next one (one after the member's last turn), but never earlier than the turn the head of the
queue is at, so a member who has waited nothing goes in the current round and a member who
pressed 40 times has their 2nd job after everyone's 1st. Within a turn the guilds take turns:
the job's *slot* is how many jobs of its guild already have that turn. The queue is ordered by
``(queue_turn, queue_slot, created_at, id)``.

The place is stored with the job (``queue_turn``, ``queue_slot``) and never recomputed, so the
jobs ahead of a waiting job stay ahead of it: sending one moves everyone behind it up by one,
and the place a status shows is the place kept. A place grows only when a member with fewer
jobs waiting joins (fair queuing lets them in ahead of a member's later jobs); a job that
leaves the queue and comes back (a retry after kie.ai could not be reached) keeps its place.

Places are given lazily, by the queue's readers (the scheduler taking jobs, a status reading
its place), to every released queued job without one, oldest first, in one transaction: a held
job (not released yet) has none, and every way into the queue (a new job, a release, a chain's
next segment, a job found at start-up) gets one the same way.
"""

from __future__ import annotations

from typing import Any

from bot.db.connection import Database
from bot.jobs.states import JobState

QUEUED = f"state = '{JobState.QUEUED}'"
#: The submit queue's order (see the module's docstring); NULLs (a ``submitting`` job found at
#: start-up, which only needs to be marked unknown) first.
FAIR_ORDER = "queue_turn, queue_slot, created_at, id"
# A member is a (guild, owner) pair; the command line's jobs have neither and are one member.
_MEMBER = "COALESCE(guild_id, -1), COALESCE(owner_id, -1)"


async def place_newcomers(db: Database, where: str, params: list[Any]) -> int:
    """Give a place to every job that waits in the queue (queued, released) without one,
    among the jobs ``where`` selects (an owner's: `` AND ...`` SQL with ``params``). Returns
    how many were placed. One cheap read when there are none."""
    newcomers = (
        f"SELECT id, {_MEMBER} FROM jobs WHERE {QUEUED} AND queue_turn IS NULL "
        f"AND next_check_at IS NOT NULL{where} ORDER BY created_at, id"
    )
    async with db.db.execute(newcomers, params) as cur:
        if await cur.fetchone() is None:
            return 0
    async with db.transaction() as conn:
        # Read again inside the transaction: another reader may have placed them meanwhile.
        async with conn.execute(newcomers, params) as cur:
            rows = [(r[0], (r[1], r[2])) for r in await cur.fetchall()]
        if not rows:
            return 0
        head = await _head_turn(conn, where, params)
        last = await _last_turns(conn, {member for _, member in rows}, where, params)
        placed: list[tuple[int, int, str]] = []
        slots: dict[tuple[int, int], int] = {}  # (guild, turn) -> jobs with that turn
        for job_id, member in rows:
            turn = max(head, last[member] + 1) if member in last else head
            last[member] = turn
            key = (member[0], turn)
            if key not in slots:
                slots[key] = await _slots_taken(conn, member[0], turn, where, params)
            slots[key] += 1
            placed.append((turn, slots[key], job_id))
        await conn.executemany(
            "UPDATE jobs SET queue_turn = ?, queue_slot = ? WHERE id = ? AND queue_turn IS NULL",
            placed,
        )
    return len(placed)


async def _head_turn(conn: Any, where: str, params: list[Any]) -> int:
    """The turn the queue is at: its head's (the lowest turn still waiting), else the last
    turn given (the queue is empty), else 0."""
    sql = f"SELECT MIN(queue_turn) FROM jobs WHERE {QUEUED} AND queue_turn IS NOT NULL{where}"
    async with conn.execute(sql, params) as cur:
        row = await cur.fetchone()
    if row and row[0] is not None:
        return int(row[0])
    async with conn.execute(
        f"SELECT MAX(queue_turn) FROM jobs WHERE queue_turn IS NOT NULL{where}", params
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


async def _last_turns(
    conn: Any, members: set[tuple[int, int]], where: str, params: list[Any]
) -> dict[tuple[int, int], int]:
    """Each member's latest turn (only members who ever had one)."""
    found: dict[tuple[int, int], int] = {}
    wanted = sorted(members)
    for i in range(0, len(wanted), 400):
        batch = wanted[i : i + 400]
        pairs = ", ".join("(?, ?)" for _ in batch)
        sql = (
            f"SELECT {_MEMBER}, MAX(queue_turn) FROM jobs WHERE queue_turn IS NOT NULL "
            f"AND ({_MEMBER}) IN (VALUES {pairs}){where} GROUP BY 1, 2"
        )
        flat = [value for pair in batch for value in pair]
        async with conn.execute(sql, (*flat, *params)) as cur:
            for guild, owner, turn in await cur.fetchall():
                found[(guild, owner)] = int(turn)
    return found


async def _slots_taken(conn: Any, guild: int, turn: int, where: str, params: list[Any]) -> int:
    sql = (
        f"SELECT COUNT(*) FROM jobs WHERE queue_turn = ? AND COALESCE(guild_id, -1) = ?{where}"
    )
    async with conn.execute(sql, (turn, guild, *params)) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0
