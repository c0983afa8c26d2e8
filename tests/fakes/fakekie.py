"""A fake kie.ai for the test suite: no test may touch the network.

One aiohttp application on 127.0.0.1 (port 0) serves both hosts the bot talks to:

* the API host (``KIE_BASE_URL``): ``/api/v1/jobs/createTask``, ``/api/v1/jobs/recordInfo``,
  ``/api/v1/chat/credit``, ``/api/v1/common/download-url``;
* the upload host (``KIE_UPLOAD_URL``): ``/api/file-stream-upload`` (and
  ``/api/file-base64-upload``);
* the public file hosts: ``/results/<taskId>.mp4`` (and ``-wm.mp4``), ``/files/<path>``,
  ``/dl/<token>``. Like the real CDN links these need no ``Authorization`` header; any request
  that sends one anyway is recorded in ``FakeKie.leaked_auth``.

kie.ai's account limit on createTask (20 in any 10 s, more are answered 429 and dropped) is off
unless a test switches it on with :meth:`FakeKie.limit_creates`.

Task states are computed from ``clock()`` whenever they are read (there is no background state
machine), so a test with a :class:`ManualClock` advances time deterministically. The only
background activity is the callback ticker, which also reads ``clock()``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import contextlib
import dataclasses
import hashlib
import hmac
import io
import json
import logging
import math
import mimetypes
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import aiohttp
from aiohttp import web
from PIL import Image, UnidentifiedImageError

from tests.fakes.videos import colour_of, make_video, seconds_of, shape_of

log = logging.getLogger(__name__)

Clock = Callable[[], float]

SORA_MODEL = "sora-2-pro-storyboard"
KLING_MODEL = "kling-3.0-omni/image-to-video"
SUPPORTED_MODELS = (SORA_MODEL, KLING_MODEL)

#: ``createTime``/``updateTime``/``completeTime`` are ``FIXED_EPOCH_MS + clock() * 1000``.
FIXED_EPOCH_MS = 1_765_000_000_000
CHUNK_SIZE = 64 * 1024
WATERMARKED = b"WATERMARKED"
#: How every result served starts: an mp4's first box, ``ftyp`` (major brand mp42), as the
#: bot checks.
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
DEFAULT_RESULT = MP4_HEAD + b"fake-mp4-bytes" + bytes(range(256)) * 4
PAUSED_MSG = "This interface is temporarily paused"
#: live kie.ai's answer for a model it does not (or no longer) offer, with code 422 or 404
UNSUPPORTED_MODEL_MSG = (
    "The model name you specified is not supported. Please verify your input and try again."
)
#: live kie.ai's bare answer for a missing required field (seen for sora's upload_method)
FIELD_REQUIRED_MSG = "This field is required"
#: what live kie.ai answers for a request that fails validation: code 500, before any task
VALIDATION_CODE = 500
#: the CDN in front of both hosts answers requests without a named User-Agent with this page
CDN_BLOCK_PAGE = (
    "<!DOCTYPE html><html><head><title>Access denied | api.kie.ai used Cloudflare to restrict "
    "access</title></head><body><h1>Error 1010</h1><p>error code: 1010</p>"
    "<p>The owner of this website has banned your access based on your browser's signature."
    "</p></body></html>"
)
NULL_MSG = "recordInfo is null"
#: A createTask over the account's limit: HTTP 200 with the envelope's code 429 (as kie.ai
#: answers its errors), worded as kie.ai's table of codes (no live 429 message is on record);
#: the request is dropped, no task is made.
RATE_LIMIT_CODE = 429
RATE_LIMIT_MSG = "Rate Limited - Request limit has been exceeded for this resource"
#: kie.ai's account limit: new generation requests per window (s).
CREATE_LIMIT = 20
CREATE_WINDOW = 10.0
AUTH_MSG = "You do not have access permissions"
CREDITS_MSG = "The current credits are insufficient. Please top up."

#: endpoints ``fail_next`` can break (they answer kie.ai's JSON envelope).
API_ENDPOINTS = frozenset({"createTask", "recordInfo", "upload", "credit", "download-url"})
#: endpoint names counted in ``calls`` and accepted by ``delay_next``.
ENDPOINTS = frozenset(
    {"createTask", "recordInfo", "upload", "credit", "download-url", "result", "file", "dl"}
)

_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Byte p of a filler video is MP4_HEAD[p] in its head and p % 256 after it.
_FILLER = bytes(range(256)) * (CHUNK_SIZE // 256)
_CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".mp4": "video/mp4",
    ".txt": "text/plain",
    ".json": "application/json",
}


class ManualClock:
    """A clock for tests: ``clock = ManualClock(); FakeKie(clock=clock); clock.advance(2)``."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@dataclass
class TaskPlan:
    """How a task evolves, by time elapsed since creation on the fake's clock.

    The phases are consecutive lengths: ``waiting`` seconds of "waiting", then ``queuing``
    seconds of "queuing", then ``duration`` seconds of "generating", then ``outcome``. The task
    ends at ``waiting + queuing + duration``. ``null_for`` is counted from creation and overlaps
    the phases: recordInfo answers "recordInfo is null" while ``elapsed < null_for``.
    """

    null_for: float = 0.0
    waiting: float = 0.0
    queuing: float = 0.0
    duration: float = 1.0
    outcome: str = "success"  # "success" | "fail"
    fail_code: str = "500"
    fail_msg: str = (
        "This content may violate our guardrails concerning similarity to third-party content."
    )
    callbacks: int = 1  # posts when the task ends: 0 = lost, 2 = duplicated
    callback_delay: float = 0.0

    def __post_init__(self) -> None:
        if self.outcome not in ("success", "fail"):
            raise ValueError(f"outcome must be 'success' or 'fail', not {self.outcome!r}")

    @property
    def total(self) -> float:
        return self.waiting + self.queuing + self.duration


@dataclass
class FakeTask:
    task_id: str
    model: str
    body: dict[str, Any]
    created_at: float
    plan: TaskPlan
    callback_url: str | None
    callbacks_posted: int = 0  # automatic callbacks already posted (post_callback not counted)

    @property
    def is_sora(self) -> bool:
        return self.model.startswith("sora-2")

    @property
    def ended_at(self) -> float:
        return self.created_at + self.plan.total

    def elapsed(self, now: float) -> float:
        return now - self.created_at

    def ended(self, now: float) -> bool:
        return self.elapsed(now) >= self.plan.total

    def visible(self, now: float) -> bool:
        return self.elapsed(now) >= self.plan.null_for

    def state(self, now: float) -> str:
        e, p = self.elapsed(now), self.plan
        if e >= p.total:
            return p.outcome
        if e < p.waiting:
            return "waiting"
        if e < p.waiting + p.queuing:
            return "queuing"
        return "generating"

    def progress(self, now: float) -> int:
        state = self.state(now)
        if state == "success":
            return 100
        if state != "generating" or self.plan.duration <= 0:
            return 0
        done = (self.elapsed(now) - self.plan.waiting - self.plan.queuing) / self.plan.duration
        return max(0, min(99, int(done * 100)))

    def changed_at(self, now: float) -> float:
        """Clock value of the last state change at or before ``now``."""
        p = self.plan
        marks = (0.0, p.waiting, p.waiting + p.queuing, p.total)
        return self.created_at + max(m for m in marks if m <= max(self.elapsed(now), 0.0))


@dataclass
class _Failure:
    code: int
    msg: str
    http_status: int


def filler_chunks(size: int, start: int = 0, end: int | None = None) -> Iterator[memoryview]:
    """The deterministic filler video of ``size`` bytes, bytes ``start..end-1``, in chunks."""
    stop = size if end is None else min(end, size)
    view = memoryview(_FILLER)
    pos = start
    if pos < min(len(MP4_HEAD), stop):
        yield memoryview(MP4_HEAD)[pos : min(len(MP4_HEAD), stop)]
        pos = min(len(MP4_HEAD), stop)
    while pos < stop:
        off = pos % CHUNK_SIZE
        n = min(CHUNK_SIZE - off, stop - pos)
        yield view[off : off + n]
        pos += n


def filler_bytes(size: int) -> bytes:
    """The filler video as one bytes object (only for small sizes in tests)."""
    return b"".join(filler_chunks(size))


def sign_callback(key: str, task_id: str, timestamp: int | str) -> str:
    """``base64(HMAC-SHA256(key, f"{taskId}.{timestamp}"))`` as kie.ai signs callbacks."""
    mac = hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _named_agent(agent: str) -> bool:
    """A User-Agent that names its client (``name/version``), not a library's default."""
    first = agent.split(" ", 1)[0]
    return "/" in first and not first.lower().startswith(("python/", "python-urllib/"))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _content_type(name: str) -> str:
    ext = name[name.rfind(".") :].lower() if "." in name else ""
    return _CONTENT_TYPES.get(ext) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def _parse_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """``(start, end_exclusive)`` for one ``bytes=`` range, None without one, False if bad."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[6:].strip().partition("-")
    try:
        if first == "":
            n = int(last)
            start, end = max(size - n, 0), size
        else:
            start = int(first)
            end = size if last == "" else min(int(last) + 1, size)
    except ValueError:
        return None
    if start >= size or start >= end:
        return False
    return start, end


class FakeKie:
    """A fake kie.ai API + upload host + file host on one local port."""

    def __init__(
        self,
        *,
        api_key: str = "test-key",
        clock: Clock = time.monotonic,
        hmac_key: str | None = None,
        result_bytes: bytes | int = DEFAULT_RESULT,
        auto_callbacks: bool = True,
        callback_timeout: float = 2.0,
        tick: float = 0.02,
        allow_remote_callbacks: bool = False,
        video_results: bool = False,
    ) -> None:
        self.api_key = api_key
        self.clock = clock
        self.hmac_key = hmac_key
        self.result_bytes = result_bytes
        # Each task's result a real mp4 of its own (tests.fakes.videos): task n is one solid
        # colour, colour_of(n), as long as its body asked for.
        self.video_results = video_results
        self._videos: dict[str, bytes] = {}
        self.auto_callbacks = auto_callbacks
        self.callback_timeout = callback_timeout
        self.tick = tick
        # callbacks only go to loopback hosts unless allowed: tests must not touch the network
        self.allow_remote_callbacks = allow_remote_callbacks
        self.url = ""
        # what kie.ai received
        self.created: list[dict[str, Any]] = []
        self.task_created = asyncio.Event()  # set by the first accepted createTask
        self.create_attempts: list[dict[str, Any]] = []
        self.uploads: list[dict[str, Any]] = []
        self.calls: collections.Counter[str] = collections.Counter()
        self.tasks: dict[str, FakeTask] = {}
        self.callbacks_sent: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}  # "uploadPath/fileName" -> bytes
        self.leaked_auth: list[str] = []  # public file URLs fetched with an Authorization header
        # behaviour controls
        self.plan = TaskPlan()
        self.credits: float = 1000.0
        self.paused: set[str] = set()
        # models kie.ai no longer offers (answered UNSUPPORTED_MODEL_MSG), and with which code
        self.removed: set[str] = set()
        self.unsupported_status = 422
        # the CDN refuses requests whose User-Agent names no client (aiohttp's default, none)
        self.require_user_agent = False
        self.user_agents: list[str] = []  # the User-Agent of every API and upload call
        # kie.ai's account limit on createTask (None: off; see limit_creates)
        self.create_limit: int | None = None
        self.create_window = CREATE_WINDOW
        self.create_times: list[float] = []  # clock() of every createTask the limit counted
        self.rate_limited: list[float] = []  # clock() of every createTask it answered 429
        self._in_window: collections.deque[float] = collections.deque()
        self._html: dict[str, collections.deque[int]] = collections.defaultdict(collections.deque)
        self._raw: dict[str, collections.deque[Any]] = collections.defaultdict(collections.deque)
        self._failures: dict[str, collections.deque[_Failure]] = collections.defaultdict(
            collections.deque
        )
        self._delays: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self._after_create: collections.deque[int] = collections.deque()
        self._downloads: dict[str, tuple[str, bool]] = {}
        self._counter = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._cb_lock = asyncio.Lock()
        self.app = self._make_app()

    # ------------------------------------------------------------------ lifecycle

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        r = app.router
        r.add_post("/api/v1/jobs/createTask", self._create_task)
        r.add_get("/api/v1/jobs/recordInfo", self._record_info)
        r.add_get("/api/v1/chat/credit", self._credit)
        r.add_post("/api/v1/common/download-url", self._download_url)
        r.add_post("/api/file-stream-upload", self._upload_stream)
        r.add_post("/api/file-base64-upload", self._upload_base64)
        r.add_get("/results/{name}", self._result)
        r.add_get("/files/{path:.*}", self._file)
        r.add_get("/dl/{token}", self._dl)
        return app

    async def start(self) -> str:
        self._closing.clear()
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and getattr(server, "sockets", None)
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.callback_timeout)
        )
        if self.auto_callbacks:
            self._ticker = asyncio.create_task(self._tick_loop())
        return self.url

    async def close(self) -> None:
        self._closing.set()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeKie:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ controls

    def fail_next(
        self, endpoint: str, *, code: int, msg: str, times: int = 1, http_status: int = 200
    ) -> None:
        if endpoint not in API_ENDPOINTS:
            raise ValueError(f"fail_next: endpoint must be one of {sorted(API_ENDPOINTS)}")
        for _ in range(times):
            self._failures[endpoint].append(_Failure(code, msg, http_status))

    def fail_after_create(self, *, times: int = 1, http_status: int = 500) -> None:
        """The next ``times`` createTasks create their task but answer HTTP ``http_status``
        (``{"code": http_status, "msg": "Internal Server Error", "data": null}``); with
        ``http_status=0`` the connection is dropped without an answer."""
        self._after_create.extend([http_status] * times)

    def html_next(self, endpoint: str, *, status: int = 403, times: int = 1) -> None:
        """The next ``times`` calls of ``endpoint`` get the CDN's HTML page with ``status``
        instead of kie.ai's JSON (a 403 "error code: 1010" page by default). A createTask so
        answered creates no task: the CDN answered before kie.ai saw it."""
        if endpoint not in API_ENDPOINTS:
            raise ValueError(f"html_next: endpoint must be one of {sorted(API_ENDPOINTS)}")
        self._html[endpoint].extend([status] * times)

    def answer_next(self, endpoint: str, body: Any, times: int = 1) -> None:
        """The next ``times`` calls of ``endpoint`` are answered ``body`` as JSON (HTTP 200),
        whatever it is: an answer of a shape the docs do not describe."""
        if endpoint not in API_ENDPOINTS:
            raise ValueError(f"answer_next: endpoint must be one of {sorted(API_ENDPOINTS)}")
        self._raw[endpoint].extend([body] * times)

    def remove_model(self, model: str, *, status: int = 422) -> None:
        """kie.ai no longer offers ``model`` (as Sora after its shutdown): createTask answers
        ``UNSUPPORTED_MODEL_MSG`` with ``status`` (live kie.ai: 422, later 404)."""
        self.removed.add(model)
        self.unsupported_status = status

    def limit_creates(
        self, per_window: int | None = CREATE_LIMIT, window: float = CREATE_WINDOW
    ) -> None:
        """Enforce kie.ai's account limit: at most ``per_window`` createTask in any ``window``
        seconds of ``clock()`` (half-open windows, as kie.ai's "20 per 10 s"); one more is
        answered HTTP 200 ``{"code": 429, "msg": RATE_LIMIT_MSG}`` and dropped: no task, and it
        does not count. Checked after the key and injected failures, before the body, so a
        request the limit lets through counts whatever is answered next. ``None``: off."""
        if per_window is not None and (per_window < 1 or window <= 0):
            raise ValueError("limit_creates: per_window must be >= 1 and window > 0")
        self.create_limit = per_window
        self.create_window = window
        self._in_window.clear()

    def most_creates_in(self, window: float | None = None) -> int:
        """The most createTask the limit counted in any half-open ``window`` (default: the
        limit's own) of ``create_times``."""
        width = self.create_window if window is None else window
        times = sorted(self.create_times)
        most, first = 0, 0
        for last, t in enumerate(times):
            while t - times[first] >= width:
                first += 1
            most = max(most, last - first + 1)
        return most

    def _over_create_limit(self) -> bool:
        """Whether a createTask now is over the account's limit; counts it when it is not."""
        if self.create_limit is None:
            return False
        now = self.clock()
        while self._in_window and now - self._in_window[0] >= self.create_window:
            self._in_window.popleft()
        if len(self._in_window) >= self.create_limit:
            self.rate_limited.append(now)
            return True
        self._in_window.append(now)
        self.create_times.append(now)
        return False

    def delay_next(self, endpoint: str, seconds: float, times: int = 1) -> None:
        self._check_endpoint(endpoint)
        self._delays[endpoint].extend([seconds] * times)

    def pause_model(self, model: str, paused: bool = True) -> None:
        if paused:
            self.paused.add(model)
        else:
            self.paused.discard(model)

    @staticmethod
    def _check_endpoint(endpoint: str) -> None:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; one of {sorted(ENDPOINTS)}")

    # ------------------------------------------------------------------ inspection helpers

    @property
    def last_task(self) -> FakeTask:
        return next(reversed(self.tasks.values()))

    @property
    def result_size(self) -> int:
        rb = self.result_bytes
        return rb if isinstance(rb, int) else len(rb)

    def task_number(self, task_id: str) -> int:
        """The order (from 1) in which ``task_id`` was made."""
        return list(self.tasks).index(task_id) + 1

    def result_for(self, task_id: str) -> bytes:
        """The bytes served for ``task_id``'s video."""
        if not self.video_results:
            return self.expected_result()
        if task_id not in self._videos:
            task = self.tasks[task_id]
            self._videos[task_id] = make_video(
                seconds_of(task.body), colour_of(self.task_number(task_id)), shape_of(task.body)
            )
        return self._videos[task_id]

    def expected_result(self) -> bytes:
        """The bytes served for a successful task (materialised: small results only)."""
        rb = self.result_bytes
        return filler_bytes(rb) if isinstance(rb, int) else bytes(rb)

    def result_sha256(self) -> str:
        h = hashlib.sha256()
        for chunk in self._result_chunks(0, self.result_size):
            h.update(chunk)
        return h.hexdigest()

    def result_url(self, task_id: str, *, watermarked: bool = False) -> str:
        return f"{self.url}/results/{task_id}{'-wm' if watermarked else ''}.mp4"

    def record(self, task_id: str) -> dict[str, Any] | None:
        """The ``data`` recordInfo would answer now (None while "recordInfo is null")."""
        task = self.tasks.get(task_id)
        now = self.clock()
        if task is None or not task.visible(now):
            return None
        return self._record_data(task, now)

    def _ms(self, t: float) -> int:
        return FIXED_EPOCH_MS + round(t * 1000)

    def _result_json(self, task: FakeTask) -> str:
        result: dict[str, Any] = {"resultUrls": [self.result_url(task.task_id)]}
        if task.is_sora:
            result["resultWaterMarkUrls"] = [self.result_url(task.task_id, watermarked=True)]
        return json.dumps(result)

    def _record_data(self, task: FakeTask, now: float) -> dict[str, Any]:
        state = task.state(now)
        ended = state in ("success", "fail")
        data: dict[str, Any] = {
            "taskId": task.task_id,
            "model": task.model,
            "state": state,
            "param": json.dumps(task.body),
            "resultJson": "",
            "failCode": "",
            "failMsg": "",
            "costTime": round(task.plan.duration * 1000) if ended else None,
            "completeTime": self._ms(task.ended_at) if ended else None,
            "createTime": self._ms(task.created_at),
            "updateTime": self._ms(task.changed_at(now)),
        }
        if state == "success":
            data["resultJson"] = self._result_json(task)
        elif state == "fail":
            data["resultJson"] = None
            data["failCode"] = task.plan.fail_code
            data["failMsg"] = task.plan.fail_msg
        if task.is_sora:
            data["progress"] = task.progress(now)
        return data

    # ------------------------------------------------------------------ plumbing

    @staticmethod
    def _json(
        code: int, msg: str, data: Any = None, *, status: int = 200, upload: bool = False
    ) -> web.Response:
        body: dict[str, Any] = {"code": code, "msg": msg, "data": data}
        if upload:
            body = {"success": code == 200, **body}
        return web.json_response(body, status=status)

    async def _sleep(self, seconds: float) -> None:
        """A real sleep that ends early when the fake closes."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    def _enter(
        self, request: web.Request, endpoint: str, *, upload: bool = False
    ) -> tuple[web.Response | None, float]:
        """Count the call, check auth and injected failures; pop this call's delay."""
        self.calls[endpoint] += 1
        delays = self._delays.get(endpoint)
        delay = delays.popleft() if delays else 0.0
        agent = request.headers.get("User-Agent", "")
        self.user_agents.append(agent)
        html = self._html.get(endpoint)
        if html:
            return self._page(html.popleft()), delay
        raw = self._raw.get(endpoint)
        if raw:
            return web.json_response(raw.popleft()), delay
        if self.require_user_agent and not _named_agent(agent):
            return self._page(403), delay
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._json(401, AUTH_MSG, upload=upload), delay
        failures = self._failures.get(endpoint)
        if failures:
            f = failures.popleft()
            return self._json(f.code, f.msg, status=f.http_status, upload=upload), delay
        return None, delay

    @staticmethod
    def _page(status: int) -> web.Response:
        return web.Response(status=status, text=CDN_BLOCK_PAGE, content_type="text/html")

    async def _answer(self, response: web.StreamResponse, delay: float) -> web.StreamResponse:
        if delay > 0:
            await self._sleep(delay)
        return response

    def _public(self, request: web.Request, endpoint: str) -> float:
        self.calls[endpoint] += 1
        if "Authorization" in request.headers:
            self.leaked_auth.append(str(request.rel_url))
        delays = self._delays.get(endpoint)
        return delays.popleft() if delays else 0.0

    # ------------------------------------------------------------------ createTask

    async def _create_task(self, request: web.Request) -> web.StreamResponse:
        early, delay = self._enter(request, "createTask")
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            body = None
            self.create_attempts.append({"_invalid_json": raw.decode("utf-8", "replace")})
        else:
            self.create_attempts.append(body if isinstance(body, dict) else {"_body": body})
        if early is not None:
            return await self._answer(early, delay)
        if self._over_create_limit():
            return await self._answer(self._json(RATE_LIMIT_CODE, RATE_LIMIT_MSG), delay)
        if body is None:
            return await self._answer(
                self._json(VALIDATION_CODE, "request body is not valid JSON"), delay
            )
        error = self._refuse(body)
        if error is not None:
            code, msg = error
            return await self._answer(self._json(code, msg), delay)

        self._counter += 1
        model: str = body["model"]
        task_id = f"task_{model.replace('/', '_')}_{self._counter}"
        task = FakeTask(
            task_id=task_id,
            model=model,
            body=body,
            created_at=self.clock(),
            plan=dataclasses.replace(self.plan),
            callback_url=body.get("callBackUrl"),
        )
        self.tasks[task_id] = task
        self.created.append(body)
        self.task_created.set()

        if delay > 0:
            await self._sleep(delay)
        if self._after_create:
            status = self._after_create.popleft()
            if status == 0:
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=500)
            return self._json(status, "Internal Server Error", status=status)
        return self._json(200, "success", {"taskId": task_id})

    def _refuse(self, body: Any) -> tuple[int, str] | None:
        """Why kie.ai would refuse ``body`` before creating a task: (code, msg), or None.

        As live kie.ai: a field missing or invalid is code 500 with kie.ai's wording (it never
        reaches billing), an unknown or removed model is 422 (or 404) with its own wording, a
        paused model is 500 "temporarily paused", too few credits is 402.
        """
        if not isinstance(body, dict):
            return VALIDATION_CODE, "request body must be a JSON object"
        unknown = sorted(set(body) - {"model", "callBackUrl", "input"})
        if unknown:
            return VALIDATION_CODE, f"{unknown[0]} is not a valid parameter"
        model = body.get("model")
        if model is None:
            return VALIDATION_CODE, "model is required"
        if not isinstance(model, str):
            return VALIDATION_CODE, f"model must be a string, not {_type_name(model)}"
        if model not in SUPPORTED_MODELS or model in self.removed:
            return self.unsupported_status, UNSUPPORTED_MODEL_MSG
        if model in self.paused:
            return 500, PAUSED_MSG
        if "callBackUrl" in body and not _is_http_url(body["callBackUrl"]):
            return VALIDATION_CODE, "callBackUrl must be an http(s) URL"
        inp = body.get("input")
        if inp is None:
            return VALIDATION_CODE, "input is required"
        if not isinstance(inp, dict):
            return VALIDATION_CODE, f"input must be an object, not {_type_name(inp)}"
        error = self._check_sora(inp) if model == SORA_MODEL else self._check_kling(inp)
        if error is not None:
            return VALIDATION_CODE, error
        cost = self.cost(body)
        if self.credits < cost:
            return 402, CREDITS_MSG
        return None

    @staticmethod
    def cost(body: dict[str, Any]) -> float:
        """Credits a task costs (after kie.ai's published rates; only for 402 and callbacks)."""
        inp = body["input"]
        if body["model"] == SORA_MODEL:
            return 150 if inp.get("n_frames") == "10" else 270
        # kie.ai's published Kling 3.0 Omni rates (August 2026), credits per second
        rates = {"720p": (14, 18), "1080p": (18, 23), "4k": (67, 67)}
        plain, audio = rates.get(inp.get("resolution", "720p"), rates["720p"])
        return (audio if inp.get("audio") else plain) * inp.get("duration", 5)

    def _check_keys(self, inp: dict[str, Any], allowed: set[str], required: set[str]) -> str | None:
        unknown = sorted(set(inp) - allowed)
        if unknown:
            return f"input.{unknown[0]} is not a valid parameter"
        missing = sorted(required - set(inp))
        if missing:
            return f"{missing[0]} is required"
        return None

    def _check_image_urls(self, value: Any, *, kling: bool) -> str | None:
        if not isinstance(value, list):
            return f"input.image_urls must be an array, not {_type_name(value)}"
        if len(value) != 1:
            return f"input.image_urls must contain exactly 1 image, got {len(value)}"
        url = value[0]
        if not _is_http_url(url):
            return "input.image_urls[0] must be an http(s) URL"
        return self._check_own_image(url, kling=kling)

    def _check_own_image(self, url: str, *, kling: bool) -> str | None:
        """When the URL is one of this fake's uploaded files, check the file itself."""
        prefix = f"{self.url}/files/"
        if not self.url or not url.startswith(prefix):
            return None
        key = unquote(urlsplit(url).path[len("/files/") :])
        data = self.files.get(key)
        if data is None:
            return "input.image_urls[0] is invalid: it could not be downloaded (404)"
        limit = 50 if kling else 10
        if len(data) > limit * 1024 * 1024:
            return f"input.image_urls[0] exceeds {limit}MB"
        try:
            with Image.open(io.BytesIO(data)) as img:
                fmt, (w, h) = img.format, img.size
        except (UnidentifiedImageError, OSError):
            return "input.image_urls[0] is invalid: not an image"
        allowed = ("JPEG", "PNG") if kling else ("JPEG", "PNG", "WEBP")
        if fmt not in allowed:
            names = "jpg/jpeg/png" if kling else "jpeg/png/webp"
            return f"input.image_urls[0] must be {names}, not {fmt}"
        if kling:
            if w < 300 or h < 300:
                return f"input.image_urls[0] is {w}x{h}; width and height must be at least 300px"
            if not 0.4 <= w / h <= 2.5:
                return (
                    f"input.image_urls[0] aspect ratio must be between 0.4 and 2.5, not {w / h:.2f}"
                )
        return None

    def _check_sora(self, inp: dict[str, Any]) -> str | None:
        keys = {"shots", "n_frames", "image_urls", "aspect_ratio", "upload_method"}
        error = self._check_keys(inp, keys, keys - {"upload_method"})
        if error:
            return error
        # The current schema lists upload_method as required, and kie.ai does not apply its
        # documented default ("s3"): a body without it is refused with the bare wording.
        if "upload_method" not in inp:
            return FIELD_REQUIRED_MSG
        if inp["upload_method"] not in ("s3", "oss"):
            return "upload_method must be one of s3, oss"
        n_frames = inp["n_frames"]
        if not isinstance(n_frames, str):
            return f"input.n_frames must be a string, not {_type_name(n_frames)}"
        if n_frames not in ("10", "15", "25"):
            return f"input.n_frames must be one of 10, 15, 25, got {n_frames!r}"
        shots = inp["shots"]
        if not isinstance(shots, list):
            return f"input.shots must be an array, not {_type_name(shots)}"
        if not 1 <= len(shots) <= 10:
            return f"input.shots must have 1-10 items, got {len(shots)}"
        total = 0.0
        for i, shot in enumerate(shots):
            if not isinstance(shot, dict):
                return f"input.shots[{i}] must be an object"
            if set(shot) != {"Scene", "duration"}:
                extra = sorted(set(shot) - {"Scene", "duration"})
                if extra:
                    return f"input.shots[{i}].{extra[0]} is not a valid parameter"
                missing = sorted({"Scene", "duration"} - set(shot))
                return f"input.shots[{i}].{missing[0]} is required"
            scene, duration = shot["Scene"], shot["duration"]
            if not isinstance(scene, str):
                return f"input.shots[{i}].Scene must be a string, not {_type_name(scene)}"
            if not scene.strip():
                return f"input.shots[{i}].Scene must not be empty"
            if not _is_number(duration):
                return f"input.shots[{i}].duration must be a number, not {_type_name(duration)}"
            if not 0.1 <= duration <= 15:
                return f"input.shots[{i}].duration must be between 0.1 and 15, got {duration}"
            total += duration
        if total > int(n_frames) + 1e-9:
            return f"total shot duration {total:g}s exceeds n_frames {n_frames}"
        error = self._check_image_urls(inp["image_urls"], kling=False)
        if error:
            return error
        if inp["aspect_ratio"] not in ("portrait", "landscape"):
            return "input.aspect_ratio must be portrait or landscape"
        return None

    def _check_kling(self, inp: dict[str, Any]) -> str | None:
        allowed = {
            "prompt",
            "image_urls",
            "duration",
            "aspect_ratio",
            "resolution",
            "audio",
            "customize_multi_shots",
            "multi_prompt",
            "prefer_multi_shots",
        }
        error = self._check_keys(inp, allowed, {"prompt", "image_urls"})
        if error:
            return error
        prompt = inp["prompt"]
        if not isinstance(prompt, str):
            return f"input.prompt must be a string, not {_type_name(prompt)}"
        if not prompt.strip():
            return "input.prompt must not be blank"
        if len(prompt) > 3072:
            return f"input.prompt exceeds 3072 characters ({len(prompt)})"
        for flag in ("audio", "customize_multi_shots", "prefer_multi_shots"):
            if flag in inp and not isinstance(inp[flag], bool):
                return f"input.{flag} must be a boolean, not {_type_name(inp[flag])}"
        duration = inp.get("duration", 5)
        if not _is_int(duration):
            return f"input.duration must be an integer, not {_type_name(duration)} {duration!r}"
        if not 3 <= duration <= 15:
            return f"input.duration must be between 3 and 15, got {duration}"
        if "resolution" in inp and inp["resolution"] not in ("720p", "1080p", "4k"):
            return "input.resolution must be one of 720p, 1080p, 4k"
        custom = inp.get("customize_multi_shots") is True
        if custom and inp.get("prefer_multi_shots") is True:
            return "input.prefer_multi_shots must not be used with customize_multi_shots"
        if "aspect_ratio" in inp:
            ratio = inp["aspect_ratio"]
            if custom and ratio not in ("16:9", "9:16", "1:1"):
                return "input.aspect_ratio must be one of 16:9, 9:16, 1:1"
            if not custom and ratio != "auto":
                return "input.aspect_ratio must be auto unless customize_multi_shots is true"
        if custom:
            if "multi_prompt" not in inp:
                return "input.multi_prompt is required when customize_multi_shots is true"
            error = self._check_multi_prompt(inp["multi_prompt"], duration)
            if error:
                return error
        elif "multi_prompt" in inp:
            return "input.customize_multi_shots must be true when multi_prompt is given"
        return self._check_image_urls(inp["image_urls"], kling=True)

    @staticmethod
    def _check_multi_prompt(items: Any, duration: int) -> str | None:
        if not isinstance(items, list):
            return f"input.multi_prompt must be an array, not {_type_name(items)}"
        if not 1 <= len(items) <= 6:
            return f"input.multi_prompt must have 1-6 items, got {len(items)}"
        total = 0
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                return f"input.multi_prompt[{i}] must be an object"
            if set(item) != {"prompt", "duration"}:
                return f"input.multi_prompt[{i}] must have exactly the keys prompt and duration"
            p, d = item["prompt"], item["duration"]
            if not isinstance(p, str):
                return f"input.multi_prompt[{i}].prompt must be a string, not {_type_name(p)}"
            if not p.strip() or len(p) > 512:
                return f"input.multi_prompt[{i}].prompt must be 1-512 characters"
            if not _is_int(d):
                return f"input.multi_prompt[{i}].duration must be an integer, not {d!r}"
            if not 1 <= d <= 15:
                return f"input.multi_prompt[{i}].duration must be between 1 and 15, got {d}"
            total += d
        if total != duration:
            return f"input.multi_prompt durations must add up to duration ({duration}), not {total}"
        return None

    # ------------------------------------------------------------------ recordInfo, credit

    async def _record_info(self, request: web.Request) -> web.StreamResponse:
        early, delay = self._enter(request, "recordInfo")
        if early is not None:
            return await self._answer(early, delay)
        task_id = request.query.get("taskId")
        if not task_id:
            return await self._answer(self._json(400, "taskId is required"), delay)
        data = self.record(task_id)
        if data is None:
            return await self._answer(self._json(422, NULL_MSG), delay)
        return await self._answer(self._json(200, "success", data), delay)

    async def _credit(self, request: web.Request) -> web.StreamResponse:
        early, delay = self._enter(request, "credit")
        return await self._answer(early or self._json(200, "success", self.credits), delay)

    # ------------------------------------------------------------------ download-url, files

    def _task_for_result(self, name: str) -> tuple[FakeTask, bool] | None:
        if not name.endswith(".mp4"):
            return None
        stem = name[: -len(".mp4")]
        wm = stem.endswith("-wm")
        task = self.tasks.get(stem[: -len("-wm")] if wm else stem)
        if task is None or task.state(self.clock()) != "success":
            return None
        if wm and not task.is_sora:
            return None
        return task, wm

    async def _download_url(self, request: web.Request) -> web.StreamResponse:
        early, delay = self._enter(request, "download-url")
        if early is not None:
            return await self._answer(early, delay)
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        url = body.get("url") if isinstance(body, dict) else None
        code, msg, link = self.download_link(url)
        return await self._answer(self._json(code, msg, link), delay)

    def download_link(self, url: Any) -> tuple[int, str, str | None]:
        """download-url's answer for ``url``: (code, msg, the 20-minute link as a plain
        string). A URL kie.ai did not make gets 422, as live."""
        if not isinstance(url, str) or not url:
            return 400, "url is required", None
        prefix = f"{self.url}/results/"
        found = None
        if url.startswith(prefix):
            found = self._task_for_result(urlsplit(url).path[len("/results/") :])
        if found is None:
            return 422, "url is not a valid kie.ai file URL", None
        self._counter += 1
        token = f"{found[0].task_id}-{self._counter}"
        self._downloads[token] = (found[0].task_id, found[1])
        return 200, "success", f"{self.url}/dl/{quote(token)}?expires={int(time.time()) + 1200}"

    def _result_chunks(self, start: int, end: int) -> Iterator[memoryview]:
        rb = self.result_bytes
        if isinstance(rb, int):
            yield from filler_chunks(rb, start, end)
            return
        view = memoryview(rb)
        for pos in range(start, end, CHUNK_SIZE):
            yield view[pos : min(pos + CHUNK_SIZE, end)]

    async def _stream(
        self,
        request: web.Request,
        size: int,
        chunks: Callable[[int, int], Iterator[memoryview]],
        content_type: str,
        delay: float,
    ) -> web.StreamResponse:
        if delay > 0:
            await self._sleep(delay)
        rng = _parse_range(request.headers.get("Range"), size)
        if rng is False:
            return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
        resp = web.StreamResponse(status=200)
        resp.content_type = content_type
        resp.headers["Accept-Ranges"] = "bytes"
        start, end = 0, size
        if isinstance(rng, tuple):
            start, end = rng
            resp.set_status(206)
            resp.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        resp.content_length = end - start
        await resp.prepare(request)
        if request.method != "HEAD":
            for chunk in chunks(start, end):
                await resp.write(chunk)
        await resp.write_eof()
        return resp

    def _wm_chunks(self, start: int, end: int) -> Iterator[memoryview]:
        yield memoryview(WATERMARKED)[start:end]

    async def _serve_result(
        self, request: web.Request, wm: bool, delay: float, task: FakeTask | None = None
    ) -> web.StreamResponse:
        if wm:
            return await self._stream(
                request, len(WATERMARKED), self._wm_chunks, "video/mp4", delay
            )
        if self.video_results and task is not None:
            view = memoryview(self.result_for(task.task_id))

            def chunks(start: int, end: int) -> Iterator[memoryview]:
                for pos in range(start, end, CHUNK_SIZE):
                    yield view[pos : min(pos + CHUNK_SIZE, end)]

            return await self._stream(request, len(view), chunks, "video/mp4", delay)
        return await self._stream(
            request, self.result_size, self._result_chunks, "video/mp4", delay
        )

    async def _result(self, request: web.Request) -> web.StreamResponse:
        delay = self._public(request, "result")
        found = self._task_for_result(request.match_info["name"])
        if found is None:
            return await self._answer(web.Response(status=404, text="Not Found"), delay)
        return await self._serve_result(request, found[1], delay, found[0])

    async def _dl(self, request: web.Request) -> web.StreamResponse:
        delay = self._public(request, "dl")
        entry = self._downloads.get(request.match_info["token"])
        task = self.tasks.get(entry[0]) if entry else None
        if entry is None or task is None:
            return await self._answer(web.Response(status=404, text="Not Found"), delay)
        return await self._serve_result(request, entry[1], delay, task)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        delay = self._public(request, "file")
        path = request.match_info["path"]
        data = self.files.get(path)
        if data is None:
            return await self._answer(web.Response(status=404, text="Not Found"), delay)
        view = memoryview(data)

        def chunks(start: int, end: int) -> Iterator[memoryview]:
            for pos in range(start, end, CHUNK_SIZE):
                yield view[pos : min(pos + CHUNK_SIZE, end)]

        return await self._stream(request, len(data), chunks, _content_type(path), delay)

    # ------------------------------------------------------------------ uploads

    def _store_upload(
        self, data: bytes, upload_path: str, file_name: str, content_type: str | None
    ) -> dict[str, Any]:
        upload_path = upload_path.strip("/")
        key = f"{upload_path}/{file_name}" if upload_path else file_name
        self.files[key] = data  # a reused fileName overwrites, as on kie.ai
        download_url = f"{self.url}/files/{quote(key)}"
        self.uploads.append(
            {
                "fileName": file_name,
                "uploadPath": upload_path,
                "bytes": data,
                "content_type": content_type,
                "downloadUrl": download_url,
            }
        )
        return {
            "fileName": file_name,
            "filePath": key,
            "downloadUrl": download_url,
            "fileSize": len(data),
            "mimeType": _content_type(file_name),
            "uploadedAt": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }

    async def _upload_stream(self, request: web.Request) -> web.StreamResponse:
        early, delay = self._enter(request, "upload", upload=True)
        if early is not None:
            return await self._answer(early, delay)
        data: bytes | None = None
        part_name: str | None = None
        part_type: str | None = None
        fields: dict[str, str] = {}
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, aiohttp.BodyPartReader):
                    continue
                if part.name == "file":
                    data = bytes(await part.read())
                    part_name = part.filename
                    part_type = part.headers.get("Content-Type")
                elif part.name:
                    fields[part.name] = await part.text()
        except (AssertionError, ValueError, KeyError):
            return await self._answer(
                self._json(400, "multipart/form-data body expected", upload=True), delay
            )
        if data is None:
            return await self._answer(self._json(400, "file is required", upload=True), delay)
        upload_path = fields.get("uploadPath", "").strip()
        if not upload_path:
            return await self._answer(self._json(400, "uploadPath is required", upload=True), delay)
        name = fields.get("fileName") or part_name or f"upload_{len(self.uploads) + 1}"
        info = self._store_upload(data, upload_path, name, part_type)
        return await self._answer(
            self._json(200, "File uploaded successfully", info, upload=True), delay
        )

    async def _upload_base64(self, request: web.Request) -> web.StreamResponse:
        early, delay = self._enter(request, "upload", upload=True)
        if early is not None:
            return await self._answer(early, delay)
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("base64Data"), str):
            return await self._answer(self._json(400, "base64Data is required", upload=True), delay)
        upload_path = body.get("uploadPath")
        if not isinstance(upload_path, str) or not upload_path.strip():
            return await self._answer(self._json(400, "uploadPath is required", upload=True), delay)
        payload, content_type = body["base64Data"], None
        if payload.startswith("data:") and "," in payload:
            head, payload = payload.split(",", 1)
            content_type = head[5:].split(";")[0] or None
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            return await self._answer(
                self._json(400, "base64Data is not valid base64", upload=True), delay
            )
        name = body.get("fileName") or f"upload_{len(self.uploads) + 1}"
        info = self._store_upload(data, upload_path, str(name), content_type)
        return await self._answer(
            self._json(200, "File uploaded successfully", info, upload=True), delay
        )

    # ------------------------------------------------------------------ callbacks

    def callback_body(self, task: FakeTask) -> dict[str, Any]:
        """The callback kie.ai posts when ``task`` ends (built as if it had ended)."""
        data: dict[str, Any] = {
            "taskId": task.task_id,
            "model": task.model,
            "state": task.plan.outcome,
            "resultJson": None,
            "param": json.dumps(task.body),
            "consumeCredits": self.cost(task.body),
            "remainedCredits": self.credits,
            "costTime": round(task.plan.duration),  # seconds here, as in kie.ai's example
            "createTime": self._ms(task.created_at),
            "completeTime": self._ms(task.ended_at),
            "updateTime": self._ms(task.ended_at),
        }
        if task.plan.outcome == "success":
            data["resultJson"] = self._result_json(task)
            return {"code": 200, "msg": "Playground task completed successfully.", "data": data}
        data["consumeCredits"] = 0
        data["failCode"] = task.plan.fail_code
        data["failMsg"] = task.plan.fail_msg
        return {"code": 501, "msg": "Playground task failed.", "data": data}

    async def post_callback(
        self,
        task_id: str,
        *,
        url: str | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        signed: bool | None = None,
        timestamp: int | None = None,
        forge: bool = False,
    ) -> int:
        """Post one callback (possibly forged, stale or unsigned); returns the HTTP status
        received, 0 if the receiver could not be reached. ``task_id`` need not exist when both
        ``url`` and ``body`` are given."""
        if self._session is None:
            raise RuntimeError("FakeKie is not started")
        task = self.tasks.get(task_id)
        if task is None and (url is None or body is None):
            raise KeyError(f"unknown task {task_id!r} (pass url and body to post anyway)")
        target = url or (task.callback_url if task else None)
        if not target:
            raise ValueError(f"task {task_id!r} has no callBackUrl; pass url")
        if body is None:
            assert task is not None
            body = self.callback_body(task)
        sent: dict[str, str] = {"Content-Type": "application/json"}
        sign = (self.hmac_key is not None) if signed is None else signed
        if sign or forge:
            ts = int(time.time()) if timestamp is None else timestamp
            key = self.hmac_key or "no-hmac-key-configured"
            signature = sign_callback(key + ("-forged" if forge else ""), task_id, ts)
            sent["X-Webhook-Timestamp"] = str(ts)
            sent["X-Webhook-Signature"] = signature
        if headers:
            sent.update(headers)
        status = 0
        host = urlsplit(target).hostname or ""
        if not self.allow_remote_callbacks and host not in _LOCAL_HOSTS:
            log.info("fakekie: not posting a callback to non-local %s (status 0)", target)
        else:
            status = await self._send(target, body, sent)
        self.callbacks_sent.append({"url": target, "status": status, "body": body, "headers": sent})
        return status

    async def _send(self, target: str, body: dict[str, Any], sent: dict[str, str]) -> int:
        assert self._session is not None
        status = 0
        try:
            async with self._session.post(target, data=json.dumps(body), headers=sent) as resp:
                status = resp.status
                await resp.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.info("fakekie: callback to %s failed: %r", target, exc)
        return status

    async def fire_callbacks(self) -> int:
        """Post every due automatic callback; returns how many this call posted. When it
        returns, every callback due at its start has been delivered (or has failed)."""
        async with self._cb_lock:
            now = self.clock()
            due = [
                t
                for t in list(self.tasks.values())
                if t.callback_url
                and t.callbacks_posted < t.plan.callbacks
                and now >= t.ended_at + t.plan.callback_delay
            ]
            counts = await asyncio.gather(*(self._deliver(t) for t in due))
            return sum(counts)

    async def _deliver(self, task: FakeTask) -> int:
        n = 0
        while task.callbacks_posted < task.plan.callbacks:
            task.callbacks_posted += 1
            await self.post_callback(task.task_id)
            n += 1
        return n

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            try:
                await self.fire_callbacks()
            except Exception:  # never let the ticker die
                log.exception("fakekie: callback ticker failed")
