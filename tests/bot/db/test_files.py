"""Private files and folders (bot/db/files.py), whatever the umask, and that the bot writes its
stored media through them."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.db.backup import backup
from bot.db.files import create_private, open_private, private_dir, tighten, write_private
from bot.jobs.store import Store

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """The loosest umask: whatever the code asks for is what it gets."""
    old = os.umask(0)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_private_dir_makes_every_missing_folder_0700(tmp_path):
    (tmp_path / "data").mkdir(mode=0o755)
    target = tmp_path / "data" / "media" / "videos"
    assert private_dir(target) == target
    assert mode(tmp_path / "data" / "media") == 0o700
    assert mode(target) == 0o700
    assert mode(tmp_path / "data") == 0o755  # it was there: an administrator's to set
    private_dir(target)  # again: nothing to do


def test_private_dir_refuses_a_file_in_the_way(tmp_path):
    (tmp_path / "media").write_text("")
    with pytest.raises(OSError):
        private_dir(tmp_path / "media" / "images")


def test_written_files_are_0600_even_over_an_open_one(tmp_path):
    path = tmp_path / "media" / "images" / "a.png"
    write_private(path, b"png")
    assert path.read_bytes() == b"png" and mode(path) == 0o600
    assert mode(path.parent) == 0o700
    path.chmod(0o666)
    write_private(path, b"again")
    assert path.read_bytes() == b"again" and mode(path) == 0o600
    with open_private(tmp_path / "b.part") as fh:
        fh.write(b"x")
    assert mode(tmp_path / "b.part") == 0o600


def test_create_private_and_tighten(tmp_path):
    db = tmp_path / "x.db"
    create_private(db)
    assert mode(db) == 0o600 and db.read_bytes() == b""
    db.write_bytes(b"kept")
    create_private(db)  # an existing file is kept as it is
    assert db.read_bytes() == b"kept"
    db.chmod(0o644)
    tighten(db, tmp_path / "x.db-wal")  # a missing one is fine
    assert mode(db) == 0o600


async def test_a_new_database_and_its_wal_are_0600(tmp_path):
    store = await Store.open(tmp_path / "data" / "bot.db")
    try:
        await store.secret("callback_secret")
        for name in ("bot.db", "bot.db-wal", "bot.db-shm"):
            assert mode(tmp_path / "data" / name) == 0o600, name
        assert mode(tmp_path / "data") == 0o700
    finally:
        await store.close()


async def test_an_earlier_world_readable_database_is_made_0600(tmp_path):
    store = await Store.open(tmp_path / "bot.db")
    await store.close()
    (tmp_path / "bot.db").chmod(0o644)
    store = await Store.open(tmp_path / "bot.db")
    await store.close()
    assert mode(tmp_path / "bot.db") == 0o600


async def test_a_backup_of_the_database_is_0600(tmp_path):
    store = await Store.open(tmp_path / "bot.db")
    await store.secret("callback_secret")
    await store.close()
    result = backup(tmp_path / "bot.db", tmp_path / "copy.db")
    assert result.path == tmp_path / "copy.db"
    assert mode(tmp_path / "copy.db") == 0o600


def test_stored_media_is_written_through_bot_files():
    """Every file the bot stores goes through bot/db/files.py (a plain write_bytes or
    open("wb") would leave it readable by everyone under the usual umask)."""
    offenders = []
    for path in [*REPO.glob("bot/**/*.py"), *REPO.glob("cogs/**/*.py")]:
        if path.name == "files.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\.write_bytes\b|\.mkdir\b|\.open\(\s*[\"']wb", line):
                offenders.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not offenders
