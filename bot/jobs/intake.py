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
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bot.domain.clock import Clock
from bot.domain.errors import UserError
from bot.domain.storyboard import Storyboard, StoryboardError
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
#: not show its status (and said why itself).
Stage = Literal["image_gone", "invalid", "quota", "refused", "not_posted"]


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
        primary = self._model()
        path = order.image_path
        if not path or not await asyncio.to_thread(Path(path).exists):
            return Refused("image_gone")
        try:
            primary.validate(order.board)
        except StoryboardError as exc:
            return Refused("invalid", exc)
        model = self.tracker.model_for(order.board)
        job_id = new_id()
        await acknowledge()
        try:
            await self.quotas.reserve(
                job_id=job_id,
                guild_id=order.guild_id,
                user_id=order.user_id,
                channel_id=order.channel_id,
                role_ids=list(order.role_ids),
                board=order.board,
                model_name=model.name,
                credits=model.price(order.board),
                now=self.clock.now(),
                options=model.options,
            )
        except QuotaRefused as exc:
            return Refused("quota", exc)
        try:
            return await self._submit(order, path, job_id, model, post_status)
        except BaseException:
            # Whatever went wrong before the job started: it never will (a stored job is
            # cancelled, so a restart does not start it), and nothing was spent.
            if not await self.tracker.cancel(job_id):
                await self.quotas.settle(job_id, outcome="cancelled")
            raise

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
        posted = await post_status(job)
        if posted is None:
            await self.tracker.cancel(job_id)  # never shown: the reservation is released
            return Refused("not_posted")
        started = await self.tracker.release(
            job_id, status_message_id=posted.message_id, channel_id=posted.channel_id
        )
        return Started(started or job, posted)
