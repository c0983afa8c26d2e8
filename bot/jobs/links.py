"""Callback URLs and their checks (the per-job token, kie.ai's optional HMAC signature, replays),
and the expiring tokens of /media links."""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import math
from typing import Any, Literal

MAX_SIGNATURE_AGE = 300.0  # seconds


def callback_token(secret: str, job_id: str) -> str:
    """An unguessable token binding a callback URL to one job."""
    message = f"callback:{job_id}".encode("utf-8", "surrogatepass")  # job_id may come from a URL
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def callback_url(public_url: str, secret: str, job_id: str) -> str:
    return f"{public_url.rstrip('/')}/kie/callback/{job_id}/{callback_token(secret, job_id)}"


def _same(expected: str, given: str) -> bool:
    """Constant-time comparison that never raises: ``hmac.compare_digest`` refuses ``str``
    with non-ASCII characters (TypeError), and ``given`` comes from a stranger's request."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))


def token_ok(secret: str, job_id: str, token: str) -> bool:
    return _same(callback_token(secret, job_id), token)


def expected_signature(key: str, task_id: str, timestamp: str) -> str:
    # The task id comes from the callback's JSON, which may hold lone surrogates ("\ud800").
    message = f"{task_id}.{timestamp}".encode("utf-8", "surrogatepass")
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_ok(
    key: str, task_id: str, timestamp: str | None, signature: str | None, now: float
) -> bool:
    """kie.ai's ``X-Webhook-Signature`` over ``taskId.timestamp``; stale timestamps refused."""
    if not timestamp or not signature:
        return False
    try:
        ts = float(timestamp)
    except ValueError:
        return False
    # "nan" parses but compares false with everything: it would pass the age check.
    if not math.isfinite(ts) or abs(now - ts) > MAX_SIGNATURE_AGE:
        return False
    return _same(expected_signature(key, task_id, timestamp), signature)


def task_id_of(body: Any) -> str | None:
    """kie.ai's docs spell it ``data.taskId``, ``data.task_id`` or a top-level ``taskId``."""
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    candidates = []
    if isinstance(data, dict):
        candidates += [data.get("taskId"), data.get("task_id")]
    candidates += [body.get("taskId"), body.get("task_id")]
    for value in candidates:
        if isinstance(value, str) and value:
            return value
    return None


# The database's meta key of the secret behind /media links. It is not the callback secret: a
# link posted in a channel must tell nothing about the tokens that reach a job's callback.
MEDIA_SECRET_KEY = "media_secret"
MediaToken = Literal["valid", "expired", "invalid"]


def media_token(secret: str, job_id: str, expires: int) -> str:
    """An unguessable token for a job's stored video, valid until ``expires`` (Unix time),
    which it carries: ``<expires>-<hmac>``."""
    message = f"media:{job_id}:{expires}".encode("utf-8", "surrogatepass")
    return f"{expires}-{hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]}"


def media_url(public_url: str, secret: str, job_id: str, *, expires: float) -> str:
    token = media_token(secret, job_id, math.ceil(expires))
    return f"{public_url.rstrip('/')}/media/{job_id}/{token}.mp4"


def check_media_token(secret: str, job_id: str, token: str, now: float) -> MediaToken:
    """``expired`` only for a token this secret made for this job (a forged one is
    ``invalid``, whatever time it names)."""
    expires, _, _mac = token.partition("-")
    if not (expires.isascii() and expires.isdigit()) or len(expires) > 12:
        return "invalid"
    if not _same(media_token(secret, job_id, int(expires)), token):
        return "invalid"
    return "valid" if now < int(expires) else "expired"


class ReplayGuard:
    """Signed callbacks already accepted, by ``(taskId, timestamp)``: the signature covers
    only those two, so a copy of one callback could otherwise be sent again, with any body,
    until its timestamp is too old. Each pair is remembered as long as its timestamp would
    pass the age check, and at most ``limit`` pairs (the nearest to expiring go first)."""

    def __init__(self, *, window: float = MAX_SIGNATURE_AGE, limit: int = 10_000) -> None:
        self.window = window
        self.limit = limit
        self._seen: set[tuple[str, str]] = set()
        self._expiry: list[tuple[float, tuple[str, str]]] = []  # a heap

    def __len__(self) -> int:
        return len(self._seen)

    def first_time(self, task_id: str, timestamp: str, now: float) -> bool:
        """Whether this pair is new (and now remembered); call it after the signature passed,
        so that forgeries take no room."""
        while self._expiry and self._expiry[0][0] < now:
            self._seen.discard(heapq.heappop(self._expiry)[1])
        key = (task_id, timestamp)
        if key in self._seen:
            return False
        self._seen.add(key)
        heapq.heappush(self._expiry, (float(timestamp) + self.window, key))
        while len(self._seen) > self.limit:
            self._seen.discard(heapq.heappop(self._expiry)[1])
        return True

    def forget(self, task_id: str, timestamp: str) -> None:
        """The callback could not be acted on (e.g. the database failed): let its retry in."""
        self._seen.discard((task_id, timestamp))
