"""Rendering from the terminal: ``render`` (a storyboard to an mp4) and ``resume`` (keep
following a render that was interrupted), with progress on stderr and the video's path on
stdout."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import time
from pathlib import Path
from typing import TextIO

from bot.app.exits import EXIT_FAILED, EXIT_INPUT, EXIT_OK, EXIT_UNKNOWN, CliExit
from bot.config.settings import Settings
from bot.domain.shot_grammar import parse_lines, resolve
from bot.domain.storyboard import Aspect, Storyboard
from bot.jobs.store import Job, JobState
from bot.media.images import ImageError, PreparedImage, fetch_image, prepare_image_async
from bot.models import ModelRegistry
from bot.runtime import Runtime

MAX_IMAGE_DOWNLOAD = 50_000_000


class CliDelivery:
    """Writes the video where the user asked, and reports progress on stderr."""

    def __init__(self, out: Path | None, err: TextIO, started: float) -> None:
        self.out = out
        self.err = err
        self.started = started
        self.done = asyncio.Event()
        self.final: Job | None = None
        self.written: Path | None = None
        self._last: tuple[object, ...] | None = None

    def _say(self, text: str) -> None:
        elapsed = int(time.time() - self.started)
        print(f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {text}", file=self.err, flush=True)

    async def job_updated(self, job: Job) -> None:
        key = (
            job.state,
            job.kie_state,
            job.progress,
            job.model,
            job.stall.get("host") if job.stall else None,
        )
        if key == self._last:
            return
        if job.fallback_from and (self._last is None or self._last[3] != job.model):
            self._say(
                f"{job.fallback_from} is unavailable at kie.ai; using {job.model} instead "
                f"({job.credits} credits)"
            )
        if job.stall and (self._last is None or self._last[4] != job.stall.get("host")):
            until = time.strftime("%H:%M:%S", time.localtime(float(job.stall["until"])))
            self._say(
                f"cannot reach kie.ai at {job.stall['host']} ({job.stall['setting']}); "
                f"retrying until {until}"
            )
        self._last = key
        if job.state == JobState.RUNNING:
            pct = f" {job.progress}%" if job.progress is not None else ""
            self._say(f"{job.kie_state or 'submitted'}{pct} (task {job.task_id})")
        elif job.state == JobState.UNKNOWN:
            # Only with callbacks (without them an unknown outcome ends at once): the callback
            # that carries this job's id can still find its task.
            until = time.strftime("%H:%M:%S", time.localtime(job.deadline_at))
            self._say(f"{job.fail_msg}; waiting for kie.ai's callback until {until}")

    async def deliver_video(self, job: Job, path: Path) -> None:
        out = self.out or Path(f"storyboard-{job.id}.mp4")
        await asyncio.to_thread(shutil.copyfile, path, out)
        self.written = out
        self.final = job
        self.done.set()

    async def job_ended(self, job: Job) -> None:
        self.final = job
        self.done.set()


def read_image(arg: str) -> bytes:
    if arg.startswith(("http://", "https://")):
        return b""  # fetched later: a network call, after every local check
    if "://" in arg:
        raise ImageError("Only http(s) image links are accepted.")
    path = Path(arg)
    try:
        if path.stat().st_size > MAX_IMAGE_DOWNLOAD:
            raise ImageError(f"{arg} is larger than {MAX_IMAGE_DOWNLOAD // 1_000_000} MB.")
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{arg}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{arg} is a directory, not an image") from None
    except OSError as exc:
        raise ImageError(f"{arg}: {exc.strerror}") from None


async def render_command(args: argparse.Namespace, settings: Settings, err: TextIO) -> int:
    if args.model:
        settings = settings.model_copy(
            update={"kie": settings.kie.model_copy(update={"model": args.model})}
        )
    models = ModelRegistry(settings)  # ConfigError for an unknown model
    model = models.primary
    # Every local check before any network call.
    lines = parse_lines(args.shot)
    shots = resolve(lines, args.length, model.limits)
    raw = read_image(args.image)
    settings.require("kie.api_key")
    if not raw:
        import aiohttp

        from bot.media.download import FetchPolicy

        policy = FetchPolicy.from_settings(settings.kie)
        async with aiohttp.ClientSession() as session:
            raw = await fetch_image(
                session, args.image, max_bytes=MAX_IMAGE_DOWNLOAD, policy=policy
            )
    image: PreparedImage = await prepare_image_async(raw, model.image_spec)
    if not image.untouched:
        print(image.summary(), file=err)
    aspect: Aspect = args.aspect or ("portrait" if image.orientation == "portrait" else "landscape")
    board = Storyboard(shots=shots, length=args.length, aspect=aspect)
    model.validate(board)

    started = time.time()
    delivery = CliDelivery(args.out, err, started)
    rt = await Runtime.build(
        settings,
        delivery,
        origin="cli",
        only=set(),
        serve_http=settings.callbacks_enabled,
        unreachable_give_up=settings.kie.cli_unreachable_seconds,
    )
    try:
        await rt.start()
        if args.out:
            # The --out path is remembered in the job, so `resume` writes the video there too.
            out_path = str(args.out.resolve())
            job = await rt.tracker.submit(board, image, origin="cli", out_path=out_path)
        else:
            job = await rt.tracker.submit(board, image, origin="cli")
        print(
            f"job {job.id}: {len(board.shots)} shots, {board.length} s {board.aspect}, "
            f"{job.model}, about {job.credits} credits",
            file=err,
        )
        return await follow(rt, delivery, job.id, err)
    finally:
        await rt.close()


async def follow(rt: Runtime, delivery: CliDelivery, job_id: str, err: TextIO) -> int:
    try:
        await delivery.done.wait()
    except asyncio.CancelledError:
        # Stopping the tracker lets a createTask already sent be answered and recorded, so
        # the line below can name the kie.ai task.
        await rt.tracker.stop()
        job = await rt.store.get_job(job_id)
        if job is not None and job.state == JobState.QUEUED:
            print(
                f"interrupted: job {job_id} was not sent to kie.ai; nothing was spent; "
                f"`storyboard-bot resume {job_id}` sends it",
                file=err,
            )
        else:
            task = f" (kie.ai task {job.task_id})" if job and job.task_id else ""
            print(
                f"interrupted: job {job_id}{task} keeps running at kie.ai; "
                f"`storyboard-bot resume {job_id}` picks it up",
                file=err,
            )
        raise
    job = delivery.final
    assert job is not None
    if delivery.written is not None:
        print(delivery.written)
        return EXIT_OK
    reason = job.fail_msg or job.state
    if job.state in (JobState.UNKNOWN, JobState.EXPIRED):
        task = f" (kie.ai task {job.task_id})" if job.task_id else ""
        print(f"error: {reason}{task}", file=err)
        return EXIT_UNKNOWN
    print(f"error: {reason}", file=err)
    return EXIT_FAILED


async def resume_command(args: argparse.Namespace, settings: Settings, err: TextIO) -> int:
    delivery = CliDelivery(args.out, err, time.time())
    rt = await Runtime.build(
        settings,
        delivery,
        only={args.job},
        serve_http=settings.callbacks_enabled,
        unreachable_give_up=settings.kie.cli_unreachable_seconds,
    )
    try:
        job = await rt.store.get_job(args.job)
        if job is None:
            raise CliExit(EXIT_INPUT, f"no job {args.job} in {settings.storage.db}")
        if job.origin != "cli":
            # Two processes must never step one job: the bot follows its own.
            raise CliExit(
                EXIT_INPUT,
                f"job {job.id} belongs to the Discord bot (it follows it); `storyboard-bot "
                "jobs` lists it, `resume` takes only jobs started with `render`",
            )
        if args.out is None and job.out_path:
            delivery.out = Path(job.out_path)
        if not job.active and job.state != JobState.DELIVERED:
            print(f"job {job.id} ended: {job.state}: {job.fail_msg or ''}", file=err)
            return EXIT_FAILED
        if job.state == JobState.DELIVERED:
            await rt.store.transition(
                job.id, JobState.DELIVERED, JobState.FETCHED, delivery="pending"
            )
        await rt.start()
        return await follow(rt, delivery, job.id, err)
    finally:
        await rt.close()
