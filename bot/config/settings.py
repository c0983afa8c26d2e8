"""Configuration: one pydantic-settings model, filled from several sources.

Where a setting's value comes from, the first that has it:

1. the environment (the variable names in :data:`ENV_NAMES`);
2. a ``*_FILE`` variable naming a file that holds a secret (:data:`SECRET_FILE_NAMES`), as
   Docker secrets and systemd's ``LoadCredential=`` provide;
3. a ``.env`` file: the one beside the config file, else ``./.env``;
4. the TOML file: ``--config PATH``, else ``$STORYBOARD_CONFIG``, else ``./config.toml`` when
   it exists;
5. the defaults.

Relative paths in the TOML file are relative to the file's folder; relative paths from the
environment or a ``.env`` file are relative to the working directory. The database and the
media directory are in the data directory (``storage.data_dir``, ``./data``) unless set on
their own.

The environment variable names are part of the product's interface.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
import zoneinfo
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bot.domain.storyboard import Aspect

DEFAULT_CONFIG_FILE = Path("config.toml")
DEFAULT_DATA_DIR = Path("data")

# Environment variable -> dotted path in the settings model.
ENV_NAMES: dict[str, str] = {
    "DISCORD_TOKEN": "discord.token",
    "DISCORD_MESSAGE_CONTENT": "discord.message_content",
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
# Each secret can also be read from a file: ``KIE_API_KEY_FILE=/run/secrets/kie``.
_SECRETS = ("DISCORD_TOKEN", "KIE_API_KEY", "KIE_WEBHOOK_HMAC_KEY")
SECRET_FILE_NAMES: dict[str, str] = {f"{env}_FILE": ENV_NAMES[env] for env in _SECRETS}
_PATH_TO_ENV = {path: env for env, path in ENV_NAMES.items()}
# Where earlier versions kept the database and the media by default (the working directory).
_OLD_DEFAULTS = {"db": Path("storyboard.db"), "media_dir": Path("media")}


class ConfigError(Exception):
    """Settings are missing or invalid. ``str()`` has one line per problem, each naming the
    setting and where its value came from, never the value."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DiscordSettings(_Section):
    token: SecretStr | None = None
    # Read plain-text edits in draft threads (the privileged MESSAGE_CONTENT intent, which must
    # also be switched on in the Developer Portal). Off: replies that ping the bot and the
    # card's buttons still work.
    message_content: bool = True
    # Where `storyboard-bot doctor` checks the token.
    api_base: AnyHttpUrl = AnyHttpUrl("https://discord.com/api/v10")


class KieSettings(_Section):
    api_key: SecretStr | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://api.kie.ai")
    upload_url: AnyHttpUrl = AnyHttpUrl("https://kieai.redpandaai.co")
    webhook_hmac_key: SecretStr | None = None
    model: str = "sora-2-pro-storyboard"
    fallback_model: str = "kling-3.0-omni/image-to-video"
    # Seconds to wait for an answer; a createTask that times out has an unknown outcome.
    request_timeout: float = Field(default=60.0, gt=0)
    # Retries: 429 on create, 5xx/network errors on reads.
    max_retries: int = Field(default=5, ge=0, le=20)
    backoff_base: float = Field(default=1.0, ge=0)
    backoff_max: float = Field(default=30.0, ge=0)
    # 455 (maintenance): a long backoff and a bounded number of tries.
    maintenance_retries: int = Field(default=3, ge=0, le=10)
    maintenance_backoff: float = Field(default=60.0, ge=0)
    # Client-side limits (kie.ai: 20 new tasks per 10 s, 10 status reads per second).
    create_per_10s: int = Field(default=20, ge=1, le=20)
    reads_per_second: int = Field(default=10, ge=1, le=10)
    # The largest result video the bot will download.
    max_video_bytes: int = Field(default=500_000_000, gt=0)
    # How long `storyboard-bot render` keeps trying a kie.ai host it cannot connect to before
    # giving up (the Discord bot keeps trying until the job's deadline: a network blip must
    # not fail a paid job).
    cli_unreachable_seconds: float = Field(default=60.0, gt=0)
    # Result videos (and `render --image` links) are fetched over https from public addresses
    # only (see bot/media/download.py). The hosts listed here, as written in links and without a
    # port, may also be fetched over http and at loopback or private addresses: a local mirror,
    # the test suite's fake kie.ai. Listing a host opens every port on it.
    insecure_result_hosts: list[str] = []

    @field_validator("insecure_result_hosts")
    @classmethod
    def _host_names(cls, value: list[str]) -> list[str]:
        hosts = []
        for entry in value:
            host = entry.strip().lower()
            bare = host.removeprefix("[").removesuffix("]")
            if ":" in bare:
                try:
                    ipaddress.IPv6Address(bare)
                except ValueError:
                    bare = ""
            if not bare or any(c in bare for c in "/@?# "):
                raise ValueError(
                    "each entry must be a host name or an address, without a scheme, port or path"
                )
            hosts.append(bare)
        return hosts

    @field_validator("model")
    @classmethod
    def _model_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a model")
        return value.strip()

    @field_validator("fallback_model")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


class StorageSettings(_Section):
    # The data directory: the database and the media are in it unless set on their own.
    data_dir: Path = DEFAULT_DATA_DIR
    db: Path = Field(
        default_factory=lambda data: data.get("data_dir", DEFAULT_DATA_DIR) / "storyboard.db"
    )
    # Prepared reference images and fetched videos.
    media_dir: Path = Field(
        default_factory=lambda data: data.get("data_dir", DEFAULT_DATA_DIR) / "media"
    )


LogLevel = Literal["debug", "info", "warning", "error", "critical"]


class LogSettings(_Section):
    # None: info for `storyboard-bot run`, warning for the other commands.
    level: LogLevel | None = None
    # "text", or "json": one object per line.
    format: Literal["text", "json"] = "text"

    @field_validator("level", "format", mode="before")
    @classmethod
    def _lower(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        value = value.strip().lower()
        return value or cls.model_fields[info.field_name].default


class HttpSettings(_Section):
    public_url: AnyHttpUrl | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_callback_bytes: int = Field(default=65536, gt=0)
    # Against slow or idle clients: the time from connecting (or from the previous answer on a
    # kept-alive connection) to the request's last header line, the time to read a request's
    # body, and how many connections are open at once (more are answered 503 and closed).
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    body_timeout_seconds: float = Field(default=10.0, gt=0)
    max_connections: int = Field(default=100, ge=1)
    # Serve GET /metrics (Prometheus' text format) on this server. Off by default: it tells
    # anyone who reaches the port how busy the bot is.
    metrics: bool = False

    @field_validator("public_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


class TrackerSettings(_Section):
    # A job not finished after this many minutes is given up with a clear reason.
    deadline_minutes: float = Field(default=30.0, gt=0)
    # "recordInfo is null" right after create means "not visible yet" for this long.
    null_grace_seconds: float = Field(default=60.0, ge=0)
    # The polling schedule (see bot/jobs/polling.py): the shortest gap between status reads, and
    # the shortest gap of the safety-net reads when callbacks are on.
    poll_min_seconds: float = Field(default=10.0, gt=0)
    callback_poll_min_seconds: float = Field(default=60.0, gt=0)
    # Jobs processed at once by the tracker loop.
    concurrency: int = Field(default=8, ge=1, le=100)


class RetentionSettings(_Section):
    """How long stored reference images and videos are kept, and how much disk they may use."""

    days: float = Field(default=14.0, gt=0)
    max_disk_mb: float = Field(default=5000.0, gt=0)
    sweep_minutes: float = Field(default=60.0, gt=0)
    # New drafts and images are refused while the media directory's disk has less than this
    # free (and a sweep frees files until it has it again).
    min_free_mb: float = Field(default=300.0, ge=0)


Resolution = Literal["720p", "1080p", "4k"]


class SoraSettings(_Section):
    """Options of ``sora-2-pro-storyboard``."""

    # Where kie.ai stores the result ("s3" or "oss"). kie.ai's schema lists it as required and
    # does not apply its documented default ("s3") itself, so the bot always sends it.
    upload_method: Literal["s3", "oss"] = "s3"


class KlingSettings(_Section):
    """Options of ``kling-3.0-omni/image-to-video`` (they change its price)."""

    resolution: Resolution = "720p"
    audio: bool = False

    @field_validator("resolution", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        # kie.ai's schema copies spell 4k both "4k" and "4K".
        return value.lower() if isinstance(value, str) else value


Credits = Annotated[int, Field(ge=0)]


class PriceSettings(_Section):
    """Credits per generation, as kie.ai publishes them (check kie.ai's pricing page).

    A table in the file overrides only the entries it names (``sora = {"10" = 100}`` keeps the
    default prices of 15 s and 25 s); a key that is not a known length or resolution is refused.
    """

    # What one credit costs in US dollars (for the estimates shown to people).
    credit_usd: float = Field(default=0.005, ge=0)
    # sora-2-pro-storyboard: credits per video, by length in seconds.
    sora: dict[str, Credits] = {"10": 150, "15": 270, "25": 270}
    # kling-3.0-omni: credits per second of video, by resolution, without and with audio.
    # (kie.ai's published rates, August 2026)
    kling_per_second: dict[str, Credits] = {"720p": 14, "1080p": 18, "4k": 67}
    kling_audio_per_second: dict[str, Credits] = {"720p": 18, "1080p": 23, "4k": 67}

    @field_validator("sora", "kling_per_second", "kling_audio_per_second")
    @classmethod
    def _over_defaults(cls, value: dict[str, int], info: ValidationInfo) -> dict[str, int]:
        default: dict[str, int] = cls.model_fields[info.field_name].default
        unknown = [key for key in value if key not in default]
        if unknown:
            raise ValueError(
                f"unknown key {', '.join(map(repr, unknown))}; known keys: {', '.join(default)}"
            )
        return {**default, **value}

    def sora_credits(self) -> dict[int, int]:
        return {int(k): v for k, v in self.sora.items()}


Limit = Annotated[int, Field(ge=0)]
_UNLIMITED = {"", "none", "null", "unlimited", "no limit", "-"}


class QuotaLimits(_Section):
    """What a guild may generate. ``None`` means unlimited; an empty list means "all".

    These are the fields a guild admin can override (``bot.quota.policy.GuildQuota``); the
    ``[quota]`` table of the config file gives their defaults.
    """

    enabled: bool = True
    # Channels and roles allowed to generate (empty: all channels, everyone).
    channels: list[int] = []
    roles: list[int] = []
    # Per user within a guild: videos per day, videos running at once, seconds between videos.
    user_daily: Limit | None = 5
    user_concurrent: Limit | None = 1
    user_cooldown_seconds: Limit = 30
    # Per guild: videos per day, videos running at once, credits per month.
    guild_daily: Limit | None = 50
    guild_concurrent: Limit | None = 5
    guild_monthly_credits: Limit | None = None
    # Allowed video lengths (s), aspects and models (empty: whatever the model allows).
    lengths: list[Annotated[int, Field(gt=0)]] = []
    aspects: list[Aspect] = []
    models: list[str] = []
    # Model options: allowed resolutions (empty: any) and whether videos with audio (which
    # cost more) are allowed. They apply to models that have these options (Kling).
    resolutions: list[Resolution] = []
    audio: bool = True
    # Words or phrases refused in scenes (case-insensitive, after NFKC, as substrings).
    blocked_terms: list[str] = []
    # Where the bot reports setting changes, refusals and failures.
    log_channel: int | None = None
    # The IANA time zone of "per day" and "per month".
    timezone: str = "UTC"
    # Whether a generation that kie.ai failed counts against the limits.
    failed_counts: bool = False
    # Generations kie.ai failed a user may have per day (counted or not); a failure never
    # starts the cooldown, so this is what stops a stream of them.
    user_daily_failures: Limit | None = 3
    # Per user within a guild: active drafts, and megabytes of stored images and videos
    # (checked when a draft is made or an image is added).
    user_active_drafts: Limit | None = 10
    user_storage_mb: Limit | None = 200

    @field_validator(
        "user_daily",
        "user_concurrent",
        "guild_daily",
        "guild_concurrent",
        "guild_monthly_credits",
        "log_channel",
        "user_daily_failures",
        "user_active_drafts",
        "user_storage_mb",
        mode="before",
    )
    @classmethod
    def _unlimited(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in _UNLIMITED:
            return None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        value = value.strip()
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as "
                "'UTC', 'Europe/Paris' or 'Asia/Shanghai'"
            ) from None
        return value

    @field_validator("blocked_terms")
    @classmethod
    def _terms(cls, value: list[str]) -> list[str]:
        return [t.strip() for t in value if t.strip()]


class QuotaDefaults(QuotaLimits):
    """The ``[quota]`` table: every guild's defaults, plus the bot-wide owner settings."""

    # Users never limited (besides the application's owner or team, found at start-up).
    owner_ids: list[int] = []
    # Warn (log, and tell the owners once) when kie.ai's balance falls below this; 0: never.
    low_balance_credits: Limit = 1000


# The sources load_settings() is reading from, highest first (see Settings).
_SOURCES: ContextVar[tuple[PydanticBaseSettingsSource, ...]] = ContextVar(
    "storyboard_settings_sources", default=()
)


class Settings(BaseSettings):
    """Every setting of the bot. Sections mirror the TOML file's tables."""

    model_config = SettingsConfigDict(extra="forbid")

    discord: DiscordSettings = DiscordSettings()
    kie: KieSettings = KieSettings()
    storage: StorageSettings = StorageSettings()
    http: HttpSettings = HttpSettings()
    tracker: TrackerSettings = TrackerSettings()
    sora: SoraSettings = SoraSettings()
    kling: KlingSettings = KlingSettings()
    retention: RetentionSettings = RetentionSettings()
    prices: PriceSettings = PriceSettings()
    quota: QuotaDefaults = QuotaDefaults()
    log: LogSettings = LogSettings()

    _notices: list[str] = PrivateAttr(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Settings(...) takes its arguments only; load_settings() adds its sources below them.
        return (init_settings, *_SOURCES.get())

    @property
    def callbacks_enabled(self) -> bool:
        return self.http.public_url is not None

    @property
    def notices(self) -> list[str]:
        """Warnings about the configuration found while loading it, for the log."""
        return list(self._notices)

    def require(self, *paths: str) -> None:
        """Raise ConfigError for the first of ``paths`` (e.g. ``"kie.api_key"``) that is unset."""
        for path in paths:
            section, _, name = path.partition(".")
            value = getattr(getattr(self, section), name)
            if value is None or (isinstance(value, SecretStr) and not value.get_secret_value()):
                raise ConfigError(f"{describe_setting(path)} is not set")


def describe_setting(path: str) -> str:
    """``kie.api_key`` -> ``KIE_API_KEY (kie.api_key)``: how an operator finds the setting."""
    env = _PATH_TO_ENV.get(path)
    return f"{env} ({path})" if env else path


def config_path(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path | None:
    if explicit:
        return Path(explicit)
    if environ.get("STORYBOARD_CONFIG"):
        return Path(environ["STORYBOARD_CONFIG"])
    if DEFAULT_CONFIG_FILE.is_file():
        return DEFAULT_CONFIG_FILE
    return None


# -- sources ---------------------------------------------------------------------------------
# Each source also knows where its values came from (``origins``: (section,) or (section, name)
# -> a label for error messages) and what it could not read (``problems``: whole lines).
Origins = dict[tuple[str, ...], str]


def _nest(flat: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"kie.api_key": v}`` -> ``{"kie": {"api_key": v}}``."""
    out: dict[str, dict[str, Any]] = {}
    for path, value in flat.items():
        section, _, name = path.partition(".")
        out.setdefault(section, {})[name] = value
    return out


def _named_variables(
    variables: Mapping[str, str | None], label: Callable[[str], str], origins: Origins
) -> dict[str, Any]:
    """The settings among ``variables`` (by the names of :data:`ENV_NAMES`), nested."""
    found = {path: v for env, path in ENV_NAMES.items() if (v := variables.get(env)) is not None}
    origins.update({tuple(path.split(".")): label(_PATH_TO_ENV[path]) for path in found})
    return _nest(found)


class _Source(PydanticBaseSettingsSource):
    """A source that reads everything up front; pydantic-settings asks for it whole."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self.origins: Origins = {}
        self.problems: list[str] = []
        self.data: dict[str, Any] = {}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self.data


class EnvironmentSource(_Source):
    """The environment variables of :data:`ENV_NAMES` (``environ``, else ``os.environ``)."""

    def __init__(
        self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(settings_cls)
        environ = os.environ if environ is None else environ
        self.data = _named_variables(environ, lambda env: f"environment {env}", self.origins)


class SecretFilesSource(_Source):
    """Secrets read from the files that ``*_FILE`` variables name (:data:`SECRET_FILE_NAMES`).

    The file's content, less one trailing newline, is the secret. A file that cannot be read is
    a problem naming the variable and the file, never anything of the content.
    """

    def __init__(
        self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(settings_cls)
        environ = os.environ if environ is None else environ
        found: dict[str, str] = {}
        for env, path in SECRET_FILE_NAMES.items():
            name = environ.get(env)
            if not name:
                continue
            label = f"{env} ({name})"
            try:
                text = Path(name).read_text(encoding="utf-8")
            except FileNotFoundError:
                self.problems.append(f"{label}: no such file")
                continue
            except IsADirectoryError:
                self.problems.append(f"{label}: a directory, not a file")
                continue
            except UnicodeDecodeError:
                self.problems.append(f"{label}: not UTF-8 text")
                continue
            except OSError as exc:
                self.problems.append(f"{label}: cannot be read: {exc.strerror or exc}")
                continue
            found[path] = text.removesuffix("\n").removesuffix("\r")
            self.origins[tuple(path.split("."))] = label
        self.data = _nest(found)


class DotEnvSource(DotEnvSettingsSource):
    """The variables of :data:`ENV_NAMES` in a ``.env`` file, read by pydantic-settings (the
    syntax is python-dotenv's); other names in the file are ignored."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        self.path = path
        self.origins: Origins = {}
        self.problems: list[str] = []
        try:
            super().__init__(settings_cls, env_file=path, case_sensitive=True)
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or "not UTF-8 text"
            self.problems.append(f"{path} cannot be read: {why}")
            super().__init__(settings_cls, env_file=None, case_sensitive=True)
        self.data = _named_variables(self.env_vars, lambda env: f"{path}: {env}", self.origins)

    def __call__(self) -> dict[str, Any]:
        return self.data


class TomlFileSource(TomlConfigSettingsSource):
    """The TOML config file, its relative paths made relative to its folder."""

    PATHS = ("data_dir", "db", "media_dir")  # the [storage] settings that are paths

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        self.path = path
        self.origins, self.problems = {}, []
        # [storage] settings given as relative paths: name -> (as written, as resolved).
        self.relative: dict[str, tuple[Path, Path]] = {}
        real = path.expanduser()
        if not real.exists():
            self.problems.append(f"config file {path} does not exist")
        elif not real.is_file():
            self.problems.append(f"config file {path} is not a file")
        super().__init__(settings_cls, toml_file=real)
        for section, table in self.toml_data.items():
            if isinstance(table, dict):
                self.origins[(section,)] = f"{path}: [{section}]"
                for name in table:
                    self.origins[(section, name)] = f"{path}: [{section}] {name}"
            else:
                self.origins[(section,)] = f"{path}: {section}"

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        try:
            with file_path.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            # The parser's message gives the line and column, never the text there.
            self.problems.append(f"config file {self.path} is not valid TOML: {exc}")
            return {}
        except OSError as exc:
            self.problems.append(f"config file {self.path} cannot be read: {exc.strerror}")
            return {}
        storage = data.get("storage")
        if isinstance(storage, dict):
            folder = Path(file_path).parent
            for name in self.PATHS:
                written = storage.get(name)
                if isinstance(written, str) and written and not Path(written).is_absolute():
                    storage[name] = folder / written
                    self.relative[name] = (Path(written), folder / written)
        return data


def _dotenv_path(config: Path | None) -> Path | None:
    """The ``.env`` beside the config file, else ``./.env``; None when there is neither."""
    candidates = [config.expanduser().parent / ".env"] if config else []
    candidates.append(Path(".env"))
    return next((p for p in candidates if p.is_file()), None)


# -- errors ----------------------------------------------------------------------------------
def _where(loc: tuple[int | str, ...], sources: tuple[PydanticBaseSettingsSource, ...]) -> str:
    """Where the value at ``loc`` came from: the first source (highest) that has it."""
    for depth in (2, 1):
        key = tuple(str(p) for p in loc[:depth])
        if len(key) < depth:
            continue
        for source in sources:
            label = getattr(source, "origins", {}).get(key)
            if label:
                rest = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[depth:])
                return label + rest
    # Not from any source (a default, or a value derived from another setting).
    return describe_setting(".".join(str(p) for p in loc))


def _error_lines(
    exc: ValidationError, sources: tuple[PydanticBaseSettingsSource, ...]
) -> list[str]:
    lines = []
    for err in exc.errors():
        where = _where(tuple(err["loc"]), sources)
        if err["type"] == "extra_forbidden":
            kind = "section" if where.endswith("]") else "setting"
            lines.append(f"{where}: unknown {kind}")
        else:
            # Never the input: it may be a secret.
            lines.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return lines


# -- old locations ---------------------------------------------------------------------------
def _plural(paths: list[Path], one: str, many: str) -> str:
    return one if len(paths) == 1 else many


def _keep_old_locations(settings: Settings, toml: TomlFileSource | None) -> Settings:
    """Keep using a database (or media directory) where an earlier version put it, with a
    warning saying how to move it, rather than silently starting afresh somewhere else."""
    storage = settings.storage
    explicit = storage.model_fields_set
    update: dict[str, Path] = {}
    notices: list[str] = []

    # Earlier defaults: ./storyboard.db and ./media (now in the data directory, ./data).
    if "data_dir" not in explicit:
        kept = []
        for name, old in _OLD_DEFAULTS.items():
            new = getattr(storage, name)
            if name not in explicit and old.exists() and not new.exists():
                update[name] = old
                kept.append(old)
        if kept:
            names = " and ".join(map(str, kept))
            moved = " ".join(f"{p}*" if p.suffix == ".db" else str(p) for p in kept)
            data = storage.data_dir
            notices.append(
                f"{names} {_plural(kept, 'is', 'are')} in the working directory, where earlier "
                f"versions kept {_plural(kept, 'it', 'them')} by default, and "
                f"{_plural(kept, 'is', 'are')} used from there; the default is now the data "
                f"directory, {data}/. To move {_plural(kept, 'it', 'them')}, stop the bot while no "
                f"job is under way and run `mkdir -p {data} && mv {moved} {data}/`; to keep "
                f"{_plural(kept, 'it', 'them')} where {_plural(kept, 'it is', 'they are')}, "
                "set STORYBOARD_DATA_DIR=. (storage.data_dir)"
            )

    # Relative paths in the config file, which earlier versions read from the working directory.
    for name, (written, resolved) in toml.relative.items() if toml else ():
        if name == "data_dir" or getattr(storage, name) != resolved:
            continue  # a new setting, or overridden by a higher source
        if written.exists() and not resolved.exists() and written.resolve() != resolved.resolve():
            update[name] = written
            notices.append(
                f"[storage] {name} = {str(written)!r} in {toml.path} is {resolved} now "
                "(relative paths in the config file are relative to its folder), which does "
                f"not exist, but {written.resolve()} does: it is used. Move it to {resolved}, "
                "or write its absolute path in the config file"
            )

    if update:
        settings = settings.model_copy(update={"storage": storage.model_copy(update=update)})
    settings._notices = notices
    return settings


# -- loading ---------------------------------------------------------------------------------
def load_settings(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Load the settings from every source (see the module's docstring), or raise
    ConfigError with every problem found, one line each."""
    env = dict(os.environ if environ is None else environ)
    file = config_path(path, env)
    toml = TomlFileSource(Settings, file) if file else None
    sources: tuple[PydanticBaseSettingsSource, ...] = (
        EnvironmentSource(Settings, env),
        SecretFilesSource(Settings, env),
        DotEnvSource(Settings, _dotenv_path(file)),
        *((toml,) if toml else ()),
    )
    token = _SOURCES.set(sources)
    try:
        settings = Settings()
    except ValidationError as exc:
        errors = _error_lines(exc, sources)
    else:
        errors = []
    finally:
        _SOURCES.reset(token)
    problems = [line for s in sources for line in getattr(s, "problems", [])]
    lines = list(dict.fromkeys(problems + errors))
    if lines:
        raise ConfigError(*lines)
    return _keep_old_locations(settings, toml)
