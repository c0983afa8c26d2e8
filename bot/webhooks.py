"""Callback URLs and their checks: the per-job token and kie.ai's optional HMAC signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from typing import Any

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


def media_token(secret: str, job_id: str) -> str:
    """An unguessable token for serving a job's stored video."""
    return hmac.new(secret.encode(), f"media:{job_id}".encode(), hashlib.sha256).hexdigest()[:32]


def media_url(public_url: str, secret: str, job_id: str) -> str:
    return f"{public_url.rstrip('/')}/media/{job_id}/{media_token(secret, job_id)}.mp4"


def media_token_ok(secret: str, job_id: str, token: str) -> bool:
    return _same(media_token(secret, job_id), token)
