"""Where the settings' values come from: the environment, ``*_FILE`` secret files, a ``.env``
file and the TOML file, each a pydantic-settings source that also records where each value
came from (``origins``) and what it could not read (``problems``)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    TomlConfigSettingsSource,
)

from bot.config.names import ENV_NAMES, PATH_TO_ENV, SECRET_FILE_NAMES

DEFAULT_CONFIG_FILE = Path("config.toml")


def config_path(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path | None:
    if explicit:
        return Path(explicit)
    if environ.get("STORYBOARD_CONFIG"):
        return Path(environ["STORYBOARD_CONFIG"])
    if DEFAULT_CONFIG_FILE.is_file():
        return DEFAULT_CONFIG_FILE
    return None


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
    origins.update({tuple(path.split(".")): label(PATH_TO_ENV[path]) for path in found})
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
        self.origins: Origins = {}
        self.problems: list[str] = []
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


def dotenv_path(config: Path | None) -> Path | None:
    """The ``.env`` beside the config file, else ``./.env``; None when there is neither."""
    candidates = [config.expanduser().parent / ".env"] if config else []
    candidates.append(Path(".env"))
    return next((p for p in candidates if p.is_file()), None)
