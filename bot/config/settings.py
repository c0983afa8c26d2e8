"""The settings model: every setting of the bot, and :func:`load_settings`, which fills it from
several sources.

Where a setting's value comes from, the first that has it (bot/config/sources.py):

1. the environment (the variable names in :data:`ENV_NAMES`, bot/config/names.py);
2. a ``*_FILE`` variable naming a file that holds a secret (:data:`SECRET_FILE_NAMES`), as
   Docker secrets and systemd's ``LoadCredential=`` provide;
3. a ``.env`` file: the one beside the config file, else ``./.env``;
4. the TOML file: ``--config PATH``, else ``$STORYBOARD_CONFIG``, else ``./config.toml`` when
   it exists;
5. the defaults (the sections, bot/config/sections.py).

Relative paths in the TOML file are relative to the file's folder; relative paths from the
environment or a ``.env`` file are relative to the working directory. The database and the
media directory are in the data directory (``storage.data_dir``, ``./data``) unless set on
their own.

The sections, :class:`ConfigError` and :func:`describe_setting` are importable from here too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar

from pydantic import PrivateAttr, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.config.errors import ConfigError, error_lines
from bot.config.locations import old_locations
from bot.config.names import ENV_NAMES, SECRET_FILE_NAMES, describe_setting
from bot.config.sections import (
    DEFAULT_DATA_DIR,
    Credits,
    DiscordSettings,
    HttpSettings,
    KieSettings,
    KlingSettings,
    Limit,
    LogLevel,
    LogSettings,
    PriceSettings,
    QuotaDefaults,
    QuotaLimits,
    Resolution,
    RetentionSettings,
    SoraSettings,
    StorageSettings,
    StoryboardSettings,
    TrackerSettings,
)
from bot.config.sources import (
    DEFAULT_CONFIG_FILE,
    DotEnvSource,
    EnvironmentSource,
    SecretFilesSource,
    TomlFileSource,
    config_path,
    dotenv_path,
)

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "DEFAULT_DATA_DIR",
    "ENV_NAMES",
    "SECRET_FILE_NAMES",
    "ConfigError",
    "Credits",
    "DiscordSettings",
    "HttpSettings",
    "KieSettings",
    "KlingSettings",
    "Limit",
    "LogLevel",
    "LogSettings",
    "PriceSettings",
    "QuotaDefaults",
    "QuotaLimits",
    "Resolution",
    "RetentionSettings",
    "Settings",
    "SoraSettings",
    "StorageSettings",
    "StoryboardSettings",
    "TrackerSettings",
    "config_path",
    "describe_setting",
    "load_settings",
]

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
    storyboards: StoryboardSettings = StoryboardSettings()
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
        DotEnvSource(Settings, dotenv_path(file)),
        *((toml,) if toml else ()),
    )
    token = _SOURCES.set(sources)
    try:
        settings = Settings()
    except ValidationError as exc:
        errors = error_lines(exc, sources)
    else:
        errors = []
    finally:
        _SOURCES.reset(token)
    problems = [line for s in sources for line in getattr(s, "problems", [])]
    lines = list(dict.fromkeys(problems + errors))
    if lines:
        raise ConfigError(*lines)
    update, notices = old_locations(settings.storage, toml)
    if update:
        storage = settings.storage.model_copy(update=update)
        settings = settings.model_copy(update={"storage": storage})
    settings._notices = notices
    return settings
