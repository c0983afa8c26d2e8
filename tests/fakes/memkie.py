"""An in-memory kie.ai behind the same interface as KieClient, for the Discord-level tests.

simcord fails on bot work that waits on something outside the simulated Discord, and an HTTP
call to the fake kie.ai server is such a wait. So the Discord tests use this stand-in: the same
validation, the same task states and the same answers as ``tests.fakes.fakekie.FakeKie`` (it reuses
FakeKie's rules), with no sockets. The real client is proven against the fake server elsewhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.kie import KieError, KieUnreachable, RateLimits, TaskRecord
from bot.kie.client import create_answer
from bot.kie.errors import CreateOutcomeUnknown
from bot.kie.schemas import Envelope
from bot.media.download import DownloadError
from tests.fakes.fakekie import FakeKie, FakeTask, TaskPlan

URL = "http://kie.test"


class MemoryKie:
    def __init__(
        self,
        clock: Callable[[], float],
        *,
        result_bytes: bytes | int | None = None,
        video_results: bool = False,
    ):
        kwargs: dict[str, Any] = {
            "clock": clock,
            "auto_callbacks": False,
            "video_results": video_results,
        }
        if result_bytes is not None:
            kwargs["result_bytes"] = result_bytes
        self.fake = FakeKie(**kwargs)
        self.fake.url = URL
        self.limits = RateLimits()
        self.unknown_next = 0  # the next creates succeed at kie.ai but their answer is lost
        self.upload_unreachable = False  # the upload host refuses connections

    # what kie.ai received, as on the fake
    @property
    def created(self) -> list[dict[str, Any]]:
        return self.fake.created

    @property
    def uploads(self) -> list[dict[str, Any]]:
        return self.fake.uploads

    @property
    def plan(self) -> TaskPlan:
        return self.fake.plan

    @plan.setter
    def plan(self, value: TaskPlan) -> None:
        self.fake.plan = value

    def fail_next_create(self, code: int, msg: str) -> None:
        self.fake.fail_next("createTask", code=code, msg=msg)

    def maintenance_wait(self, tries: int) -> float | None:
        """As KieClient's with the default settings, without jitter: 60 s, 120 s, 240 s."""
        return None if tries > 3 else 60.0 * 2 ** (tries - 1)

    async def create_task(
        self, body: dict[str, Any], *, acquire: bool = True, resend: bool = True
    ) -> str:
        """As KieClient.create_task over the fake's answers: the same ``create_answer``
        decides what an answer proves (a refusal, or an unknown outcome)."""
        fake = self.fake
        fake.calls["createTask"] += 1
        fake.create_attempts.append(body)
        html = fake._html["createTask"]
        if html:
            create_answer(html.popleft(), None)
        queued = fake._failures["createTask"]
        if queued:
            failure = queued.popleft()
            create_answer(failure.http_status, Envelope(code=failure.code, msg=failure.msg))
        refused = fake._refuse(body)
        if refused is not None:
            create_answer(200, Envelope(code=refused[0], msg=refused[1]))
        fake._counter += 1
        task_id = f"task_{body['model'].replace('/', '_')}_{fake._counter}"
        fake.tasks[task_id] = FakeTask(
            task_id=task_id,
            model=body["model"],
            body=body,
            created_at=fake.clock(),
            plan=dataclasses.replace(fake.plan),
            callback_url=body.get("callBackUrl"),
        )
        fake.created.append(body)
        if self.unknown_next:
            self.unknown_next -= 1
            raise CreateOutcomeUnknown("no answer before the timeout")
        return task_id

    async def record_info(self, task_id: str) -> TaskRecord | None:
        self.fake.calls["recordInfo"] += 1
        data = self.fake.record(task_id)
        return None if data is None else TaskRecord.model_validate(data)

    async def upload(self, data: bytes, file_name: str, upload_path: str) -> str:
        self.fake.calls["upload"] += 1
        if self.upload_unreachable:
            raise KieUnreachable(
                "kie.ai upload: cannot reach kieai.redpandaai.co (KIE_UPLOAD_URL): "
                "ClientConnectorError after 6 tries",
                host="kieai.redpandaai.co",
                setting="KIE_UPLOAD_URL",
                endpoint="upload",
            )
        return str(self.fake._store_upload(data, upload_path, file_name, None)["downloadUrl"])

    async def credits(self) -> float:
        return self.fake.credits

    async def download_url(self, url: str) -> str:
        self.fake.calls["download-url"] += 1
        failures = self.fake._failures["download-url"]
        if failures:
            failure = failures.popleft()
            raise KieError(failure.code, failure.msg, endpoint="download-url")
        code, msg, link = self.fake.download_link(url)
        if code != 200 or link is None:
            raise KieError(code, msg, endpoint="download-url")
        return link

    async def fetch(self, url: str, dest: Path, *, max_bytes: int) -> int:
        self.fake.calls["result"] += 1
        task_id = url.rsplit("/", 1)[-1].removesuffix(".mp4")
        found = self.fake.tasks.get(task_id)
        data = self.fake.result_for(task_id) if found else self.fake.expected_result()
        if len(data) > max_bytes:
            raise DownloadError("too large")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        return len(data)

    async def close(self) -> None:
        return None
