"""The kie.ai HTTP client (aiohttp): create, status, upload, credits, fresh download links.

Retry policy (see the README):
- createTask: retried only when the answer proves nothing was created: a 429 (kie.ai drops it,
  it does not queue it; the tracker passes ``resend=False`` and requeues the job itself), a
  455 (maintenance; long backoff, few tries) or a connection that never opened. A timeout, a
  dropped connection or a 5xx after sending raises CreateOutcomeUnknown: the task may exist,
  so it is never sent again. :func:`create_answer` is the one place that
  decides what an answer proves.
- Reads (recordInfo, credits, download-url) and uploads: retried with backoff and jitter on
  network errors, timeouts, 429 and 5xx.

Both kie.ai hosts sit behind a CDN that can answer a web page instead of JSON (a 403 for
clients without a named User-Agent, a 5xx when the origin is down): every request names this
client in ``User-Agent``, and a web page is read by its HTTP status alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import ValidationError

from bot.config.settings import KieSettings
from bot.kie.errors import CreateOutcomeUnknown, KieError, KieUnreachable
from bot.kie.ratelimit import SlidingWindowLimiter
from bot.kie.schemas import Envelope, TaskRecord, UploadedFile, credit_balance
from bot.kie.sent import SentWindow

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
_RETRY_READ_CODES = frozenset({429, 455, 500, 502, 503, 504})
_NO_LIMIT: contextlib.nullcontext[None] = contextlib.nullcontext()
PROJECT_URL = "https://github.com/storyboard-bot/storyboard-bot"


def user_agent() -> str:
    """``storyboard-bot/<version> (+<project URL>)``: the CDN in front of kie.ai refuses
    requests that do not name their client."""
    try:
        version = importlib.metadata.version("storyboard-bot")
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    return f"storyboard-bot/{version} (+{PROJECT_URL})"


def _html_msg(status: int) -> str:
    return f"HTTP {status} with a web page instead of kie.ai's JSON"


def create_answer(status: int, env: Envelope | None) -> str:
    """What a createTask answer proves: the task id, or the exception that says why not.

    Raises KieError when the answer proves no task was created (its ``task_not_created`` is
    then true), CreateOutcomeUnknown when a task may exist. ``env`` is None when the body was
    not kie.ai's JSON (a CDN page): a 4xx page proves the request never reached kie.ai, a 5xx
    or a 200 page proves nothing.
    """
    if env is None:
        if 400 <= status < 500:
            raise KieError(status, _html_msg(status), endpoint="createTask", html=True)
        raise CreateOutcomeUnknown(f"HTTP {status} without a readable answer")
    if env.code == 200 and status < 400:
        task_id = env.data.get("taskId") if isinstance(env.data, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise CreateOutcomeUnknown("the answer had no taskId")
        return task_id
    err = KieError(env.code, env.msg, endpoint="createTask")
    if err.task_not_created:
        raise err
    # A 5xx (other than a paused model or a validation message) says nothing certain.
    raise CreateOutcomeUnknown(f"kie.ai answered {env.code} {env.msg}".strip())


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


class RateLimits:
    """kie.ai's per-account limits, shared by every client in the process.

    kie.ai allows 20 new tasks (createTask) per 10 s per account. ``create`` is a sliding window
    of 18 per any 10 s (90 %: a margin for network jitter bunching requests up on kie.ai's
    side), so a full queue is sent 18 every 10 s. kie.ai documents no limit on reads; ``read``
    is our own caution, of the same shape: 9 per any second for the default 10 per second.
    Limits under 10 are kept as they are (a margin would halve them). ``sent`` holds each
    createTask to ``create``'s numbers counted from when kie.ai may see it (bot.kie.sent).
    """

    def __init__(self, create_per_10s: int = 20, reads_per_second: int = 10) -> None:
        self.create = SlidingWindowLimiter(_with_margin(create_per_10s), 10.0)  # 20 -> 18
        self.read = SlidingWindowLimiter(_with_margin(reads_per_second), 1.0)  # 10 -> 9
        self.sent = SentWindow()


def _with_margin(limit: int) -> int:
    """90 % of a limit of 10 or more; small limits are kept (a margin would halve them)."""
    return limit - round(limit * 0.1) if limit >= 10 else max(1, limit)


_shared_limits: dict[tuple[int, int], RateLimits] = {}


def shared_limits(settings: KieSettings) -> RateLimits:
    key = (settings.create_per_10s, settings.reads_per_second)
    if key not in _shared_limits:
        _shared_limits[key] = RateLimits(*key)
    return _shared_limits[key]


class KieClient:
    def __init__(
        self,
        settings: KieSettings,
        *,
        limits: RateLimits | None = None,
        session: aiohttp.ClientSession | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if settings.api_key is None:
            raise ValueError("KieClient needs an API key")
        self._settings = settings
        self._key = settings.api_key.get_secret_value()
        self._base = str(settings.base_url).rstrip("/")
        self._upload_base = str(settings.upload_url).rstrip("/")
        self.api_host = _host(self._base)
        self.upload_host = _host(self._upload_base)
        self._user_agent = user_agent()
        # Told of every request's answer code (0: no answer): the metrics, and health's view
        # of whether kie.ai was reachable at the last contact.
        self.observer: Callable[[str, int], None] | None = None
        self.last_contact: tuple[float, bool] | None = None  # (when, reachable)
        self._session = session
        self._own_session = session is None
        self._sleep = sleep
        self._rng = rng
        self.limits = limits or shared_limits(settings)

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._settings.request_timeout),
                headers={"User-Agent": self._user_agent},
            )
            self._own_session = True
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> KieClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key}", "User-Agent": self._user_agent}

    def _where(self, url: str) -> tuple[str, str]:
        """The host of ``url`` and the setting that names it, for messages and logs."""
        if url.startswith(self._upload_base):
            return self.upload_host, "KIE_UPLOAD_URL"
        return self.api_host, "KIE_BASE_URL"

    def _retrying(self, endpoint: str, url: str, what: str, attempt: int, delay: float) -> None:
        host, _ = self._where(url)
        until = time.strftime("%H:%M:%S", time.localtime(time.time() + delay))
        log.info(
            "kie.ai %s at %s: %s; attempt %d of %d, retrying at %s",
            endpoint,
            host,
            what,
            attempt + 1,
            self._settings.max_retries + 1,
            until,
        )

    def _unreachable(self, endpoint: str, url: str, what: str, attempts: int) -> KieUnreachable:
        host, setting = self._where(url)
        return KieUnreachable(
            f"kie.ai {endpoint}: cannot reach {host} ({setting}): {what} after {attempts} "
            f"tr{'y' if attempts == 1 else 'ies'}",
            host=host,
            setting=setting,
            endpoint=endpoint,
        )

    # -- backoff -------------------------------------------------------------------------
    def maintenance_wait(self, tries: int) -> float | None:
        """How long to wait before sending a createTask again after its ``tries``-th answer
        of 455 (maintenance), or None once ``[kie] maintenance_retries`` are used up."""
        if tries > self._settings.maintenance_retries:
            return None
        return self._backoff(tries - 1, self._settings.maintenance_backoff)

    def _backoff(self, attempt: int, base: float | None = None) -> float:
        """Exponential backoff with jitter in [delay/2, delay].

        The cap is ``backoff_max``, but never below ``base``: the maintenance backoff (60 s by
        default) is longer than the ordinary cap (30 s) and must not be cut down to it.
        """
        base = self._settings.backoff_base if base is None else base
        delay = min(max(self._settings.backoff_max, base), base * (2**attempt))
        return delay * (0.5 + self._rng() / 2)

    # -- transport -----------------------------------------------------------------------
    async def _send(
        self,
        method: str,
        url: str,
        limiter: SlidingWindowLimiter | contextlib.nullcontext[None] = _NO_LIMIT,
        *,
        endpoint: str = "",
        **kwargs: Any,
    ) -> tuple[int, Envelope | None]:
        try:
            async with limiter:
                async with self.session.request(
                    method, url, headers=self._headers, **kwargs
                ) as resp:
                    raw = await resp.read()
                    status = resp.status
        except (aiohttp.ClientError, TimeoutError):
            self._observe(endpoint, 0, reachable=False)
            raise
        try:
            # Not UTF-8, not JSON, nested too deep, or not an envelope: not kie.ai's answer.
            env: Envelope | None = Envelope.model_validate(json.loads(raw))
        except (ValueError, TypeError, RecursionError):
            env = None
        self._observe(endpoint, env.code if env is not None else status, reachable=True)
        return status, env

    def _observe(self, endpoint: str, code: int, *, reachable: bool) -> None:
        self.last_contact = (time.time(), reachable)
        if self.observer is not None:
            self.observer(endpoint or "other", code)

    async def _read(
        self, endpoint: str, method: str, url: str, limiter: SlidingWindowLimiter, **kwargs: Any
    ) -> Envelope:
        """A call that is safe to repeat; returns a 200 envelope or raises KieError."""
        attempt = 0
        while True:
            try:
                status, env = await self._send(method, url, limiter, endpoint=endpoint, **kwargs)
            except (aiohttp.ClientError, TimeoutError) as exc:
                what = type(exc).__name__
                if attempt >= self._settings.max_retries:
                    raise self._unreachable(endpoint, url, what, attempt + 1) from None
            else:
                if env is not None and env.code == 200 and status < 400:
                    return env
                err = _read_error(endpoint, status, env)
                if err.code not in _RETRY_READ_CODES or attempt >= self._settings.max_retries:
                    raise err
                what = f"{err.code} {err.msg}"
            delay = self._backoff(attempt)
            self._retrying(endpoint, url, what, attempt, delay)
            await self._sleep(delay)
            attempt += 1

    # -- endpoints -----------------------------------------------------------------------
    async def create_task(
        self, body: dict[str, Any], *, acquire: bool = True, resend: bool = True
    ) -> str:
        """Submit a task; return its id. See the module docstring for what is retried.

        ``acquire=False`` when the caller already holds a slot of ``limits.create`` (the
        tracker takes it before recording that the job is being submitted). ``resend=False``:
        a 429 or a 455 (maintenance), which prove no task was made, is raised at once instead
        of waited out here (the tracker puts the job back in its queue, so a crash meanwhile
        finds it unsent rather than "being sent"; :meth:`maintenance_wait` says how long).
        """
        url = f"{self._base}/api/v1/jobs/createTask"
        attempt = maintenance = 0
        while True:
            create = self.limits.create
            if acquire or attempt or maintenance:
                await create.acquire()
            try:
                # Counted until 10 s after its answer (bot.kie.sent). No redirects: a createTask
                # sent to a host that then points elsewhere has been sent; a failure at the
                # second host must not read as "never sent".
                async with self.limits.sent.call(create.max_calls, create.window):
                    status, env = await self._send(
                        "POST", url, endpoint="createTask", json=body, allow_redirects=False
                    )
            except aiohttp.ClientConnectorError as exc:
                # The connection never opened: nothing was sent, a retry cannot double-submit.
                what = f"cannot connect ({exc.os_error})"
                if attempt >= self._settings.max_retries:
                    raise self._unreachable("createTask", url, what, attempt + 1) from None
                delay = self._backoff(attempt)
                self._retrying("createTask", url, what, attempt, delay)
                await self._sleep(delay)
                attempt += 1
                continue
            except TimeoutError:
                raise CreateOutcomeUnknown("no answer before the timeout") from None
            except aiohttp.ClientError as exc:
                raise CreateOutcomeUnknown(
                    f"the connection failed ({type(exc).__name__})"
                ) from None
            try:
                return create_answer(status, env)
            except KieError as err:
                # kie.ai drops a rate-limited request (it does not queue it): safe to resend.
                if err.code == 429 and resend and attempt < self._settings.max_retries:
                    delay = self._backoff(attempt)
                    self._retrying("createTask", url, f"429 {err.msg}", attempt, delay)
                    await self._sleep(delay)
                    attempt += 1
                    continue
                if err.code == 455 and resend and maintenance < self._settings.maintenance_retries:
                    log.warning("kie.ai is under maintenance (455); waiting before trying again")
                    await self._sleep(
                        self._backoff(maintenance, self._settings.maintenance_backoff)
                    )
                    maintenance += 1
                    continue
                raise

    async def record_info(self, task_id: str) -> TaskRecord | None:
        """The task's record, or None while kie.ai answers "recordInfo is null"."""
        url = f"{self._base}/api/v1/jobs/recordInfo"
        try:
            env = await self._read(
                "recordInfo", "GET", url, self.limits.read, params={"taskId": task_id}
            )
        except KieError as exc:
            if exc.code == 422 and "null" in exc.msg.lower():
                return None
            raise
        if env.data is None:
            return None
        try:
            return TaskRecord.model_validate(env.data)
        except ValidationError as exc:
            # An answer of an unexpected shape is kie.ai's transient fault, not ours.
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "data"
            raise KieError(
                500,
                f"unexpected recordInfo answer ({where}: {first['msg']})",
                endpoint="recordInfo",
            ) from None

    async def upload(self, data: bytes, file_name: str, upload_path: str) -> str:
        """Stream-upload a file to kie.ai's file host; return its ``downloadUrl``."""
        url = f"{self._upload_base}/api/file-stream-upload"

        def form() -> aiohttp.FormData:
            fd = aiohttp.FormData()
            fd.add_field("file", data, filename=file_name)
            fd.add_field("uploadPath", upload_path)
            fd.add_field("fileName", file_name)
            return fd

        attempt = 0
        while True:
            try:
                return await self._upload_once(url, form())
            except KieError as exc:
                if exc.code not in _RETRY_READ_CODES or attempt >= self._settings.max_retries:
                    raise
                what = f"{exc.code} {exc.msg}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                what = type(exc).__name__
                if attempt >= self._settings.max_retries:
                    raise self._unreachable("upload", url, what, attempt + 1) from None
            delay = self._backoff(attempt)
            self._retrying("upload", url, what, attempt, delay)
            await self._sleep(delay)
            attempt += 1

    async def _upload_once(self, url: str, form: aiohttp.FormData) -> str:
        status, env = await self._send("POST", url, self.limits.read, endpoint="upload", data=form)
        if env is None or env.code != 200 or status >= 400:
            raise _read_error("upload", status, env)
        try:
            return UploadedFile.model_validate(env.data).download_url
        except ValidationError:
            raise KieError(500, "the answer had no downloadUrl", endpoint="upload") from None

    async def probe_upload(self) -> str:
        """Reach the upload host without storing anything (an upload with no file): what it
        answered, for ``doctor``. Raises KieUnreachable when it cannot be reached."""
        url = f"{self._upload_base}/api/file-stream-upload"
        form = aiohttp.MultipartWriter("form-data")
        part = form.append("storyboard-bot")
        part.set_content_disposition("form-data", name="uploadPath")
        try:
            status, env = await self._send("POST", url, _NO_LIMIT, endpoint="upload", data=form)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._unreachable("upload", url, type(exc).__name__, 1) from None
        if env is None:
            raise KieError(status, _html_msg(status), endpoint="upload", html=True)
        if env.code in (401, 403):
            raise KieError(env.code, env.msg, endpoint="upload")
        return f"{env.code} {env.msg}".strip()

    async def credits(self) -> float:
        env = await self._read(
            "credit", "GET", f"{self._base}/api/v1/chat/credit", self.limits.read
        )
        try:
            return credit_balance(env.data)
        except ValidationError:
            raise KieError(
                500, "unexpected credit answer (not a number)", endpoint="credit"
            ) from None

    async def download_url(self, url: str) -> str:
        """A fresh download link for a kie.ai result URL, valid for 20 minutes."""
        env = await self._read(
            "download-url",
            "POST",
            f"{self._base}/api/v1/common/download-url",
            self.limits.read,
            json={"url": url},
        )
        if isinstance(env.data, str):
            return env.data
        if isinstance(env.data, dict):
            for key in ("url", "downloadUrl", "download_url"):
                if isinstance(env.data.get(key), str):
                    return env.data[key]
        raise KieError(500, "no link in the answer", endpoint="download-url")

    async def fetch(self, url: str, dest: Path, *, max_bytes: int) -> int:
        """Download a result to ``dest`` (streamed): https and public addresses only, unless
        ``insecure_result_hosts`` names the host. See bot.media.download."""
        from bot.media.download import FetchPolicy, download_file

        policy = FetchPolicy.from_settings(self._settings)
        return await download_file(self.session, url, dest, max_bytes=max_bytes, policy=policy)


def _read_error(endpoint: str, status: int, env: Envelope | None) -> KieError:
    """The KieError for a failed read or upload answer (HTTP status or envelope code)."""
    if env is None:
        if status < 400:
            return KieError(500, "the answer was not JSON", endpoint=endpoint)
        return KieError(status, _html_msg(status), endpoint=endpoint, html=True)
    code = env.code if env.code != 200 else status
    return KieError(code, env.msg or f"HTTP {status}", endpoint=endpoint)
