"""Where earlier versions kept the database and the media: found there, they stay in use, with
a notice saying how to move them, rather than the bot silently starting afresh elsewhere."""

from __future__ import annotations

from pathlib import Path

from bot.config.sections import StorageSettings
from bot.config.sources import TomlFileSource

# Where earlier versions kept the database and the media by default (the working directory).
OLD_DEFAULTS = {"db": Path("storyboard.db"), "media_dir": Path("media")}


def _plural(paths: list[Path], one: str, many: str) -> str:
    return one if len(paths) == 1 else many


def old_locations(
    storage: StorageSettings, toml: TomlFileSource | None
) -> tuple[dict[str, Path], list[str]]:
    """The [storage] paths to use instead of the loaded ones (name -> path), because an earlier
    version put the file there, and one notice per change, for the log."""
    explicit = storage.model_fields_set
    update: dict[str, Path] = {}
    notices: list[str] = []

    # Earlier defaults: ./storyboard.db and ./media (now in the data directory, ./data).
    if "data_dir" not in explicit:
        kept = []
        for name, old in OLD_DEFAULTS.items():
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
    if toml is not None:
        for name, (written, resolved) in toml.relative.items():
            if name == "data_dir" or getattr(storage, name) != resolved:
                continue  # a new setting, or overridden by a higher source
            if (
                written.exists()
                and not resolved.exists()
                and written.resolve() != resolved.resolve()
            ):
                update[name] = written
                notices.append(
                    f"[storage] {name} = {str(written)!r} in {toml.path} is {resolved} now "
                    "(relative paths in the config file are relative to its folder), which does "
                    f"not exist, but {written.resolve()} does: it is used. Move it to "
                    f"{resolved}, or write its absolute path in the config file"
                )
    return update, notices
