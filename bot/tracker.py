"""The job tracker: submits jobs and follows each one to its end, durably.

One dispatch loop, not one coroutine per job. Every job row carries ``next_check_at``; the loop
sleeps until the earliest one and is woken early (an ``asyncio.Event``) when a job is added or a
callback arrives. Each step reads the job's stored state, does one thing, and writes the new state
before the next step starts, so a restart resumes every job where it was:

    queued -> submitting -> running -> succeeded -> fetched -> delivered
    exits: refused (nothing spent) | failed | unknown (never resubmitted) | expired
           | cancelled | undeliverable

A job found in ``submitting`` after a restart was being sent when the process died: its outcome
is unknown and it is never sent again. With callbacks, the callback that carries its job id can
still reconcile it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Protocol

from bot.clock import Clock
from bot.config import Settings
from bot.delivery import Delivery, UndeliverableError
from bot.download import DownloadError
from bot.images import ImageError, PreparedImage, prepare_image
from bot.kie import CreateOutcomeUnknown, KieApi, KieError, KieUnreachable, TaskRecord
from bot.models import ModelRegistry
from bot.models.base import VideoModel
from bot.quota import Outcome, QuotaRefused
from bot.reasons import generation_failure
from bot.schedule import next_poll_delay
from bot.store import ACTIVE_STATES, Job, JobState, Store
from bot.storyboard import Storyboard, StoryboardError
from bot.webhooks import callback_url

log = logging.getLogger(__name__)

CALLBACK_SECRET_KEY = "callback_secret"
LEASE = 600.0  # a job being processed is not picked again for this long
RETRY_LATER = 30.0  # kie.ai unreachable, a download or a delivery that failed for now
IDLE_SLEEP = 3600.0  # nothing due: sleep until woken
ORPHAN_GRACE = 600.0  # a reservation without a job this old was left by a crash
FETCH_GRACE = 3600.0  # keep trying to fetch/deliver a finished video this long past the deadline


class Ledger(Protocol):
    """Where reservations are charged or released (the quota policy, bot.quota.Quotas)."""

    async def switch_model(
        self,
        job_id: str,
        model_name: str,
        credits: int,
        *,
        board: Storyboard,
        options: Mapping[str, object],
    ) -> None:
        """Before a fallback takes the job: check the guild's rules against the fallback as it
        would be submitted and charge its price, or raise QuotaRefused (nothing changes)."""
        ...

    async def reserved_jobs(self) -> list[tuple[str, float]]: ...

    async def settle(self, job_id: str, *, outcome: Outcome, now: float | None = None) -> Any: ...


# How a job that ends without a video settles its reservation (see bot.quota).
END_OUTCOMES: dict[JobState, Outcome] = {
    JobState.REFUSED: "refused",  # kie.ai proved no task was created: nothing spent
    JobState.CANCELLED: "cancelled",  # never sent
    JobState.FAILED: "failed",  # counts only if the guild says failures count
    JobState.UNDELIVERABLE: "delivered",  # made and paid for, just not posted
}


def _clock_text(at: float) -> str:
    """A time for a log line ("14:03:27", local time)."""
    return time.strftime("%H:%M:%S", time.localtime(at))


class Tracker:
    def __init__(
        self,
        *,
        store: Store,
        kie: KieApi,
        models: ModelRegistry,
        delivery: Delivery,
        settings: Settings,
        clock: Clock | None = None,
        origin: str | None = None,
        only: Collection[str] | None = None,
        ledger: Ledger | None = None,
        unreachable_give_up: float | None = None,
    ) -> None:
        self.store = store
        self.kie = kie
        self.models = models
        self.delivery = delivery
        self.settings = settings
        self.clock = clock or Clock()
        self.origin = origin  # process only jobs of this origin ("discord", "cli")
        self.only = set(only) if only is not None else None
        self.ledger = ledger
        # How long a job keeps trying a kie.ai host it cannot connect to before it gives up
        # (the command line: about a minute); None: until the job's deadline (the bot).
        self.unreachable_give_up = unreachable_give_up
        self.media_dir = Path(settings.storage.media_dir)
        self._sleeping = False
        self._woken = False
        self._again = False
        self._inflight: dict[str, asyncio.Task[None]] = {}
        # createTask requests sent and not yet answered: stop() waits for them.
        self._creating: set[asyncio.Future[Job]] = set()
        self._sem = asyncio.Semaphore(settings.tracker.concurrency)
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._secret: str | None = None

    # -- public API ----------------------------------------------------------------------
    @property
    def callbacks(self) -> bool:
        return self.settings.callbacks_enabled

    async def callback_secret(self) -> str:
        if self._secret is None:
            self._secret = await self.store.secret(CALLBACK_SECRET_KEY)
        return self._secret

    async def submit(
        self,
        board: Storyboard,
        image: PreparedImage,
        *,
        origin: str = "cli",
        model: str | None = None,
        **fields: object,
    ) -> Job:
        """Validate, store the image and the job, and wake the loop. Nothing is spent here.

        Raises StoryboardError when the storyboard does not fit the model.
        """
        chosen = self.model_for(board, model)
        now = self.clock.now()
        chosen.validate(board)
        job_fields: dict[str, object] = {
            "origin": origin,
            "model": chosen.name,
            "storyboard": board,
            "state": JobState.QUEUED,
            "created_at": now,
            "updated_at": now,
            "next_check_at": now,
            "deadline_at": now + self.settings.tracker.deadline_minutes * 60,
            "credits": chosen.price(board),
            **fields,
        }
        from bot.store import new_id

        job_id = str(job_fields.pop("id", None) or new_id())
        path = self.media_dir / "images" / f"{job_id}.{image.extension}"
        path.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(path.write_bytes, image.data)
        job = await self.store.create_job(id=job_id, image_path=str(path), **job_fields)
        if self.only is not None:
            self.only.add(job.id)
        self.wake()
        return job

    def model_for(self, board: Storyboard, name: str | None = None) -> VideoModel:
        """The model a new job for ``board`` goes to now (the fallback while the primary is
        known to be paused and the storyboard fits the fallback)."""
        chosen = self.models.get(name) if name else self.models.primary
        if self.models.unavailable(chosen.name, self.clock.now()):
            fallback = self.fallback_for(board, chosen)
            if fallback is not None:
                return fallback
        return chosen

    async def _settle(self, job: Job, outcome: Outcome) -> None:
        if self.ledger is None:
            return
        try:
            await self.ledger.settle(job.id, outcome=outcome, now=self.clock.now())
        except Exception:
            log.exception("job %s: settling its reservation failed", job.id)

    async def cancel(self, job_id: str) -> bool:
        """Cancel a job that has not been sent to kie.ai yet. False once it has."""
        job = await self.store.update_job(
            job_id,
            expect=[JobState.QUEUED],
            state=JobState.CANCELLED,
            fail_code="cancelled",
            fail_msg="cancelled before it was sent to kie.ai",
            finished_at=self.clock.now(),
            next_check_at=self.clock.now(),
        )
        if job:
            await self._settle(job, "cancelled")
            self.wake()
        return job is not None

    async def settle_leftovers(self) -> int:
        """At start-up: settle reservations a crash left behind. A job that ended (or whose
        video was made) settles as it would have; a reservation whose job was never created
        (the process died between reserving and submitting) is released after a grace time."""
        if self.ledger is None:
            return 0
        now = self.clock.now()
        settled = 0
        for job_id, reserved_at in await self.ledger.reserved_jobs():
            job = await self.store.get_job(job_id)
            if job is None:
                if now - reserved_at > ORPHAN_GRACE:
                    await self.ledger.settle(job_id, outcome="cancelled", now=now)
                    settled += 1
                continue
            outcome: Outcome | None = END_OUTCOMES.get(job.state)
            if job.state in (JobState.SUCCEEDED, JobState.FETCHED, JobState.DELIVERED):
                outcome = "delivered"
            elif job.state == JobState.EXPIRED:
                sent = job.task_id is not None or job.fail_code == "unknown_deadline"
                outcome = "delivered" if sent else "refused"
            if outcome is not None:
                await self._settle(job, outcome)
                settled += 1
        return settled

    async def resume(self) -> int:
        """At start-up: make every unfinished job (or undelivered end) of this tracker due now."""
        await self.settle_leftovers()
        now = self.clock.now()
        states = [str(s) for s in ACTIVE_STATES]
        marks = ", ".join("?" for _ in states)
        sql = (
            f"UPDATE jobs SET next_check_at = ? WHERE (state IN ({marks}) OR delivery = 'pending')"
        )
        params: list[object] = [now, *states]
        if self.only is not None:
            ids = sorted(self.only)
            sql += f" AND id IN ({', '.join('?' for _ in ids)})"
            params.extend(ids)
        elif self.origin:
            sql += " AND origin = ?"
            params.append(self.origin)
        count = await self.store.write(sql, params)
        self.wake()
        return count

    def wake(self) -> None:
        """Make the loop look at the store again now (a job was added or a callback came)."""
        if self._sleeping and not self._woken and self._loop_task is not None:
            self._woken = True
            self._loop_task.cancel()
        else:
            self._again = True

    async def on_callback(self, job_id: str, task_id: str | None) -> bool:
        """A callback arrived for ``job_id``: wake the job. The truth is read with recordInfo.

        A job whose createTask outcome was unknown learns its task id here, after recordInfo
        confirms the task was created with this job's callback URL.
        """
        job = await self.store.get_job(job_id)
        if job is None:
            return False
        if job.task_id is None and task_id and job.state in (JobState.UNKNOWN, JobState.SUBMITTING):
            await self._reconcile(job, task_id)
        elif job.task_id and task_id and job.task_id != task_id:
            log.warning("callback for job %s names another task; ignored", job_id)
            return False
        if job.active:
            await self.store.update_job(job.id, next_check_at=self.clock.now())
            self.wake()
        return True

    async def _reconcile(self, job: Job, task_id: str) -> None:
        try:
            record = await self.kie.record_info(task_id)
        except (KieError, KieUnreachable) as exc:
            log.warning("cannot confirm task %s for job %s: %s", task_id, job.id, exc)
            return
        expected = await self._callback_url(job.id)
        if record is None or record.callback_url != expected:
            log.warning("callback task %s does not belong to job %s; ignored", task_id, job.id)
            return
        now = self.clock.now()
        updated = await self.store.update_job(
            job.id,
            expect=[JobState.UNKNOWN, JobState.SUBMITTING],
            task_id=task_id,
            state=JobState.RUNNING,
            submitted_at=job.submitted_at or now,
            next_check_at=now,
            fail_code=None,
            fail_msg=None,
        )
        if updated:
            log.info("job %s: unknown createTask outcome resolved, task %s", job.id, task_id)
            await self._notify(updated)

    # -- the loop ------------------------------------------------------------------------
    def start(self) -> None:
        if self._loop_task is None:
            self._stopping = False
            self._loop_task = asyncio.create_task(self._run(), name="storyboard-tracker")

    async def stop(self) -> None:
        self._stopping = True
        if self._loop_task:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        tasks = list(self._inflight.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # A createTask already sent is answered (or times out) and recorded before stopping.
        await asyncio.gather(*list(self._creating), return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping:
            self._again = False
            try:
                await self.run_due()
                delay = await self._sleep_time()
            except Exception:
                log.exception("tracker loop error; retrying shortly")
                delay = 5.0
            if self._again:
                continue
            # Sleep until the next job is due; wake() cancels the sleep (not an Event: a plain
            # sleep is what test harnesses with virtual time recognise as parked).
            self._sleeping = True
            try:
                await self.clock.sleep(IDLE_SLEEP if delay is None else delay)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not self._woken or task is None:
                    raise
                task.uncancel()
            finally:
                self._sleeping = self._woken = False

    async def _sleep_time(self) -> float | None:
        nxt = await self.store.next_check_at()
        return None if nxt is None else max(0.0, nxt - self.clock.now())

    async def run_once(self) -> None:
        """Run every due step and wait for them (tests and one-shot tools drive it so)."""
        await self.run_due()
        while self._inflight:
            await asyncio.gather(*list(self._inflight.values()), return_exceptions=True)

    async def run_due(self) -> None:
        """Start a step for every due job (not already in progress)."""
        now = self.clock.now()
        for job in await self.store.due_jobs(now, limit=500):
            if job.id in self._inflight or not self._mine(job):
                continue
            # Lease it, so the loop does not pick it again while the step runs.
            await self.store.update_job(job.id, next_check_at=now + LEASE)
            task = asyncio.create_task(self._guarded_step(job.id), name=f"job-{job.id}")
            self._inflight[job.id] = task

    def _mine(self, job: Job) -> bool:
        if self.only is not None:
            return job.id in self.only
        return self.origin is None or job.origin == self.origin

    async def _guarded_step(self, job_id: str) -> None:
        try:
            job = await self.store.get_job(job_id)
            if job is None:
                return
            if job.state == JobState.QUEUED:
                # Submitting waits on the create limiter; it must not hold a slot that the
                # status reads of running jobs need.
                await self.step(job)
            else:
                async with self._sem:
                    await self.step(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %s: unexpected error; will retry", job_id)
            with contextlib.suppress(Exception):
                await self.store.update_job(job_id, next_check_at=self.clock.now() + RETRY_LATER)
        finally:
            self._inflight.pop(job_id, None)
            self.wake()

    # -- steps ---------------------------------------------------------------------------
    async def step(self, job: Job) -> None:
        """Advance ``job`` as far as it can go now, writing each state as it is reached."""
        while True:
            before = (job.state, job.delivery, job.model)
            job = await self._advance(job)
            if (job.state, job.delivery, job.model) == before or job.next_check_at is None:
                return
            if job.next_check_at > self.clock.now():
                return

    async def _advance(self, job: Job) -> Job:
        now = self.clock.now()
        match job.state:
            case JobState.QUEUED:
                return await self._submit(job, now)
            case JobState.SUBMITTING:
                return await self._set(
                    job,
                    state=JobState.UNKNOWN,
                    fail_code="unknown_stopped",
                    fail_msg="the bot stopped while sending the job to kie.ai; it may or may "
                    "not have been accepted, so it was not sent again",
                    next_check_at=self._unknown_check(job, now),
                    notify=True,
                )
            case JobState.RUNNING:
                return await self._poll(job, now)
            case JobState.SUCCEEDED:
                return await self._fetch(job, now)
            case JobState.FETCHED:
                return await self._deliver(job, now)
            case JobState.UNKNOWN:
                if now >= job.deadline_at:
                    return await self._end(
                        job,
                        JobState.EXPIRED,
                        "unknown_deadline",
                        "kie.ai never confirmed the job; check your kie.ai dashboard before "
                        "trying again",
                    )
                return await self._set(job, next_check_at=self._unknown_check(job, now))
            case _:
                if job.delivery == "pending":
                    await self.delivery.job_ended(job)
                    return await self._set(job, delivery="done", next_check_at=None)
                return await self._set(job, next_check_at=None)

    def _unknown_check(self, job: Job, now: float) -> float:
        # Nothing to ask kie.ai without a task id: wait for a callback until the deadline.
        return max(job.deadline_at, now)

    async def _set(self, job: Job, *, notify: bool = False, **fields: object) -> Job:
        updated = await self.store.update_job(job.id, **fields)
        assert updated is not None
        if notify:
            await self._notify(updated)
        return updated

    async def _notify(self, job: Job) -> None:
        try:
            await self.delivery.job_updated(job)
        except Exception:
            log.exception("job %s: status update failed", job.id)

    async def _end(
        self,
        job: Job,
        state: JobState,
        code: str,
        msg: str,
        params: dict[str, object] | None = None,
    ) -> Job:
        """A terminal state without a video; the owner is told on the next step.

        ``code`` is the reason members read (bot.reasons) with its ``params``; ``msg`` is the
        operator's detail. Written only if the job is still in the state this step started
        from (a Cancel press may have ended it meanwhile): an end is settled once."""
        ended = await self.store.update_job(
            job.id,
            expect=[job.state],
            state=state,
            fail_code=code,
            fail_msg=msg,
            fail_params=params,
            finished_at=self.clock.now(),
            delivery="pending",
            next_check_at=self.clock.now(),
        )
        if ended is None:
            return await self.store.get_job(job.id) or job
        if state == JobState.EXPIRED:
            # Given up on: if kie.ai has (or may have) the task, it may still charge for it.
            sent = job.task_id is not None or job.state == JobState.UNKNOWN
            await self._settle(ended, "delivered" if sent else "refused")
        elif state in END_OUTCOMES:
            await self._settle(ended, END_OUTCOMES[state])
        return ended

    async def _callback_url(self, job_id: str) -> str | None:
        if not self.callbacks:
            return None
        assert self.settings.http.public_url is not None
        return callback_url(
            str(self.settings.http.public_url), await self.callback_secret(), job_id
        )

    # a kie.ai host that cannot be reached: keep trying, bounded, and say so
    async def _stalled(
        self, job: Job, now: float, exc: KieUnreachable, *, state: JobState | None = None
    ) -> Job:
        """Nothing reached kie.ai (the connection never opened): try again later, until the
        give-up time (the command line's bound, else the job's deadline), then give up."""
        since = float(job.stall["since"]) if job.stall else now
        if self.unreachable_give_up is not None:
            give_up = min(since + self.unreachable_give_up, job.deadline_at)
        else:
            give_up = job.deadline_at
        stall = {"host": exc.host, "setting": exc.setting, "since": since, "until": give_up}
        if now >= give_up:
            if state is not None:
                job = await self._set(job, state=state, stall=stall)
            return await self._give_up_unreachable(job.model_copy(update={"stall": stall}), now)
        retry_at = min(now + RETRY_LATER, give_up)
        log.warning(
            "job %s: %s; retrying at %s, giving up at %s",
            job.id,
            exc,
            _clock_text(retry_at),
            _clock_text(give_up),
        )
        fields: dict[str, object] = {"stall": stall, "next_check_at": retry_at}
        if state is not None:
            fields["state"] = state
        return await self._set(job, notify=job.stall is None, **fields)

    async def _give_up_unreachable(self, job: Job, now: float) -> Job:
        stall = job.stall or {}
        host, setting = str(stall.get("host", "kie.ai")), str(stall.get("setting", ""))
        waited = now - float(stall.get("since", now))
        where = f"{host} ({setting})" if setting else host
        log.warning("job %s: gave up: %s could not be reached for %.0f s", job.id, where, waited)
        return await self._end(
            job,
            JobState.REFUSED,
            "unreachable",
            f"cannot reach kie.ai at {where}; gave up after {waited:.0f} s; nothing was sent "
            "or charged",
            {"host": host, "setting": setting},
        )

    # queued -> submitting -> running
    async def _submit(self, job: Job, now: float) -> Job:
        if now >= job.deadline_at:
            if job.stall:
                return await self._give_up_unreachable(job, now)
            return await self._end(
                job,
                JobState.EXPIRED,
                "deadline_queued",
                "the job waited too long to be sent to kie.ai; nothing was spent",
            )
        model = self.models.get(job.model)
        if self.models.unavailable(model.name, now):
            switched = await self._switch_to_fallback(job, model, None)
            if switched is not None:
                return switched
        try:
            image_url = job.image_url or await self._upload(job, model)
        except ImageError as exc:
            return await self._end(job, JobState.REFUSED, "image", str(exc))
        except KieError as exc:
            if 400 <= exc.code < 500 and exc.code != 429:
                # A refusal of the upload is not a blip: say so now, nothing was spent.
                log.warning("job %s: kie.ai refused the upload: %s", job.id, exc.meaning)
                reason = "image" if exc.validation else exc.reason
                return await self._end(job, JobState.REFUSED, reason, exc.meaning)
            log.warning("job %s: upload failed (%s); retrying later", job.id, exc)
            return await self._set(job, next_check_at=now + RETRY_LATER)
        except KieUnreachable as exc:
            return await self._stalled(job, now, exc)
        if job.image_url != image_url or job.stall:
            job = await self._set(job, image_url=image_url, stall=None)

        body = model.request_body(job.storyboard, image_url, await self._callback_url(job.id))
        async with self.kie.limits.create:
            # Recorded before sending: from here a crash means "outcome unknown".
            sending = await self.store.update_job(
                job.id, expect=[JobState.QUEUED], state=JobState.SUBMITTING
            )
            if sending is None:  # cancelled while waiting for the rate limit
                return await self.store.get_job(job.id) or job
            # Once sent, the answer is recorded even if the tracker stops meanwhile (a restart,
            # Ctrl-C): a task kie.ai accepted is paid for, so its id must not be lost.
            creating = asyncio.ensure_future(self._send(sending, model, body, now))
            self._creating.add(creating)
            creating.add_done_callback(self._creating.discard)
            return await asyncio.shield(creating)

    async def _send(self, sending: Job, model: VideoModel, body: dict[str, Any], now: float) -> Job:
        """createTask for a job recorded as ``submitting``, and its outcome recorded."""
        try:
            task_id = await self.kie.create_task(body, acquire=False)
        except CreateOutcomeUnknown as exc:
            log.warning("job %s: createTask outcome unknown: %s", sending.id, exc.reason)
            return await self._set(
                sending,
                state=JobState.UNKNOWN,
                fail_code="unknown",
                fail_msg=f"kie.ai did not confirm the job ({exc.reason}); it may or may not "
                "have been accepted, so it was not sent again",
                next_check_at=self._unknown_check(sending, now),
                notify=True,
            )
        except KieUnreachable as exc:
            return await self._stalled(sending, now, exc, state=JobState.QUEUED)
        except KieError as exc:
            return await self._refused(sending, model, exc)
        self.models.mark_available(model.name)
        now = self.clock.now()
        log.info("job %s: submitted to %s as %s", sending.id, model.name, task_id)
        return await self._set(
            sending,
            state=JobState.RUNNING,
            task_id=task_id,
            kie_state="waiting",
            stall=None,
            submitted_at=now,
            next_check_at=now + self._poll_delay(0),
            notify=True,
        )

    def _poll_delay(self, elapsed: float) -> float:
        t = self.settings.tracker
        return next_poll_delay(
            elapsed,
            callbacks=self.callbacks,
            poll_min=t.poll_min_seconds,
            safety_min=t.callback_poll_min_seconds,
        )

    async def _upload(self, job: Job, model: VideoModel) -> str:
        raw = await asyncio.to_thread(Path(job.image_path).read_bytes)
        image = await asyncio.to_thread(prepare_image, raw, model.image_spec)
        # Named by its real format: kie.ai's file host serves the type the extension says.
        return await self.kie.upload(image.data, f"{job.id}.{image.extension}", "storyboard-bot")

    async def _refused(self, job: Job, model: VideoModel, exc: KieError) -> Job:
        """createTask answered with a code that proves no task was created."""
        if exc.model_unavailable:
            self.models.mark_unavailable(model.name, self.clock.now(), exc.meaning)
            switched = await self._switch_to_fallback(job, model, exc)
            if switched is not None:
                return switched
            code, detail = self._unavailable(model, job, exc)
            params = {"model": model.name, "fallback": getattr(self.models.fallback, "name", "")}
            if job.fallback_from:
                params = {"model": job.fallback_from, "fallback": model.name}
            return await self._end(job, JobState.REFUSED, code, detail, params)
        if exc.validation:
            field = f" (field: {exc.field})" if exc.field else ""
            log.warning(
                "job %s: kie.ai refused createTask as invalid: %s%s", job.id, exc.msg, field
            )
        return await self._end(job, JobState.REFUSED, exc.reason, exc.meaning)

    def _unavailable(self, model: VideoModel, job: Job, exc: KieError) -> tuple[str, str]:
        """The reason code and the operator's detail when no fallback takes the job."""
        text = f"{model.name} is unavailable at kie.ai ({exc.meaning})"
        if job.fallback_from:
            return "models_unavailable", (
                f"{text}; it was the fallback for {job.fallback_from}, which is unavailable too"
            )
        fb = self.models.fallback
        if fb is None or fb.name == model.name:
            return "model_unavailable", (
                f"{text}, and no fallback model is configured; the operator can set KIE_MODEL "
                "or KIE_FALLBACK_MODEL to another model (e.g. kling-3.0-omni/image-to-video)"
            )
        if self.models.unavailable(fb.name, self.clock.now()):
            return "model_unavailable", f"{text}, and the fallback {fb.name} is unavailable too"
        reason = self._fallback_misfit(job.storyboard, fb)
        return "model_unavailable_misfit", (
            f"{text}, and the fallback {fb.name} cannot take this storyboard: {reason}"
        )

    def fallback_for(self, board: Storyboard, model: VideoModel) -> VideoModel | None:
        fb = self.models.fallback
        if fb is None or fb.name == model.name or self._fallback_misfit(board, fb):
            return None
        if self.models.unavailable(fb.name, self.clock.now()):
            return None
        return fb

    @staticmethod
    def _fallback_misfit(board: Storyboard, fb: VideoModel) -> str | None:
        try:
            fb.validate(board)
        except StoryboardError as exc:
            return str(exc)
        return None

    async def _switch_to_fallback(
        self, job: Job, model: VideoModel, exc: KieError | None
    ) -> Job | None:
        fb = self.fallback_for(job.storyboard, model)
        if fb is None:
            return None
        price = fb.price(job.storyboard)
        if self.ledger is not None:
            try:
                # The guild's rules hold for the fallback as it would be submitted (its model,
                # resolution, audio, the length, the monthly budget at its price).
                await self.ledger.switch_model(
                    job.id, fb.name, price, board=job.storyboard, options=fb.options
                )
            except QuotaRefused as refusal:
                log.warning(
                    "job %s: %s is unavailable and the guild's rules refuse the fallback %s: %s",
                    job.id,
                    model.name,
                    fb.name,
                    refusal,
                )
                return await self._end(
                    job,
                    JobState.REFUSED,
                    "fallback_refused",
                    f"{model.name} is unavailable at kie.ai and the guild's rules do not allow "
                    f"the fallback {fb.name}: {refusal}",
                    {
                        "model": model.name,
                        "fallback": fb.name,
                        "rule": refusal.code,
                        "rule_msg": str(refusal),
                        "rule_params": refusal.params,
                    },
                )
        log.warning("job %s: %s is unavailable; falling back to %s", job.id, model.name, fb.name)
        switched = await self.store.update_job(
            job.id,
            expect=[job.state],  # not if a Cancel press ended it meanwhile
            state=JobState.QUEUED,
            model=fb.name,
            fallback_from=model.name,
            credits=price,
            image_url=None,
            next_check_at=self.clock.now(),
        )
        if switched is None:
            return await self.store.get_job(job.id) or job
        await self._notify(switched)
        return switched

    # running -> succeeded | failed
    async def _poll(self, job: Job, now: float) -> Job:
        assert job.task_id is not None
        if now >= job.deadline_at:
            minutes = self.settings.tracker.deadline_minutes
            return await self._end(
                job,
                JobState.EXPIRED,
                "deadline",
                f"kie.ai did not finish within {minutes:g} minutes (task {job.task_id})",
                {"minutes": f"{minutes:g}"},
            )
        elapsed = now - (job.submitted_at or now)
        next_at = now + self._poll_delay(elapsed)
        try:
            record = await self.kie.record_info(job.task_id)
        except (KieError, KieUnreachable) as exc:
            log.warning("job %s: status read failed: %s", job.id, exc)
            return await self._set(job, reads=job.reads + 1, next_check_at=next_at)
        if record is None:  # "recordInfo is null": not visible yet
            if elapsed > self.settings.tracker.null_grace_seconds:
                log.warning(
                    "job %s: task %s still not visible after %.0f s", job.id, job.task_id, elapsed
                )
            return await self._set(job, reads=job.reads + 1, next_check_at=next_at)
        return await self._apply_record(job, record, next_at)

    async def _apply_record(self, job: Job, record: TaskRecord, next_at: float) -> Job:
        model = self.models.get(job.model)
        now = self.clock.now()
        if record.state == "success":
            url = model.result_url(record)
            if not url:
                return await self._end(
                    job, JobState.FAILED, "no_result", "kie.ai reported success without a video"
                )
            done = await self._set(
                job,
                reads=job.reads + 1,
                state=JobState.SUCCEEDED,
                kie_state="success",
                progress=100,
                result_url=url,
                finished_at=now,
                next_check_at=now,
            )
            # kie.ai made the video: it counts, and it no longer holds a running slot.
            await self._settle(done, "delivered")
            return done
        if record.state == "fail":
            job = await self._set(job, reads=job.reads + 1, kie_state="fail")
            msg = record.fail_msg or "kie.ai reported a failure without a reason"
            code = f" (failCode {record.fail_code})" if record.fail_code else ""
            return await self._end(
                job, JobState.FAILED, generation_failure(record.fail_msg), f"{msg}{code}"
            )
        changed = (record.state, record.progress) != (job.kie_state, job.progress)
        return await self._set(
            job,
            reads=job.reads + 1,
            kie_state=record.state,
            progress=record.progress,
            next_check_at=next_at,
            notify=changed,
        )

    # succeeded -> fetched
    async def _fetch(self, job: Job, now: float) -> Job:
        assert job.result_url is not None
        dest = self.media_dir / "videos" / f"{job.id}.mp4"
        try:
            size = await self.kie.fetch(
                job.result_url, dest, max_bytes=self.settings.kie.max_video_bytes
            )
        except DownloadError as exc:
            if now >= job.deadline_at + FETCH_GRACE:
                return await self._end(
                    job,
                    JobState.UNDELIVERABLE,
                    "download",
                    f"the video was made but could not be downloaded: {exc}",
                )
            log.warning("job %s: download failed (%s); retrying later", job.id, exc)
            return await self._set(job, next_check_at=now + RETRY_LATER)
        return await self._set(
            job,
            state=JobState.FETCHED,
            video_path=str(dest),
            video_bytes=size,
            next_check_at=self.clock.now(),
        )

    # fetched -> delivered
    async def _deliver(self, job: Job, now: float) -> Job:
        assert job.video_path is not None
        try:
            await self.delivery.deliver_video(job, Path(job.video_path))
        except UndeliverableError as exc:
            return await self._end(job, JobState.UNDELIVERABLE, "undeliverable", str(exc))
        except Exception:
            if now >= job.deadline_at + FETCH_GRACE:
                return await self._end(
                    job, JobState.UNDELIVERABLE, "undeliverable", "the video could not be posted"
                )
            log.exception("job %s: delivery failed; retrying later", job.id)
            return await self._set(job, next_check_at=now + RETRY_LATER)
        return await self._set(job, state=JobState.DELIVERED, delivery="done", next_check_at=None)
