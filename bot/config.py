"""Configuration: one pydantic model, read from a TOML file with environment variables on top.

Where the file comes from: ``--config PATH``, else ``$STORYBOARD_CONFIG``, else ``./config.toml``
when it exists, else no file (environment and defaults only).

The environment variable names in :data:`ENV_NAMES` are part of the product's interface.
"""

from __future__ import annotations

import os
import tomllib
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.storyboard import Aspect

DEFAULT_CONFIG_FILE = Path("config.toml")

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
    "STORYBOARD_DB": "storage.db",
    "STORYBOARD_MEDIA_DIR": "storage.media_dir",
    "STORYBOARD_PUBLIC_URL": "http.public_url",
    "STORYBOARD_HTTP_HOST": "http.host",
    "STORYBOARD_HTTP_PORT": "http.port",
}
_PATH_TO_ENV = {path: env for env, path in ENV_NAMES.items()}


class ConfigError(Exception):
    """A setting is missing or invalid. ``str()`` is one line that names the setting."""


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
    db: Path = Path("storyboard.db")
    # Prepared reference images and fetched videos.
    media_dir: Path = Path("media")


class HttpSettings(_Section):
    public_url: AnyHttpUrl | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_callback_bytes: int = Field(default=65536, gt=0)

    @field_validator("public_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


class TrackerSettings(_Section):
    # A job not finished after this many minutes is given up with a clear reason.
    deadline_minutes: float = Field(default=30.0, gt=0)
    # "recordInfo is null" right after create means "not visible yet" for this long.
    null_grace_seconds: float = Field(default=60.0, ge=0)
    # The polling schedule (see bot/schedule.py): the shortest gap between status reads, and
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

    These are the fields a guild admin can override (``bot.quota.GuildQuota``); the ``[quota]``
    table of the config file gives their defaults.
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

    @field_validator(
        "user_daily",
        "user_concurrent",
        "guild_daily",
        "guild_concurrent",
        "guild_monthly_credits",
        "log_channel",
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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init (the TOML file, merged with the environment by load_settings) only.
        return (init_settings,)

    @property
    def callbacks_enabled(self) -> bool:
        return self.http.public_url is not None

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


def config_path(explicit: str | os.PathLike[str] | None, environ: dict[str, str]) -> Path | None:
    if explicit:
        return Path(explicit)
    if environ.get("STORYBOARD_CONFIG"):
        return Path(environ["STORYBOARD_CONFIG"])
    if DEFAULT_CONFIG_FILE.is_file():
        return DEFAULT_CONFIG_FILE
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None


def _env_overrides(environ: dict[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for env, path in ENV_NAMES.items():
        if env in environ:
            section, _, name = path.partition(".")
            out.setdefault(section, {})[name] = environ[env]
    return out


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _first_error_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    path = ".".join(str(p) for p in err["loc"])
    where = describe_setting(path)
    if err["type"] == "extra_forbidden":
        return f"unknown setting {where}"
    # Never echo the input: it may be a secret.
    return f"{where}: {err['msg']}"


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Load the settings or raise ConfigError with one line naming the faulty setting."""
    env = dict(os.environ if environ is None else environ)
    file = config_path(path, env)
    data = _read_toml(file) if file else {}
    data = _merge(data, _env_overrides(env))
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_first_error_line(exc)) from None
