"""Kill a real `storyboard-bot render` (SIGKILL: no cleanup runs) at each step boundary of a
job, start it again with `resume`, and check what kie.ai received and what was delivered: one
task at most, never a second createTask for a job kie.ai may have, the video written once.
SIGTERM takes the graceful path instead: the createTask in flight is answered and recorded.

Each boundary runs once by default; ``STORYBOARD_CRASH_RUNS=3 pytest tests/jobs`` repeats it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.fakekie import FakeKie, TaskPlan
from tests.helpers import free_port, png_bytes

RUNS = range(int(os.environ.get("STORYBOARD_CRASH_RUNS", "1")))
CONFIG = """
[tracker]
poll_min_seconds = 0.2
callback_poll_min_seconds = 0.5

[kie]
backoff_base = 0.01
# the fake serves results over http from 127.0.0.1
insecure_result_hosts = ["127.0.0.1"]
"""


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
async def kie() -> AsyncIterator[FakeKie]:
    async with FakeKie() as server:  # real time, callbacks on
        server.plan = TaskPlan(waiting=0.1, duration=1.0)
        yield server


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "config.toml").write_text(CONFIG)
    (tmp_path / "ref.png").write_bytes(png_bytes(640, 360))
    return tmp_path


def _env(kie: FakeKie, workdir: Path, callbacks_port: int | None) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("KIE_", "STORYBOARD_", "DISCORD_"))
    }
    env.update(
        KIE_API_KEY="test-key",
        KIE_BASE_URL=kie.url,
        KIE_UPLOAD_URL=kie.url,
        STORYBOARD_DB=str(workdir / "cli.db"),
        STORYBOARD_MEDIA_DIR=str(workdir / "media"),
    )
    if callbacks_port is not None:
        env.update(
            STORYBOARD_PUBLIC_URL=f"http://127.0.0.1:{callbacks_port}",
            STORYBOARD_HTTP_PORT=str(callbacks_port),
        )
    return env


async def _start(workdir: Path, env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=workdir,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _when(cond: Callable[[], bool], within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while not cond():
        if loop.time() > end:
            raise AssertionError("the boundary was never reached")
        await asyncio.sleep(0.01)


async def _finish(proc: asyncio.subprocess.Process) -> Run:
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


def _the_job(workdir: Path) -> tuple[str, str]:
    with sqlite3.connect(workdir / "cli.db") as db:
        [(job_id, state)] = db.execute("SELECT id, state FROM jobs").fetchall()
    return job_id, state


async def _render_killed_at(
    workdir: Path, kie: FakeKie, boundary: Callable[[], bool], sig: int, port: int | None = None
) -> tuple[Run, dict[str, str]]:
    env = _env(kie, workdir, port)
    proc = await _start(
        workdir, env, "render", "--image", "ref.png", "--shot", "a kitten", "--out", "v.mp4"
    )
    await _when(boundary)
    proc.send_signal(sig)
    return await _finish(proc), env


async def _resume(workdir: Path, env: dict[str, str], job_id: str) -> Run:
    return await _finish(await _start(workdir, env, "resume", job_id))


def _video_written_once(workdir: Path, kie: FakeKie) -> None:
    assert (workdir / "v.mp4").read_bytes() == kie.expected_result()
    assert len(kie.created) == 1 and len(kie.create_attempts) == 1


# -- SIGKILL at each boundary ------------------------------------------------------------------


@pytest.mark.parametrize("run", RUNS)
async def test_killed_before_create_task_sends_it_once_on_resume(workdir, kie, run):
    kie.delay_next("upload", 3.0)  # the image is on its way to kie.ai's file host
    killed, env = await _render_killed_at(workdir, kie, lambda: kie.calls["upload"] >= 1, 9)
    assert killed.code == -signal.SIGKILL
    job_id, state = _the_job(workdir)
    assert state == "queued" and kie.create_attempts == []
    r = await _resume(workdir, env, job_id)
    assert r.code == 0, r.err
    _video_written_once(workdir, kie)


@pytest.mark.parametrize("run", RUNS)
async def test_killed_while_create_task_is_in_flight_is_never_sent_again(workdir, kie, run):
    kie.delay_next("createTask", 3.0)  # kie.ai has the task; its answer is on its way
    killed, env = await _render_killed_at(workdir, kie, lambda: kie.task_created.is_set(), 9)
    assert killed.code == -signal.SIGKILL
    job_id, state = _the_job(workdir)
    assert state == "submitting"
    r = await _resume(workdir, env, job_id)
    # Polling: no callback can name the task; the job is given up, truthfully, not resent.
    assert r.code == 4, r.err
    assert "may or may not have been accepted" in r.err and "STORYBOARD_PUBLIC_URL" in r.err
    assert len(kie.create_attempts) == 1 and len(kie.tasks) == 1
    assert _the_job(workdir)[1] == "expired"


@pytest.mark.parametrize("run", RUNS)
async def test_killed_while_create_task_is_in_flight_is_found_by_its_callback(workdir, kie, run):
    kie.plan = TaskPlan(waiting=0.1, duration=4.0)  # still generating when the bot is back
    kie.delay_next("createTask", 3.0)
    port = free_port()
    killed, env = await _render_killed_at(workdir, kie, lambda: kie.task_created.is_set(), 9, port)
    assert killed.code == -signal.SIGKILL
    job_id, _ = _the_job(workdir)
    r = await _resume(workdir, env, job_id)
    assert r.code == 0, r.err
    _video_written_once(workdir, kie)


@pytest.mark.parametrize("run", RUNS)
async def test_killed_while_generating_resumes_the_same_task(workdir, kie, run):
    kie.plan = TaskPlan(waiting=0.1, duration=2.0)
    killed, env = await _render_killed_at(workdir, kie, lambda: kie.calls["recordInfo"] >= 1, 9)
    assert killed.code == -signal.SIGKILL
    job_id, state = _the_job(workdir)
    assert state == "running"
    r = await _resume(workdir, env, job_id)
    assert r.code == 0, r.err
    _video_written_once(workdir, kie)


@pytest.mark.parametrize("run", RUNS)
async def test_killed_during_the_download_fetches_again_and_writes_once(workdir, kie, run):
    kie.delay_next("result", 3.0)
    killed, env = await _render_killed_at(workdir, kie, lambda: kie.calls["result"] >= 1, 9)
    assert killed.code == -signal.SIGKILL
    job_id, state = _the_job(workdir)
    assert state == "succeeded"
    assert not (workdir / "v.mp4").exists()
    r = await _resume(workdir, env, job_id)
    assert r.code == 0, r.err
    _video_written_once(workdir, kie)


@pytest.mark.parametrize("run", RUNS)
async def test_killed_right_after_the_video_was_written(workdir, kie, run):
    out = workdir / "v.mp4"
    _, env = await _render_killed_at(workdir, kie, out.exists, 9)
    job_id, state = _the_job(workdir)
    assert state in ("posting", "delivered"), state
    r = await _resume(workdir, env, job_id)
    assert r.code == 0, r.err
    _video_written_once(workdir, kie)


# -- SIGTERM: the graceful path ------------------------------------------------------------------


@pytest.mark.parametrize("run", RUNS)
async def test_sigterm_while_create_task_is_in_flight_records_the_task(workdir, kie, run):
    kie.plan = TaskPlan(waiting=0.1, duration=2.0)
    kie.delay_next("createTask", 1.0)
    stopped, env = await _render_killed_at(
        workdir, kie, lambda: kie.task_created.is_set(), signal.SIGTERM
    )
    assert stopped.code == 143, stopped.err
    line = next(x for x in stopped.err.splitlines() if x.startswith("interrupted:"))
    assert kie.last_task.task_id in line and "storyboard-bot resume" in line
    job_id, state = _the_job(workdir)
    assert state == "running"  # the answer was recorded before the process exited
    r = await _resume(workdir, env, job_id)
    assert r.code == 0, r.err
    _video_written_once(workdir, kie)


async def test_sigterm_before_anything_was_sent_says_so(workdir, kie):
    kie.delay_next("upload", 3.0)
    stopped, _ = await _render_killed_at(
        workdir, kie, lambda: kie.calls["upload"] >= 1, signal.SIGTERM
    )
    assert stopped.code == 143
    assert "was not sent to kie.ai; nothing was spent" in stopped.err
    assert "Traceback" not in stopped.err
    assert kie.create_attempts == []
