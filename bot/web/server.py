"""The bot's HTTP server (aiohttp): kie.ai callbacks, health, metrics and large videos.

``POST /kie/callback/<job>/<token>``: the token is an HMAC of the job id under a secret kept in
the database, so only kie.ai (which was given the URL) can reach a job. With
``KIE_WEBHOOK_HMAC_KEY`` set, kie.ai's ``X-Webhook-Signature`` is checked as well, and stale
timestamps are refused, and so is a signed callback seen before. A callback only wakes the
job: the tracker reads the truth back with recordInfo, so duplicates and strays are harmless.

``GET /media/<job>/<expires>-<token>.mp4``: a video too large for Discord, under a token of its
own secret that expires with the retention period.

Anyone may reach the port, so slow clients are dropped (header and body timeouts), connections
are capped, and malformed requests cost a 4xx and at most a short, rate-limited log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Middleware

from bot.config.settings import ConfigError, HttpSettings
from bot.jobs.links import ReplayGuard, check_media_token, signature_ok, task_id_of, token_ok
from bot.jobs.tracker import Tracker
from bot.web.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

TRACKER_KEY: web.AppKey[Tracker] = web.AppKey("tracker", Tracker)
HMAC_KEY: web.AppKey[str | None] = web.AppKey("hmac_key", str)
REPLAYS_KEY: web.AppKey[ReplayGuard] = web.AppKey("replays", ReplayGuard)
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
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: nested deeper than the parser goes ("[[[[...").
        return web.json_response({"ok": False, "error": "body is not JSON"}, status=400)
    task_id = task_id_of(body)
    key = request.app[HMAC_KEY]
    if key is not None:
        timestamp = request.headers.get("X-Webhook-Timestamp")
        now = tracker.clock.now()
        if task_id is None or not signature_ok(
            key, task_id, timestamp, request.headers.get("X-Webhook-Signature"), now
        ):
            log.warning("callback for job %s refused: bad or stale signature", job_id)
            return web.json_response({"ok": False, "error": "bad signature"}, status=401)
        assert timestamp is not None  # signature_ok refuses a missing one
        if not request.app[REPLAYS_KEY].first_time(task_id, timestamp, now):
            log.warning("callback for job %s refused: a replay of one already taken", job_id)
            return web.json_response({"ok": False, "error": "replayed callback"}, status=409)
    try:
        known = await tracker.on_callback(job_id, task_id)
    except BaseException:
        if key is not None and task_id is not None:  # let kie.ai's retry in
            request.app[REPLAYS_KEY].forget(task_id, request.headers["X-Webhook-Timestamp"])
        raise
    return web.json_response({"ok": True, "known": known})


async def media(request: web.Request) -> web.StreamResponse:
    """A finished video too large for Discord, under an unguessable URL."""
    tracker = request.app[TRACKER_KEY]
    job_id = request.match_info["job"]
    token = request.match_info["token"]
    check = check_media_token(await tracker.media_secret(), job_id, token, tracker.clock.now())
    if check == "invalid":
        raise web.HTTPNotFound()
    if check == "expired":
        return web.Response(status=410, text="This link has expired.\n")
    job = await tracker.store.get_job(job_id)
    if job is None or not job.video_path:
        raise web.HTTPNotFound()
    path = Path(job.video_path)
    if not await asyncio.to_thread(path.is_file):
        return web.Response(
            status=410, text="This video was removed under the bot's retention policy.\n"
        )
    return web.FileResponse(path, headers=_media_headers(job.id))


def _media_headers(job_id: str) -> dict[str, str]:
    """Downloaded, never rendered as something else, kept out of shared caches."""
    name = re.sub(r"[^A-Za-z0-9_-]", "", job_id)[:64] or "video"
    return {
        "Content-Type": "video/mp4",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'attachment; filename="storyboard-{name}.mp4"',
        "Cache-Control": "private, max-age=3600",
    }


# -- against hostile clients ---------------------------------------------------------------

LOG_EVERY = 10.0  # seconds: at most one line of each kind about bad requests this often
LINGER = 2.0  # seconds: the most an unread request body is drained for
_BUSY_TEXT = b"Too many connections; try again later.\n"
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 5\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BUSY_TEXT), _BUSY_TEXT)
)
# The client's doing: a malformed request, a hang-up, a timeout. Never worth a traceback.
_CLIENT_FAULTS = (HttpProcessingError, web.RequestPayloadError, ConnectionError, TimeoutError)


class QuietLog:
    """Stands in for aiohttp's server logger, which writes a traceback for every malformed
    request (a header line over 8 KB, a TLS handshake on the plain port, a client that hangs
    up mid-body): anyone who reaches the port could fill the log. Here each is one short line
    at info (debug where aiohttp says debug) without a traceback, and every kind of event at
    most once every ``every`` seconds, with a count of those left out since. An error that is
    not the client's (a bug in a handler) keeps its traceback, rate-limited the same way."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        every: float = LOG_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.every = every
        self.clock = clock
        self._last: dict[str, float] = {}
        self._left_out: dict[str, int] = {}

    def debug(self, msg: str, *args: Any, **kw: Any) -> None:
        self._log(logging.DEBUG, msg, args, kw.get("exc_info"))

    def info(self, msg: str, *args: Any, **kw: Any) -> None:
        self._log(logging.INFO, msg, args, kw.get("exc_info"))

    def warning(self, msg: str, *args: Any, **kw: Any) -> None:
        self._log(logging.WARNING, msg, args, kw.get("exc_info"))

    def error(self, msg: str, *args: Any, **kw: Any) -> None:
        self._log(logging.ERROR, msg, args, kw.get("exc_info"))

    def exception(self, msg: str, *args: Any, exc_info: Any = True, **kw: Any) -> None:
        self._log(logging.ERROR, msg, args, exc_info)

    def event(self, kind: str, msg: str, *args: Any, level: int = logging.INFO) -> None:
        """One line about ``kind`` (e.g. "busy"), rate-limited like the rest."""
        if self._due(kind):
            self.logger.log(level, "%s%s", _format(msg, args), self._since(kind))

    def _log(self, level: int, msg: str, args: tuple[Any, ...], exc_info: Any) -> None:
        exc = exc_info if isinstance(exc_info, BaseException) else None
        if exc_info is True:
            exc = sys.exc_info()[1]
        kind = type(exc).__name__ if exc is not None else msg
        if not self.logger.isEnabledFor(level) or not self._due(kind):
            return
        text = _format(msg, args)
        if exc is not None and not isinstance(exc, _CLIENT_FAULTS):
            self.logger.log(level, "%s%s", text, self._since(kind), exc_info=exc)
            return
        detail = f" ({type(exc).__name__}: {_short(exc)})" if exc is not None else ""
        level = min(level, logging.INFO)
        self.logger.log(level, "HTTP: %s%s%s", text, detail, self._since(kind))

    def _due(self, kind: str) -> bool:
        now = self.clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.every:
            self._left_out[kind] = self._left_out.get(kind, 0) + 1
            return False
        if len(self._last) > 1000:  # kinds are few; never let them grow without end
            self._last.clear()
        self._last[kind] = now
        return True

    def _since(self, kind: str) -> str:
        n = self._left_out.pop(kind, 0)
        return f" (and {n} more like it since the last such line)" if n else ""


def _format(msg: str, args: tuple[Any, ...]) -> str:
    try:
        return _short(msg % args if args else msg)
    except (TypeError, ValueError):
        return _short(msg)


def _short(value: object, limit: int = 160) -> str:
    """One line, bounded: exception messages may quote what the client sent."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def bounded_body(seconds: float) -> Middleware:
    """A middleware that reads a request's body (up to ``client_max_size``) before the
    handler, within ``seconds``: a body sent a byte at a time gets 408 and the connection is
    closed; a client that hangs up mid-body gets nothing (it is gone) and no traceback."""

    @web.middleware
    async def middleware(
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        if request.can_read_body:
            try:
                async with asyncio.timeout(seconds):
                    await request.read()  # kept: the handler's read() answers from it
            except TimeoutError:
                raise web.HTTPRequestTimeout(
                    text=f"The request's body did not arrive within {seconds:g} s.\n",
                    headers={"Connection": "close"},
                ) from None
            except (ConnectionError, web.RequestPayloadError):
                return web.Response(status=400, text="Incomplete request body.\n")
        return await handler(request)

    return middleware


def cap_connections(server: web.Server, limit: int, quiet: QuietLog) -> None:
    """Connections beyond ``limit`` are answered 503 and closed as soon as they are made."""
    loop = asyncio.get_running_loop()
    register = server.connection_made

    def connection_made(handler: Any, transport: asyncio.Transport) -> None:
        register(handler, transport)
        if len(server.connections) > limit:
            transport.write(BUSY)
            # On the next turn of the loop, once the handler has started: it then sees an
            # ordinary hang-up.
            loop.call_soon(transport.close)
            quiet.event("busy", "HTTP: %d connections open; turning new ones away (503)", limit)

    server.connection_made = connection_made  # type: ignore[method-assign]


def make_app(
    tracker: Tracker,
    *,
    hmac_key: str | None,
    max_body: int,
    metrics_registry: Metrics | None = None,
) -> web.Application:
    app = web.Application(
        client_max_size=max_body,
        middlewares=[bounded_body(tracker.settings.http.body_timeout_seconds)],
    )
    app[TRACKER_KEY] = tracker
    app[HMAC_KEY] = hmac_key
    app[REPLAYS_KEY] = ReplayGuard()
    app[CHECKS_KEY] = {}
    app[METRICS_KEY] = metrics_registry
    app.router.add_get("/healthz", healthz)
    if metrics_registry is not None:
        app.router.add_get("/metrics", metrics)
    app.router.add_post("/kie/callback/{job}/{token}", callback)
    app.router.add_get("/media/{job}/{token}.mp4", media)
    return app


class WebServer:
    """Runs the app on host:port; ``port`` 0 picks a free one (see ``.port`` after start).

    ``limits`` (the tracker's ``[http]`` settings unless given): a connection that has not sent
    a request's headers ``header_timeout_seconds`` after connecting (or after the previous
    answer) is closed, and at most ``max_connections`` are open at once."""

    def __init__(
        self, app: web.Application, host: str, port: int, *, limits: HttpSettings | None = None
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.limits = limits or app[TRACKER_KEY].settings.http
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        limits = self.limits
        quiet = QuietLog(log)
        self._runner = web.AppRunner(
            self.app,
            access_log=None,
            logger=quiet,
            # aiohttp closes a connection idle this long, and a connection counts as idle
            # until a request's headers are complete: this is the header timeout.
            keepalive_timeout=limits.header_timeout_seconds,
            # How long a body the handler did not read (a 408, a 413) is drained before the
            # connection is closed, so that the client gets to read the answer.
            lingering_time=min(LINGER, limits.body_timeout_seconds),
        )
        await self._runner.setup()
        assert self._runner.server is not None
        cap_connections(self._runner.server, limits.max_connections, quiet)
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
