"""``storyboard-bot doctor``'s Discord lines, against a local fake of Discord's API.

kie.ai is the fake kie.ai server (tests/conftest.py's ``fake``); Discord is a small aiohttp app
answering ``/users/@me`` and ``/applications/@me`` the way Discord does.
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import bot.kie.client as kie_client
from bot.app.doctor import run_checks
from bot.config.settings import Settings
from bot.db.connection import CONTENT_MODE_KEY
from bot.jobs.store import Store
from tests.fakes.fakekie import FakeKie
from tests.helpers import make_settings

TOKEN = "test-discord-token"
# Discord's application flags, as documented (not imported: the doctor must match these).
GATEWAY_MESSAGE_CONTENT = 1 << 18
GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19
# An application's other flags (e.g. GATEWAY_GUILD_MEMBERS_LIMITED, APPLICATION_COMMAND_BADGE).
OTHER_FLAGS = (1 << 15) | (1 << 23)


class FakeDiscord:
    """Discord's REST API, the two endpoints the doctor reads."""

    def __init__(self) -> None:
        self.flags: int | None = 0
        self.app_status = 200
        self.token_ok = True
        self.requests: list[tuple[str, str | None]] = []
        app = web.Application()
        app.router.add_get("/users/@me", self._me)
        app.router.add_get("/applications/@me", self._application)
        self.server = TestServer(app, host="127.0.0.1")

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    def _seen(self, request: web.Request) -> web.Response | None:
        self.requests.append((request.path, request.headers.get("Authorization")))
        if not self.token_ok or request.headers.get("Authorization") != f"Bot {TOKEN}":
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        return None

    async def _me(self, request: web.Request) -> web.Response:
        refused = self._seen(request)
        if refused is not None:
            return refused
        return web.json_response({"id": "1001", "username": "storyboard", "bot": True})

    async def _application(self, request: web.Request) -> web.Response:
        refused = self._seen(request)
        if refused is not None:
            return refused
        if self.app_status != 200:
            return web.json_response({"message": "oops"}, status=self.app_status)
        body: dict[str, Any] = {"id": "2002", "name": "storyboard", "bot_public": True}
        if self.flags is not None:
            body["flags"] = self.flags
        return web.json_response(body)

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


@pytest.fixture(autouse=True)
def fresh_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The doctor's kie.ai client takes the process-wide limiter; give each test (each event
    loop) its own, as each ``storyboard-bot doctor`` process has."""
    monkeypatch.setattr(kie_client, "_shared_limits", {})


@pytest.fixture
async def discord_api() -> AsyncIterator[FakeDiscord]:
    api = FakeDiscord()
    await api.server.start_server()
    try:
        yield api
    finally:
        await api.server.close()


def _settings(tmp_path: Path, kie: FakeKie, api: FakeDiscord, **discord: Any) -> Settings:
    return make_settings(
        tmp_path, kie.url, discord={"token": TOKEN, "api_base": api.url, **discord}
    )


async def doctor(settings: Settings) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = await run_checks(settings, out)
    text = out.getvalue()
    assert TOKEN not in text
    return code, text.splitlines()


def content_line(lines: list[str]) -> str:
    [line] = [x for x in lines if " message content" in x]
    return line


async def _remember_mode(settings: Settings, mode: str) -> None:
    store = await Store.open(settings.storage.db)
    try:
        await store.set_meta(CONTENT_MODE_KEY, mode)
    finally:
        await store.close()


@pytest.mark.parametrize(
    "flags",
    [GATEWAY_MESSAGE_CONTENT, GATEWAY_MESSAGE_CONTENT | OTHER_FLAGS],
    ids=["approved", "approved-among-others"],
)
async def test_intent_granted_is_ok(tmp_path, fake, discord_api, flags):
    discord_api.flags = flags
    code, lines = await doctor(_settings(tmp_path, fake, discord_api))
    assert "[ok]   Discord token: logs in as storyboard (id 1001)" in lines
    assert content_line(lines) == (
        "[ok]   message content: the intent is on; thread edits are read as typed"
    )
    assert discord_api.requests == [
        ("/users/@me", f"Bot {TOKEN}"),
        ("/applications/@me", f"Bot {TOKEN}"),
    ]
    assert code == 0


async def test_limited_intent_is_ok_and_mentions_the_100_server_approval(
    tmp_path, fake, discord_api
):
    discord_api.flags = GATEWAY_MESSAGE_CONTENT_LIMITED | OTHER_FLAGS
    code, lines = await doctor(_settings(tmp_path, fake, discord_api))
    line = content_line(lines)
    assert line.startswith("[ok]   message content: the intent is on")
    assert "100" in line and "approval" in line
    assert code == 0


async def test_intent_missing_warns_that_the_bot_runs_degraded(tmp_path, fake, discord_api):
    discord_api.flags = OTHER_FLAGS  # neither message-content flag
    code, lines = await doctor(_settings(tmp_path, fake, discord_api))
    line = content_line(lines)
    assert line.startswith("[warn] message content: the Message Content intent is off")
    assert "run degraded" in line
    assert "Developer Portal > your application > Bot > Privileged Gateway Intents" in line
    assert "DISCORD_MESSAGE_CONTENT=false" in line
    assert code == 0  # a warning, not a failure: the bot still runs


async def test_setting_off_reports_ping_and_buttons_without_asking_discord(
    tmp_path, fake, discord_api
):
    discord_api.flags = 0
    code, lines = await doctor(_settings(tmp_path, fake, discord_api, message_content=False))
    assert content_line(lines) == (
        "[ok]   message content: thread edits by reply-with-ping and buttons only "
        "(discord.message_content = false)"
    )
    assert discord_api.paths() == ["/users/@me"]
    assert code == 0


@pytest.mark.parametrize(
    ("flags", "status"),
    [(0, "[warn]"), (GATEWAY_MESSAGE_CONTENT, "[ok]  ")],
    ids=["still-missing", "since-granted"],
)
async def test_a_degraded_last_run_is_mentioned(tmp_path, fake, discord_api, flags, status):
    settings = _settings(tmp_path, fake, discord_api)
    await _remember_mode(settings, "degraded")
    discord_api.flags = flags
    _, lines = await doctor(settings)
    line = content_line(lines)
    assert line.startswith(f"{status} message content:")
    assert "the last run ran degraded" in line
    if flags:
        assert "restart the bot" in line


@pytest.mark.parametrize("mode", ["full", "off"])
async def test_other_last_modes_are_not_mentioned(tmp_path, fake, discord_api, mode):
    settings = _settings(tmp_path, fake, discord_api)
    await _remember_mode(settings, mode)
    discord_api.flags = GATEWAY_MESSAGE_CONTENT
    _, lines = await doctor(settings)
    assert "last run" not in content_line(lines)


async def test_unreadable_application_warns_without_failing(tmp_path, fake, discord_api):
    discord_api.app_status = 500
    code, lines = await doctor(_settings(tmp_path, fake, discord_api))
    assert content_line(lines) == (
        "[warn] message content: could not read the application (Discord answered HTTP 500)"
    )
    assert code == 0

    discord_api.app_status = 200
    discord_api.flags = None  # an answer without flags
    code, lines = await doctor(_settings(tmp_path, fake, discord_api))
    assert content_line(lines).startswith("[warn] message content: Discord did not give")


async def test_refused_token_fails_and_leaves_the_intent_unchecked(tmp_path, fake, discord_api):
    discord_api.token_ok = False
    code, lines = await doctor(_settings(tmp_path, fake, discord_api))
    assert any(x.startswith("[FAIL] Discord token: Discord refused it") for x in lines)
    assert content_line(lines) == (
        "[warn] message content: not checked (Discord refused the token)"
    )
    assert discord_api.paths() == ["/users/@me"]
    assert code == 1


# -- the database line: read-only, never migrated --------------------------------------------
def database_line(lines: list[str]) -> str:
    [line] = [x for x in lines if " database" in x]
    return line


async def test_an_old_database_is_reported_not_migrated(tmp_path, fake, discord_api):
    import aiosqlite

    from bot.db.backup import inspect
    from bot.db.migrations import LATEST, migrate

    settings = _settings(tmp_path, fake, discord_api)
    db = await aiosqlite.connect(settings.storage.db, isolation_level=None)
    try:
        await migrate(db, target=1)
        await db.execute(
            "INSERT INTO jobs (id, model, storyboard, image_path, state, created_at, "
            "deadline_at, updated_at) VALUES ('j1', 'm', '{}', 'i.png', 'running', 1, 2, 3)"
        )
        await db.execute(f"INSERT INTO meta (key, value) VALUES ('{CONTENT_MODE_KEY}', 'degraded')")
    finally:
        await db.close()
    before = Path(settings.storage.db).read_bytes()

    _, lines = await doctor(settings)
    pending = LATEST - 1
    assert database_line(lines) == (
        f"[warn] database: {settings.storage.db} (schema v1, 1 jobs running): {pending} "
        f"migration{'s' if pending > 1 else ''} pending; `storyboard-bot run` applies "
        f"{'them' if pending > 1 else 'it'} (after a backup)"
    )
    assert "the last run ran degraded" in content_line(lines)  # read from the old schema
    assert inspect(settings.storage.db).version == 1
    assert Path(settings.storage.db).read_bytes() == before
    assert list(tmp_path.glob("*.bak")) == []


async def test_a_current_database_is_ok_and_a_missing_one_is_not_created(
    tmp_path, fake, discord_api
):
    from bot.db.migrations import LATEST

    settings = _settings(tmp_path, fake, discord_api)
    _, lines = await doctor(settings)
    assert database_line(lines) == (
        f"[ok]   database: {settings.storage.db} does not exist yet; "
        "`storyboard-bot run` creates it"
    )
    assert not Path(settings.storage.db).exists()

    await _remember_mode(settings, "full")  # creates it at the latest version
    _, lines = await doctor(settings)
    assert database_line(lines) == (
        f"[ok]   database: {settings.storage.db} (schema v{LATEST}, 0 jobs running)"
    )


async def test_a_database_newer_than_the_bot_fails(tmp_path, fake, discord_api):
    import sqlite3

    from bot.db.migrations import LATEST

    settings = _settings(tmp_path, fake, discord_api)
    await _remember_mode(settings, "full")
    db = sqlite3.connect(settings.storage.db)
    db.execute(f"PRAGMA user_version = {LATEST + 1}")
    db.close()
    code, lines = await doctor(settings)
    assert database_line(lines).startswith(f"[FAIL] database: {settings.storage.db} (schema v")
    assert f"newer than this bot (v{LATEST}); upgrade the bot" in database_line(lines)
    assert code == 1


# -- kie.ai's two hosts --------------------------------------------------------------------------


async def test_both_kie_hosts_are_checked(tmp_path, fake, discord_api):
    _code, lines = await doctor(_settings(tmp_path, fake, discord_api))
    assert "[ok]   kie.ai key: 1000 credits left" in lines
    [upload] = [x for x in lines if "upload host" in x]
    host = fake.url.removeprefix("http://")
    assert upload == f"[ok]   kie.ai upload host: {host} answers (400 file is required)"
    assert fake.uploads == [] and fake.files == {}  # the probe stores nothing


async def test_an_unreachable_upload_host_fails_the_doctor_and_names_it(
    tmp_path, fake, discord_api
):
    from tests.helpers import free_port

    closed = f"127.0.0.1:{free_port()}"
    settings = make_settings(
        tmp_path,
        fake.url,
        kie={"upload_url": f"http://{closed}"},
        discord={"token": TOKEN, "api_base": discord_api.url},
    )
    code, lines = await doctor(settings)
    assert code == 1
    [upload] = [x for x in lines if "upload host" in x]
    assert upload.startswith(f"[FAIL] kie.ai upload host: cannot reach {closed} (KIE_UPLOAD_URL)")
    assert "[ok]   kie.ai key: 1000 credits left" in lines


# -- FFmpeg (PyAV) ---------------------------------------------------------------------------
def ffmpeg_line(lines: list[str]) -> str:
    [line] = [x for x in lines if " FFmpeg (PyAV)" in x]
    return line


async def test_ffmpeg_line_gives_pyav_and_the_library_versions(tmp_path, fake, discord_api):
    import av

    discord_api.flags = GATEWAY_MESSAGE_CONTENT
    code, lines = await doctor(_settings(tmp_path, fake, discord_api))
    codec = ".".join(map(str, av.library_versions["libavcodec"]))
    fmt = ".".join(map(str, av.library_versions["libavformat"]))
    line = ffmpeg_line(lines)
    assert line.startswith(f"[ok]   FFmpeg (PyAV): PyAV {av.__version__}, FFmpeg ")
    assert f"libavcodec {codec}" in line and f"libavformat {fmt}" in line
    assert code == 0


async def test_ffmpeg_line_fails_plainly_when_av_cannot_be_imported(
    tmp_path, fake, discord_api, monkeypatch
):
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` raises ImportError
    discord_api.flags = GATEWAY_MESSAGE_CONTENT
    code, lines = await doctor(_settings(tmp_path, fake, discord_api))
    line = ffmpeg_line(lines)
    assert line.startswith("[FAIL] FFmpeg (PyAV): `import av` failed (")
    assert "long storyboards cannot be built" in line and "pip install 'av>=15,<19'" in line
    assert "Traceback" not in "\n".join(lines)
    # The other checks still ran.
    assert "[ok]   Discord token: logs in as storyboard (id 1001)" in lines
    assert code == 1


def test_the_doctor_never_imports_discord():
    """The command line and the doctor load without discord.py: it stays out of their path."""
    code = (
        "import sys, bot.app.cli, bot.app.doctor; "
        "print(sorted(m for m in sys.modules if m == 'discord' or m.startswith('discord.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
