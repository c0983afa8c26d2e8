"""What every step of a job shares: the store, kie.ai, the models, the delivery, the ledger, and
the few writes a step may make (move to another state, record fields, end, settle, notify)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.chain.plan import Plan
from bot.config.settings import Settings
from bot.domain.clock import Clock
from bot.domain.storyboard import Storyboard
from bot.jobs.delivery import Delivery
from bot.jobs.history import History
from bot.jobs.links import callback_url
from bot.jobs.states import SENT_STATES, JobState
from bot.jobs.store import Job, Store
from bot.kie import KieApi
from bot.models import ModelRegistry
from bot.models.base import VideoModel
from bot.quota.policy import Outcome

log = logging.getLogger("bot.jobs")

CALLBACK_SECRET_KEY = "callback_secret"
RETRY_LATER = 30.0  # kie.ai unreachable, a download or a delivery that failed for now
FETCH_GRACE = 3600.0  # keep trying to fetch a finished video this long past the deadline
DELIVERY_GRACE = 1200.0  # keep trying to post a fetched video this long after it was made


class Ledger(Protocol):
    """Where reservations are charged or released (the quota policy, bot.quota.policy.Quotas)."""

    async def switch_model(
        self,
        job_id: str,
        model_name: str,
        credits: int,
        *,
        board: Storyboard,
        options: Mapping[str, object],
        segments: int | None = None,
    ) -> None:
        """Before a fallback takes the job: check the guild's rules against the fallback as it
        would be submitted (``segments``: the chain it makes the storyboard as; None: one
        video) and charge its price, or raise QuotaRefused (nothing changes)."""
        ...

    async def reserved_jobs(self) -> list[tuple[str, float]]: ...

    async def settle(
        self,
        job_id: str,
        *,
        outcome: Outcome,
        now: float | None = None,
        model: str | None = None,
        credits: int | None = None,
    ) -> Any:
        """Settle the reservation by the release policy, at the job's ``model`` and
        ``credits`` when it was priced for another model (a fallback switch cut short)."""
        ...


# How a job that ends without a video settles its reservation (see bot.quota.policy).
END_OUTCOMES: dict[JobState, Outcome] = {
    JobState.REFUSED: "refused",  # kie.ai proved no task was created: nothing spent
    JobState.CANCELLED: "cancelled",  # never sent
    JobState.FAILED: "failed",  # counts only if the guild says failures count
    JobState.UNDELIVERABLE: "delivered",  # made and paid for, just not posted
}


@dataclass
class Context:
    store: Store
    kie: KieApi
    models: ModelRegistry
    delivery: Delivery
    settings: Settings
    clock: Clock
    ledger: Ledger | None = None
    # How long a job keeps trying a kie.ai host it cannot connect to before it gives up (the
    # command line: about a minute); None: until the job's deadline (the bot).
    unreachable_give_up: float | None = None
    _secret: str | None = None
    _notices: dict[str, Job] = field(default_factory=dict)
    _notifier: asyncio.Task[None] | None = None
    _showing: dict[str, asyncio.Lock] = field(default_factory=dict)
    # Told how long each delivered video took from kie.ai finishing it (the metrics).
    on_delivered: Callable[[float], None] | None = None
    # Where a chain's segments are delivered: to their parent job, never to a person
    # (bot.jobs.chaining.SegmentDelivery).
    internal: Delivery | None = None
    # Each model's generation times, behind the learned polling schedule (bot.jobs.history).
    history: History = field(default_factory=History)
    # How a storyboard is planned into segments on a model, within the product's maximum
    # (bot.jobs.chain.Chains.plan, set by it): what a fallback that takes a storyboard only as
    # a chain makes of it. Raises StoryboardError when no plan can be made.
    chain_plan: Callable[[Storyboard, VideoModel], Plan] | None = None

    def delivery_for(self, job: Job) -> Delivery:
        """The owner's delivery; a chain's segment's is its chain's (``internal``)."""
        if job.is_segment and self.internal is not None:
            return self.internal
        return self.delivery

    @property
    def callbacks(self) -> bool:
        return self.settings.callbacks_enabled

    async def callback_secret(self) -> str:
        if self._secret is None:
            self._secret = await self.store.secret(CALLBACK_SECRET_KEY)
        return self._secret

    async def callback_url(self, job_id: str) -> str | None:
        if not self.callbacks:
            return None
        assert self.settings.http.public_url is not None
        return callback_url(
            str(self.settings.http.public_url), await self.callback_secret(), job_id
        )

    # -- writes --------------------------------------------------------------------------
    async def set(self, job: Job, *, notify: bool = False, **fields: object) -> Job:
        """Record ``fields`` (not the state), only while the job is still in the state this
        step read. When another writer moved it meanwhile (a Cancel press, a callback),
        nothing is written and the job is returned as it now is: the step sees the new state
        and stops."""
        updated = await self.store.update_job(job.id, expect=[job.state], **fields)
        if updated is None:
            log.info("job %s: no longer %s; not updated", job.id, job.state)
            return await self.current(job)
        if notify:
            self.notify(updated)
        return updated

    async def move(
        self, job: Job, to: JobState, *, notify: bool = False, **fields: object
    ) -> Job | None:
        """Move ``job`` from the state this step read to ``to``. None when it had moved on
        meanwhile (a Cancel press, a callback, a restart): the step must then stop."""
        moved = await self.store.transition(job.id, job.state, to, **fields)
        if moved is None:
            log.info("job %s: no longer %s; %s not written", job.id, job.state, to)
            return None
        if notify:
            self.notify(moved)
        return moved

    async def current(self, job: Job) -> Job:
        return await self.store.get_job(job.id) or job

    async def record_end(
        self,
        job: Job,
        state: JobState,
        code: str,
        msg: str,
        params: dict[str, object] | None,
        **fields: Any,
    ) -> Job | None:
        """Write a terminal state without a video (and ``fields``), due for delivery now, if
        the job is still in the state this step started from; None when it had moved on.
        Settles nothing: :meth:`end` (or a chain's end) does that."""
        now = self.clock.now()
        return await self.store.transition(
            job.id,
            job.state,
            state,
            fail_code=code,
            fail_msg=msg,
            fail_params=params,
            finished_at=now,
            delivery="pending",
            next_check_at=now,
            **fields,
        )

    async def end(
        self,
        job: Job,
        state: JobState,
        code: str,
        msg: str,
        params: dict[str, object] | None = None,
    ) -> Job:
        """A terminal state without a video; the owner is told on the next step.

        ``code`` is the reason members read (bot.jobs.reasons) with its ``params``; ``msg`` is the
        operator's detail. Written only if the job is still in the state this step started
        from (a Cancel press may have ended it meanwhile): an end is settled once."""
        ended = await self.record_end(job, state, code, msg, params)
        if ended is None:
            return await self.current(job)
        if state == JobState.EXPIRED:
            # Given up on: if kie.ai has (or may have) the task, it may still charge for it.
            sent = job.task_id is not None or job.state in SENT_STATES
            await self.settle(ended, "delivered" if sent else "refused")
        elif state in END_OUTCOMES:
            await self.settle(ended, END_OUTCOMES[state])
        return ended

    async def settle(self, job: Job, outcome: Outcome) -> None:
        if self.ledger is None:
            return
        try:
            await self.ledger.settle(
                job.id,
                outcome=outcome,
                now=self.clock.now(),
                model=job.model,
                credits=job.credits,
            )
        except Exception:
            log.exception("job %s: settling its reservation failed", job.id)

    # -- telling the member ----------------------------------------------------------------
    def notify(self, job: Job) -> None:
        """Show ``job``'s new state to its owner, without waiting: status edits go through
        Discord's rate limits, which must never hold up a step. The latest state of each job
        wins when several changes queue up."""
        self._notices[job.id] = job
        if self._notifier is None or self._notifier.done():
            self._notifier = asyncio.create_task(self._drain(), name="storyboard-notices")

    def showing(self, job_id: str) -> asyncio.Lock:
        """Held while a job's video is posted or its end is told: those show the job's last
        state themselves, and no status notice may land in between or after."""
        return self._showing.setdefault(job_id, asyncio.Lock())

    def shown(self, job_id: str) -> None:
        """The job's last state was shown: forget its lock."""
        lock = self._showing.get(job_id)
        if lock is not None and not lock.locked():
            del self._showing[job_id]

    async def _drain(self) -> None:
        while self._notices:
            job_id = next(iter(self._notices))
            self._notices.pop(job_id)
            lock = self.showing(job_id)
            if lock.locked():
                continue  # being posted or ended: that shows the newer state itself
            try:
                async with lock:
                    # Shown as it is stored now: a notice that waited behind others must not
                    # show an older state, nor any state once the job ended.
                    job = await self.store.get_job(job_id)
                    if job is not None and job.active:
                        await self.delivery_for(job).job_updated(job)
            except Exception:
                log.exception("job %s: status update failed", job_id)
            # The lock is kept: a post or an end may be waiting for it right now, and a new
            # lock made meanwhile would let a notice land beside it. It goes with the job's
            # last state (`shown`, called once the post or the end was shown).

    async def flush(self) -> None:
        """Wait until every queued notice was shown (tests, and a clean stop)."""
        while self._notifier is not None and not self._notifier.done():
            await asyncio.shield(self._notifier)
