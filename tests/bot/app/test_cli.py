"""``storyboard-bot`` end to end, as a subprocess, against the fake kie.ai."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.db.migrations import LATEST
from tests.fakes.fakekie import KLING_MODEL, SORA_MODEL, FakeKie, TaskPlan
from tests.helpers import free_port, png_bytes

CONFIG = """
[tracker]
poll_min_seconds = 0.2

[kie]
backoff_base = 0.01
maintenance_backoff = 0.01
# the fake serves results over http from 127.0.0.1
insecure_result_hosts = ["127.0.0.1"]
"""


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
async def live_fake() -> AsyncIterator[FakeKie]:
    async with FakeKie() as server:  # real time
        server.plan = TaskPlan(waiting=0.1, queuing=0.1, duration=0.4)
        yield server


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "config.toml").write_text(CONFIG)
    (tmp_path / "fast.toml").write_text(CONFIG + "max_retries = 1\ncli_unreachable_seconds = 2\n")
    (tmp_path / "ref.png").write_bytes(png_bytes(640, 360))
    (tmp_path / "tall.jpg").write_bytes(png_bytes(360, 640, fmt="JPEG"))
    return tmp_path


def _env(fake: FakeKie | None, workdir: Path, **extra: str | None) -> dict[str, str]:
    """The environment of a run; a variable given as None is left out."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("KIE_", "STORYBOARD_", "DISCORD_"))
    }
    env.update(
        {
            "KIE_API_KEY": "test-key",
            "KIE_BASE_URL": fake.url if fake else "http://127.0.0.1:9",
            "KIE_UPLOAD_URL": fake.url if fake else "http://127.0.0.1:9",
            "STORYBOARD_DB": str(workdir / "cli.db"),
            "STORYBOARD_MEDIA_DIR": str(workdir / "media"),
        }
    )
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


async def run_cli(
    workdir: Path,
    *args: str,
    fake: FakeKie | None = None,
    interrupt_on: asyncio.Event | None = None,
    **env: str | None,
) -> Result:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=workdir,
        env=_env(fake, workdir, **env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    if interrupt_on is not None:
        # Ctrl-C once it happened (e.g. kie.ai has the task), not after a guessed delay.
        await asyncio.wait_for(interrupt_on.wait(), 30)
        proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return Result(proc.returncode, out.decode(), err.decode())


SHOTS = ["--shot", "7.5 | A kitten with headphones", "--shot", "7.5秒｜同一只小猫舔着嘴唇"]


async def test_render_writes_the_video(workdir, live_fake):
    r = await run_cli(
        workdir, "render", "--image", "ref.png", *SHOTS, "--out", "v.mp4", fake=live_fake
    )
    assert r.code == 0, r.err
    assert r.out.strip() == "v.mp4"
    assert (workdir / "v.mp4").read_bytes() == live_fake.expected_result()
    assert "generating" in r.err  # progress on stderr
    body = live_fake.created[0]
    assert body["model"] == SORA_MODEL
    assert body["input"]["shots"] == [
        {"Scene": "A kitten with headphones", "duration": 7.5},
        {"Scene": "同一只小猫舔着嘴唇", "duration": 7.5},
    ]
    assert body["input"]["n_frames"] == "15"
    assert body["input"]["aspect_ratio"] == "landscape"
    assert body["input"]["image_urls"] == [live_fake.uploads[0]["downloadUrl"]]


async def test_render_aspect_follows_the_image_and_automatic_shots_share(workdir, live_fake):
    r = await run_cli(
        workdir,
        "render",
        "--image",
        "tall.jpg",
        "--shot",
        "4 | first",
        "--shot",
        "second",
        "--shot",
        "third",
        "--length",
        "10",
        fake=live_fake,
    )
    assert r.code == 0, r.err
    inp = live_fake.created[0]["input"]
    assert inp["aspect_ratio"] == "portrait"
    assert [s["duration"] for s in inp["shots"]] == [4, 3, 3]
    assert Path(workdir / r.out.strip()).is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shot", "20 | too long"], "Shot 1 lasts 20 s; a shot lasts 0.1 to 15 s."),
        (["--shot", "9 | a", "--shot", "9 | b"], "The shots add up to 18 s, more than the 15 s"),
        (["--shot", "7,5 | a"], '"7,5" is not a duration'),
        (["--shot", "a", "--length", "20"], "20 s is not available"),
        (["--shot", "x" * 351], "351 characters; the limit is 350"),
        (["--shot", "15 | a", "--shot", "b"], "leaving 0 s for 1 shot without a duration"),
    ],
)
async def test_invalid_input_exits_2_before_any_network_call(workdir, live_fake, args, message):
    r = await run_cli(workdir, "render", "--image", "ref.png", *args, fake=live_fake)
    assert r.code == 2
    assert message in r.err
    assert len(r.err.strip().splitlines()) == 1
    assert "Traceback" not in r.err
    assert sum(live_fake.calls.values()) == 0


async def test_not_an_image_exits_2(workdir, live_fake):
    (workdir / "notes.png").write_text("this is text, whatever the name says")
    r = await run_cli(workdir, "render", "--image", "notes.png", "--shot", "a", fake=live_fake)
    assert r.code == 2 and "not an image" in r.err
    assert sum(live_fake.calls.values()) == 0


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("nope.png", "error: nope.png: no such file"),
        (".", "error: . is a directory, not an image"),
        ("ftp://example.com/a.png", "error: Only http(s) image links are accepted."),
    ],
)
async def test_an_image_that_cannot_be_read_is_one_line(workdir, live_fake, image, message):
    r = await run_cli(workdir, "render", "--image", image, "--shot", "a", fake=live_fake)
    assert r.code == 2
    assert r.err.strip().splitlines() == [message]
    assert sum(live_fake.calls.values()) == 0


async def test_configuration_error_exits_3_without_leaking_secrets(workdir):
    r = await run_cli(
        workdir, "render", "--image", "ref.png", "--shot", "a", STORYBOARD_HTTP_PORT="not-a-port"
    )
    assert r.code == 3
    assert r.err.strip().splitlines() == [
        "configuration error: environment STORYBOARD_HTTP_PORT: Input should be a valid "
        "integer, unable to parse string as an integer"
    ]
    env = _env(None, workdir)
    del env["KIE_API_KEY"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "render",
        "--image",
        "ref.png",
        "--shot",
        "a",
        cwd=workdir,
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    assert proc.returncode == 3
    assert "KIE_API_KEY (kie.api_key) is not set" in err.decode()


async def test_failed_generation_exits_1_with_failmsg(workdir, live_fake):
    live_fake.plan = TaskPlan(duration=0.3, outcome="fail", fail_msg="guardrails said no")
    r = await run_cli(workdir, "render", "--image", "ref.png", "--shot", "a", fake=live_fake)
    assert r.code == 1
    # The command line is the operator's: kie.ai's own words, with its failCode.
    assert r.err.strip().endswith("error: guardrails said no (failCode 500)")


async def test_refused_by_kie_exits_1(workdir, live_fake):
    live_fake.fail_next("createTask", code=402, msg="Credits insufficient")
    r = await run_cli(workdir, "render", "--image", "ref.png", "--shot", "a", fake=live_fake)
    assert r.code == 1
    assert "out of credits" in r.err
    assert "test-key" not in r.err


async def test_kie_maintenance_is_waited_out_and_said_then_the_video_is_made(workdir, live_fake):
    live_fake.fail_next("createTask", code=455, msg="Service Unavailable", times=2)
    r = await run_cli(
        workdir, "render", "--image", "ref.png", *SHOTS, "--out", "v.mp4", fake=live_fake
    )
    assert r.code == 0, r.err
    assert r.err.count("kie.ai is under maintenance; nothing was made; sending again at") == 2
    assert len(live_fake.create_attempts) == 3 and len(live_fake.created) == 1
    assert (workdir / "v.mp4").read_bytes() == live_fake.expected_result()


async def test_unknown_create_outcome_exits_4_and_is_not_resubmitted(workdir, live_fake):
    live_fake.fail_after_create(http_status=500)
    r = await run_cli(workdir, "render", "--image", "ref.png", "--shot", "a", fake=live_fake)
    assert r.code == 4
    assert "may or may not have been accepted" in r.err
    assert len(live_fake.create_attempts) == 1


async def test_ctrl_c_exits_130_and_resume_finishes(workdir, live_fake):
    live_fake.plan = TaskPlan(duration=3)  # still generating when interrupted
    r = await run_cli(
        workdir,
        "render",
        "--image",
        "ref.png",
        "--shot",
        "a",
        fake=live_fake,
        interrupt_on=live_fake.task_created,
    )
    assert r.code == 130
    line = next(x for x in r.err.splitlines() if x.startswith("interrupted:"))
    assert "storyboard-bot resume" in line and live_fake.last_task.task_id in line
    job_id = line.split("resume ")[1].split("`")[0]

    r2 = await run_cli(workdir, "resume", job_id, "--out", "later.mp4", fake=live_fake)
    assert r2.code == 0, r2.err
    assert (workdir / "later.mp4").read_bytes() == live_fake.expected_result()
    assert len(live_fake.created) == 1


async def test_kling_as_the_configured_model(workdir, live_fake):
    r = await run_cli(
        workdir, "render", "--image", "ref.png", *SHOTS, fake=live_fake, KIE_MODEL=KLING_MODEL
    )
    assert r.code == 0, r.err
    body = live_fake.created[0]
    assert body["model"] == KLING_MODEL
    assert body["input"]["multi_prompt"] == [
        {"prompt": "A kitten with headphones", "duration": 8},
        {"prompt": "同一只小猫舔着嘴唇", "duration": 7},
    ]
    assert body["input"]["duration"] == 15 and body["input"]["customize_multi_shots"] is True
    assert [b["model"] for b in live_fake.create_attempts] == [KLING_MODEL]


async def test_default_settings_fall_back_to_kling_when_sora_is_paused(workdir, live_fake):
    live_fake.pause_model(SORA_MODEL)
    r = await run_cli(workdir, "render", "--image", "ref.png", *SHOTS, fake=live_fake)
    assert r.code == 0, r.err
    assert f"{SORA_MODEL} is unavailable at kie.ai; using {KLING_MODEL} instead" in r.err
    assert [b["model"] for b in live_fake.create_attempts] == [SORA_MODEL, KLING_MODEL]


@pytest.mark.parametrize("status", [422, 404])
async def test_a_default_install_renders_through_kling_when_sora_is_not_supported(
    workdir, live_fake, status
):
    # Live kie.ai after Sora's shutdown: "The model name you specified is not supported".
    live_fake.remove_model(SORA_MODEL, status=status)
    r = await run_cli(
        workdir, "render", "--image", "ref.png", *SHOTS, "--out", "v.mp4", fake=live_fake
    )
    assert r.code == 0, r.err
    assert (workdir / "v.mp4").read_bytes() == live_fake.expected_result()
    assert f"{SORA_MODEL} is unavailable at kie.ai; using {KLING_MODEL} instead" in r.err
    assert [b["model"] for b in live_fake.create_attempts] == [SORA_MODEL, KLING_MODEL]
    assert len(live_fake.created) == 1


async def test_a_validation_error_ends_in_seconds_naming_the_field(workdir, live_fake):
    live_fake.fail_next("createTask", code=500, msg="aspect_ratio is required")
    started = asyncio.get_running_loop().time()
    r = await run_cli(workdir, "render", "--image", "ref.png", "--shot", "a", fake=live_fake)
    assert r.code == 1
    assert r.err.strip().splitlines()[-1] == (
        "error: kie.ai refused the request as invalid: aspect_ratio is required "
        "(field: aspect_ratio)"
    )
    assert asyncio.get_running_loop().time() - started < 15
    assert live_fake.created == [] and len(live_fake.create_attempts) == 1


async def test_an_unreachable_upload_host_gives_up_in_bounded_time_naming_it(workdir, live_fake):
    port = free_port()
    started = asyncio.get_running_loop().time()
    r = await run_cli(
        workdir,
        "render",
        "--image",
        "ref.png",
        "--shot",
        "a",
        fake=live_fake,
        KIE_UPLOAD_URL=f"http://127.0.0.1:{port}",
        STORYBOARD_CONFIG=str(workdir / "fast.toml"),
    )
    elapsed = asyncio.get_running_loop().time() - started
    assert r.code == 1, r.err
    last = r.err.strip().splitlines()[-1]
    assert last.startswith(f"error: cannot reach kie.ai at 127.0.0.1:{port} (KIE_UPLOAD_URL)")
    assert "nothing was sent or charged" in last
    assert f"cannot reach kie.ai at 127.0.0.1:{port} (KIE_UPLOAD_URL); retrying until" in r.err
    assert "Traceback" not in r.err
    assert elapsed < 20  # the bound is 2 s here; a minute by default
    assert live_fake.create_attempts == []


async def test_paused_without_fallback_exits_1_and_explains(workdir, live_fake):
    live_fake.pause_model(SORA_MODEL)
    r = await run_cli(
        workdir,
        "render",
        "--image",
        "ref.png",
        "--shot",
        "a",
        fake=live_fake,
        KIE_FALLBACK_MODEL="",
    )
    assert r.code == 1
    assert "paused" in r.err and "KIE_FALLBACK_MODEL" in r.err


async def test_model_flag_refuses_storyboard_beyond_kling_limits(workdir, live_fake):
    # 7 shots are two Kling segments; one is all --max-segments allows.
    shots = [a for i in range(7) for a in ("--shot", f"1 | shot {i}")]
    r = await run_cli(
        workdir,
        "render",
        "--image",
        "ref.png",
        *shots,
        "--model",
        KLING_MODEL,
        "--max-segments",
        "1",
        fake=live_fake,
    )
    assert r.code == 2
    assert r.err.strip().splitlines() == [
        "error: These 7 shots (7 s) need 2 segments on Kling 3.0 Omni (at most 6 shots and "
        "15 s each); at most 1 are allowed. Shorten the shots or remove some."
    ]
    assert sum(live_fake.calls.values()) == 0


async def test_doctor_reports_a_checklist(workdir, live_fake):
    # Discord's API is pointed at the fake too (which does not know /users/@me).
    (workdir / "doctor.toml").write_text(f'[discord]\napi_base = "{live_fake.url}"\n')
    r = await run_cli(
        workdir,
        "--config",
        "doctor.toml",
        "doctor",
        fake=live_fake,
        DISCORD_TOKEN="not-a-real-token",
    )
    lines = r.out.splitlines()
    assert "[ok]   kie.ai key: 1000 credits left" in lines
    assert any(
        x.startswith("[warn] sora-2-pro-storyboard: OpenAI shut the Sora 2 API") for x in lines
    )
    assert any(x.startswith("[ok]   fallback model: kling-3.0-omni/image-to-video") for x in lines)
    assert any(x.startswith("[ok]   database:") for x in lines)
    # No Discord here: the token check fails plainly, and the token is never printed.
    assert any(x.startswith("[FAIL] Discord") for x in lines)
    assert "not-a-real-token" not in r.out + r.err
    assert r.code == 1


# -- version, backup, jobs, remembered --out, logging ----------------------------------------
async def test_version(workdir):
    r = await run_cli(workdir, "--version")
    assert r.code == 0
    name, version = r.out.split()
    assert name == "storyboard-bot" and version[0].isdigit()


def _ids(path: Path) -> set[str]:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {row[0] for row in db.execute("SELECT id FROM jobs")}
    finally:
        db.close()


async def test_backup_copies_the_database_and_prints_one_line(workdir, live_fake):
    r = await run_cli(workdir, "backup", "copy.db")
    assert r.code == 2
    assert r.err.strip() == f"error: no database at {workdir / 'cli.db'} (STORYBOARD_DB)"
    assert not (workdir / "cli.db").exists()  # backup never creates the database

    r = await run_cli(workdir, "render", "--image", "ref.png", "--shot", "a", fake=live_fake)
    assert r.code == 0, r.err
    r = await run_cli(workdir, "backup", "copy.db")
    assert r.code == 0, r.err
    size = (workdir / "copy.db").stat().st_size
    assert r.out.splitlines() == [f"copy.db: {size} bytes, 1 jobs, schema v{LATEST}, integrity ok"]
    assert (
        _ids(workdir / "copy.db") == _ids(workdir / "cli.db") and len(_ids(workdir / "cli.db")) == 1
    )

    (workdir / "backups").mkdir()
    r = await run_cli(workdir, "backup", "backups")
    assert r.code == 0, r.err
    [made] = (workdir / "backups").iterdir()
    assert r.out.startswith(f"{Path('backups') / made.name}: ")

    r = await run_cli(workdir, "backup", "cli.db")
    assert r.code == 2 and "is the database itself" in r.err
    r = await run_cli(workdir, "backup", "nowhere/copy.db")
    assert r.code == 2 and "nowhere is not a directory" in r.err


async def test_jobs_lists_newest_first_and_resume_remembers_render_out(workdir, live_fake):
    r = await run_cli(workdir, "jobs")
    assert r.code == 2 and "no database at" in r.err

    r = await run_cli(
        workdir, "render", "--image", "ref.png", "--shot", "a", "--out", "first.mp4", fake=live_fake
    )
    assert r.code == 0, r.err
    # Interrupted with --out: resume, without --out, writes the video there.
    live_fake.plan = TaskPlan(duration=3)
    live_fake.task_created.clear()  # set by the first render
    r = await run_cli(
        workdir,
        "render",
        "--image",
        "ref.png",
        "--shot",
        "b",
        "--out",
        "second.mp4",
        fake=live_fake,
        interrupt_on=live_fake.task_created,
    )
    assert r.code == 130
    line = next(x for x in r.err.splitlines() if x.startswith("interrupted:"))
    job_id = line.split("resume ")[1].split("`")[0]

    r = await run_cli(workdir, "jobs")
    assert r.code == 0, r.err
    header, newest, oldest = r.out.splitlines()
    assert header.split() == ["ID", "STATE", "MODEL", "CREDITS", "AGE", "OUTPUT"]
    cells = newest.split()
    assert cells[0] == job_id and cells[1] in ("queued", "submitting", "running")
    assert cells[2] == SORA_MODEL and cells[3] == "270"
    assert cells[4].endswith("s") and cells[5] == str(workdir / "second.mp4")
    assert oldest.split()[1] == "delivered" and oldest.split()[5] == str(workdir / "first.mp4")

    r = await run_cli(workdir, "jobs", "--limit", "1")
    assert [x.split()[0] for x in r.out.splitlines()] == ["ID", job_id]
    r = await run_cli(workdir, "jobs", "--limit", "0")
    assert r.code == 2

    r = await run_cli(workdir, "resume", job_id, fake=live_fake)
    assert r.code == 0, r.err
    assert r.out.strip() == str(workdir / "second.mp4")
    assert (workdir / "second.mp4").read_bytes() == live_fake.expected_result()
    assert not list(workdir.glob("storyboard-*.mp4"))


async def test_verbose_logs_are_dated_and_free_of_aiosqlite(workdir, live_fake):
    r = await run_cli(workdir, "-v", "render", "--image", "ref.png", "--shot", "a", fake=live_fake)
    assert r.code == 0, r.err
    logged = [x for x in r.err.splitlines() if re.match(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", x)]
    assert any(" DEBUG " in x for x in logged)
    assert not any("aiosqlite" in x or " PIL" in x for x in r.err.splitlines())
    assert "test-key" not in r.err


async def test_json_logs_are_one_object_a_line(workdir, live_fake):
    r = await run_cli(
        workdir,
        "--log-format",
        "json",
        "--log-level",
        "DEBUG",
        "render",
        "--image",
        "ref.png",
        "--shot",
        "a",
        fake=live_fake,
    )
    assert r.code == 0, r.err
    entries = [json.loads(x) for x in r.err.splitlines() if x.startswith("{")]
    assert entries and all(set(e) >= {"time", "level", "logger", "message"} for e in entries)
    assert "test-key" not in r.err

    r = await run_cli(workdir, "jobs", STORYBOARD_LOG_FORMAT="yaml")
    assert r.code == 3
    assert r.err.strip() == (
        "configuration error: environment STORYBOARD_LOG_FORMAT: Input should be 'text' or 'json'"
    )
    r = await run_cli(workdir, "--log-level", "loud", "jobs")
    assert r.code == 2


# -- configuration ---------------------------------------------------------------------------
async def test_the_common_options_work_after_the_command_too(workdir, live_fake):
    # A config that makes the fake's key wrong: only the file named after `render` sets it.
    (workdir / "other.toml").write_text(CONFIG + 'api_key = "from-other-toml"\n')
    r = await run_cli(
        workdir,
        "render",
        "--config",
        "other.toml",
        "--image",
        "ref.png",
        "--shot",
        "a",
        "--log-format",
        "json",
        "-v",
        fake=live_fake,
        KIE_API_KEY=None,
    )
    assert r.code == 1, r.err  # kie.ai refused the key of other.toml: the file was read
    entries = [json.loads(x) for x in r.err.splitlines() if x.startswith("{")]
    assert any(e["level"] == "DEBUG" for e in entries)
    # After the command wins over before it.
    r = await run_cli(workdir, "--config", "missing.toml", "jobs", "--config", "config.toml")
    assert r.code == 0, r.err
    r = await run_cli(workdir, "--config", "config.toml", "jobs", "--config", "missing.toml")
    assert r.code == 3
    assert r.err.strip() == "configuration error: config file missing.toml does not exist"


async def test_every_bad_setting_is_one_line_naming_its_source(workdir):
    secret = "sk-PASTED-IN-THE-WRONG-PLACE-42"
    (workdir / "bad.toml").write_text(
        f'[kie]\nrequest_timeout = 0\nmodel = "  "\n[http]\nport = "{secret}"\n'
    )
    r = await run_cli(
        workdir,
        "jobs",
        "--config",
        "bad.toml",
        KIE_BASE_URL=secret,
        KIE_API_KEY_FILE=str(workdir / "no-such-secret"),
    )
    assert r.code == 3
    assert r.err.strip().splitlines() == [
        f"configuration error: KIE_API_KEY_FILE ({workdir / 'no-such-secret'}): no such file",
        "configuration error: environment KIE_BASE_URL: Input should be a valid URL, relative "
        "URL without a base",
        "configuration error: bad.toml: [kie] model: must name a model",
        "configuration error: bad.toml: [kie] request_timeout: Input should be greater than 0",
        "configuration error: bad.toml: [http] port: Input should be a valid integer, unable to "
        "parse string as an integer",
    ]
    assert secret not in r.out + r.err


async def test_the_key_from_a_secret_file(workdir, live_fake):
    (workdir / "kie_api_key").write_text("test-key\n")
    r = await run_cli(
        workdir,
        "render",
        "--image",
        "ref.png",
        "--shot",
        "a",
        "--out",
        "v.mp4",
        fake=live_fake,
        KIE_API_KEY=None,
        KIE_API_KEY_FILE=str(workdir / "kie_api_key"),
    )
    assert r.code == 0, r.err
    assert (workdir / "v.mp4").read_bytes() == live_fake.expected_result()


async def test_a_database_at_the_old_default_is_kept_and_the_log_says_how_to_move_it(
    workdir, live_fake
):
    # An install from before the data directory: its database in the working directory.
    r = await run_cli(
        workdir,
        "render",
        "--image",
        "ref.png",
        "--shot",
        "a",
        fake=live_fake,
        STORYBOARD_DB=str(workdir / "storyboard.db"),
        STORYBOARD_MEDIA_DIR=str(workdir / "media"),
    )
    assert r.code == 0, r.err
    r = await run_cli(workdir, "jobs", STORYBOARD_DB=None, STORYBOARD_MEDIA_DIR=None)
    assert r.code == 0, r.err
    assert len(r.out.splitlines()) == 2  # the header and the job made above
    [warning] = [x for x in r.err.splitlines() if " WARNING " in x]
    assert "bot.config.settings: storyboard.db and media are in the working directory" in warning
    assert "mkdir -p data && mv storyboard.db* media data/" in warning
    assert not (workdir / "data").exists()
    # Moved as it says: quiet, and the same jobs.
    (workdir / "data").mkdir()
    for f in [*workdir.glob("storyboard.db*"), workdir / "media"]:
        f.rename(workdir / "data" / f.name)
    r2 = await run_cli(workdir, "jobs", STORYBOARD_DB=None, STORYBOARD_MEDIA_DIR=None)
    assert (r2.code, r2.err) == (0, "")
    assert [x.split()[0] for x in r2.out.splitlines()] == [x.split()[0] for x in r.out.splitlines()]


async def test_resume_refuses_a_job_the_discord_bot_follows(workdir, live_fake):
    import sqlite3

    r = await run_cli(workdir, "render", "--image", "ref.png", "--shot", "a", fake=live_fake)
    assert r.code == 0, r.err
    with sqlite3.connect(workdir / "cli.db") as db:
        [(job_id,)] = db.execute("SELECT id FROM jobs").fetchall()
        db.execute("UPDATE jobs SET origin = 'discord'")
    r = await run_cli(workdir, "resume", job_id, fake=live_fake)
    assert r.code == 2
    assert "belongs to the Discord bot" in r.err
    assert len(live_fake.created) == 1


async def test_a_busy_port_is_one_line_not_a_traceback(workdir, live_fake):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = await run_cli(
            workdir,
            "render",
            "--image",
            "ref.png",
            "--shot",
            "a",
            fake=live_fake,
            STORYBOARD_PUBLIC_URL=f"http://127.0.0.1:{port}",
            STORYBOARD_HTTP_PORT=str(port),
        )
    assert r.code == 3
    assert "Traceback" not in r.err
    assert f"cannot listen on 127.0.0.1:{port}" in r.err.strip().splitlines()[-1]
    assert live_fake.create_attempts == []


async def test_render_help_lists_lengths_aspects_models_and_defaults(workdir):
    r = await run_cli(workdir, "render", "--help")
    assert r.code == 0
    text = " ".join(r.out.split())
    for words in (
        "default 15",
        "10, 15 or 25 s",
        "landscape or portrait (default: like the image",
        "sora-2-pro-storyboard, kling-3.0-omni/image-to-video",
        "KIE_FALLBACK_MODEL",
    ):
        assert words in text, words
