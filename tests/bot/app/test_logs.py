"""Log lines: date and time on each, the level and format settings, quiet libraries, and the
secret filter in both formats."""

from __future__ import annotations

import io
import json
import logging
import re
import typing
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import aiosqlite
import pytest

from bot.app.logs import FORMATS, LEVELS, REDACTED, choose_logging, setup_logging
from bot.config.settings import ConfigError, LogLevel, LogSettings, Settings, load_settings
from tests.helpers import make_settings

API_KEY = "kie-secret-api-key-0123456789"
TOKEN = "MTAxMDEw.discord-token.abcdefghijklmnop"
HMAC = 'hmac-key-with-"quotes"-and-\\backslash'
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2} ")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    others = {n: logging.getLogger(n).level for n in ("aiosqlite", "PIL", "discord")}
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    for name, lvl in others.items():
        logging.getLogger(name).setLevel(lvl)


@pytest.fixture
def secret_settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path,
        "http://127.0.0.1:9",
        kie={"api_key": API_KEY, "webhook_hmac_key": HMAC},
        discord={"token": TOKEN},
    )


def capture(settings: Settings | None, fmt: str, level: int = logging.DEBUG) -> io.StringIO:
    stream = io.StringIO()
    setup_logging(settings, level=level, fmt=fmt, stream=stream)
    return stream


def leak_everything(log: logging.Logger) -> None:
    """Secrets in every place a record carries text."""
    log.info("key %s and token %s", API_KEY, TOKEN)
    log.warning(f"inline {TOKEN} / {HMAC}")
    try:
        raise RuntimeError(f"request failed with Authorization: Bot {TOKEN} key={API_KEY}")
    except RuntimeError:
        log.exception("the call failed")
    log.error("with a stack, %s", API_KEY, stack_info=True)


def test_text_lines_carry_date_time_and_offset(secret_settings):
    stream = capture(secret_settings, "text")
    logging.getLogger("bot.tracker").info("job %s submitted", "abc")
    [line] = stream.getvalue().splitlines()
    assert ISO.match(line), line
    stamp = line.split(" ", 1)[0]
    assert abs((datetime.fromisoformat(stamp) - datetime.now().astimezone()).total_seconds()) < 60
    assert line.endswith(" INFO    bot.tracker: job abc submitted")


def test_json_lines_are_one_object_each(secret_settings):
    stream = capture(secret_settings, "json")
    log = logging.getLogger("bot.web.server")
    log.info("callback for job %s", "j1")
    log.warning("second\nline with ünïcode")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(x) for x in lines)
    assert set(first) == {"time", "level", "logger", "message"}
    assert (first["level"], first["logger"], first["message"]) == (
        "INFO",
        "bot.web.server",
        "callback for job j1",
    )
    assert datetime.fromisoformat(first["time"]).tzinfo is not None
    assert second["message"] == "second\nline with ünïcode"


def test_json_carries_the_traceback(secret_settings):
    stream = capture(secret_settings, "json")
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        logging.getLogger("bot").exception("boom")
    [entry] = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert entry["message"] == "boom" and entry["level"] == "ERROR"
    assert "ZeroDivisionError" in entry["exception"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_never_reach_either_format(secret_settings, fmt):
    stream = capture(secret_settings, fmt)
    leak_everything(logging.getLogger("bot.kie"))
    out = stream.getvalue()
    for secret in (API_KEY, TOKEN, HMAC):
        assert secret not in out
    # json.dumps would escape the quotes and backslash: not there in that form either.
    assert json.dumps(HMAC)[1:-1] not in out
    assert out.count(REDACTED) >= 7
    assert "RuntimeError: request failed with Authorization: Bot [redacted] key=[redacted]" in (
        out
        if fmt == "text"
        else "".join(json.loads(x).get("exception", "") for x in out.splitlines())
    )
    if fmt == "json":
        entries = [json.loads(x) for x in out.splitlines()]
        assert [e["level"] for e in entries] == ["INFO", "WARNING", "ERROR", "ERROR"]
        assert entries[0]["message"] == f"key {REDACTED} and token {REDACTED}"
        assert "stack" in entries[3]


def _exceptions(fmt: str, out: str) -> str:
    if fmt == "text":
        return out
    return "".join(json.loads(x).get("exception", "") for x in out.splitlines())


class KieDown(Exception):
    pass


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_in_exceptions_are_blanked_wherever_they_are(secret_settings, fmt):
    stream = capture(secret_settings, fmt)
    log = logging.getLogger("bot.kie")
    try:
        try:
            raise KieDown(f"401 for key {API_KEY}")
        except KieDown as inner:
            raise RuntimeError(f"upload refused (token {TOKEN})") from inner
    except RuntimeError as exc:
        log.warning("call failed: %s", exc)  # the exception's text as an argument
        log.error("call failed", exc_info=exc)  # the exception itself, its cause chained
        log.warning("mapping: %(why)s", {"why": exc})  # a mapping argument
    out = stream.getvalue()
    assert API_KEY not in out and TOKEN not in out
    tracebacks = _exceptions(fmt, out)
    assert f"KieDown: 401 for key {REDACTED}" in tracebacks
    assert f"RuntimeError: upload refused (token {REDACTED})" in tracebacks
    assert "The above exception was the direct cause" in tracebacks
    if fmt == "json":
        messages = [json.loads(x)["message"] for x in out.splitlines()]
        assert messages == [
            f"call failed: upload refused (token {REDACTED})",
            "call failed",
            f"mapping: upload refused (token {REDACTED})",
        ]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_in_extra_fields_never_reach_a_formatter(secret_settings, fmt):
    stream = capture(secret_settings, fmt)
    log = logging.getLogger("bot.kie")
    extra = {"header": f"Bearer {API_KEY}", "body": {"token": TOKEN}, "job": "abc", "tries": 3}
    log.info("request sent", extra=extra)
    assert API_KEY not in stream.getvalue() and TOKEN not in stream.getvalue()
    # A formatter that prints the extra fields (a log shipper's, say) sees them blanked too;
    # the fields without a secret are left as they are.
    handler = setup_logging(secret_settings, level=logging.INFO, fmt=fmt, stream=stream)
    handler.setFormatter(logging.Formatter("%(message)s|%(header)s|%(body)s|%(job)s|%(tries)d"))
    log.info("request sent", extra=extra)
    last = stream.getvalue().splitlines()[-1]
    assert last == f"request sent|Bearer {REDACTED}|{{'token': '{REDACTED}'}}|abc|3"


def test_short_or_empty_secrets_blank_nothing(tmp_path):
    settings = make_settings(tmp_path, "http://127.0.0.1:9", kie={"api_key": "abc"})
    stream = capture(settings, "text")
    logging.getLogger("bot").info("abc is not worth hiding: it would blank every 'abc'")
    assert "abc is not worth hiding: it would blank every 'abc'" in stream.getvalue()
    assert REDACTED not in stream.getvalue()


def test_without_settings_nothing_is_filtered_but_lines_still_format():
    stream = capture(None, "json")
    logging.getLogger("x").info("plain")
    assert json.loads(stream.getvalue())["message"] == "plain"


async def test_aiosqlite_and_pil_stay_quiet_at_debug(tmp_path, secret_settings):
    stream = capture(secret_settings, "text", level=logging.DEBUG)
    logging.getLogger("bot.jobs.store").debug("ours")
    async with aiosqlite.connect(tmp_path / "x.db") as db:
        await db.execute("CREATE TABLE t (x)")
        await db.execute("INSERT INTO t VALUES (1)")
    from PIL import Image

    path = tmp_path / "x.png"
    Image.new("RGB", (8, 8)).save(path)
    Image.open(path).load()
    lines = stream.getvalue().splitlines()
    assert [x.split(None, 2)[2] for x in lines] == ["bot.jobs.store: ours"]
    logging.getLogger("aiosqlite").warning("a real problem")
    assert "aiosqlite: a real problem" in stream.getvalue()


@pytest.mark.parametrize(
    ("kwargs", "env", "expected"),
    [
        ({}, {}, (logging.INFO, "text")),
        ({"default_level": logging.WARNING}, {}, (logging.WARNING, "text")),
        ({}, {"STORYBOARD_LOG_LEVEL": "DEBUG"}, (logging.DEBUG, "text")),
        ({}, {"STORYBOARD_LOG_FORMAT": "JSON"}, (logging.INFO, "json")),
        ({"verbose": True}, {"STORYBOARD_LOG_LEVEL": "error"}, (logging.DEBUG, "text")),
        ({"level": "warning", "verbose": True}, {}, (logging.WARNING, "text")),
        (
            {"level": "error", "fmt": "text"},
            {"STORYBOARD_LOG_FORMAT": "json"},
            (logging.ERROR, "text"),
        ),
        ({}, {"STORYBOARD_LOG_LEVEL": " ", "STORYBOARD_LOG_FORMAT": ""}, (logging.INFO, "text")),
    ],
)
def test_the_command_line_wins_over_the_environment(kwargs, env, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./config.toml or ./.env of the checkout
    # The [log] settings come from the environment (or the config file, below).
    assert choose_logging(load_settings(environ=env).log, **kwargs) == expected
    lines = [f'{k.removeprefix("STORYBOARD_LOG_").lower()} = "{v}"' for k, v in env.items()]
    (tmp_path / "config.toml").write_text("[log]\n" + "\n".join(lines) + "\n")
    assert choose_logging(load_settings(tmp_path / "config.toml", environ={}).log, **kwargs) == (
        expected
    )


def test_without_settings_the_defaults_apply():
    assert choose_logging() == (logging.INFO, "text")
    assert choose_logging(None, default_level=logging.WARNING, fmt="json") == (
        logging.WARNING,
        "json",
    )


def test_the_settings_know_the_same_levels_and_formats():
    assert set(LEVELS) == set(typing.get_args(LogLevel))
    assert set(FORMATS) == set(typing.get_args(LogSettings.model_fields["format"].annotation))


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"STORYBOARD_LOG_LEVEL": "loud"}, "environment STORYBOARD_LOG_LEVEL"),
        ({"STORYBOARD_LOG_FORMAT": "xml"}, "environment STORYBOARD_LOG_FORMAT"),
    ],
)
def test_a_bad_environment_value_names_the_variable(env, name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=name) as info:
        load_settings(environ=env)
    assert next(iter(env.values())) not in str(info.value)
