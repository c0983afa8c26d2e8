"""``storyboard-bot doctor``: a short checklist of what works and what to fix: the
configuration, the models, FFmpeg (PyAV), kie.ai, the database, Discord and the callbacks.

It never imports discord.py: Discord is checked over its REST API, so the checklist runs
even where the bot itself cannot start."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TextIO

import aiohttp

from bot.config.settings import ConfigError, Settings
from bot.db.connection import CONTENT_MODE_KEY
from bot.db.migrations import LATEST
from bot.jobs.store import ACTIVE_STATES
from bot.kie import KieClient, KieError, KieUnreachable
from bot.models import ModelRegistry
from bot.models.sora import NAME as SORA

OK, WARN, FAIL = "ok", "warn", "FAIL"

# The application's flags (GET /applications/@me): the Message Content intent is on in the
# Developer Portal, for a bot Discord approved (100+ servers) or one under 100 servers.
GATEWAY_MESSAGE_CONTENT = 1 << 18
GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19
PORTAL_FIX = (
    "Developer Portal > your application > Bot > Privileged Gateway Intents > "
    "Message Content Intent"
)


class Report:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.failed = False

    def line(self, status: str, what: str, detail: str = "") -> None:
        if status == FAIL:
            self.failed = True
        mark = {OK: "[ok]  ", WARN: "[warn]", FAIL: "[FAIL]"}[status]
        print(f"{mark} {what}" + (f": {detail}" if detail else ""), file=self.out)


async def run_checks(settings: Settings, out: TextIO) -> int:
    r = Report(out)
    r.line(OK, "configuration", "loaded")
    await _models(settings, r)
    _ffmpeg(r)
    await _kie(settings, r)
    last_mode = await _database(settings, r)
    await _discord(settings, r, last_mode)
    if settings.callbacks_enabled:
        r.line(OK, "callbacks", f"kie.ai will call {settings.http.public_url}/kie/callback/...")
    else:
        r.line(
            WARN,
            "callbacks",
            "STORYBOARD_PUBLIC_URL is not set; the bot polls kie.ai. Set it: if the bot stops "
            "while a createTask is in flight, only kie.ai's callback can still find that task "
            "(without it the job is given up, and kie.ai may have charged for it)",
        )
    return 1 if r.failed else 0


async def _models(settings: Settings, r: Report) -> None:
    try:
        models = ModelRegistry(settings)
    except ConfigError as exc:
        r.line(FAIL, "models", str(exc))
        return
    r.line(OK, "primary model", models.primary.describe())
    if models.fallback is not None:
        r.line(OK, "fallback model", models.fallback.describe())
    else:
        r.line(WARN, "fallback model", "none (KIE_FALLBACK_MODEL is empty)")
    if SORA in {m.name for m in models.all()}:
        r.line(
            WARN,
            SORA,
            'OpenAI shut the Sora 2 API down on 2026-09-24; kie.ai answers "temporarily '
            'paused" or "not supported", so jobs go to the fallback model',
        )


# The FFmpeg libraries bot/media/video.py needs: demuxing and muxing mp4, decoding frames.
FFMPEG_LIBRARIES = ("libavformat", "libavcodec", "libavutil")


def _ffmpeg(r: Report) -> None:
    """One line: whether PyAV (``import av``) and the FFmpeg libraries it links load; long
    storyboards need them to take a segment's last frame and to join the segments."""
    what = "FFmpeg (PyAV)"
    try:
        import av
    except ImportError as exc:
        r.line(
            FAIL,
            what,
            f"`import av` failed ({exc}); long storyboards cannot be built (a segment's last "
            "frame, joining the segments). Reinstall the bot's dependencies (PyAV's wheels "
            "include FFmpeg): pip install 'av>=15,<19'",
        )
        return
    versions = av.library_versions
    libraries = ", ".join(
        f"{name} {'.'.join(map(str, versions[name]))}"
        for name in FFMPEG_LIBRARIES
        if name in versions
    )
    r.line(OK, what, f"PyAV {av.__version__}, FFmpeg {av.ffmpeg_version_info} ({libraries})")


async def _kie(settings: Settings, r: Report) -> None:
    if settings.kie.api_key is None:
        r.line(FAIL, "kie.ai key", "KIE_API_KEY is not set (get one at https://kie.ai/api-key)")
        return
    settings = settings.model_copy(
        update={"kie": settings.kie.model_copy(update={"max_retries": 1, "request_timeout": 15})}
    )
    async with KieClient(settings.kie) as client:
        try:
            credits = await client.credits()
        except KieError as exc:
            r.line(FAIL, "kie.ai key", exc.meaning)
        except KieUnreachable as exc:
            r.line(FAIL, "kie.ai", f"cannot reach {exc.host} (KIE_BASE_URL): {exc}")
        else:
            r.line(OK, "kie.ai key", f"{credits:g} credits left")
        # The upload host is another host: every job's image goes there first. An upload
        # without a file stores nothing and costs nothing.
        try:
            answered = await client.probe_upload()
        except KieUnreachable as exc:
            r.line(FAIL, "kie.ai upload host", f"cannot reach {exc.host} (KIE_UPLOAD_URL): {exc}")
        except KieError as exc:
            r.line(
                FAIL, "kie.ai upload host", f"{client.upload_host} (KIE_UPLOAD_URL): {exc.meaning}"
            )
        else:
            r.line(OK, "kie.ai upload host", f"{client.upload_host} answers ({answered})")


async def _database(settings: Settings, r: Report) -> str | None:
    """Checks the database, read-only: the doctor never creates or migrates it (``run`` does).
    Returns how the last run read thread messages (if known)."""
    from bot.db.backup import inspect

    path = settings.storage.db
    if not await asyncio.to_thread(Path(path).exists):
        r.line(OK, "database", f"{path} does not exist yet; `storyboard-bot run` creates it")
        return None
    try:
        info = await asyncio.to_thread(inspect, path, [CONTENT_MODE_KEY])
    except Exception as exc:
        r.line(FAIL, "database", f"{path}: {exc}")
        return None
    active = sum(n for state, n in info.states.items() if state in ACTIVE_STATES)
    what = f"{path} (schema v{info.version}, {active} jobs running)"
    if info.version > LATEST:
        r.line(FAIL, "database", f"{what}: newer than this bot (v{LATEST}); upgrade the bot")
    elif info.pending:
        n = info.pending
        after = " (after a backup)" if info.version > 0 else ""
        r.line(
            WARN,
            "database",
            f"{what}: {n} migration{'' if n == 1 else 's'} pending; "
            f"`storyboard-bot run` applies {'it' if n == 1 else 'them'}{after}",
        )
    else:
        r.line(OK, "database", what)
    return info.meta.get(CONTENT_MODE_KEY)


async def _discord(settings: Settings, r: Report, last_mode: str | None = None) -> None:
    flags = await _discord_app(settings, r)
    _message_content(settings, r, flags, last_mode)


async def _discord_app(settings: Settings, r: Report) -> int | str:
    """Check the token; return the application's flags, or why they are unknown."""
    if settings.discord.token is None:
        r.line(FAIL, "Discord token", "DISCORD_TOKEN is not set (Developer Portal > Bot > Token)")
        return "not checked (no Discord token)"
    base = str(settings.discord.api_base).rstrip("/")
    headers = {"Authorization": f"Bot {settings.discord.token.get_secret_value()}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        try:
            async with session.get(f"{base}/users/@me", headers=headers) as resp:
                if resp.status == 401:
                    r.line(
                        FAIL,
                        "Discord token",
                        "Discord refused it; reset it in the Developer Portal",
                    )
                    return "not checked (Discord refused the token)"
                if resp.status != 200:
                    r.line(FAIL, "Discord token", f"Discord answered HTTP {resp.status}")
                    return f"not checked (Discord answered HTTP {resp.status})"
                me = await resp.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            r.line(FAIL, "Discord", f"unreachable ({type(exc).__name__})")
            return "not checked (Discord unreachable)"
        who = f"logs in as {me.get('username', '?')} (id {me.get('id', '?')})"
        r.line(OK, "Discord token", who)
        if not settings.discord.message_content:
            return "not needed"
        try:
            async with session.get(f"{base}/applications/@me", headers=headers) as resp:
                if resp.status != 200:
                    return f"could not read the application (Discord answered HTTP {resp.status})"
                app = await resp.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"could not read the application ({type(exc).__name__})"
    flags = app.get("flags") if isinstance(app, dict) else None
    return flags if isinstance(flags, int) else "Discord did not give the application's flags"


def _message_content(
    settings: Settings, r: Report, flags: int | str, last_mode: str | None
) -> None:
    """One line: how the bot will read edits typed in a draft's thread."""
    what = "message content"
    last = "; the last run ran degraded (without the intent)" if last_mode == "degraded" else ""
    if not settings.discord.message_content:
        detail = (
            "thread edits by reply-with-ping and buttons only (discord.message_content = false)"
        )
        r.line(OK, what, detail + last)
    elif isinstance(flags, str):
        r.line(WARN, what, flags + last)
    elif flags & (GATEWAY_MESSAGE_CONTENT | GATEWAY_MESSAGE_CONTENT_LIMITED):
        detail = "the intent is on; thread edits are read as typed"
        if not flags & GATEWAY_MESSAGE_CONTENT:  # LIMITED: fine while under 100 servers
            detail += " (in 100 or more servers the bot needs Discord's approval for it)"
        if last:
            detail += "; the last run ran degraded (without it): restart the bot"
        r.line(OK, what, detail)
    else:
        r.line(
            WARN,
            what,
            "the Message Content intent is off in the Developer Portal, so the bot will run "
            "degraded (thread edits by reply-with-ping and buttons only); switch it on in "
            f"{PORTAL_FIX}, or set DISCORD_MESSAGE_CONTENT=false" + last,
        )
