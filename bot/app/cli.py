"""The command line: ``storyboard-bot [run|render|resume|doctor|sync|backup|jobs]``.

Exit codes: 0 done; 1 kie.ai refused the job or the generation failed; 2 invalid input;
3 configuration error; 4 deadline passed or createTask outcome unknown; 130 interrupted
(Ctrl-C), 143 stopped by SIGTERM (both take the same graceful path).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import logging
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from bot.app.logs import FORMATS, LEVELS, choose_logging, setup_logging
from bot.app.signals import Stop, stop_on_signals
from bot.config.settings import ConfigError, Settings, load_settings
from bot.domain.errors import UserError
from bot.domain.shot_grammar import parse_lines, resolve
from bot.domain.storyboard import Storyboard
from bot.jobs.store import Job, JobState
from bot.media.images import ImageError, PreparedImage, fetch_image, prepare_image_async
from bot.models import ModelRegistry, known_models
from bot.runtime import Runtime

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_CONFIG, EXIT_UNKNOWN, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
MAX_IMAGE_DOWNLOAD = 50_000_000


class CliExit(Exception):
    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"{self.prog}: {message}\n")


def _version() -> str:
    try:
        return importlib.metadata.version("storyboard-bot")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _lengths_help() -> str:
    from bot.models.kling import KlingOmni
    from bot.models.sora import SoraStoryboard

    return "; ".join(f"{m.name}: {m.limits.lengths_text()}" for m in (SoraStoryboard, KlingOmni))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="storyboard-bot",
        description="Turn a reference image and a list of shots into a short video with "
        "kie.ai, from the terminal or as a Discord bot.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    _common_options(parser)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    sub.add_parser("run", help="start the bot (the default)")

    render = sub.add_parser("render", help="turn a storyboard into a video from the terminal")
    render.add_argument("--image", required=True, help="reference image: a file or an http(s) URL")
    render.add_argument(
        "--shot",
        action="append",
        required=True,
        metavar="SHOT",
        help='a shot: "7.5 | scene" or just "scene" (repeat for each shot)',
    )
    render.add_argument(
        "--length",
        type=int,
        default=15,
        help=f"video length in seconds (default 15; {_lengths_help()})",
    )
    render.add_argument(
        "--aspect",
        choices=["landscape", "portrait"],
        help="landscape or portrait (default: like the image, portrait if taller than wide)",
    )
    render.add_argument(
        "--model",
        help=f"kie.ai model: {', '.join(known_models())} (default: KIE_MODEL, "
        "sora-2-pro-storyboard, falling back to KIE_FALLBACK_MODEL when it is unavailable)",
    )
    render.add_argument("--out", type=Path, help="where to write the mp4")

    resume = sub.add_parser("resume", help="keep following a render that was interrupted")
    resume.add_argument("job", help="the job id printed by render")
    resume.add_argument("--out", type=Path, help="where to write the mp4")

    sub.add_parser("doctor", help="check the configuration, kie.ai, the database and Discord")

    sync = sub.add_parser("sync", help="sync the slash commands with Discord now")
    sync.add_argument("--guild", type=int, metavar="ID", help="sync to one guild (instant)")

    backup = sub.add_parser(
        "backup", help="copy the database consistently (safe while the bot runs) and verify it"
    )
    backup.add_argument("path", type=Path, help="the copy: a file, or a directory to put it in")

    jobs = sub.add_parser("jobs", help="list the jobs in the database, newest first")
    jobs.add_argument("--limit", type=int, default=20, metavar="N", help="at most N (20)")
    # The same options after the command's name: `storyboard-bot render --config x.toml ...`.
    for command in sub.choices.values():
        _common_options(command, after_command=True)
    return parser


def _common_options(parser: argparse.ArgumentParser, after_command: bool = False) -> None:
    """--config, -v, --log-level and --log-format. After the command's name they default to
    nothing (argparse.SUPPRESS), so they never undo the same option given before it."""
    kw = {"default": argparse.SUPPRESS} if after_command else {}
    parser.add_argument("--config", metavar="PATH", help="TOML config file", **kw)
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log at debug level (--log-level debug)",
        **kw,
    )
    parser.add_argument(
        "--log-level",
        type=str.lower,
        choices=list(LEVELS),
        help="debug, info, warning... (default: [log] level / $STORYBOARD_LOG_LEVEL, else info "
        "for run, warning for the other commands)",
        **kw,
    )
    parser.add_argument(
        "--log-format",
        type=str.lower,
        choices=list(FORMATS),
        help="text, or json: one object per line (default: [log] format / "
        "$STORYBOARD_LOG_FORMAT, else text)",
        **kw,
    )


# -- render ----------------------------------------------------------------------------------
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


def _read_image(arg: str, settings: Settings) -> bytes:
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


async def _render(args: argparse.Namespace, settings: Settings, err: TextIO) -> int:
    if args.model:
        settings = settings.model_copy(
            update={"kie": settings.kie.model_copy(update={"model": args.model})}
        )
    models = ModelRegistry(settings)  # ConfigError for an unknown model
    model = models.primary
    # Every local check before any network call.
    lines = parse_lines(args.shot)
    shots = resolve(lines, args.length, model.limits)
    raw = _read_image(args.image, settings)
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
    board = Storyboard(shots=shots, length=args.length, aspect=args.aspect or image.orientation)
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
        # The --out path is remembered in the job, so `resume` writes the video there too.
        out_path = {"out_path": str(args.out.resolve())} if args.out else {}
        job = await rt.tracker.submit(board, image, origin="cli", **out_path)
        print(
            f"job {job.id}: {len(board.shots)} shots, {board.length} s {board.aspect}, "
            f"{job.model}, about {job.credits} credits",
            file=err,
        )
        return await _follow(rt, delivery, job.id, err)
    finally:
        await rt.close()


async def _follow(rt: Runtime, delivery: CliDelivery, job_id: str, err: TextIO) -> int:
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


async def _resume(args: argparse.Namespace, settings: Settings, err: TextIO) -> int:
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
        return await _follow(rt, delivery, job.id, err)
    finally:
        await rt.close()


# -- backup, jobs ----------------------------------------------------------------------------
def _backup(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from bot.db.backup import BackupError, BackupInputError, backup

    source = settings.storage.db
    if not Path(source).is_file():
        raise CliExit(EXIT_INPUT, f"no database at {source} (STORYBOARD_DB)")
    try:
        result = backup(source, args.path)
    except BackupInputError as exc:
        raise CliExit(EXIT_INPUT, str(exc)) from None
    except BackupError as exc:  # the copy failed, or failed its integrity check
        raise CliExit(EXIT_FAILED, str(exc)) from None
    print(result.line(), file=out)
    return EXIT_OK


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _jobs(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from bot.db.backup import BackupError, recent_jobs

    if args.limit < 1:
        raise CliExit(EXIT_INPUT, "--limit must be at least 1")
    source = settings.storage.db
    if not Path(source).is_file():
        raise CliExit(EXIT_INPUT, f"no database at {source} (STORYBOARD_DB)")
    try:
        rows = recent_jobs(source, args.limit)  # read-only: never migrates
    except BackupError as exc:
        raise CliExit(EXIT_FAILED, str(exc)) from None
    if not rows:
        print(f"no jobs in {source}", file=out)
        return EXIT_OK
    now = time.time()
    table = [("ID", "STATE", "MODEL", "CREDITS", "AGE", "OUTPUT")]
    for row in rows:
        credits = row.get("credits")
        output = row.get("out_path") or row.get("video_path") or "-"
        table.append(
            (
                str(row["id"]),
                str(row["state"]),
                str(row["model"]),
                "-" if credits is None else str(credits),
                _age(now - float(row["created_at"])),
                str(output),
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]) - 1)]
    for r in table:
        cells = [c.ljust(w) for c, w in zip(r, widths, strict=False)]
        print("  ".join([*cells, r[-1]]).rstrip(), file=out)
    return EXIT_OK


# -- doctor ----------------------------------------------------------------------------------
async def _doctor(settings: Settings, out: TextIO) -> int:
    from bot.app.doctor import run_checks

    return await run_checks(settings, out)


# -- run -------------------------------------------------------------------------------------
async def _run(settings: Settings) -> int:
    from bot.app.launcher import run_bot

    return await run_bot(settings)


def _config_error(exc: ConfigError, err: TextIO) -> None:
    """One line per problem (there may be several), each naming the setting and its source."""
    for line in str(exc).splitlines():
        print(f"configuration error: {line}", file=err)


async def _until_stopped(
    command: Callable[[], Awaitable[int]],
    stopped: Callable[[Stop], int] = lambda stop: stop.exit_code,
) -> int:
    """Run ``command`` until it ends or SIGTERM/SIGINT stops it (the same graceful path for
    both: the command's own handling of cancellation). A render or resume so stopped exits
    130 (Ctrl-C) or 143 (SIGTERM); `run` exits 0."""
    with stop_on_signals() as stop:
        try:
            return await command()
        except asyncio.CancelledError:
            if stop.signal is None:
                raise
            return stopped(stop)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command or "run"
    err = sys.stderr
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        _config_error(exc, err)
        return EXIT_CONFIG
    level, fmt = choose_logging(
        settings.log,
        level=args.log_level,
        verbose=args.verbose,
        fmt=args.log_format,
        default_level=logging.INFO if command == "run" else logging.WARNING,
    )
    setup_logging(settings, level=level, fmt=fmt)
    for notice in settings.notices:
        logging.getLogger("bot.config.settings").warning("%s", notice)
    try:
        if command == "backup":
            return _backup(args, settings, sys.stdout)
        if command == "jobs":
            return _jobs(args, settings, sys.stdout)
        if command == "render":
            return asyncio.run(_until_stopped(lambda: _render(args, settings, err)))
        if command == "resume":
            return asyncio.run(_until_stopped(lambda: _resume(args, settings, err)))
        if command == "doctor":
            return asyncio.run(_doctor(settings, sys.stdout))
        if command == "sync":
            from bot.app.launcher import sync_commands

            return asyncio.run(sync_commands(settings, args.guild))
        # SIGTERM (systemctl stop, docker stop) or Ctrl-C: a graceful stop, exit 0.
        return asyncio.run(_until_stopped(lambda: _run(settings), stopped=lambda _: EXIT_OK))
    except ConfigError as exc:
        _config_error(exc, err)
        return EXIT_CONFIG
    except (UserError, ImageError) as exc:
        print(f"error: {exc}", file=err)
        return EXIT_INPUT
    except CliExit as exc:
        if exc.message:
            print(f"error: {exc.message}", file=err)
        return exc.code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
