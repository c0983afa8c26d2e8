"""Copies of the SQLite database, and reading it without changing it.

:func:`backup` makes a consistent copy of a live database with SQLite's online backup API,
from a separate read-only connection: the bot keeps reading and writing meanwhile (WAL mode
lets a reader and a writer run side by side), and the copy holds exactly what was committed
when the copy started. The copy is written next to its destination under a temporary name,
checked with ``PRAGMA integrity_check`` and only then renamed into place, so a destination
never holds half a copy.

:func:`backup_before_migrating` is what :meth:`bot.jobs.store.Store.open` calls before it applies
pending migrations to an existing database. :func:`inspect` and :func:`recent_jobs` read a
database without migrating it (``storyboard-bot doctor`` and ``jobs``).

Plain ``sqlite3`` (no event loop): async callers run these in a thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.db.files import create_private
from bot.db.migrations import LATEST

log = logging.getLogger(__name__)

BUSY_TIMEOUT = 10.0  # seconds to wait for a lock (e.g. a WAL checkpoint in progress)


class BackupError(Exception):
    """The copy could not be made or did not pass its check; ``str()`` says which and why."""


class BackupInputError(BackupError):
    """No database at the source, or a destination that cannot be used; nothing was copied."""


@dataclass(frozen=True)
class DatabaseInfo:
    path: Path
    size: int
    version: int  # PRAGMA user_version: the schema version applied last
    jobs: int  # rows in the jobs table (0 before the first migration)
    states: dict[str, int] = field(default_factory=dict)  # jobs by state
    meta: dict[str, str] = field(default_factory=dict)  # the meta keys asked for, if set

    @property
    def pending(self) -> int:
        """Migrations this bot would apply (negative: the database is newer than the bot)."""
        return LATEST - self.version


@dataclass(frozen=True)
class BackupResult(DatabaseInfo):
    source: Path = Path()

    def line(self) -> str:
        return (
            f"{self.path}: {self.size} bytes, {self.jobs} jobs, schema v{self.version}, "
            "integrity ok"
        )


@contextlib.contextmanager
def connect_readonly(path: str | Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to an existing database (never creates or migrates one)."""
    path = Path(path)
    if not path.is_file():
        raise BackupInputError(f"no database at {path}")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
    except sqlite3.Error as exc:
        raise BackupError(f"{path}: {exc}") from None
    try:
        try:
            db.execute("PRAGMA user_version").fetchone()  # opens the WAL files, if any
        except sqlite3.Error as exc:
            raise BackupError(f"{path}: {exc}") from None
        _same_owner(path)
        yield db
    finally:
        db.close()


def _same_owner(path: Path) -> None:
    """Reading a WAL database creates its ``-wal`` and ``-shm`` files when the bot is not
    running. Made by root (an admin's ``backup`` or ``doctor``), they would lock the bot's
    own user out of its database: give them the database file's owner."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    owner = path.stat()
    for extra in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(OSError):
            st = extra.stat()
            if (st.st_uid, st.st_gid) != (owner.st_uid, owner.st_gid):
                os.chown(extra, owner.st_uid, owner.st_gid)


def _version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def _count_jobs(db: sqlite3.Connection) -> int:
    if "jobs" not in _tables(db):
        return 0
    return int(db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])


def _tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def inspect(path: str | Path, meta_keys: Iterable[str] = ()) -> DatabaseInfo:
    """Size, schema version, jobs (by state) and the ``meta_keys`` asked for, read without
    changing anything: no migration, whatever the schema version."""
    path = Path(path)
    with connect_readonly(path) as db:
        try:
            tables = _tables(db)
            states: dict[str, int] = {}
            if "jobs" in tables:
                rows = db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state")
                states = {str(state): int(n) for state, n in rows}
            meta: dict[str, str] = {}
            keys = list(meta_keys)
            if "meta" in tables and keys:
                marks = ", ".join("?" for _ in keys)
                rows = db.execute(f"SELECT key, value FROM meta WHERE key IN ({marks})", keys)
                meta = {str(k): str(v) for k, v in rows}
            return DatabaseInfo(
                path, path.stat().st_size, _version(db), sum(states.values()), states, meta
            )
        except sqlite3.Error as exc:
            raise BackupError(f"{path}: {exc}") from None


def recent_jobs(path: str | Path, limit: int = 20) -> list[dict[str, Any]]:
    """The newest jobs as plain rows, newest first. Columns added by migrations not applied
    yet are missing from the rows."""
    with connect_readonly(path) as db:
        db.row_factory = sqlite3.Row
        try:
            rows = db.execute(
                "SELECT * FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?", (limit,)
            ).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise BackupError(f"{path}: {exc}") from None
        return [dict(r) for r in rows]


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _destination(source: Path, dest: Path) -> Path:
    if dest.is_dir():
        stamp = time.strftime("%Y%m%d-%H%M%S")
        dest = dest / f"{source.stem}-{stamp}.db"
    if not dest.parent.is_dir():
        raise BackupInputError(f"{dest.parent} is not a directory")
    for live in (source, Path(f"{source}-wal"), Path(f"{source}-shm")):
        if _same_file(live, dest) or dest.resolve() == live.resolve():
            raise BackupInputError(f"{dest} is the database itself; choose another path")
    return dest


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def backup(source: str | Path, dest: str | Path) -> BackupResult:
    """Copy ``source`` to ``dest`` (a file, or a directory to put a dated file in), verify the
    copy, and describe it. Safe while the bot runs; raises BackupError."""
    source, dest = Path(source), Path(dest)
    target = _destination(source, dest)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        with connect_readonly(source) as src:
            create_private(partial)  # a copy of the bot's secrets: 0600, as the database
            copy = sqlite3.connect(partial, isolation_level=None)
            try:
                # pages=-1: the whole database in one step, inside one read transaction, so
                # the copy is one consistent snapshot even while another connection writes.
                src.backup(copy, pages=-1)
                # A self-contained file (no -wal beside it); the store turns WAL back on.
                copy.execute("PRAGMA journal_mode=DELETE").fetchall()
                problems = [r[0] for r in copy.execute("PRAGMA integrity_check").fetchall()]
                if problems != ["ok"]:
                    shown = "; ".join(problems[:3])
                    raise BackupError(f"the copy of {source} failed its integrity check: {shown}")
                version, jobs = _version(copy), _count_jobs(copy)
            finally:
                copy.close()
        _fsync(partial)
        os.replace(partial, target)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"could not back {source} up: {exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(target, target.stat().st_size, version, jobs, source=source)


def migration_backup_path(db: Path, target: int = LATEST) -> Path:
    """``<db>.before-v<target>.bak`` beside the database; ``-2``, ``-3``... if taken."""
    path = db.with_name(f"{db.name}.before-v{target}.bak")
    n = 2
    while path.exists():
        path = db.with_name(f"{db.name}.before-v{target}-{n}.bak")
        n += 1
    return path


def backup_before_migrating(db: Path, current: int, target: int = LATEST) -> BackupResult:
    """Back an existing database up before migrations ``current+1..target`` are applied."""
    dest = migration_backup_path(db, target)
    try:
        result = backup(db, dest)
    except BackupError as exc:
        raise BackupError(f"{exc}; the database was not migrated") from None
    pending = target - current
    log.warning(
        "database %s is at schema v%d, %d migration%s pending: backed up to %s "
        "(%d bytes, %d jobs) before migrating to v%d",
        db,
        current,
        pending,
        "" if pending == 1 else "s",
        result.path,
        result.size,
        result.jobs,
        target,
    )
    return result
