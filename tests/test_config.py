"""bot.config: a TOML file with the environment on top; one clear line for a bad setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.config import ENV_NAMES, ConfigError, Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
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
    "STORYBOARD_DB": "storage.db",
    "STORYBOARD_PUBLIC_URL": "http.public_url",
    "STORYBOARD_HTTP_HOST": "http.host",
    "STORYBOARD_HTTP_PORT": "http.port",
}


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


def config_error(*args: Any, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(*args, **kwargs)
    text = str(info.value)
    assert "\n" not in text, text
    assert text.strip() == text and text
    # No traceback chain for the user to see.
    assert info.value.__cause__ is None
    return text


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
    assert s.storage.db == Path("storyboard.db")
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
    }[section]
    path = write(tmp_path, f"[{section}]\n{line}\n{other}\n")

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
        ({"STORYBOARD_HTTP_PORT": "abc"}, ["STORYBOARD_HTTP_PORT", "integer"]),
        ({"STORYBOARD_HTTP_PORT": "70000"}, ["STORYBOARD_HTTP_PORT", "65535"]),
        ({"KIE_BASE_URL": "not a url"}, ["KIE_BASE_URL", "URL"]),
        ({"KIE_UPLOAD_URL": "ftp://files.example.com"}, ["KIE_UPLOAD_URL"]),
        ({"STORYBOARD_PUBLIC_URL": "bot.example.com"}, ["STORYBOARD_PUBLIC_URL", "URL"]),
        ({"KIE_MODEL": "   "}, ["KIE_MODEL"]),
    ],
)
def test_invalid_environment_value(environ: dict[str, str], must_contain: list[str]) -> None:
    text = config_error(environ=environ)
    for part in must_contain:
        assert part in text, text
    for bad in environ.values():
        if bad.strip():
            assert bad not in text


@pytest.mark.parametrize(
    ("toml", "must_contain"),
    [
        ("[kie]\nfoo = 1\n", ["unknown setting", "kie.foo"]),
        ("[nonsense]\nx = 1\n", ["unknown setting", "nonsense"]),
        ('[http]\nport = "eighty"\n', ["STORYBOARD_HTTP_PORT", "http.port"]),
        ('[kling]\nresolution = "8k"\n', ["kling.resolution", "720p"]),
        ("[tracker]\ndeadline_minutes = 0\n", ["tracker.deadline_minutes", "greater than 0"]),
        ('[prices]\nsora = {"12" = 100}\n', ["prices.sora", "12"]),
        ('[prices]\nkling_per_second = {"720p" = -1}\n', ["prices.kling_per_second"]),
        ("[kie\napi_key = 1\n", ["not valid TOML", "settings.toml"]),
        ("kie = [1, 2\n", ["not valid TOML"]),
    ],
)
def test_invalid_file(tmp_path: Path, toml: str, must_contain: list[str]) -> None:
    text = config_error(write(tmp_path, toml), environ={})
    for part in must_contain:
        assert part in text, text


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    text = config_error(missing, environ={})
    assert str(missing) in text
    assert "does not exist" in text
    text = config_error(environ={"STORYBOARD_CONFIG": str(missing)})
    assert str(missing) in text


@pytest.mark.parametrize(
    ("toml", "setting"),
    [
        (f'[kie]\napi_key = {{value = "{SECRET}"}}\n', "KIE_API_KEY"),
        (f'[kie]\napi_key = ["{SECRET}"]\n', "KIE_API_KEY"),
        (f'[discord]\ntoken = {{token = "{SECRET}"}}\n', "DISCORD_TOKEN"),
        (f'[kie]\nwebhook_hmac_key = {{k = "{SECRET}"}}\n', "KIE_WEBHOOK_HMAC_KEY"),
        # A secret pasted into the wrong place.
        (f'[http]\nport = "{SECRET}"\n', "STORYBOARD_HTTP_PORT"),
        (f'[kie]\nbase_url = "{SECRET}"\n', "KIE_BASE_URL"),
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
    assert "KIE_BASE_URL" in text
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


# --------------------------------------------------------------------------- the example file


def test_config_example_loads() -> None:
    """config.example.toml at the repo root documents every setting and must load as is."""
    s = load_settings(REPO / "config.example.toml", environ={})
    assert isinstance(s, Settings)
