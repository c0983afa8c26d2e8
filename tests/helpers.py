"""Shared test helpers: a manual clock, a recording delivery, images and settings."""

from __future__ import annotations

import asyncio
import io
import socket
import time
from pathlib import Path
from typing import Any

from PIL import Image

from bot.config.settings import Settings
from bot.domain.clock import Clock
from bot.jobs.delivery import UndeliverableError
from bot.jobs.store import Job


class TestClock(Clock):
    """A clock the test moves by hand; also callable, so FakeKie can share it."""

    __test__ = False

    def __init__(self, start: float | None = None) -> None:
        # Starts at the real time: callback signatures carry wall-clock timestamps.
        self.t = time.time() if start is None else start
        self._tick = asyncio.Event()

    def now(self) -> float:
        return self.t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        self.t += seconds
        self._tick.set()
        self._tick = asyncio.Event()
        return self.t

    async def sleep(self, seconds: float) -> None:
        deadline = self.t + seconds
        while self.t < deadline:
            await self._tick.wait()


class RecordingDelivery:
    """A delivery that remembers what a person would have been shown."""

    def __init__(self, *, fail_times: int = 0, undeliverable: bool = False) -> None:
        self.updates: list[Job] = []
        self.videos: list[tuple[Job, bytes]] = []
        self.ended: list[Job] = []
        self.fail_times = fail_times
        self.undeliverable = undeliverable

    async def job_updated(self, job: Job) -> None:
        self.updates.append(job)

    async def deliver_video(self, job: Job, path: Path) -> None:
        if self.undeliverable:
            raise UndeliverableError("the channel is gone")
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("Discord is down")
        self.videos.append((job, path.read_bytes()))

    async def job_ended(self, job: Job) -> None:
        self.ended.append(job)


def png_bytes(
    width: int = 640, height: int = 360, color: str = "orange", fmt: str = "PNG"
) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, fmt)
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_settings(tmp: Path, kie_url: str, **sections: dict[str, Any]) -> Settings:
    """Settings pointing at the fake kie.ai, with fast retries, in ``tmp``.

    Built from these values alone: no environment, config file or ``.env`` of the machine
    running the tests gets in."""
    data: dict[str, dict[str, Any]] = {
        "kie": {
            "api_key": "test-key",
            "base_url": kie_url,
            "upload_url": kie_url,
            "backoff_base": 0.001,
            "backoff_max": 0.01,
            "maintenance_backoff": 0.001,
            "request_timeout": 5.0,
            # The fake serves results over http from 127.0.0.1.
            "insecure_result_hosts": ["127.0.0.1"],
        },
        "storage": {"db": tmp / "bot.db", "media_dir": tmp / "media"},
    }
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return Settings(**data)
