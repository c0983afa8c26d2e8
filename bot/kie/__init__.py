"""kie.ai: the HTTP client, its answers and its errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from bot.kie.client import KieClient, RateLimits
from bot.kie.errors import CreateOutcomeUnknown, KieError, KieUnreachable
from bot.kie.schemas import TaskRecord

__all__ = [
    "CreateOutcomeUnknown",
    "KieApi",
    "KieClient",
    "KieError",
    "KieUnreachable",
    "RateLimits",
    "TaskRecord",
]


class KieApi(Protocol):
    """What the tracker needs of kie.ai (KieClient, or an in-memory stand-in in tests)."""

    limits: RateLimits

    async def create_task(
        self, body: dict[str, Any], *, acquire: bool = True, resend: bool = True
    ) -> str: ...

    def maintenance_wait(self, tries: int) -> float | None: ...

    async def record_info(self, task_id: str) -> TaskRecord | None: ...

    async def upload(self, data: bytes, file_name: str, upload_path: str) -> str: ...

    async def credits(self) -> float: ...

    async def download_url(self, url: str) -> str: ...

    async def fetch(self, url: str, dest: Path, *, max_bytes: int) -> int: ...
