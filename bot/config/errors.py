"""Configuration errors: :class:`ConfigError`, and pydantic's validation errors turned into
lines that name each setting and where its value came from, never the value."""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_settings import PydanticBaseSettingsSource

from bot.config.names import describe_setting


class ConfigError(Exception):
    """Settings are missing or invalid. ``str()`` has one line per problem, each naming the
    setting and where its value came from, never the value."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)


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


def error_lines(exc: ValidationError, sources: tuple[PydanticBaseSettingsSource, ...]) -> list[str]:
    """One line per error pydantic found, naming the setting and where its value came from."""
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
