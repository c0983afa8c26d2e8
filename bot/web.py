"""The bot's HTTP server (aiohttp): kie.ai callbacks, health, metrics and large videos.

``POST /kie/callback/<job>/<token>``: the token is an HMAC of the job id under a secret kept in
the database, so only kie.ai (which was given the URL) can reach a job. With
``KIE_WEBHOOK_HMAC_KEY`` set, kie.ai's ``X-Webhook-Signature`` is checked as well, and stale
timestamps are refused. A callback only wakes the job: the tracker reads the truth back with
recordInfo, so duplicates and strays are harmless.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from bot.config import ConfigError
from bot.jobs.tracker import Tracker
from bot.metrics import CONTENT_TYPE, Metrics
from bot.webhooks import media_token_ok, signature_ok, task_id_of, token_ok

log = logging.getLogger(__name__)

TRACKER_KEY: web.AppKey[Tracker] = web.AppKey("tracker", Tracker)
HMAC_KEY: web.AppKey[str | None] = web.AppKey("hmac_key", str)
# More health checks by name (the Discord gateway, kie.ai), each answering (ok, detail).
CHECKS_KEY: web.AppKey[dict[str, Callable[[], tuple[bool, str]]]] = web.AppKey("checks", dict)
METRICS_KEY: web.AppKey[Metrics | None] = web.AppKey("metrics", Metrics)


async def healthz(request: web.Request) -> web.Response:
    """``{"ok": bool, "checks": {name: {"ok": bool, "detail": str}}}``; 503 when not ok. The
    database answers a query, the scheduler loop is alive (neither stalled nor spinning), and
    whatever the process added (the gateway connection, kie.ai at the last contact)."""
    tracker = request.app[TRACKER_KEY]
    checks: dict[str, tuple[bool, str]] = {}
    try:
        await tracker.store.get_meta("healthz")
        checks["database"] = (True, "answers")
    except Exception as exc:
        checks["database"] = (False, f"unavailable ({type(exc).__name__})")
    checks["scheduler"] = tracker.scheduler.health()
    for name, check in request.app[CHECKS_KEY].items():
        try:
            checks[name] = check()
        except Exception as exc:
            checks[name] = (False, f"check failed ({type(exc).__name__})")
    ok = all(good for good, _ in checks.values())
    body = {
        "ok": ok,
        "checks": {name: {"ok": good, "detail": detail} for name, (good, detail) in checks.items()},
    }
    return web.json_response(body, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[METRICS_KEY]
    if registry is None:
        raise web.HTTPNotFound()
    text = await registry.render(request.app[TRACKER_KEY].store)
    return web.Response(body=text, headers={"Content-Type": CONTENT_TYPE})


async def callback(request: web.Request) -> web.Response:
    tracker = request.app[TRACKER_KEY]
    job_id = request.match_info["job"]
    token = request.match_info["token"]
    if not token_ok(await tracker.callback_secret(), job_id, token):
        return web.json_response({"ok": False, "error": "unknown callback"}, status=404)
    try:
        raw = await request.read()
        body = json.loads(raw)
    except web.HTTPRequestEntityTooLarge:
        raise
    except (ValueError, UnicodeDecodeError):
        return web.json_response({"ok": False, "error": "body is not JSON"}, status=400)
    task_id = task_id_of(body)
    key = request.app[HMAC_KEY]
    if key is not None:
        if task_id is None or not signature_ok(
            key,
            task_id,
            request.headers.get("X-Webhook-Timestamp"),
            request.headers.get("X-Webhook-Signature"),
            tracker.clock.now(),
        ):
            log.warning("callback for job %s refused: bad or stale signature", job_id)
            return web.json_response({"ok": False, "error": "bad signature"}, status=401)
    known = await tracker.on_callback(job_id, task_id)
    return web.json_response({"ok": True, "known": known})


async def media(request: web.Request) -> web.StreamResponse:
    """A finished video too large for Discord, under an unguessable URL."""
    tracker = request.app[TRACKER_KEY]
    job_id = request.match_info["job"]
    if not media_token_ok(await tracker.callback_secret(), job_id, request.match_info["token"]):
        raise web.HTTPNotFound()
    job = await tracker.store.get_job(job_id)
    if job is None or not job.video_path:
        raise web.HTTPNotFound()
    path = Path(job.video_path)
    if not await asyncio.to_thread(path.is_file):
        return web.Response(
            status=410, text="This video was removed under the bot's retention policy.\n"
        )
    return web.FileResponse(path, headers={"Content-Type": "video/mp4"})


def make_app(
    tracker: Tracker,
    *,
    hmac_key: str | None,
    max_body: int,
    metrics_registry: Metrics | None = None,
) -> web.Application:
    app = web.Application(client_max_size=max_body)
    app[TRACKER_KEY] = tracker
    app[HMAC_KEY] = hmac_key
    app[CHECKS_KEY] = {}
    app[METRICS_KEY] = metrics_registry
    app.router.add_get("/healthz", healthz)
    if metrics_registry is not None:
        app.router.add_get("/metrics", metrics)
    app.router.add_post("/kie/callback/{job}/{token}", callback)
    app.router.add_get("/media/{job}/{token}.mp4", media)
    return app


class WebServer:
    """Runs the app on host:port; ``port`` 0 picks a free one (see ``.port`` after start)."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            # A busy port or an address this host does not have: the operator's to fix.
            raise ConfigError(
                f"STORYBOARD_HTTP_HOST / STORYBOARD_HTTP_PORT (http.host, http.port): cannot "
                f"listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        server = site._server
        if server is not None and self.port == 0:
            sockets = getattr(server, "sockets", None) or []
            if sockets:
                self.port = sockets[0].getsockname()[1]
        log.info("HTTP server listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
