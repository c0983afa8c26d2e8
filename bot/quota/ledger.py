"""The quota ledger: the ``usage`` table, one row per job's reservation, and its only writer.

A reservation is made ``reserved`` (:meth:`Ledger.reserve`, after the policy's checks, in the
same write transaction), repriced when a fallback model takes the job (:meth:`switch_model`),
and settled when the job ends (:meth:`settle`, :meth:`settle_part`, at the price of the model
the job is on) by the release policy:

- ``refused`` / ``cancelled``: the job never reached kie.ai, or kie.ai proved that no task was
  created (validation, 402, 429 given up, paused model, cancelled before submission):
  **released**, it does not count at all.
- ``failed``: kie.ai created the task and the generation failed: counts (``charged``) only if the
  guild's ``failed_counts`` is true; by default **released**, since kie.ai does not document
  charging failed generations.
- ``delivered``: **charged**: it counts, and no longer takes a running slot.
- ``unknown``: the create outcome is unknown: it **stays reserved**, keeping its running slot and
  counting, until it is settled again with a known outcome.

Rows in ``reserved`` and ``charged`` count against the limits; an owner's rows are ``exempt``
(recorded, shown in reports, counted nowhere). Every count the policy and the reports read is
:meth:`Ledger.counts` or :meth:`Ledger.per_user`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import aiosqlite
from pydantic import BaseModel, ConfigDict

from bot.db.connection import Database

Outcome = Literal["delivered", "failed", "refused", "cancelled", "unknown"]
UsageState = Literal["reserved", "charged", "released"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
# Usage rows in these states count against the limits.
COUNTING = ("reserved", "charged")

RELEASE_POLICY = (
    "A video that never reached kie.ai (refused, cancelled, rate-limited, model paused) is not "
    "counted. A video kie.ai failed counts only if failed_counts is on (default: off). A video "
    "whose submission outcome is unknown keeps its slot and counts until it is resolved."
)


@dataclass(frozen=True)
class Reservation:
    """A reservation as a fallback's check needs it."""

    job_id: str
    guild_id: int
    credits: int
    exempt: bool
    created_at: float


@dataclass(frozen=True)
class Counts:
    """Counting (non-exempt) usage of a member in a guild, or of the whole guild."""

    running: int  # reservations still ``reserved``
    today: int  # counting reservations made since the day started
    month_credits: int  # their credits since the month started
    month_videos: int
    last: float | None  # where the cooldown starts: the newest counting one that did not fail
    failed_today: int  # failures since the day started, counted or released


class UserUsage(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: int
    videos: int
    credits: int
    running: int


# The policy's checks, run inside the reservation's write transaction.
ReserveCheck = Callable[[aiosqlite.Connection], Awaitable[None]]
SwitchCheck = Callable[[aiosqlite.Connection, Reservation], Awaitable[None]]
# Whether the guild counts failed generations (its ``failed_counts``), read in the transaction.
FailedCounts = Callable[[aiosqlite.Connection, int], Awaitable[bool]]


class Ledger:
    """The ``usage`` table: reservations, their settlement, and the counts read from them."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def reserve(
        self,
        *,
        job_id: str,
        guild_id: int,
        user_id: int,
        channel_id: int | None,
        model_name: str,
        credits: int,
        exempt: bool,
        now: float,
        check: ReserveCheck | None = None,
    ) -> bool:
        """Run ``check`` (it raises to refuse) and record the reservation, in one write
        transaction. Returns False when the job id is already reserved or charged (a retried
        press: nothing changes); a released one is reserved afresh."""
        async with self.store.transaction() as db:
            async with db.execute("SELECT state FROM usage WHERE job_id = ?", (job_id,)) as cur:
                row = await cur.fetchone()
            if row is not None and row["state"] in COUNTING:
                return False
            if check is not None:
                await check(db)
            await db.execute(
                "INSERT OR REPLACE INTO usage(job_id, guild_id, user_id, channel_id, model, "
                "credits, state, outcome, exempt, created_at, settled_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'reserved', NULL, ?, ?, NULL)",
                (job_id, guild_id, user_id, channel_id, model_name, credits, int(exempt), now),
            )
        return True

    async def switch_model(
        self, job_id: str, model_name: str, credits: int, *, check: SwitchCheck
    ) -> None:
        """Reprice the reservation for the model that takes the job, after ``check`` (run for a
        member's reservation, not an owner's; it raises to refuse, and nothing changes). A job
        without a reservation (the command line) is left alone."""
        async with self.store.transaction() as db:
            async with db.execute(
                "SELECT guild_id, credits, exempt, created_at FROM usage WHERE job_id = ?",
                (job_id,),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return
            if not row["exempt"]:
                reservation = Reservation(
                    job_id=job_id,
                    guild_id=row["guild_id"],
                    credits=row["credits"],
                    exempt=bool(row["exempt"]),
                    created_at=row["created_at"],
                )
                await check(db, reservation)
            await db.execute(
                "UPDATE usage SET model = ?, credits = ? WHERE job_id = ?",
                (model_name, credits, job_id),
            )

    async def settle(
        self,
        job_id: str,
        *,
        outcome: Outcome,
        failed_counts: FailedCounts,
        now: float | None = None,
        model: str | None = None,
        credits: int | None = None,
    ) -> UsageState | None:
        """Apply the release policy; returns the reservation's state (None: no reservation).
        Only a reservation still ``reserved`` changes; a settled one keeps its state.

        ``model`` and ``credits``: the job's own, as stored with it. A reservation priced for
        another model settles at these: the job was not switched to that model after all (a
        fallback's repricing is written before the job is, and a crash in between leaves the
        job on its own model, which may then make it)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}")
        when = time.time() if now is None else now
        async with self.store.transaction() as db:
            row = await self._reserved(db, job_id)
            if row is None or row["state"] != "reserved":
                return None if row is None else row["state"]
            if model is not None and credits is not None and row["model"] != model:
                await db.execute(
                    "UPDATE usage SET model = ?, credits = ? WHERE job_id = ?",
                    (model, credits, job_id),
                )
            state: UsageState
            if outcome == "unknown":
                state = "reserved"
            elif outcome == "delivered":
                state = "charged"
            elif outcome == "failed":
                state = "charged" if await failed_counts(db, row["guild_id"]) else "released"
            else:
                state = "released"
            await db.execute(
                "UPDATE usage SET state = ?, outcome = ?, settled_at = ? WHERE job_id = ?",
                (state, outcome, None if state == "reserved" else when, job_id),
            )
            return state

    async def settle_part(
        self,
        job_id: str,
        *,
        made: int,
        last: int,
        last_outcome: Outcome,
        failed_counts: FailedCounts,
        now: float | None = None,
    ) -> UsageState | None:
        """Settle a reservation of which only a part was used: a long storyboard whose segment
        ended without a video. The ``made`` credits of the segments made count; the failed
        segment's ``last`` credits follow the release policy for ``last_outcome``; the rest
        (segments never sent) is released. What counts is charged (outcome ``last_outcome``);
        nothing counting releases it. Only a reservation still ``reserved`` changes."""
        if last_outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {last_outcome!r}; expected one of {OUTCOMES}")
        when = time.time() if now is None else now
        async with self.store.transaction() as db:
            row = await self._reserved(db, job_id)
            if row is None or row["state"] != "reserved":
                return None if row is None else row["state"]
            counts = last_outcome in ("delivered", "unknown")
            if last_outcome == "failed":
                counts = await failed_counts(db, row["guild_id"])
            credits = made + (last if counts else 0)
            state: UsageState = "charged" if credits else "released"
            # A released reservation keeps the price it was made at (it counts nowhere).
            await db.execute(
                "UPDATE usage SET state = ?, outcome = ?, credits = COALESCE(?, credits), "
                "settled_at = ? WHERE job_id = ?",
                (state, last_outcome, credits or None, when, job_id),
            )
            return state

    @staticmethod
    async def _reserved(db: aiosqlite.Connection, job_id: str) -> aiosqlite.Row | None:
        async with db.execute(
            "SELECT guild_id, model, state FROM usage WHERE job_id = ?", (job_id,)
        ) as cur:
            return await cur.fetchone()

    async def usage_state(self, job_id: str) -> UsageState | None:
        async with self.store.db.execute(
            "SELECT state FROM usage WHERE job_id = ?", (job_id,)
        ) as cur:
            row = await cur.fetchone()
        return row["state"] if row else None

    async def reserved_jobs(self) -> list[tuple[str, float]]:
        """Every reservation still ``reserved``: (job id, when it was made)."""
        async with self.store.db.execute(
            "SELECT job_id, created_at FROM usage WHERE state = 'reserved'"
        ) as cur:
            return [(r["job_id"], r["created_at"]) for r in await cur.fetchall()]

    # -- counts --------------------------------------------------------------------------
    async def counts(
        self,
        guild_id: int,
        user_id: int | None,
        day_start: float,
        month_start: float,
        db: aiosqlite.Connection | None = None,
    ) -> Counts:
        """Counting (non-exempt) usage of a user in a guild (``user_id`` None: the guild's).
        ``db``: the connection of a transaction under way (by default, the store's).

        ``last`` (where the cooldown starts) is the newest counting reservation that did not
        fail: one running, unknown or made, never one kie.ai failed (whether or not the guild
        counts failures). ``failed_today`` counts every failure since ``day_start``, counted
        or released."""
        where = "guild_id = ? AND exempt = 0"
        params: list[Any] = [guild_id]
        if user_id is not None:
            where += " AND user_id = ?"
            params.append(user_id)
        counting = "state IN ('reserved', 'charged')"
        async with (db or self.store.db).execute(
            "SELECT "
            "COALESCE(SUM(state = 'reserved'), 0) AS running, "
            f"COALESCE(SUM({counting} AND created_at >= ?), 0) AS today, "
            f"COALESCE(SUM(CASE WHEN {counting} AND created_at >= ? THEN credits ELSE 0 END), 0) "
            "AS credits, "
            f"COALESCE(SUM({counting} AND created_at >= ?), 0) AS month_videos, "
            f"MAX(CASE WHEN {counting} AND outcome IS NOT 'failed' THEN created_at END) AS last, "
            "COALESCE(SUM(outcome = 'failed' AND created_at >= ?), 0) AS failed_today "
            f"FROM usage WHERE {where}",
            (day_start, month_start, month_start, day_start, *params),
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        return Counts(
            running=int(row["running"]),
            today=int(row["today"]),
            month_credits=int(row["credits"]),
            month_videos=int(row["month_videos"]),
            last=row["last"],
            failed_today=int(row["failed_today"]),
        )

    async def per_user(self, guild_id: int, since: float) -> list[UserUsage]:
        """Each member's counting videos and credits since ``since`` (owners' included), the
        most credits first."""
        async with self.store.db.execute(
            "SELECT user_id, COUNT(*) AS videos, COALESCE(SUM(credits), 0) AS credits, "
            "COALESCE(SUM(state = 'reserved'), 0) AS running "
            "FROM usage WHERE guild_id = ? AND created_at >= ? "
            "AND state IN ('reserved', 'charged') "
            "GROUP BY user_id ORDER BY credits DESC, videos DESC, user_id",
            (guild_id, since),
        ) as cur:
            rows = await cur.fetchall()
        return [
            UserUsage(
                user_id=r["user_id"],
                videos=r["videos"],
                credits=r["credits"],
                running=r["running"],
            )
            for r in rows
        ]
