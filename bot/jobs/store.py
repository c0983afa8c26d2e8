"""The jobs table: a job as a record, and the engine's queries and compare-and-set writes.

Every change of state is a compare-and-set against the transition table (bot.jobs.states),
committed before the step it announces starts. A job's lane (which kind of wait its next step
is: submit, kie, deliver, chain) is defined here once, in Python (:func:`lane_of`) and in SQL,
so the scheduler reads only as many due jobs of a lane as the lane has room for, in the lane's
order: the submit queue fair by member then guild, each job keeping the place it was given
when it joined (bot.jobs.fairness), running jobs oldest submission first (the likeliest to be
done), the rest by when they fell due.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aiosqlite
from pydantic import BaseModel, ConfigDict

from bot.db.connection import Database, dumps, new_id
from bot.domain.storyboard import Storyboard
from bot.jobs.fairness import FAIR_ORDER, place_newcomers
from bot.jobs.states import (
    ACTIVE_STATES,
    CHAIN_STATES,
    IllegalTransition,
    JobState,
    check,
)


class Job(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    origin: str = "cli"
    owner_id: int | None = None
    guild_id: int | None = None
    channel_id: int | None = None
    draft_id: str | None = None
    revision: int | None = None
    card_message_id: int | None = None
    status_message_id: int | None = None
    result_message_id: int | None = None
    model: str
    storyboard: Storyboard
    image_path: str
    image_url: str | None = None
    task_id: str | None = None
    state: JobState
    kie_state: str | None = None
    progress: int | None = None
    fail_code: str | None = None  # a reason code (bot.jobs.reasons), rendered for members
    fail_msg: str | None = None  # the operator's detail: kie.ai's own words, hosts, fields
    fail_params: dict[str, Any] | None = None  # the reason's values
    # Held back because a kie.ai host cannot be reached: {"host", "setting", "since", "until"}.
    stall: dict[str, Any] | None = None
    result_url: str | None = None
    video_path: str | None = None
    video_bytes: int | None = None
    out_path: str | None = None
    delivery: str = "pending"
    reads: int = 0
    created_at: float
    submitted_at: float | None = None
    finished_at: float | None = None
    deadline_at: float
    next_check_at: float | None = None
    updated_at: float
    credits: int | None = None
    fallback_from: str | None = None
    # A long storyboard made as several segments (bot.jobs.chaining). The parent job holds the
    # whole storyboard, the reservation and the owner's delivery; each segment is a child job.
    parent_id: str | None = None  # a segment's: the chain it belongs to
    segment: int | None = None  # a segment's index (from 0); a parent's: the current segment
    segments: int | None = None  # how many segments the chain has (parent and children)
    chain: dict[str, Any] | None = None  # a parent's plan and progress (bot.jobs.chaining)
    # Its place in the submit queue, given once when it joins it (bot.jobs.fairness).
    queue_turn: int | None = None
    queue_slot: int | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def is_chain(self) -> bool:
        """A parent job: its storyboard is made as several segments."""
        return self.chain is not None

    @property
    def is_segment(self) -> bool:
        """A child job: one segment of a chain, delivered to its parent, not to a person."""
        return self.parent_id is not None


_JOB_COLUMNS = tuple(Job.model_fields)


_JSON_COLUMNS = frozenset({"fail_params", "stall", "chain"})


def _row_to_job(row: aiosqlite.Row) -> Job:
    data = dict(row)
    data["storyboard"] = Storyboard.model_validate_json(data["storyboard"])
    for key in _JSON_COLUMNS:
        if data.get(key) is not None:
            data[key] = json.loads(data[key])
    return Job.model_validate(data)


def _encode(key: str, value: Any) -> Any:
    if key == "storyboard" and isinstance(value, Storyboard):
        return value.model_dump_json()
    if key in _JSON_COLUMNS and value is not None:
        return json.dumps(value, sort_keys=True)
    if isinstance(value, StrEnum):
        return str(value)
    return value


LANES = ("submit", "kie", "deliver", "chain")


def lane_of(job: Job) -> str:
    """The lane a job's next step runs in (the same rule as ``_LANE_SQL``)."""
    if job.is_chain and (job.state == JobState.QUEUED or job.state in CHAIN_STATES):
        return "chain"
    if job.state in (JobState.QUEUED, JobState.SUBMITTING):
        return "submit"
    if job.state in (JobState.RUNNING, JobState.UNKNOWN):
        return "kie"
    return "deliver"


def _quoted(states: Iterable[JobState]) -> str:
    return ", ".join(f"'{s}'" for s in sorted(str(s) for s in states))


_CHAIN_LANE = f"chain IS NOT NULL AND state IN ({_quoted([JobState.QUEUED, *CHAIN_STATES])})"
_SUBMIT_STATES = _quoted([JobState.QUEUED, JobState.SUBMITTING])
_LANE_SQL = {
    "chain": _CHAIN_LANE,
    "submit": f"NOT ({_CHAIN_LANE}) AND state IN ({_SUBMIT_STATES})",
    "kie": f"state IN ({_quoted([JobState.RUNNING, JobState.UNKNOWN])})",
}
_LANE_SQL["deliver"] = " AND ".join(f"NOT ({sql})" for sql in _LANE_SQL.values())
_LANE_ORDER = {
    "submit": FAIR_ORDER,
    "kie": "submitted_at IS NULL, submitted_at, id",
    "deliver": "next_check_at, id",
    "chain": "next_check_at, id",
}


@dataclass(frozen=True)
class JobOwner:
    """Which jobs one process follows: those of one origin ("discord", "cli"), or only the
    listed ids (a `render` or `resume`). The scheduler's queries filter by it in SQL, so a job
    another process left behind is never due here."""

    origin: str | None = None
    ids: frozenset[str] | None = None


def _owned(owner: JobOwner | None, skip: Collection[str]) -> tuple[str, list[Any]]:
    where, params = "", []
    if owner is not None and owner.ids is not None:
        # The segments of a chain it follows are its too.
        ids = sorted(owner.ids)
        marks = ", ".join("?" for _ in ids)
        where += f" AND (id IN ({marks}) OR parent_id IN ({marks}))" if ids else " AND 0"
        params.extend([*ids, *ids])
    elif owner is not None and owner.origin is not None:
        where += " AND origin = ?"
        params.append(owner.origin)
    if skip:
        where += f" AND id NOT IN ({', '.join('?' for _ in skip)})"
        params.extend(skip)
    return where, params


class Store(Database):
    """The database with the jobs table's SQL: the engine is the only writer of ``jobs``."""

    # -- jobs ----------------------------------------------------------------------------
    async def create_job(self, **fields: Any) -> Job:
        now = time.time()
        fields.setdefault("id", new_id())
        fields.setdefault("state", JobState.QUEUED)
        fields.setdefault("created_at", now)
        fields.setdefault("updated_at", now)
        fields.setdefault("next_check_at", now)
        job = Job.model_validate(fields)
        data = {k: _encode(k, v) for k, v in job.model_dump().items()}
        data["storyboard"] = job.storyboard.model_dump_json()
        cols = ", ".join(data)
        marks = ", ".join("?" for _ in data)
        await self.write(f"INSERT INTO jobs ({cols}) VALUES ({marks})", data.values())
        return job

    async def get_job(self, job_id: str) -> Job | None:
        rows = await self.read("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _row_to_job(rows[0]) if rows else None

    async def create_job_once(self, **fields: Any) -> Job:
        """:meth:`create_job` for an id that a step made before a crash may already have
        stored (a chain's next segment): the stored job is returned as it is."""
        found = await self.get_job(str(fields["id"]))
        return found if found is not None else await self.create_job(**fields)

    async def segments_of(self, parent_id: str) -> list[Job]:
        """The segment jobs made for a chain, in order."""
        async with self.db.execute(
            "SELECT * FROM jobs WHERE parent_id = ? ORDER BY segment, created_at", (parent_id,)
        ) as cur:
            rows = await cur.fetchall()
        return [_row_to_job(r) for r in rows]

    async def job_by_task(self, task_id: str) -> Job | None:
        async with self.db.execute("SELECT * FROM jobs WHERE task_id = ?", (task_id,)) as cur:
            row = await cur.fetchone()
        return _row_to_job(row) if row else None

    async def transition(
        self, job_id: str, frm: JobState | Iterable[JobState], to: JobState, **fields: Any
    ) -> Job | None:
        """Move a job from one of ``frm`` to ``to`` (and write ``fields``), atomically: only
        if it is still in one of ``frm``. Returns the job as stored afterwards, or None when it
        had moved on (a Cancel press, a callback, another step). A pair the transition table
        does not allow raises IllegalTransition: nothing else may write ``state``."""
        states = [frm] if isinstance(frm, JobState) else list(frm)
        if not states:
            raise ValueError("transition needs at least one state to come from")
        check(states, to)
        return await self._write_job(job_id, states, {**fields, "state": to})

    async def update_job(
        self, job_id: str, *, expect: Iterable[JobState] | None = None, **fields: Any
    ) -> Job | None:
        """Write ``fields`` (never ``state``: see :meth:`transition`); with ``expect``, only if
        the job is still in one of those states.

        Returns the job as stored afterwards, or None when ``expect`` did not hold.
        """
        if "state" in fields:
            raise IllegalTransition("a job's state changes only through Store.transition")
        return await self._write_job(job_id, None if expect is None else list(expect), fields)

    async def _write_job(
        self, job_id: str, expect: list[JobState] | None, fields: dict[str, Any]
    ) -> Job | None:
        unknown = set(fields) - set(_JOB_COLUMNS)
        if unknown:
            raise KeyError(f"not job columns: {sorted(unknown)}")
        fields["updated_at"] = time.time()
        sets = ", ".join(f"{k} = ?" for k in fields)
        params: list[Any] = [_encode(k, v) for k, v in fields.items()]
        sql = f"UPDATE jobs SET {sets} WHERE id = ?"
        params.append(job_id)
        if expect is not None:
            states = [str(s) for s in expect]
            sql += f" AND state IN ({', '.join('?' for _ in states)})"
            params.extend(states)
        if await self.write(sql, params) == 0:
            return None
        return await self.get_job(job_id)

    async def due_jobs(
        self,
        now: float,
        limit: int = 100,
        *,
        owner: JobOwner | None = None,
        skip: Collection[str] = (),
    ) -> list[Job]:
        """Jobs due by ``now`` that ``owner`` processes (all jobs without one), oldest due
        first, leaving out ``skip`` (the ids a step is already working on)."""
        where, params = _owned(owner, skip)
        async with self.db.execute(
            f"SELECT * FROM jobs WHERE next_check_at IS NOT NULL AND next_check_at <= ?{where} "
            "ORDER BY next_check_at LIMIT ?",
            (now, *params, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [_row_to_job(r) for r in rows]

    async def due_in_lane(
        self,
        lane: str,
        now: float,
        limit: int,
        *,
        owner: JobOwner | None = None,
        skip: Collection[str] = (),
    ) -> list[Job]:
        """At most ``limit`` jobs of ``lane`` due by ``now`` that ``owner`` processes, in the
        lane's order (see the module's docstring), leaving out ``skip``."""
        if limit <= 0:
            return []
        where, params = _owned(owner, skip)
        if lane == "submit":
            await self.place_newcomers(owner)
        cond = f"next_check_at IS NOT NULL AND next_check_at <= ? AND {_LANE_SQL[lane]}{where}"
        sql = f"SELECT * FROM jobs WHERE {cond} ORDER BY {_LANE_ORDER[lane]} LIMIT ?"
        async with self.db.execute(sql, (now, *params, limit)) as cur:
            rows = await cur.fetchall()
        return [_row_to_job(r) for r in rows]

    async def queue_order(
        self, now: float, *, owner: JobOwner | None = None, skip: Collection[str] = ()
    ) -> list[str]:
        """The ids of the jobs waiting in the submit queue by ``now`` (due, not yet sent), in
        the order the scheduler takes them: the same order as :meth:`due_in_lane`."""
        await self.place_newcomers(owner)
        where, params = _owned(owner, skip)
        cond = (
            f"next_check_at IS NOT NULL AND next_check_at <= ? AND {_LANE_SQL['submit']} "
            f"AND state = '{JobState.QUEUED}'{where}"
        )
        sql = f"SELECT id FROM jobs WHERE {cond} ORDER BY {FAIR_ORDER}"
        async with self.db.execute(sql, (now, *params)) as cur:
            return [r[0] for r in await cur.fetchall()]

    async def place_newcomers(self, owner: JobOwner | None = None) -> int:
        """Give each of ``owner``'s released queued jobs without a place in the submit queue
        its place (bot.jobs.fairness); how many. The queue's readers call it first."""
        where, params = _owned(owner, ())
        return await place_newcomers(self, where, params)

    async def make_due(self, owner: JobOwner | None, now: float) -> int:
        """Every unfinished job (or untold end) of ``owner`` due at ``now``, in one statement;
        a listed job's chain segments too. Returns how many rows."""
        states = [str(s) for s in ACTIVE_STATES]
        marks = ", ".join("?" for _ in states)
        sql = (
            f"UPDATE jobs SET next_check_at = ? WHERE (state IN ({marks}) OR delivery = 'pending')"
        )
        params: list[object] = [now, *states]
        if owner is not None and owner.ids is not None:
            ids = sorted(owner.ids)
            marks = ", ".join("?" for _ in ids)
            sql += f" AND (id IN ({marks}) OR parent_id IN ({marks}))" if ids else " AND 0"
            params.extend([*ids, *ids])
        elif owner is not None and owner.origin:
            sql += " AND origin = ?"
            params.append(owner.origin)
        return await self.write(sql, params)

    async def next_check_at(
        self,
        *,
        owner: JobOwner | None = None,
        skip: Collection[str] = (),
        lanes: Collection[str] | None = None,
    ) -> float | None:
        """When the next job ``owner`` processes falls due (None: none is scheduled); with
        ``lanes``, only a job of those lanes (none: None)."""
        where, params = _owned(owner, skip)
        if lanes is not None:
            if not lanes:
                return None
            where += " AND (" + " OR ".join(f"({_LANE_SQL[ln]})" for ln in sorted(lanes)) + ")"
        async with self.db.execute(
            f"SELECT MIN(next_check_at) FROM jobs WHERE next_check_at IS NOT NULL{where}",
            params,
        ) as cur:
            row = await cur.fetchone()
        return row[0] if row and row[0] is not None else None

    async def get_jobs(self, ids: Collection[str]) -> dict[str, Job]:
        """The stored jobs among ``ids``, by id, read in batches (one query per 500)."""
        found: dict[str, Job] = {}
        wanted = sorted(set(ids))
        for i in range(0, len(wanted), 500):
            batch = wanted[i : i + 500]
            marks = ", ".join("?" for _ in batch)
            for row in await self.read(f"SELECT * FROM jobs WHERE id IN ({marks})", batch):
                job = _row_to_job(row)
                found[job.id] = job
        return found

    async def queue_position(self, job_id: str) -> int | None:
        """1-based position in the submit queue as it stands in the database (the order of
        :meth:`queue_order`; jobs already being sent count as ahead of it). The tracker's
        :meth:`~bot.jobs.tracker.Tracker.queue_spot` also knows the order of those being sent
        and when it should start."""
        ids = await self.queue_order(float("inf"))
        return ids.index(job_id) + 1 if job_id in ids else None

    async def jobs_for_owner(
        self, guild_id: int | None, owner_id: int, limit: int = 10
    ) -> list[Job]:
        rows = await self.read(
            "SELECT * FROM jobs WHERE guild_id IS ? AND owner_id = ? AND parent_id IS NULL "
            "ORDER BY created_at DESC LIMIT ?",
            (guild_id, owner_id, limit),
        )
        return [_row_to_job(r) for r in rows]

    async def recent_jobs(self, limit: int = 20) -> list[Job]:
        async with self.db.execute(
            "SELECT * FROM jobs WHERE parent_id IS NULL ORDER BY created_at DESC LIMIT ?",
            (limit,),
        ) as cur:
            rows = await cur.fetchall()
        return [_row_to_job(r) for r in rows]


__all__ = [
    "ACTIVE_STATES",
    "LANES",
    "Database",
    "Job",
    "JobOwner",
    "JobState",
    "Store",
    "dumps",
    "lane_of",
    "new_id",
]
