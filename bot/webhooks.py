"""Callback URLs and their checks: the per-job token and kie.ai's optional HMAC signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

MAX_SIGNATURE_AGE = 300.0  # seconds


def callback_token(secret: str, job_id: str) -> str:
    """An unguessable token binding a callback URL to one job."""
    return hmac.new(secret.encode(), f"callback:{job_id}".encode(), hashlib.sha256).hexdigest()[:32]


def callback_url(public_url: str, secret: str, job_id: str) -> str:
    return f"{public_url.rstrip('/')}/kie/callback/{job_id}/{callback_token(secret, job_id)}"


def token_ok(secret: str, job_id: str, token: str) -> bool:
    return hmac.compare_digest(callback_token(secret, job_id), token)


def expected_signature(key: str, task_id: str, timestamp: str) -> str:
    digest = hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
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
    if abs(now - ts) > MAX_SIGNATURE_AGE:
        return False
    return hmac.compare_digest(expected_signature(key, task_id, timestamp), signature)


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
