"""Rendering from the terminal: ``render`` (a storyboard to an mp4) and ``resume`` (keep
following a render that was interrupted), with progress on stderr (bot/app/progress.py) and
the video's path on stdout.

``render`` checks everything it can before any network call, then plans the storyboard on the
model that takes it (bot.chain.plan: one video, or a long storyboard's segments, each from the
last frame of the one before, joined into one mp4) and prints the plan before submitting. A
plan over ``--max-segments``, or a storyboard over ``[storyboards] max_seconds`` or
``max_shots``, is refused in one line before anything is spent. When kie.ai answers that the
model is unavailable (no task was created, nothing was spent) and the fallback cannot take the
storyboard in one video, it is planned again on the fallback, the new plan printed, and made
as a chain there.

``resume`` picks up a job ``render`` started, a chain with its segments too.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from bot.app.exits import EXIT_FAILED, EXIT_INPUT, EXIT_OK, EXIT_UNKNOWN, CliExit
from bot.app.progress import CliDelivery
from bot.chain.plan import Plan, check_long_storyboard
from bot.config.settings import Settings, StoryboardSettings
from bot.domain.shot_grammar import parse_lines, resolve
from bot.domain.storyboard import Aspect, Storyboard, validate
from bot.jobs.store import Job, JobState
from bot.media.images import ImageError, PreparedImage, fetch_image, prepare_image_async
from bot.models import ModelRegistry
from bot.models.base import VideoModel
from bot.runtime import Runtime

MAX_IMAGE_DOWNLOAD = 50_000_000
#: Why a job ended with nothing made because its model is unavailable at kie.ai (a chain's
#: first segment: the same reasons inside ``segment_failed``).
_UNAVAILABLE = frozenset({"model_unavailable", "model_unavailable_misfit"})


def read_image(arg: str) -> bytes:
    if arg.startswith(("http://", "https://")):
        return b""  # fetched later: a network call, after every local check
    if "://" in arg:
        raise ImageError("link_scheme")
    path = Path(arg)
    try:
        size = path.stat().st_size
        if size > MAX_IMAGE_DOWNLOAD:
            raise ImageError(
                "file_too_large",
                size=f"{size / 1_000_000:.1f} MB",
                max=f"{MAX_IMAGE_DOWNLOAD / 1_000_000:.1f} MB",
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageError("no_file", path=arg) from None
    except IsADirectoryError:
        raise ImageError("directory", path=arg) from None
    except OSError as exc:
        raise ImageError("unreadable", path=arg, detail=exc.strerror or str(exc)) from None


def check_board(board: Storyboard, model: VideoModel, limits: StoryboardSettings) -> None:
    """The checks a storyboard passes before anything is sent (StoryboardError if not).

    One the model could take in one video (its shot count, a length it makes) meets every rule
    of the model, with the model's own messages. A longer one is a long storyboard: its shots
    fit ``--length`` and the product's maximum (``[storyboards]``); the plan cuts it later.
    """
    lim = model.limits
    if len(board.shots) <= lim.max_shots and board.length <= max(lim.lengths):
        model.validate(board)
        return
    relaxed = replace(
        lim,
        max_shots=max(len(board.shots), lim.max_shots),
        lengths=(board.length,),
        max_shot_tenths=max([lim.max_shot_tenths, *(s.tenths for s in board.shots)]),
    )
    validate(board, relaxed)
    check_long_storyboard(board, max_seconds=limits.max_seconds, max_shots=limits.max_shots)


def _seconds(tenths: int) -> str:
    return f"{tenths / 10:g}"


def plan_lines(plan: Plan) -> list[str]:
    """The plan in one short block: the segments, each one's shots and seconds, the total
    credits and the time it should take."""
    if not plan.chained:
        seg = plan.segments[0]
        low, high = plan.minutes()
        return [
            f"plan: {plan.model}, one video ({len(seg.shots)} shots, {seg.length} s), "
            f"about {low:g}-{high:g} min, {plan.price} credits"
        ]
    lines = [f"plan: {plan.model}, {plan.estimate()}, {plan.price} credits"]
    for seg in plan.segments:
        shots = seg.shot_numbers()
        which = f"shot {shots[0]}" if len(shots) == 1 else f"shots {shots[0]}-{shots[-1]}"
        lines.append(
            f"  segment {seg.index + 1}: {which}, {_seconds(seg.tenths)} s "
            f"({seg.seconds} s of video), {seg.price} credits"
        )
    return lines


async def _board(
    args: argparse.Namespace, settings: Settings, model: VideoModel, err: TextIO
) -> tuple[Storyboard, PreparedImage]:
    """The storyboard and the prepared image, every local check made first."""
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
    check_board(board, model, settings.storyboards)
    return board, image


async def render_command(args: argparse.Namespace, settings: Settings, err: TextIO) -> int:
    if args.model:
        settings = settings.model_copy(
            update={"kie": settings.kie.model_copy(update={"model": args.model})}
        )
    models = ModelRegistry(settings)  # ConfigError for an unknown model
    board, image = await _board(args, settings, models.primary, err)
    max_segments: int | None = args.max_segments
    delivery = CliDelivery(args.out, err, time.time())
    rt = await Runtime.build(
        settings,
        delivery,
        origin="cli",
        only=set(),
        serve_http=settings.callbacks_enabled,
        unreachable_give_up=settings.kie.cli_unreachable_seconds,
    )
    try:
        # Planned (and refused) before anything is started or sent.
        plan = rt.tracker.plan(board, max_segments=max_segments)
        # A fallback that makes it as a chain keeps within --max-segments too.
        rt.tracker.chains.fallback_max_segments = max_segments
        await rt.start()
        job = await _submit(rt, args, plan, image, err)
        code = await follow(rt, delivery, job.id, err, quiet=True)
        job = delivery.final or job
        fallback = rt.models.fallback
        if code != EXIT_OK and fallback is not None and _nothing_made(job, rt):
            # kie.ai has no such model now and created no task: the fallback, as a chain.
            delivery.say(f"{job.model} is unavailable at kie.ai; using {fallback.name} instead")
            plan = rt.tracker.plan(board, fallback.name, max_segments=max_segments)
            delivery.follow_next()
            job = await _submit(rt, args, plan, image, err)
            return await follow(rt, delivery, job.id, err)
        if code != EXIT_OK:
            _report_end(job, err)
        return code
    finally:
        await rt.close()


def _nothing_made(job: Job, rt: Runtime) -> bool:
    """Whether ``job`` ended because its model is unavailable, before kie.ai made anything."""
    fallback = rt.models.fallback
    if job.state != JobState.REFUSED or job.fallback_from or fallback is None:
        return False
    if fallback.name == job.model:
        return False
    if job.fail_code in _UNAVAILABLE and not job.is_chain:
        return True
    params = job.fail_params or {}
    return (
        job.fail_code == "segment_failed"
        and params.get("segment") == 1
        and params.get("reason") in _UNAVAILABLE
        and rt.models.unavailable(job.model, rt.tracker.clock.now())
    )


async def _submit(
    rt: Runtime, args: argparse.Namespace, plan: Plan, image: PreparedImage, err: TextIO
) -> Job:
    for line in plan_lines(plan):
        print(line, file=err)
    # The --out path is remembered in the job, so `resume` writes the video there too.
    job = await rt.tracker.submit(
        plan.board,
        image,
        origin="cli",
        model=plan.model,
        max_segments=args.max_segments,
        out_path=str(args.out.resolve()) if args.out else None,
    )
    board = plan.board
    print(
        f"job {job.id}: {len(board.shots)} shots, {board.length} s {board.aspect}, "
        f"{job.model}, about {job.credits} credits",
        file=err,
    )
    return job


async def follow(
    rt: Runtime, delivery: CliDelivery, job_id: str, err: TextIO, *, quiet: bool = False
) -> int:
    """Wait for the job's end: 0 and the video's path on stdout, or an exit code and (unless
    ``quiet``: the caller may still try the fallback) why."""
    try:
        await delivery.done.wait()
    except asyncio.CancelledError:
        # Stopping the tracker lets a createTask already sent be answered and recorded, so
        # the line below can name the kie.ai task.
        await rt.tracker.stop()
        print(await _interrupted(rt, job_id), file=err)
        raise
    job = delivery.final
    assert job is not None
    if delivery.written is not None:
        print(delivery.written)
        return EXIT_OK
    if not quiet:
        _report_end(job, err)
    if job.state in (JobState.UNKNOWN, JobState.EXPIRED):
        return EXIT_UNKNOWN
    return EXIT_FAILED


def _report_end(job: Job, err: TextIO) -> None:
    reason = job.fail_msg or job.state
    if job.state in (JobState.UNKNOWN, JobState.EXPIRED):
        task = f" (kie.ai task {job.task_id})" if job.task_id else ""
        print(f"error: {reason}{task}", file=err)
    else:
        print(f"error: {reason}", file=err)


async def _interrupted(rt: Runtime, job_id: str) -> str:
    """The line a render or resume stopped by Ctrl-C or SIGTERM ends with."""
    job = await rt.store.get_job(job_id)
    again = f"`storyboard-bot resume {job_id}`"
    if job is not None and job.state == JobState.QUEUED:
        return (
            f"interrupted: job {job_id} was not sent to kie.ai; nothing was spent; {again} sends it"
        )
    if job is not None and job.is_chain:
        at = f"segment {(job.segment or 0) + 1} of {job.segments}"
        return (
            f"interrupted: job {job_id} stopped at {at}; the segments kie.ai made or is making "
            f"are kept; {again} goes on from there"
        )
    task = f" (kie.ai task {job.task_id})" if job and job.task_id else ""
    return f"interrupted: job {job_id}{task} keeps running at kie.ai; {again} picks it up"


async def resume_command(args: argparse.Namespace, settings: Settings, err: TextIO) -> int:
    delivery = CliDelivery(args.out, err, time.time())
    rt = await Runtime.build(
        settings,
        delivery,
        # A chain's segments are followed with it (the owner takes a parent's children).
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
        if job.is_segment:
            raise CliExit(
                EXIT_INPUT,
                f"job {job.id} is segment {(job.segment or 0) + 1} of {job.segments} of job "
                f"{job.parent_id}: `storyboard-bot resume {job.parent_id}` resumes the chain",
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
        elif job.is_chain:
            print(
                f"job {job.id}: resuming at segment {(job.segment or 0) + 1} of {job.segments}",
                file=err,
            )
        await rt.start()
        return await follow(rt, delivery, job.id, err)
    finally:
        await rt.close()
