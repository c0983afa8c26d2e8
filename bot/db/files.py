"""Private files: the database (it holds the bot's secrets) and the stored images and videos.

Directories the bot creates are ``0700`` and the files it writes ``0600``, whatever the umask,
so other users of the machine can neither read them nor list the media.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: str | Path) -> Path:
    """Make ``path`` and any missing parent, each ``0700``. Folders that already exist are
    left as they are: the data directory may be one an administrator made."""
    path = Path(path)
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue  # made by someone else meanwhile
        os.chmod(folder, PRIVATE_DIR)  # mkdir's mode is filtered by the umask
    return path


def open_private(path: str | Path) -> BinaryIO:
    """Open ``path`` for writing (created or truncated) as a ``0600`` file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)  # an existing file keeps its mode through O_CREAT
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def write_private(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` as a ``0600`` file, its folder made private first."""
    path = Path(path)
    private_dir(path.parent)
    with open_private(path) as fh:
        fh.write(data)


def create_private(path: str | Path) -> None:
    """Create ``path`` empty and ``0600`` unless it exists (SQLite gives its journal and WAL
    files the database file's mode)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, PRIVATE_FILE)  # a umask such as 0277 must not leave it read-only
    finally:
        os.close(fd)


def tighten(*paths: str | Path) -> None:
    """Make existing files that other users may read ``0600`` (e.g. a database made by an
    earlier version); a file the bot may not change is named in a warning."""
    for path in paths:
        try:
            mode = os.stat(path).st_mode
            if mode & 0o077:
                os.chmod(path, PRIVATE_FILE)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("%s is readable by other users and could not be made 0600: %s", path, exc)
