"""The kie.ai HTTP client (aiohttp): create, status, upload, credits, fresh download links.

Retry policy (see the README):
- createTask: retried only when the answer proves nothing was created: a 429 (kie.ai drops it,
  it does not queue it), a 455 (maintenance; long backoff, few tries) or a connection that never
  opened. A timeout, a dropped connection or a 5xx after sending raises CreateOutcomeUnknown:
  the task may exist, so it is never sent again.
- Reads (recordInfo, credits, download-url) and uploads: retried with backoff and jitter on
  network errors, timeouts, 429 and 5xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiolimiter import AsyncLimiter

from bot.config import KieSettings
from bot.kie.errors import CreateOutcomeUnknown, KieError, KieUnreachable
from bot.kie.schemas import Envelope, TaskRecord, UploadedFile

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
_RETRY_READ_CODES = frozenset({429, 455, 500, 502, 503, 504})
_NO_LIMIT: contextlib.nullcontext[None] = contextlib.nullcontext()


class RateLimits:
    """kie.ai's per-account limits, shared by every client in the process.

    aiolimiter is a leaky bucket: with capacity C and rate r it admits at most C + r*T calls in
    any window T. C and r are chosen so that C + r*T stays at 90 % of kie.ai's limit (a margin
    for network jitter bunching requests up on kie.ai's side).
    """

    def __init__(self, create_per_10s: int = 20, reads_per_second: int = 10) -> None:
        creates = _with_margin(create_per_10s)  # 20 -> 18 per 10 s
        burst = max(1, creates // 2)  # 9 at once, then 0.9/s: at most 9 + 9 = 18 in 10 s
        self.create = AsyncLimiter(burst, _period(burst, creates - burst, 10.0))
        reads = _with_margin(reads_per_second)  # 10 -> 9 per second
        rburst = 1  # 1 at once, then 8/s: at most 1 + 8 = 9 in any second
        self.read = AsyncLimiter(rburst, _period(rburst, reads - rburst, 1.0))


def _with_margin(limit: int) -> int:
    """90 % of a limit of 10 or more; small limits are kept (a margin would halve them)."""
    return limit - round(limit * 0.1) if limit >= 10 else max(1, limit)


def _period(burst: int, refill: int, window: float) -> float:
    """The bucket's time_period so that ``burst`` + what leaks in ``window`` <= burst + refill."""
    if refill <= 0:  # a limit of 1: nothing may leak in within one window
        return window * 1.001
    return window * burst / refill


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
                timeout=aiohttp.ClientTimeout(total=self._settings.request_timeout)
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
        return {"Authorization": f"Bearer {self._key}"}

    # -- backoff -------------------------------------------------------------------------
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
        limiter: AsyncLimiter | contextlib.nullcontext[None],
        **kwargs: Any,
    ) -> tuple[int, Envelope | None]:
        async with limiter:
            async with self.session.request(method, url, headers=self._headers, **kwargs) as resp:
                text = await resp.text()
                status = resp.status
        try:
            return status, Envelope.model_validate(json.loads(text))
        except (ValueError, TypeError):
            return status, None

    async def _read(
        self, endpoint: str, method: str, url: str, limiter: AsyncLimiter, **kwargs: Any
    ) -> Envelope:
        """A call that is safe to repeat; returns a 200 envelope or raises KieError."""
        attempt = 0
        while True:
            try:
                status, env = await self._send(method, url, limiter, **kwargs)
            except (aiohttp.ClientError, TimeoutError) as exc:
                if attempt >= self._settings.max_retries:
                    raise KieUnreachable(
                        f"kie.ai {endpoint}: {type(exc).__name__} after {attempt + 1} tries"
                    ) from None
                log.info("kie.ai %s: %s, retrying", endpoint, type(exc).__name__)
            else:
                code = env.code if env is not None else status
                msg = env.msg if env is not None else f"HTTP {status}"
                if env is not None and env.code == 200 and status < 400:
                    return env
                if env is None and status == 200:
                    code, msg = 500, "the answer was not JSON"
                if code not in _RETRY_READ_CODES or attempt >= self._settings.max_retries:
                    raise KieError(code, msg, endpoint=endpoint)
                log.info("kie.ai %s: %s %s, retrying", endpoint, code, msg)
            await self._sleep(self._backoff(attempt))
            attempt += 1

    # -- endpoints -----------------------------------------------------------------------
    async def create_task(self, body: dict[str, Any], *, acquire: bool = True) -> str:
        """Submit a task; return its id. See the module docstring for what is retried.

        ``acquire=False`` when the caller already holds a slot of ``limits.create`` (the
        tracker takes it before recording that the job is being submitted).
        """
        url = f"{self._base}/api/v1/jobs/createTask"
        attempt = maintenance = 0
        while True:
            limiter = self.limits.create if acquire or attempt or maintenance else _NO_LIMIT
            try:
                status, env = await self._send("POST", url, limiter, json=body)
            except aiohttp.ClientConnectorError as exc:
                # The connection never opened: nothing was sent, a retry cannot double-submit.
                if attempt >= self._settings.max_retries:
                    raise KieUnreachable(
                        f"kie.ai createTask: cannot connect ({exc.os_error})"
                    ) from None
                await self._sleep(self._backoff(attempt))
                attempt += 1
                continue
            except TimeoutError:
                raise CreateOutcomeUnknown("no answer before the timeout") from None
            except aiohttp.ClientError as exc:
                raise CreateOutcomeUnknown(
                    f"the connection failed ({type(exc).__name__})"
                ) from None

            if env is None:
                raise CreateOutcomeUnknown(f"HTTP {status} without a readable answer")
            if env.code == 200 and status < 400:
                task_id = env.data.get("taskId") if isinstance(env.data, dict) else None
                if not isinstance(task_id, str) or not task_id:
                    raise CreateOutcomeUnknown("the answer had no taskId")
                return task_id
            err = KieError(env.code, env.msg, endpoint="createTask")
            if env.code == 429 and attempt < self._settings.max_retries:
                await self._sleep(self._backoff(attempt))
                attempt += 1
                continue
            if env.code == 455 and maintenance < self._settings.maintenance_retries:
                log.warning("kie.ai is under maintenance (455); waiting before trying again")
                await self._sleep(self._backoff(maintenance, self._settings.maintenance_backoff))
                maintenance += 1
                continue
            if err.task_not_created:
                raise err
            # A 5xx (other than a paused model) says nothing certain about the task.
            raise CreateOutcomeUnknown(f"kie.ai answered {env.code} {env.msg}".strip())

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
        return TaskRecord.model_validate(env.data)

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
            except (aiohttp.ClientError, TimeoutError) as exc:
                if attempt >= self._settings.max_retries:
                    raise KieUnreachable(f"kie.ai upload: {type(exc).__name__}") from None
            await self._sleep(self._backoff(attempt))
            attempt += 1

    async def _upload_once(self, url: str, form: aiohttp.FormData) -> str:
        status, env = await self._send("POST", url, self.limits.read, data=form)
        if env is None or env.code != 200 or status >= 400:
            code = env.code if env is not None else status
            raise KieError(code, env.msg if env else f"HTTP {status}", endpoint="upload")
        return UploadedFile.model_validate(env.data).download_url

    async def credits(self) -> float:
        env = await self._read(
            "credit", "GET", f"{self._base}/api/v1/chat/credit", self.limits.read
        )
        return float(env.data)

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
        """Download a result to ``dest`` (streamed). See bot.download."""
        from bot.download import download_file

        return await download_file(self.session, url, dest, max_bytes=max_bytes)
