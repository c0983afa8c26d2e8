"""/healthz says what is wrong (503 when anything is), and /metrics counts a job exactly."""

from __future__ import annotations

import asyncio
import contextlib
import re

import aiohttp

from bot.jobs.states import JobState
from bot.kie import KieUnreachable
from tests.bot.jobs.test_tracker import BOARD
from tests.fakes.fakekie import TaskPlan
from tests.helpers import free_port, make_settings


async def _get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}{path}") as resp:
        return resp.status, await resp.text()


async def _started(tmp_path, fake, make_runtime, **http):
    port = free_port()
    settings = make_settings(tmp_path, fake.url, http={"port": port, **http})
    rt, delivery = await make_runtime(settings, serve_http=True)
    await rt.start()
    return rt, delivery, port


async def test_healthz_turns_503_when_the_scheduler_loop_stops(tmp_path, fake, make_runtime):
    rt, _, port = await _started(tmp_path, fake, make_runtime)
    status, _ = await _get(port, "/healthz")
    assert status == 200
    loop_task = rt.tracker.scheduler._loop_task
    assert loop_task is not None
    loop_task.cancel()  # the loop died (a bug, a stuck await): health must say so
    await asyncio.gather(loop_task, return_exceptions=True)
    status, text = await _get(port, "/healthz")
    assert status == 503
    assert '"scheduler": {"ok": false, "detail": "the scheduler loop is not running"}' in text


async def test_healthz_says_when_kie_could_not_be_reached(tmp_path, fake, make_runtime):
    port = free_port()
    closed = f"http://127.0.0.1:{free_port()}"
    settings = make_settings(
        tmp_path, fake.url, http={"port": port}, kie={"base_url": closed, "max_retries": 0}
    )
    rt, _ = await make_runtime(settings, serve_http=True)
    await rt.start()
    with contextlib.suppress(KieUnreachable):
        await rt.kie.credits()
    status, text = await _get(port, "/healthz")
    assert status == 503 and '"kie": {"ok": false, "detail": "could not be reached' in text


async def test_metrics_are_off_by_default(tmp_path, fake, make_runtime):
    _, _, port = await _started(tmp_path, fake, make_runtime)
    status, _ = await _get(port, "/metrics")
    assert status == 404


def _value(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if m and m[1] == name and ",".join(sorted((m[2] or "").split(","))) == want:
            return float(m[3])
    raise AssertionError(f"{name}{{{want}}} not in /metrics")


async def test_metrics_count_a_full_jobs_calls_exactly(tmp_path, fake, clock, make_runtime, image):
    fake.plan = TaskPlan(duration=5)
    rt, _, port = await _started(tmp_path, fake, make_runtime, metrics=True)
    await rt.tracker.stop()  # drive it by hand, deterministically
    job = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    clock.advance(10)
    await rt.tracker.run_once()
    assert (await rt.store.get_job(job.id)).state == JobState.DELIVERED
    status, text = await _get(port, "/metrics")
    assert status == 200
    assert _value(text, "storyboard_kie_requests_total", endpoint="upload", code="200") == 1
    assert _value(text, "storyboard_kie_requests_total", endpoint="createTask", code="200") == 1
    reads = fake.calls["recordInfo"]
    assert reads >= 1
    assert _value(text, "storyboard_kie_requests_total", endpoint="recordInfo", code="200") == reads
    assert _value(text, "storyboard_jobs", state="delivered") == 1
    assert _value(text, "storyboard_jobs", state="queued") == 0
    assert _value(text, "storyboard_queue_depth") == 0
    assert _value(text, "storyboard_delivery_seconds_count") == 1
    assert _value(text, "storyboard_event_loop_lag_seconds") >= 0
