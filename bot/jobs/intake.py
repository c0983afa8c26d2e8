"""Generate, without Discord: a draft's storyboard and who asked become a started job, or a refusal.

The order of the steps is what makes Generate safe to interrupt:

1. the checks that need nothing reserved (the image is still stored, the model takes the
   storyboard);
2. the caller acknowledges (Discord wants an answer before the slow part);
3. the quota is reserved, in one write transaction that checks every limit;
4. the job is stored held (holding its reservation, not started);
5. the caller posts where its status will show;
6. the job is released to the tracker.

A crash at any point leaves a job that a restart finishes (and gives the status message it
lacks), never a reservation without a job. Whatever goes wrong before the job starts releases
the reservation: a refusal is returned as a :class:`Refused`, an unexpected error cancels the
stored job (so a restart does not start it) or settles the reservation, and propagates.

A storyboard longer than the model takes in one call is planned into segments (bot.jobs.chain):
:func:`plan_for` is the plan Generate makes, the card shows and the drafts are checked against
(:class:`DraftRules`), and Generate reserves the whole plan's price. :meth:`Intake.again` is a
chain's **Retry from segment k** and **Redo segment N**: the cost of the segments made again is
reserved under the new job's id, the others are reused, and the same steps follow. The new id
is chosen when the confirmation is shown and stored once (the jobs' ids are unique): of two
presses of one confirmation, the one that stores it second is answered ``already`` and leaves
the first one's reservation and start alone. Generate plans within the guild's segment cap
(:meth:`Quotas.max_segments`) and reserves with the plan's segment count, so a plan of more
segments is refused with the quota's ``segments`` rule before anything is spent; a retry or
redo reserves with its chain's segment count, so the same rule refuses it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from bot.chain.plan import Plan
from bot.domain.clock import Clock
from bot.domain.errors import UserError
from bot.domain.storyboard import Limits, Storyboard, StoryboardError, validate
from bot.jobs.chain import ChainError, JobExists, retryable
from bot.jobs.chain import retry_segment as retry_segment  # where the views and cards read it
from bot.jobs.states import JobState
from bot.jobs.store import Job, new_id
from bot.jobs.tracker import Tracker
from bot.media.images import prepare_image_async, reuse_prepared
from bot.models.base import VideoModel
from bot.quota.policy import QuotaRefused, Quotas


@dataclass(frozen=True)
class Order:
    """What to generate, for whom and where its messages go."""

    board: Storyboard
    #: The stored reference image (a draft's current one, or an earlier job's).
    image_path: str | None
    guild_id: int
    user_id: int
    #: Where the job posts (its status and its result); the quota's channel rules apply here.
    channel_id: int | None
    role_ids: Sequence[int] = field(default_factory=tuple)
    draft_id: str | None = None
    revision: int | None = None
    card_message_id: int | None = None


@dataclass(frozen=True)
class StatusPosted:
    """Where the caller showed the job's status."""

    message_id: int
    channel_id: int


@dataclass(frozen=True)
class Started:
    """The job is stored, its status is shown, and the tracker follows it."""

    job: Job
    status: StatusPosted


#: Why nothing was started:
#: ``image_gone``: the stored image was removed (retention); ``invalid``: the model does not
#: take the storyboard; ``quota``: a limit of the server refused (worth the admin log);
#: ``refused``: the tracker refused the job when storing it; ``not_posted``: the caller could
#: not show its status (and said why itself); ``already``: an earlier press of the same
#: confirmation started it; ``gone``: the chain to retry or redo cannot be (any more).
Stage = Literal["image_gone", "invalid", "quota", "refused", "not_posted", "already", "gone"]


@dataclass(frozen=True)
class Refused:
    """Nothing was started and nothing stays reserved. ``error`` says why in the member's
    words (None for ``image_gone`` and ``not_posted``)."""

    stage: Stage
    error: UserError | None = None


Outcome = Started | Refused

#: Shows a held job's status; None when it could not (the caller told the member why).
PostStatus = Callable[[Job], Awaitable[StatusPosted | None]]
Acknowledge = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


#: How far apart the lengths a chain adds to the model's own are (s): 20, 25, 30 ... 60.
LENGTH_STEP = 5


def plan_for(tracker: Tracker, board: Storyboard, *, max_segments: int | None = None) -> Plan:
    """The plan Generate makes of ``board`` now: on the model a new job goes to, or on the
    fallback while the primary is unavailable and the fallback can make it in segments.
    Raises StoryboardError with the rule when no plan can be made."""
    chosen = tracker.model_for(board)
    models = tracker.ctx.models
    now = tracker.clock.now()
    fb = models.fallback
    if (
        models.unavailable(chosen.name, now)
        and fb is not None
        and fb.name != chosen.name
        and not models.unavailable(fb.name, now)
    ):
        try:
            return tracker.plan(board, fb.name, max_segments=max_segments)
        except StoryboardError:
            pass  # the fallback cannot make it at all: the unavailable model's plan says why
    return tracker.plan(board, chosen.name, max_segments=max_segments)


def chain_limits(model: VideoModel, *, max_seconds: int, max_shots: int) -> Limits:
    """``model``'s rules, with the lengths and shot count a chain of its segments reaches."""
    lim = model.limits
    top = max(lim.lengths)
    extra = range(top - top % LENGTH_STEP + LENGTH_STEP, max_seconds + 1, LENGTH_STEP)
    return replace(
        lim,
        max_shots=max(lim.max_shots, max_shots),
        lengths=tuple(sorted({*lim.lengths, *extra})),
    )


class DraftRules(VideoModel):
    """The primary model as a draft sees it: its limits, stretched to what a chain of segments
    makes (up to the product's maximum), checked and priced by the plan Generate would make.
    What the command, the card's forms and the thread check a storyboard against. It is not
    sent to kie.ai: the plan names the model that is."""

    def __init__(
        self,
        tracker: Tracker,
        primary: Callable[[], VideoModel],
        *,
        max_segments: int | None = None,
    ) -> None:
        self.tracker = tracker
        self._primary = primary
        self.max_segments = max_segments
        model = primary()
        self.name = model.name
        self.label = model.label
        self.image_spec = model.image_spec
        self.reports_progress = model.reports_progress
        chains = tracker.chains
        self.limits = chain_limits(
            model, max_seconds=chains.max_seconds, max_shots=chains.max_shots
        )

    def plan(self, board: Storyboard) -> Plan:
        """The plan of ``board``; raises StoryboardError with the first rule it breaks."""
        validate(board, self.limits)
        return plan_for(self.tracker, board, max_segments=self.max_segments)

    def validate(self, board: Storyboard) -> None:
        self.plan(board)

    def price(self, board: Storyboard) -> int:
        return self.plan(board).price

    def build_input(self, board: Storyboard, image_url: str) -> dict[str, Any]:
        raise NotImplementedError("a draft's rules are not sent to kie.ai: its plan's model is")

    @property
    def options(self) -> dict[str, object]:
        return self._primary().options


@dataclass(frozen=True)
class Again:
    """A chain's **Retry from segment n** (``kind="retry"``, a chain that ended without its
    video) or **Redo segment n** (``"redo"``, a delivered chain), for ``user_id``.
    ``job_id``: the new chain's id, chosen when the confirmation was shown, so a second press
    of the same confirmation starts nothing more."""

    kind: Literal["retry", "redo"]
    source_id: str
    segment: int
    job_id: str
    user_id: int
    role_ids: Sequence[int] = field(default_factory=tuple)


class Intake:
    """Generate's rules: the checks, the reservation, the held job and its start."""

    def __init__(
        self,
        *,
        tracker: Tracker,
        quotas: Quotas,
        clock: Clock,
        model: Callable[[], VideoModel],
    ) -> None:
        """``model``: the primary model, whose rules a draft follows (the tracker may hand
        the job to another, which is reserved at its own price)."""
        self.tracker = tracker
        self.quotas = quotas
        self.clock = clock
        self._model = model

    async def generate(
        self,
        order: Order,
        *,
        post_status: PostStatus,
        acknowledge: Acknowledge = _nothing,
    ) -> Outcome:
        """Run Generate for ``order`` (see the module's docstring for the steps)."""
        path = order.image_path
        if not path or not await asyncio.to_thread(Path(path).exists):
            return Refused("image_gone")
        # The guild's segment cap (None: none, or a bot owner) holds for the plan itself.
        cap = await self.quotas.max_segments(order.guild_id, user_id=order.user_id)
        try:
            plan = DraftRules(self.tracker, self._model, max_segments=cap).plan(order.board)
        except StoryboardError as exc:
            if exc.code == "segments_over" and cap is not None:
                # A rule of the server, worded as the quota's, as the reservation would.
                needed = exc.params.get("needed")
                return Refused("quota", QuotaRefused("segments", segments=needed, limit=cap))
            return Refused("invalid", exc)
        # A chain's whole price is reserved at once: the quota sees it before anything is spent.
        model = self.tracker.ctx.models.get(plan.model)
        job_id = new_id()
        await acknowledge()
        refused = await self._reserve(
            job_id,
            model,
            plan.price,
            guild_id=order.guild_id,
            user_id=order.user_id,
            channel_id=order.channel_id,
            role_ids=order.role_ids,
            board=order.board,
            segments=plan.count,
        )
        if refused is not None:
            return refused
        try:
            return await self._submit(order, path, job_id, model, post_status)
        except BaseException:
            await self._abandon(job_id)
            raise

    async def _reserve(
        self,
        job_id: str,
        model: VideoModel,
        credits: int,
        *,
        guild_id: int,
        user_id: int,
        channel_id: int | None,
        role_ids: Sequence[int],
        board: Storyboard,
        segments: int | None = None,
    ) -> Refused | None:
        """Reserve ``credits`` on ``model`` under ``job_id``; the quota's refusal, if it refuses."""
        try:
            await self.quotas.reserve(
                job_id=job_id,
                guild_id=guild_id,
                user_id=user_id,
                channel_id=channel_id,
                role_ids=list(role_ids),
                board=board,
                model_name=model.name,
                credits=credits,
                now=self.clock.now(),
                options=model.options,
                segments=segments,
            )
        except QuotaRefused as exc:
            return Refused("quota", exc)
        return None

    async def _abandon(self, job_id: str) -> None:
        """Whatever went wrong before the job started: it never will (a stored job is
        cancelled, so a restart does not start it), and nothing was spent. A job already on
        its way (being sent, or its end already settled) keeps its reservation: the engine
        settles it."""
        if await self.tracker.cancel(job_id):
            return
        if await self.tracker.store.get_job(job_id) is None:  # never stored
            await self.quotas.settle(job_id, outcome="cancelled")

    async def _submit(
        self,
        order: Order,
        path: str,
        job_id: str,
        model: VideoModel,
        post_status: PostStatus,
    ) -> Outcome:
        """Store the job held, have its status shown, then start it."""
        primary = self._model()
        data = await asyncio.to_thread(Path(path).read_bytes)
        # The draft's image was prepared when it was stored: not decoded again here.
        image = reuse_prepared(data, primary.image_spec) or await prepare_image_async(
            data, primary.image_spec
        )
        try:
            job = await self.tracker.submit(
                order.board,
                image,
                origin="discord",
                model=model.name,
                hold=True,
                id=job_id,
                owner_id=order.user_id,
                guild_id=order.guild_id,
                channel_id=order.channel_id,
                draft_id=order.draft_id,
                revision=order.revision,
                card_message_id=order.card_message_id,
            )
        except StoryboardError as exc:
            await self.quotas.settle(job_id, outcome="refused")
            return Refused("refused", exc)
        return await self._start(job, post_status)

    async def _start(self, job: Job, post_status: PostStatus) -> Outcome:
        """Have a held job's status shown, then start it (a status never shown cancels it)."""
        posted = await post_status(job)
        if posted is None:
            await self.tracker.cancel(job.id)  # never shown: the reservation is released
            return Refused("not_posted")
        started = await self.tracker.release(
            job.id, status_message_id=posted.message_id, channel_id=posted.channel_id
        )
        return Started(started or job, posted)

    async def cost(self, kind: Literal["retry", "redo"], source_id: str, n: int) -> int | None:
        """What a retry from segment ``n`` or a redo of it costs; None when it cannot be made
        (not a chain, a segment out of range, or the chain is not in a state for it)."""
        source = await self.tracker.store.get_job(source_id)
        if source is None or _again_refusal(kind, source) is not None:
            return None
        try:
            return await self.tracker.chains.cost_from(source_id, n)
        except ChainError:
            return None

    async def again(
        self, request: Again, *, post_status: PostStatus, acknowledge: Acknowledge = _nothing
    ) -> Outcome:
        """Retry a chain from a segment, or redo one of a delivered chain: the segments made
        again are reserved under ``request.job_id``, then the new chain is stored held, its
        status shown and it starts (the same steps as :meth:`generate`)."""
        tracker = self.tracker
        if await tracker.store.get_job(request.job_id) is not None:
            return Refused("already")
        source = await tracker.store.get_job(request.source_id)
        cost = await self.cost(request.kind, request.source_id, request.segment)
        if source is None or cost is None or source.guild_id is None:
            return Refused("gone")
        if not source.image_path or not await asyncio.to_thread(Path(source.image_path).exists):
            return Refused("image_gone")
        model = tracker.ctx.models.get(source.model)
        job_id = request.job_id
        await acknowledge()
        refused = await self._reserve(
            job_id,
            model,
            cost,
            guild_id=source.guild_id,
            user_id=request.user_id,
            channel_id=source.channel_id,
            role_ids=request.role_ids,
            board=source.storyboard,
            # The new video is the whole chain, as at Generate: the guild's segment cap holds.
            segments=source.segments,
        )
        if refused is not None:
            return refused
        try:
            make = (
                tracker.chains.retry_from
                if request.kind == "retry"
                else tracker.chains.redo_segment
            )
            try:
                job = await make(
                    source.id, request.segment, id=job_id, hold=True, owner_id=request.user_id
                )
            except JobExists:
                # Another press of the same confirmation stored it first: its reservation and
                # its start are that press's.
                return Refused("already")
            except ChainError:
                # Changed since the cost was shown (e.g. another retry ended it differently).
                await self.quotas.settle(job_id, outcome="refused")
                return Refused("gone")
            return await self._start(job, post_status)
        except BaseException:
            await self._abandon(job_id)
            raise


def _again_refusal(kind: str, job: Job) -> str | None:
    """Why ``job`` cannot be retried (``kind="retry"``) or redone now; None: it can."""
    if not job.is_chain:
        return "not a chain"
    if kind == "redo":
        return None if job.state == JobState.DELIVERED else "not delivered"
    return None if retryable(job) else "not ended in a way a retry mends"
