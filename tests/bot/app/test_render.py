"""``storyboard-bot render`` of long storyboards, as a subprocess, against the fake kie.ai whose
results are real little mp4s (one colour per task): the plan it prints, what kie.ai receives,
the one video it writes, ``--max-segments`` and ``[storyboards]``, and ``resume`` of a chain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.media.video import probe
from tests.bot.app.test_cli import CONFIG, Result, run_cli
from tests.fakes.fakekie import KLING_MODEL, SORA_MODEL, FakeKie, TaskPlan
from tests.fakes.videos import FPS
from tests.helpers import png_bytes

#: The seed's storyboard: 10 shots of 2.5 s, 25 s.
SEED = [a for i in range(1, 11) for a in ("--shot", f"2.5 | Scene {i}: the kitten, moment {i}")]
#: The longest the defaults take: 20 shots of 3 s, 60 s.
MINUTE = [a for i in range(1, 21) for a in ("--shot", f"3 | Shot {i} of the long walk")]
#: 20 shots of 3.5 s, 70 s: over the default 60 s.
LONGER = [a for i in range(1, 21) for a in ("--shot", f"3.5 | Shot {i} of the longer walk")]


@pytest.fixture
async def fake() -> AsyncIterator[FakeKie]:
    """A default install's kie.ai today: Sora is gone ("not supported"), Kling makes videos."""
    async with FakeKie(video_results=True) as server:
        server.plan = TaskPlan(waiting=0.1, queuing=0.1, duration=0.4)
        server.remove_model(SORA_MODEL, status=422)
        yield server


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "config.toml").write_text(CONFIG)
    (tmp_path / "ref.png").write_bytes(png_bytes(640, 360))
    return tmp_path


async def _render(
    workdir: Path, shots: list[str], length: str, *args: str, **kwargs: Any
) -> Result:
    """``storyboard-bot render --image ref.png <shots> --length <length> <args>``."""
    return await run_cli(
        workdir, "render", "--image", "ref.png", *shots, "--length", length, *args, **kwargs
    )


def _err_lines(err: str) -> list[str]:
    """stderr without the time prefix of the progress lines."""
    return [line.split("] ", 1)[1] if line.startswith("[") else line for line in err.splitlines()]


async def test_the_seeds_storyboard_is_two_kling_segments_joined_into_one_video(workdir, fake):
    r = await _render(workdir, SEED, "25", "--out", "seed.mp4", fake=fake)
    assert r.code == 0, r.err
    assert r.out.strip() == "seed.mp4"
    lines = _err_lines(r.err)
    # Planned on Sora (one video); Sora is gone, so planned again on Kling, printed, made.
    assert lines[0] == (
        f"plan: {SORA_MODEL}, one video (10 shots, 25 s), about 3-5 min, 270 credits"
    )
    # The engine makes the job a chain on Kling in place (same job, 364 credits reserved).
    start = lines.index(
        f"{SORA_MODEL} is unavailable at kie.ai; using {KLING_MODEL} instead (364 credits)"
    )
    assert lines[start + 1 : start + 3] == [
        "  segment 1: shots 1-5, 12.5 s (13 s of video), 182 credits",
        "  segment 2: shots 6-10, 12.5 s (13 s of video), 182 credits",
    ]
    # Progress per segment, as the Discord status says it.
    assert any(x.startswith("segment 1 of 2 · generating") for x in lines), r.err
    assert any(x.startswith("segment 2 of 2 · generating") for x in lines), r.err
    assert any(x.startswith("segment 1 of 2 · handing its last frame") for x in lines)
    assert any(x.startswith("joining the 2 segments into one video") for x in lines)

    # Two tasks made (13 s each, five shots each); Sora's refusal created none.
    assert len(fake.created) == 2
    assert [b["model"] for b in fake.create_attempts] == [SORA_MODEL, KLING_MODEL, KLING_MODEL]
    assert [b["input"]["duration"] for b in fake.created] == [13, 13]
    assert [len(b["input"]["multi_prompt"]) for b in fake.created] == [5, 5]
    # One video: 2 x 13 s, the later segment's first frame (a repeat) dropped.
    info = probe(workdir / "seed.mp4")
    assert info.frames == 13 * FPS * 2 - 1
    assert info.duration == pytest.approx((13 * FPS * 2 - 1) / FPS, abs=0.01)


async def test_a_60_second_storyboard_is_four_segments_of_15_seconds(workdir, fake):
    r = await _render(workdir, MINUTE, "60", "--out", "minute.mp4", fake=fake)
    assert r.code == 0, r.err
    lines = _err_lines(r.err)
    assert f"plan: {KLING_MODEL}, 4 segments, about 12-20 min, 840 credits" in lines
    assert "  segment 4: shots 16-20, 15 s (15 s of video), 210 credits" in lines
    assert len(fake.created) == 4
    assert [b["input"]["duration"] for b in fake.created] == [15, 15, 15, 15]
    info = probe(workdir / "minute.mp4")
    assert info.frames == 4 * 15 * FPS - 3
    assert info.duration == pytest.approx((4 * 15 * FPS - 3) / FPS, abs=0.01)


async def test_max_segments_refuses_a_longer_plan_in_one_line_before_anything_is_spent(
    workdir, fake
):
    # Kling chosen: the plan is refused before any call to kie.ai at all.
    r = await _render(workdir, SEED, "25", "--model", KLING_MODEL, "--max-segments", "1", fake=fake)
    assert r.code == 2
    assert r.err.strip().splitlines() == [
        "error: These 10 shots (25 s) need 2 segments on Kling 3.0 Omni (at most 6 shots and "
        "15 s each); at most 1 are allowed. Shorten the shots or remove some."
    ]
    assert sum(fake.calls.values()) == 0

    # The defaults: Sora takes it in one, refuses (no task), and Kling's plan is refused.
    r = await _render(workdir, SEED, "25", "--max-segments", "1", fake=fake)
    assert r.code == 2
    errors = [x for x in r.err.splitlines() if "error" in x]
    assert errors == [r.err.strip().splitlines()[-1]]
    assert errors[0].startswith("error: These 10 shots (25 s) need 2 segments on Kling")
    assert fake.created == []
    assert [b["model"] for b in fake.create_attempts] == [SORA_MODEL]


@pytest.mark.parametrize("bad", ["0", "x"])
async def test_max_segments_is_a_positive_number(workdir, bad):
    r = await run_cli(workdir, "render", "--image", "ref.png", *SEED, "--max-segments", bad)
    assert r.code == 2 and "--max-segments" in r.err


async def test_the_longest_storyboard_follows_the_config_file(workdir, fake):
    args = ["render", "--image", "ref.png", *LONGER, "--length", "70", "--out", "long.mp4"]
    r = await run_cli(workdir, *args, fake=fake)
    assert r.code == 2
    assert r.err.strip().splitlines() == [
        "error: A storyboard lasts at most 60 s; these shots add up to 70 s. Shorten them or "
        "remove a shot."
    ]
    assert sum(fake.calls.values()) == 0

    (workdir / "config.toml").write_text(CONFIG + "\n[storyboards]\nmax_seconds = 80\n")
    r = await run_cli(workdir, *args, fake=fake)
    assert r.code == 0, r.err
    assert f"plan: {KLING_MODEL}, 5 segments, about 15-25 min, 980 credits" in _err_lines(r.err)
    assert [b["input"]["duration"] for b in fake.created] == [14] * 5
    assert probe(workdir / "long.mp4").frames == 5 * 14 * FPS - 4


async def test_an_interrupted_chain_is_resumed_with_its_segments(workdir, fake):
    fake.plan = TaskPlan(waiting=0.1, queuing=0.1, duration=3)  # segment 1 still generating
    r = await _render(
        workdir,
        SEED,
        "25",
        "--model",
        KLING_MODEL,
        "--out",
        "later.mp4",
        fake=fake,
        interrupt_on=fake.task_created,
    )
    assert r.code == 130
    line = next(x for x in r.err.splitlines() if x.startswith("interrupted:"))
    assert "segment 1 of 2" in line and "storyboard-bot resume" in line
    job_id = line.split("resume ")[1].split("`")[0]

    fake.plan = TaskPlan(waiting=0.1, queuing=0.1, duration=0.4)
    r = await run_cli(workdir, "resume", f"{job_id}-1", fake=fake)
    assert r.code == 2
    assert f"`storyboard-bot resume {job_id}` resumes the chain" in r.err

    r = await run_cli(workdir, "resume", job_id, fake=fake)
    assert r.code == 0, r.err
    assert r.out.strip() == str(workdir / "later.mp4")
    # Segment 1 was picked up at kie.ai, not sent again; segment 2 was made after it.
    assert len(fake.created) == len(fake.create_attempts) == 2
    assert probe(workdir / "later.mp4").frames == 13 * FPS * 2 - 1
