"""The settings' sections, one model per table of the TOML file ([kie], [storage], [quota]...),
with their defaults and the checks of their values."""

from __future__ import annotations

import ipaddress
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)

from bot.domain.storyboard import Aspect

DEFAULT_DATA_DIR = Path("data")


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
        assert info.field_name is not None  # always set for a field's validator
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


class StoryboardSettings(_Section):
    """Long storyboards: the longest total and the most shots a storyboard may have. One a
    model does not take in a single video is made as several segments, joined into one."""

    # Seconds (the shots' total), and shots, at most.
    max_seconds: int = Field(default=60, ge=10, le=600)
    max_shots: int = Field(default=20, ge=1, le=100)


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
        assert info.field_name is not None  # always set for a field's validator
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

    These are the fields a guild admin can override (``bot.quota.settings.GuildQuota``); the
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
    # The segments a long storyboard may be made of (one generation each, chained into one
    # video); None: as many as the storyboard needs, within the product's maximum.
    max_segments: Annotated[int, Field(gt=0)] | None = None

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
        "max_segments",
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
