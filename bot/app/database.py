"""The commands that read the database file without starting the bot: ``backup`` (a
consistent, verified copy) and ``jobs`` (the newest jobs, as a table)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TextIO

from bot.app.exits import EXIT_FAILED, EXIT_INPUT, EXIT_OK, CliExit
from bot.config.settings import Settings


def backup_command(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
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


def jobs_command(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
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
