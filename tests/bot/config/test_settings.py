"""bot.config.settings: the environment, secret files, a .env file, the TOML file and the
defaults, in that order; relative paths; the data directory; every bad setting named with
its source."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.config.names import ENV_NAMES, SECRET_FILE_NAMES
from bot.config.settings import ConfigError, Settings, load_settings

REPO = Path(__file__).resolve().parents[3]
SECRET = "sk-SUPERSECRET-0123456789"

# The names the product documents; they must keep working exactly so.
DOCUMENTED = {
    "DISCORD_TOKEN": "discord.token",
    "KIE_API_KEY": "kie.api_key",
    "KIE_BASE_URL": "kie.base_url",
    "KIE_UPLOAD_URL": "kie.upload_url",
    "KIE_WEBHOOK_HMAC_KEY": "kie.webhook_hmac_key",
    "KIE_MODEL": "kie.model",
    "KIE_FALLBACK_MODEL": "kie.fallback_model",
    "STORYBOARD_DATA_DIR": "storage.data_dir",
    "STORYBOARD_DB": "storage.db",
    "STORYBOARD_MEDIA_DIR": "storage.media_dir",
    "STORYBOARD_PUBLIC_URL": "http.public_url",
    "STORYBOARD_HTTP_HOST": "http.host",
    "STORYBOARD_HTTP_PORT": "http.port",
    "STORYBOARD_LOG_LEVEL": "log.level",
    "STORYBOARD_LOG_FORMAT": "log.format",
}
PATHS = {"storage.data_dir", "storage.db", "storage.media_dir"}


def write(tmp_path: Path, text: str, name: str = "settings.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def value(settings: Settings, dotted: str) -> Any:
    section, _, name = dotted.partition(".")
    raw = getattr(getattr(settings, section), name)
    if hasattr(raw, "get_secret_value"):
        return raw.get_secret_value()
    if raw is None or isinstance(raw, str | int):
        return raw
    return str(raw)


def config_errors(*args: Any, **kwargs: Any) -> list[str]:
    """The lines of the ConfigError that load_settings raises: one per problem."""
    with pytest.raises(ConfigError) as info:
        load_settings(*args, **kwargs)
    lines = str(info.value).split("\n")
    assert lines == info.value.lines
    assert all(line.strip() == line and line for line in lines), lines
    # No traceback chain for the user to see.
    assert info.value.__cause__ is None
    return lines


def config_error(*args: Any, **kwargs: Any) -> str:
    """The one line of the ConfigError that load_settings raises."""
    [line] = config_errors(*args, **kwargs)
    return line


@pytest.fixture(autouse=True)
def _no_config_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs in an empty directory, so a developer's ./config.toml never leaks in."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


# --------------------------------------------------------------------------- defaults


def test_defaults() -> None:
    s = load_settings(environ={})
    assert str(s.kie.base_url).rstrip("/") == "https://api.kie.ai"
    assert str(s.kie.upload_url).rstrip("/") == "https://kieai.redpandaai.co"
    assert s.storage.data_dir == Path("data")
    assert s.storage.db == Path("data/storyboard.db")
    assert s.storage.media_dir == Path("data/media")
    assert (s.log.level, s.log.format) == (None, "text")
    assert s.kie.model == "sora-2-pro-storyboard"
    assert s.kie.fallback_model == "kling-3.0-omni/image-to-video"
    assert s.kie.api_key is None
    assert s.discord.token is None
    assert s.kie.webhook_hmac_key is None
    assert s.http.public_url is None
    assert s.callbacks_enabled is False
    assert s.kling.resolution == "720p"
    assert s.kling.audio is False
    assert s.prices.sora_credits() == {10: 150, 15: 270, 25: 270}


def test_env_names_are_the_documented_ones() -> None:
    for env, path in DOCUMENTED.items():
        assert ENV_NAMES.get(env) == path, env
    assert SECRET_FILE_NAMES == {
        "DISCORD_TOKEN_FILE": "discord.token",
        "KIE_API_KEY_FILE": "kie.api_key",
        "KIE_WEBHOOK_HMAC_KEY_FILE": "kie.webhook_hmac_key",
    }


def test_every_secret_can_come_from_a_file() -> None:
    secrets = {
        f"{section}.{name}"
        for section, field in Settings.model_fields.items()
        for name, inner in field.annotation.model_fields.items()  # type: ignore[union-attr]
        if SecretStr in getattr(inner.annotation, "__args__", (inner.annotation,))
    }
    assert secrets == set(SECRET_FILE_NAMES.values())


def test_settings_built_directly_read_no_environment_or_file(
    monkeypatch: pytest.MonkeyPatch, _no_config_in_cwd: Path
) -> None:
    monkeypatch.setenv("KIE_API_KEY", SECRET)
    write(_no_config_in_cwd, "[http]\nport = 1\n", name="config.toml")
    write(_no_config_in_cwd, "DISCORD_TOKEN=x\n", name=".env")
    s = Settings(http={"port": 2})
    assert (s.kie.api_key, s.discord.token, s.http.port) == (None, None, 2)


# --------------------------------------------------------------------------- where the file is


def test_loads_an_explicit_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[kie]\napi_key = "file-key"\nmodel = "kling-3.0-omni/image-to-video"\n'
        '[http]\nport = 9000\npublic_url = "https://bot.example.com"\n'
        '[kling]\nresolution = "1080p"\naudio = true\n',
    )
    s = load_settings(path, environ={})
    assert s.kie.api_key is not None and s.kie.api_key.get_secret_value() == "file-key"
    assert s.kie.model == "kling-3.0-omni/image-to-video"
    assert s.http.port == 9000
    assert s.callbacks_enabled is True
    assert (s.kling.resolution, s.kling.audio) == ("1080p", True)


def test_storyboard_config_env_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[http]\nport = 9001\n")
    assert load_settings(environ={"STORYBOARD_CONFIG": str(path)}).http.port == 9001


def test_config_toml_in_the_working_directory(_no_config_in_cwd: Path) -> None:
    assert load_settings(environ={}).http.port == 8080
    write(_no_config_in_cwd, "[http]\nport = 9002\n", name="config.toml")
    assert load_settings(environ={}).http.port == 9002


def test_which_file_wins(tmp_path: Path, _no_config_in_cwd: Path) -> None:
    write(_no_config_in_cwd, "[http]\nport = 1\n", name="config.toml")
    env_file = write(tmp_path, "[http]\nport = 2\n", name="env.toml")
    explicit = write(tmp_path, "[http]\nport = 3\n", name="explicit.toml")
    environ = {"STORYBOARD_CONFIG": str(env_file)}
    assert load_settings(explicit, environ=environ).http.port == 3
    assert load_settings(environ=environ).http.port == 2
    assert load_settings(environ={}).http.port == 1


# --------------------------------------------------------------------------- environment on top

# env name -> (TOML line in its section, the file's value, the environment's value, expected)
OVERRIDES: list[tuple[str, str, Any, str, Any]] = [
    ("DISCORD_TOKEN", 'token = "file-token"', "file-token", "env-token", "env-token"),
    ("DISCORD_MESSAGE_CONTENT", "message_content = false", False, "true", True),
    ("KIE_API_KEY", 'api_key = "file-key"', "file-key", "env-key", "env-key"),
    (
        "KIE_BASE_URL",
        'base_url = "https://file.example.com"',
        "https://file.example.com/",
        "http://127.0.0.1:8123",
        "http://127.0.0.1:8123/",
    ),
    (
        "KIE_UPLOAD_URL",
        'upload_url = "https://upload-file.example.com"',
        "https://upload-file.example.com/",
        "http://127.0.0.1:8124",
        "http://127.0.0.1:8124/",
    ),
    ("KIE_WEBHOOK_HMAC_KEY", 'webhook_hmac_key = "file-hmac"', "file-hmac", "env-hmac", "env-hmac"),
    (
        "KIE_MODEL",
        'model = "kling-3.0-omni/image-to-video"',
        "kling-3.0-omni/image-to-video",
        "sora-2-pro-storyboard",
        "sora-2-pro-storyboard",
    ),
    (
        "KIE_FALLBACK_MODEL",
        'fallback_model = "sora-2-pro-storyboard"',
        "sora-2-pro-storyboard",
        "",
        "",
    ),
    (
        "STORYBOARD_DATA_DIR",
        'data_dir = "file-data"',
        "file-data",
        "/srv/env-data",
        "/srv/env-data",
    ),
    ("STORYBOARD_DB", 'db = "file.db"', "file.db", "/var/lib/bot/env.db", "/var/lib/bot/env.db"),
    ("STORYBOARD_MEDIA_DIR", 'media_dir = "file-media"', "file-media", "env-media", "env-media"),
    (
        "STORYBOARD_PUBLIC_URL",
        'public_url = "https://file.example.com"',
        "https://file.example.com/",
        "https://env.example.com/bot",
        "https://env.example.com/bot",
    ),
    ("STORYBOARD_HTTP_HOST", 'host = "10.0.0.1"', "10.0.0.1", "0.0.0.0", "0.0.0.0"),
    ("STORYBOARD_HTTP_PORT", "port = 9000", 9000, "9100", 9100),
    ("STORYBOARD_LOG_LEVEL", 'level = "error"', "error", "DEBUG", "debug"),
    ("STORYBOARD_LOG_FORMAT", 'format = "json"', "json", "text", "text"),
]


def test_every_env_name_is_covered() -> None:
    assert {row[0] for row in OVERRIDES} == set(ENV_NAMES)


@pytest.mark.parametrize(("env", "line", "from_file", "env_value", "expected"), OVERRIDES)
def test_environment_overrides_the_file(
    tmp_path: Path, env: str, line: str, from_file: Any, env_value: str, expected: Any
) -> None:
    dotted = ENV_NAMES[env]
    section = dotted.partition(".")[0]
    # Another setting of the same section in the file survives the override.
    other = {
        "discord": 'api_base = "https://discord.example.com/api"',
        "kie": "max_retries = 7",
        "storage": 'media_dir = "keep"' if env != "STORYBOARD_MEDIA_DIR" else 'db = "keep.db"',
        "http": "max_callback_bytes = 1234",
        "log": 'format = "json"' if env != "STORYBOARD_LOG_FORMAT" else 'level = "info"',
    }[section]
    path = write(tmp_path, f"[{section}]\n{line}\n{other}\n")
    if dotted in PATHS:  # relative to the file's folder
        from_file = str(tmp_path / from_file)

    from_toml = load_settings(path, environ={})
    assert value(from_toml, dotted) == from_file

    s = load_settings(path, environ={env: env_value})
    assert value(s, dotted) == expected
    assert value(s, dotted) != from_file
    kept = f"{section}.{other.partition(' = ')[0]}"
    assert value(s, kept) == value(from_toml, kept)

    # And without a file at all.
    assert value(load_settings(environ={env: env_value}), dotted) == expected


def test_empty_fallback_model_disables_the_fallback() -> None:
    from bot.models import ModelRegistry

    s = load_settings(environ={"KIE_FALLBACK_MODEL": ""})
    assert s.kie.fallback_model == ""
    assert ModelRegistry(s).fallback is None
    assert ModelRegistry(load_settings(environ={})).fallback is not None


def test_empty_public_url_means_polling() -> None:
    s = load_settings(environ={"STORYBOARD_PUBLIC_URL": ""})
    assert s.http.public_url is None
    assert s.callbacks_enabled is False


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("environ", "must_contain"),
    [
        ({"STORYBOARD_HTTP_PORT": "abc"}, ["environment STORYBOARD_HTTP_PORT: ", "integer"]),
        ({"STORYBOARD_HTTP_PORT": "70000"}, ["environment STORYBOARD_HTTP_PORT: ", "65535"]),
        ({"KIE_BASE_URL": "not a url"}, ["environment KIE_BASE_URL: ", "URL"]),
        ({"KIE_UPLOAD_URL": "ftp://files.example.com"}, ["environment KIE_UPLOAD_URL: "]),
        ({"STORYBOARD_PUBLIC_URL": "bot.example.com"}, ["STORYBOARD_PUBLIC_URL: ", "URL"]),
        ({"KIE_MODEL": "   "}, ["environment KIE_MODEL: must name a model"]),
        ({"STORYBOARD_LOG_LEVEL": "loud"}, ["environment STORYBOARD_LOG_LEVEL: ", "'debug'"]),
        ({"STORYBOARD_LOG_FORMAT": "yaml"}, ["environment STORYBOARD_LOG_FORMAT: ", "'json'"]),
    ],
)
def test_invalid_environment_value(environ: dict[str, str], must_contain: list[str]) -> None:
    text = config_error(environ=environ)
    assert text.startswith("environment "), text
    for part in must_contain:
        assert part in text, text
    for bad in environ.values():
        if bad.strip():
            assert bad not in text


@pytest.mark.parametrize(
    ("toml", "must_contain"),
    [
        ("[kie]\nfoo = 1\n", ["settings.toml: [kie] foo: unknown setting"]),
        ("[nonsense]\nx = 1\n", ["settings.toml: [nonsense]: unknown section"]),
        ("kie = 1\n", ["settings.toml: kie: ", "dictionary"]),
        ('[http]\nport = "eighty"\n', ["settings.toml: [http] port: ", "integer"]),
        ('[kling]\nresolution = "8k"\n', ["settings.toml: [kling] resolution: ", "720p"]),
        (
            "[tracker]\ndeadline_minutes = 0\n",
            ["settings.toml: [tracker] deadline_minutes: Input should be greater than 0"],
        ),
        ('[prices]\nsora = {"12" = 100}\n', ["settings.toml: [prices] sora: unknown key '12'"]),
        (
            '[prices]\nkling_per_second = {"720p" = -1}\n',
            ["settings.toml: [prices] kling_per_second.720p: ", "greater than or equal to 0"],
        ),
        ('[quota]\nchannels = [1, "x"]\n', ["settings.toml: [quota] channels[1]: ", "integer"]),
        ('[log]\nformat = "xml"\n', ["settings.toml: [log] format: "]),
        ("[kie\napi_key = 1\n", ["not valid TOML", "settings.toml"]),
        ("kie = [1, 2\n", ["not valid TOML"]),
    ],
)
def test_invalid_file(tmp_path: Path, toml: str, must_contain: list[str]) -> None:
    text = config_error(write(tmp_path, toml), environ={})
    assert str(tmp_path / "settings.toml") in text
    for part in must_contain:
        assert part in text, text


def test_a_value_from_the_file_is_blamed_on_the_file_not_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[kie]\nrequest_timeout = 0\nbase_url = 5\n")
    lines = config_errors(path, environ={"KIE_BASE_URL": "nope"})
    assert lines == [
        f"environment KIE_BASE_URL: {lines[0].split(': ', 1)[1]}",
        f"{path}: [kie] request_timeout: Input should be greater than 0",
    ]
    assert "URL" in lines[0] and "nope" not in lines[0]


def test_every_bad_setting_is_reported_at_once_with_its_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f'[kie]\nrequest_timeout = 0\napi_key = ["{SECRET}"]\n[http]\nport = "{SECRET}"\n',
    )
    lines = config_errors(path, environ={})
    assert len(lines) == 3, lines
    assert [line.split(": ")[1] for line in lines] == [
        "[kie] api_key",
        "[kie] request_timeout",
        "[http] port",
    ]
    for line in lines:
        assert line.startswith(f"{path}: ")
        assert SECRET not in line and "SUPERSECRET" not in line


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    text = config_error(missing, environ={})
    assert text == f"config file {missing} does not exist"
    text = config_error(environ={"STORYBOARD_CONFIG": str(missing)})
    assert str(missing) in text
    assert config_error(tmp_path, environ={}) == f"config file {tmp_path} is not a file"


def test_a_broken_file_does_not_hide_the_environment_errors(tmp_path: Path) -> None:
    lines = config_errors(write(tmp_path, "[kie\n"), environ={"STORYBOARD_HTTP_PORT": "x"})
    assert len(lines) == 2
    assert "is not valid TOML" in lines[0]
    assert lines[1].startswith("environment STORYBOARD_HTTP_PORT: ")


@pytest.mark.parametrize(
    ("toml", "setting"),
    [
        (f'[kie]\napi_key = {{value = "{SECRET}"}}\n', "[kie] api_key"),
        (f'[kie]\napi_key = ["{SECRET}"]\n', "[kie] api_key"),
        (f'[discord]\ntoken = {{token = "{SECRET}"}}\n', "[discord] token"),
        (f'[kie]\nwebhook_hmac_key = {{k = "{SECRET}"}}\n', "[kie] webhook_hmac_key"),
        # A secret pasted into the wrong place.
        (f'[http]\nport = "{SECRET}"\n', "[http] port"),
        (f'[kie]\nbase_url = "{SECRET}"\n', "[kie] base_url"),
        # Unquoted: the TOML parser's message must not echo it either.
        (f"[kie]\napi_key = {SECRET}\n", "not valid TOML"),
    ],
)
def test_secrets_never_appear_in_errors(tmp_path: Path, toml: str, setting: str) -> None:
    text = config_error(write(tmp_path, toml), environ={})
    assert setting in text, text
    assert SECRET not in text
    assert "SUPERSECRET" not in text


def test_secret_from_environment_in_a_bad_url_is_not_echoed() -> None:
    text = config_error(environ={"KIE_BASE_URL": SECRET, "KIE_API_KEY": SECRET})
    assert text.startswith("environment KIE_BASE_URL: ")
    assert SECRET not in text


def test_settings_repr_hides_secrets() -> None:
    s = load_settings(environ={"KIE_API_KEY": SECRET, "DISCORD_TOKEN": SECRET})
    assert SECRET not in repr(s)
    assert SECRET not in str(s)


@pytest.mark.parametrize(
    ("environ", "path", "setting"),
    [
        ({}, "kie.api_key", "KIE_API_KEY"),
        ({"KIE_API_KEY": ""}, "kie.api_key", "KIE_API_KEY"),
        ({}, "discord.token", "DISCORD_TOKEN"),
        ({}, "http.public_url", "STORYBOARD_PUBLIC_URL"),
    ],
)
def test_require_names_the_setting(environ: dict[str, str], path: str, setting: str) -> None:
    s = load_settings(environ=environ)
    with pytest.raises(ConfigError) as info:
        s.require(path)
    assert str(info.value) == f"{setting} ({path}) is not set"


def test_require_passes_when_set() -> None:
    s = load_settings(environ={"KIE_API_KEY": "k", "DISCORD_TOKEN": "t"})
    s.require("kie.api_key", "discord.token")


# --------------------------------------------------------------------------- paths


def test_relative_paths_in_the_file_are_relative_to_its_folder(
    tmp_path: Path, _no_config_in_cwd: Path
) -> None:
    folder = tmp_path / "some" / "dir"
    folder.mkdir(parents=True)
    path = write(folder, '[storage]\ndb = "x.db"\nmedia_dir = "../media"\n', name="config.toml")
    s = load_settings(path, environ={})
    assert s.storage.db == folder / "x.db"
    assert s.storage.media_dir == folder / ".." / "media"
    # Also when the file is named by a relative path, from another working directory.
    os.chdir(tmp_path / "some")
    s = load_settings("dir/config.toml", environ={})
    assert s.storage.db.resolve() == folder / "x.db"
    # Absolute paths are kept; the environment's relative paths follow the working directory.
    write(folder, '[storage]\ndb = "/srv/sb/x.db"\n', name="config.toml")
    assert load_settings(path, environ={}).storage.db == Path("/srv/sb/x.db")
    s = load_settings(path, environ={"STORYBOARD_DB": "env.db", "STORYBOARD_MEDIA_DIR": "m"})
    assert (s.storage.db, s.storage.media_dir) == (Path("env.db"), Path("m"))


def test_the_data_directory_holds_the_database_and_the_media(tmp_path: Path) -> None:
    s = load_settings(environ={"STORYBOARD_DATA_DIR": "/srv/sb"})
    assert (s.storage.db, s.storage.media_dir) == (
        Path("/srv/sb/storyboard.db"),
        Path("/srv/sb/media"),
    )
    # Explicit values win, from any source.
    s = load_settings(environ={"STORYBOARD_DATA_DIR": "/srv/sb", "STORYBOARD_DB": "/db/x.db"})
    assert (s.storage.db, s.storage.media_dir) == (Path("/db/x.db"), Path("/srv/sb/media"))
    # A relative data_dir in the file is relative to the file's folder too.
    path = write(tmp_path, '[storage]\ndata_dir = "state"\nmedia_dir = "/m"\n')
    s = load_settings(path, environ={})
    assert (s.storage.db, s.storage.media_dir) == (tmp_path / "state" / "storyboard.db", Path("/m"))
    s = load_settings(path, environ={"STORYBOARD_DATA_DIR": "here"})
    assert s.storage.db == Path("here/storyboard.db")


# --------------------------------------------------------------------------- old locations


def test_a_database_at_the_old_default_is_kept_with_a_warning(_no_config_in_cwd: Path) -> None:
    (_no_config_in_cwd / "storyboard.db").write_bytes(b"an existing database")
    s = load_settings(environ={})
    assert s.storage.db == Path("storyboard.db")
    assert s.storage.media_dir == Path("data/media")  # no ./media: the new default
    [notice] = s.notices
    assert "storyboard.db is in the working directory" in notice
    assert "mkdir -p data && mv storyboard.db* data/" in notice
    assert "STORYBOARD_DATA_DIR=." in notice

    # With ./media as well, both are kept, in one warning.
    (_no_config_in_cwd / "media").mkdir()
    s = load_settings(environ={})
    assert (s.storage.db, s.storage.media_dir) == (Path("storyboard.db"), Path("media"))
    [notice] = s.notices
    assert "mv storyboard.db* media data/" in notice

    # Once moved (or when a data directory or the database is set), no more of it.
    assert load_settings(environ={"STORYBOARD_DATA_DIR": "."}).notices == []
    assert load_settings(environ={"STORYBOARD_DATA_DIR": "."}).storage.db == Path("storyboard.db")
    s = load_settings(environ={"STORYBOARD_DATA_DIR": "elsewhere"})
    assert (s.storage.db, s.notices) == (Path("elsewhere/storyboard.db"), [])
    s = load_settings(environ={"STORYBOARD_DB": "new.db"})
    assert s.storage.db == Path("new.db")
    (_no_config_in_cwd / "data").mkdir()
    (_no_config_in_cwd / "data" / "storyboard.db").write_bytes(b"moved")
    s = load_settings(environ={})
    assert s.storage.db == Path("data/storyboard.db")
    assert s.storage.media_dir == Path("media")  # not moved yet: still kept
    [notice] = s.notices
    assert notice.startswith("media is in the working directory")


def test_a_fresh_install_uses_the_data_directory_quietly(_no_config_in_cwd: Path) -> None:
    s = load_settings(environ={})
    assert (s.storage.db, s.notices) == (Path("data/storyboard.db"), [])


def test_a_relative_database_an_earlier_version_found_in_the_working_directory_is_kept(
    tmp_path: Path, _no_config_in_cwd: Path
) -> None:
    path = write(tmp_path, '[storage]\ndb = "bot.db"\n', name="config.toml")
    (_no_config_in_cwd / "bot.db").write_bytes(b"an existing database")
    s = load_settings(path, environ={})
    assert s.storage.db == Path("bot.db")
    [notice] = s.notices
    assert f"is {tmp_path / 'bot.db'} now" in notice
    assert str(_no_config_in_cwd / "bot.db") in notice
    (tmp_path / "bot.db").write_bytes(b"moved")
    s = load_settings(path, environ={})
    assert (s.storage.db, s.notices) == (tmp_path / "bot.db", [])


# --------------------------------------------------------------------------- secrets from files


@pytest.mark.parametrize(("env", "dotted"), sorted(SECRET_FILE_NAMES.items()))
def test_a_secret_from_a_file(tmp_path: Path, env: str, dotted: str) -> None:
    secret = tmp_path / "secret"
    secret.write_text(f"{SECRET}\n")
    s = load_settings(environ={env: str(secret)})
    assert value(s, dotted) == SECRET  # the trailing newline is not part of it
    secret.write_bytes(f"{SECRET}\r\n".encode())
    assert value(load_settings(environ={env: str(secret)}), dotted) == SECRET
    secret.write_text(SECRET)
    assert value(load_settings(environ={env: str(secret)}), dotted) == SECRET
    # An empty variable is no variable.
    assert value(load_settings(environ={env: ""}), dotted) is None


def test_a_secret_file_that_cannot_be_read_is_one_line_naming_the_variable(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nope"
    assert config_error(environ={"KIE_API_KEY_FILE": str(missing)}) == (
        f"KIE_API_KEY_FILE ({missing}): no such file"
    )
    assert config_error(environ={"DISCORD_TOKEN_FILE": str(tmp_path)}) == (
        f"DISCORD_TOKEN_FILE ({tmp_path}): a directory, not a file"
    )
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe" + SECRET.encode())
    text = config_error(environ={"KIE_WEBHOOK_HMAC_KEY_FILE": str(binary)})
    assert text == f"KIE_WEBHOOK_HMAC_KEY_FILE ({binary}): not UTF-8 text"
    if os.geteuid() != 0:  # root reads any file
        locked = tmp_path / "locked"
        locked.write_text(SECRET)
        locked.chmod(0)
        text = config_error(environ={"KIE_API_KEY_FILE": str(locked)})
        assert text == f"KIE_API_KEY_FILE ({locked}): cannot be read: Permission denied"


def test_a_secret_file_error_comes_with_the_other_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "[kie]\nrequest_timeout = -1\n")
    lines = config_errors(path, environ={"KIE_API_KEY_FILE": "/run/secrets/nope"})
    assert lines == [
        "KIE_API_KEY_FILE (/run/secrets/nope): no such file",
        f"{path}: [kie] request_timeout: Input should be greater than 0",
    ]


def test_a_secret_from_a_file_is_hidden_like_any_other(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    s = load_settings(environ={"KIE_API_KEY_FILE": str(secret)})
    assert SECRET not in repr(s) and SECRET not in str(s)


# --------------------------------------------------------------------------- .env


def test_a_dotenv_file_in_the_working_directory(_no_config_in_cwd: Path) -> None:
    write(
        _no_config_in_cwd,
        f"# a comment\nexport KIE_API_KEY={SECRET}\nSTORYBOARD_HTTP_PORT='9005'\n"
        "SOMETHING_ELSE=ignored\n",
        name=".env",
    )
    s = load_settings(environ={})
    assert value(s, "kie.api_key") == SECRET
    assert s.http.port == 9005


def test_the_dotenv_file_beside_the_config_file_comes_first(
    tmp_path: Path, _no_config_in_cwd: Path
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    path = write(folder, "[http]\nport = 1\n", name="config.toml")
    write(_no_config_in_cwd, "STORYBOARD_HTTP_PORT=2\n", name=".env")
    assert load_settings(path, environ={}).http.port == 2  # ./.env: none beside the file
    write(folder, "STORYBOARD_HTTP_PORT=3\n", name=".env")
    assert load_settings(path, environ={}).http.port == 3
    # Relative paths in a .env file are the environment's: the working directory's.
    write(folder, "STORYBOARD_DB=x.db\n", name=".env")
    assert load_settings(path, environ={}).storage.db == Path("x.db")


def test_a_bad_dotenv_value_names_the_dotenv_file(_no_config_in_cwd: Path) -> None:
    write(_no_config_in_cwd, f"KIE_BASE_URL={SECRET}\n", name=".env")
    text = config_error(environ={})
    assert text.startswith(".env: KIE_BASE_URL: ")
    assert SECRET not in text
    (_no_config_in_cwd / ".env").write_bytes(b"KIE_API_KEY=\xff" + SECRET.encode())
    assert config_error(environ={}) == ".env cannot be read: not UTF-8 text"


# --------------------------------------------------------------------------- precedence


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ({"env", "file", "dotenv", "toml"}, "from-env"),
        ({"file", "dotenv", "toml"}, "from-file"),
        ({"dotenv", "toml"}, "from-dotenv"),
        ({"toml"}, "from-toml"),
        (set(), None),
        ({"env", "toml"}, "from-env"),
        ({"file", "toml"}, "from-file"),
        ({"env", "dotenv"}, "from-env"),
    ],
)
def test_environment_then_secret_file_then_dotenv_then_toml_then_default(
    tmp_path: Path, _no_config_in_cwd: Path, layers: set[str], expected: str | None
) -> None:
    environ: dict[str, str] = {}
    if "env" in layers:
        environ["KIE_API_KEY"] = "from-env"
    if "file" in layers:
        (tmp_path / "key").write_text("from-file\n")
        environ["KIE_API_KEY_FILE"] = str(tmp_path / "key")
    if "dotenv" in layers:
        write(_no_config_in_cwd, "KIE_API_KEY=from-dotenv\n", name=".env")
    if "toml" in layers:
        write(_no_config_in_cwd, '[kie]\napi_key = "from-toml"\n', name="config.toml")
    assert value(load_settings(environ=environ), "kie.api_key") == expected


# --------------------------------------------------------------------------- prices


def test_prices_override_only_what_they_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[prices]\nsora = {"10" = 100}\nkling_per_second = {"1080p" = 25}\n',
    )
    prices = load_settings(path, environ={}).prices
    assert prices.sora_credits() == {10: 100, 15: 270, 25: 270}
    # The defaults are kie.ai's published rates (August 2026).
    assert prices.kling_per_second == {"720p": 14, "1080p": 25, "4k": 67}
    assert prices.kling_audio_per_second == {"720p": 18, "1080p": 23, "4k": 67}


# --------------------------------------------------------------------------- long storyboards


def test_long_storyboards_default_to_60_seconds_and_20_shots(tmp_path: Path) -> None:
    assert load_settings(None, environ={}).storyboards.model_dump() == {
        "max_seconds": 60,
        "max_shots": 20,
    }
    path = write(tmp_path, "[storyboards]\nmax_seconds = 90\nmax_shots = 30\n")
    limits = load_settings(path, environ={}).storyboards
    assert (limits.max_seconds, limits.max_shots) == (90, 30)


@pytest.mark.parametrize(
    ("toml", "must_contain"),
    [
        (
            "max_seconds = 5",
            "[storyboards] max_seconds: Input should be greater than or equal to 10",
        ),
        (
            "max_seconds = 601",
            "[storyboards] max_seconds: Input should be less than or equal to 600",
        ),
        ("max_shots = 0", "[storyboards] max_shots: Input should be greater than or equal to 1"),
        ("max_shots = 101", "[storyboards] max_shots: Input should be less than or equal to 100"),
        ("max_minutes = 2", "[storyboards] max_minutes: unknown setting"),
    ],
)
def test_long_storyboard_limits_out_of_bounds_are_named(
    tmp_path: Path, toml: str, must_contain: str
) -> None:
    text = config_error(write(tmp_path, f"[storyboards]\n{toml}\n"), environ={})
    assert must_contain in text, text


# --------------------------------------------------------------------------- the example file


def test_config_example_loads() -> None:
    """config.example.toml at the repo root documents every setting and must load as is."""
    s = load_settings(REPO / "config.example.toml", environ={})
    assert isinstance(s, Settings)
    # Its paths are commented out: the defaults (the working directory's ./data) apply.
    assert s.storage.db == Path("data/storyboard.db")


def test_every_variable_is_documented() -> None:
    example = (REPO / "config.example.toml").read_text()
    readme = (REPO / "README.md").read_text()
    for env in [*ENV_NAMES, *SECRET_FILE_NAMES]:
        assert f"`{env}`" in readme, env
    for env in ENV_NAMES:
        assert f"[{env}]" in example, env
    example_settings = Settings().model_dump()
    for section, fields in example_settings.items():
        assert f"[{section}]" in example, section
        for name in fields:
            assert f"{name} =" in example, f"{section}.{name}"
