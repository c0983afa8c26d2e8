"""Kill a real `storyboard-bot render` (SIGKILL: no cleanup runs) at each step boundary of a
job, start it again with `resume`, and check what kie.ai received and what was delivered: one
task at most, never a second createTask for a job kie.ai may have, the video written once.
A long storyboard (a chain of two segments, tests/bot/jobs/chain_render.py) is killed at each
of its steps too: one createTask per segment, one joined video; and right after a job whose
model kie.ai no longer offers was made a chain on the fallback.
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
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.fakekie import KLING_MODEL, SORA_MODEL, FakeKie, TaskPlan
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


async def _start(
    workdir: Path, env: dict[str, str], *args: str, module: str = "bot"
) -> asyncio.subprocess.Process:
    """``python -m <module> <args>`` in ``workdir``: ``bot`` is ``storyboard-bot``."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
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


async def _resume(workdir: Path, env: dict[str, str], job_id: str, module: str = "bot") -> Run:
    return await _finish(await _start(workdir, env, "resume", job_id, module=module))


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


def _waiting_out_maintenance(workdir: Path) -> bool:
    """The job is back in the queue after kie.ai answered 455 (maintenance)."""
    try:
        with closing(sqlite3.connect(workdir / "cli.db")) as db:
            rows = db.execute("SELECT state, stall FROM jobs").fetchall()
    except sqlite3.Error:  # not created yet
        return False
    return [(state, "maintenance" in (stall or "")) for state, stall in rows] == [("queued", True)]


@pytest.mark.parametrize("run", RUNS)
async def test_killed_while_kie_is_under_maintenance_sends_it_once_on_resume(workdir, kie, run):
    # kie.ai answered 455: nothing was made. The process waits a minute before sending again
    # (maintenance_backoff); killed meanwhile, the job is unsent, not "outcome unknown".
    kie.fail_next("createTask", code=455, msg="Service Unavailable")
    killed, env = await _render_killed_at(
        workdir, kie, lambda: _waiting_out_maintenance(workdir), signal.SIGKILL
    )
    assert killed.code == -signal.SIGKILL
    assert "kie.ai is under maintenance; nothing was made; sending again at" in killed.err
    job_id, state = _the_job(workdir)
    assert state == "queued" and len(kie.create_attempts) == 1 and kie.created == []
    r = await _resume(workdir, env, job_id)
    assert r.code == 0, r.err
    assert (workdir / "v.mp4").read_bytes() == kie.expected_result()
    assert len(kie.create_attempts) == 2 and len(kie.created) == 1


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


# -- a long storyboard: SIGKILL at each step of a chain of two segments ----------------------------

REPO = Path(__file__).resolve().parents[3]
SEGMENT_FRAMES = 13 * 4  # a 13 s segment of the fake's 4 frames a second


@pytest.fixture
async def chain_kie() -> AsyncIterator[FakeKie]:
    # Real time, callbacks on, real little mp4 results. A segment may end while the bot is
    # down (its callback then finds no one): the resumed bot reads it, never sends it again.
    async with FakeKie(video_results=True) as server:
        server.plan = TaskPlan(waiting=0.1, duration=1.5)
        yield server


#: ``storyboard-bot`` with a long storyboard (tests/bot/jobs/chain_render.py).
CHAIN_RENDER = "tests.bot.jobs.chain_render"


def _chain_env(kie: FakeKie, workdir: Path, port: int) -> dict[str, str]:
    env = _env(kie, workdir, port)
    env.update(KIE_MODEL="kling-3.0-omni/image-to-video", PYTHONPATH=str(REPO))
    return env


def _rows(workdir: Path) -> dict[str, str]:
    """The chain's state ("chain"), its id ("id") and each segment's ("segment 1", ...)."""
    if not (workdir / "cli.db").exists():
        return {}
    try:
        with sqlite3.connect(workdir / "cli.db") as db:
            rows = db.execute("SELECT id, state, parent_id FROM jobs").fetchall()
    except sqlite3.Error:
        return {}
    out = {}
    for job_id, state, parent in rows:
        out["chain" if parent is None else f"segment {job_id.rsplit('-', 1)[1]}"] = state
        if parent is None:
            out["id"] = job_id
    return out


def _at(workdir: Path, key: str, *states: str) -> Callable[[], bool]:
    return lambda: _rows(workdir).get(key) in states


BOUNDARIES: dict[str, Callable[[Path, FakeKie], Callable[[], bool]]] = {
    "segment 1 submitted": lambda w, k: _at(w, "segment 1", "running"),
    "segment 1 fetched": lambda w, k: _at(w, "segment 1", "fetched", "posting", "delivered"),
    "frame extracted": lambda w, k: _at(w, "chain", "uploading_frame"),
    "frame uploaded": lambda w, k: lambda: len(k.uploads) >= 2,
    "segment 2 submitted": lambda w, k: _at(w, "segment 2", "running"),
    "joined": lambda w, k: _at(w, "chain", "fetched", "posting", "delivered"),
    "posting": lambda w, k: (w / "v.mp4").exists,
}


async def _chain_killed_at(
    workdir: Path, kie: FakeKie, boundary: str
) -> tuple[Run, dict[str, str]]:
    env = _chain_env(kie, workdir, free_port())
    if boundary in ("frame extracted", "frame uploaded"):
        # The reference image goes up at once; the frame handed to segment 2 is stored at
        # kie.ai's file host, and its answer takes a while (the kill lands before it).
        kie.delay_next("upload", 0.0)
        kie.delay_next("upload", 3.0)
    proc = await _start(workdir, env, "render", module=CHAIN_RENDER)
    await _when(BOUNDARIES[boundary](workdir, kie), within=40)
    proc.send_signal(signal.SIGKILL)
    return await _finish(proc), env


def _chain_delivered(workdir: Path) -> None:
    """The chain and both its segments delivered, as one video joined from the two."""
    from bot.media.video import probe

    rows = _rows(workdir)
    assert rows["chain"] == "delivered"
    assert rows["segment 1"] == rows["segment 2"] == "delivered"
    assert probe(workdir / "v.mp4").frames == 2 * SEGMENT_FRAMES - 1


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("boundary", list(BOUNDARIES))
async def test_a_chain_killed_at_each_step_resumes_with_one_task_per_segment(
    workdir, chain_kie, boundary, run
):
    kie = chain_kie
    killed, env = await _chain_killed_at(workdir, kie, boundary)
    assert killed.code == -signal.SIGKILL
    parent = _rows(workdir)["id"]
    r = await _resume(workdir, env, parent, module=CHAIN_RENDER)
    assert r.code == 0, r.err
    # Exactly one createTask per segment, each from its own first frame.
    assert len(kie.create_attempts) == len(kie.created) == len(kie.tasks) == 2
    first, second = (b["input"]["image_urls"][0] for b in kie.created)
    assert first != second
    # One video, joined from both segments, written once.
    _chain_delivered(workdir)


def _converted(workdir: Path) -> Callable[[], bool]:
    """The job was turned into a chain (on the fallback), before its first segment was sent."""

    def done() -> bool:
        try:
            with sqlite3.connect(workdir / "cli.db") as db:
                rows = db.execute(
                    "SELECT 1 FROM jobs WHERE parent_id IS NULL AND chain IS NOT NULL"
                ).fetchall()
        except sqlite3.Error:
            return False
        return bool(rows)

    return done


@pytest.mark.parametrize("run", RUNS)
async def test_killed_right_after_the_fallback_made_the_job_a_chain(workdir, chain_kie, run):
    """A default install (Sora, Kling as the fallback) whose Sora kie.ai no longer offers: the
    seed's storyboard goes to Sora as one video, Sora's createTask is answered "not supported"
    (no task), the job becomes a chain of two Kling segments, and the process is killed."""
    kie = chain_kie
    kie.remove_model(SORA_MODEL)
    env = _env(kie, workdir, free_port())
    env.update(PYTHONPATH=str(REPO))
    kie.delay_next("upload", 0.0)  # the reference image, for Sora
    kie.delay_next("upload", 3.0)  # again, for Kling's first segment: the kill lands before
    proc = await _start(workdir, env, "render", module=CHAIN_RENDER)
    await _when(_converted(workdir), within=40)
    proc.send_signal(signal.SIGKILL)
    killed = await _finish(proc)
    assert killed.code == -signal.SIGKILL
    assert [b["model"] for b in kie.create_attempts] == [SORA_MODEL]
    parent = _rows(workdir)["id"]
    r = await _resume(workdir, env, parent, module=CHAIN_RENDER)
    assert r.code == 0, r.err
    # Sora's refused createTask, then one per Kling segment: two tasks in all.
    assert [b["model"] for b in kie.create_attempts] == [SORA_MODEL, KLING_MODEL, KLING_MODEL]
    assert len(kie.created) == len(kie.tasks) == 2
    assert _rows(workdir)["id"] == parent  # the job itself became the chain
    _chain_delivered(workdir)
