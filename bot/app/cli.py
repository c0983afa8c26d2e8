"""The command line: ``storyboard-bot [run|render|resume|doctor|sync|backup|jobs]``: the
parser, and the dispatch of each command (loading the settings and logging first), which turns
errors into messages and exit codes (bot/app/exits.py).

The commands are elsewhere: render and resume in bot/app/render.py (their progress lines in
bot/app/progress.py), backup and jobs in bot/app/database.py, doctor in bot/app/doctor.py, run
and sync in bot/app/launcher.py.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from bot.app.database import backup_command, jobs_command
from bot.app.exits import EXIT_CONFIG, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK, CliExit
from bot.app.logs import FORMATS, LEVELS, choose_logging, setup_logging
from bot.app.render import render_command, resume_command
from bot.app.signals import Stop, stop_on_signals
from bot.config.settings import ConfigError, Settings, load_settings
from bot.domain.errors import UserError
from bot.media.images import ImageError
from bot.models import known_models


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


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


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
    render.add_argument(
        "--max-segments",
        type=_positive,
        metavar="N",
        help="refuse a long storyboard that needs more than N segments (one generation each, "
        "chained into one video), before anything is spent (default: as many as it needs)",
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
    kw: dict[str, Any] = {"default": argparse.SUPPRESS} if after_command else {}
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
            return backup_command(args, settings, sys.stdout)
        if command == "jobs":
            return jobs_command(args, settings, sys.stdout)
        if command == "render":
            return asyncio.run(_until_stopped(lambda: render_command(args, settings, err)))
        if command == "resume":
            return asyncio.run(_until_stopped(lambda: resume_command(args, settings, err)))
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
