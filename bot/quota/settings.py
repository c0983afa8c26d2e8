"""A guild's quota settings: its effective values, and the values an admin types for them.

Each guild's :class:`GuildQuota` is the ``[quota]`` defaults of the config file with the guild's
overrides on top (only the keys an admin set are stored, in ``quota_settings``; bot.quota.admin
writes them). A value typed in Discord (``"5"``, ``"none"``, ``"10, 15"``, ``<#123>``) is parsed
and checked here, and refused with a :class:`QuotaSettingError` saying why.
"""

from __future__ import annotations

import json
import logging
import re
import zoneinfo
from typing import Annotated, Any, get_args, get_origin

import aiosqlite
from pydantic import ConfigDict, ValidationError

from bot.config.settings import QuotaDefaults, QuotaLimits
from bot.db.connection import Database
from bot.domain.errors import Ref
from bot.quota.errors import QuotaSettingError

log = logging.getLogger(__name__)

# What each setting means, for `quota show`, choices and autocomplete.
SETTINGS_HELP: dict[str, str] = {
    "enabled": "whether members can generate videos in this server (true/false)",
    "channels": "channels where members may generate (empty: all)",
    "roles": "roles allowed to generate (empty: everyone)",
    "user_daily": "videos per member per day (a number or none)",
    "user_concurrent": "videos per member running at once (a number or none)",
    "user_cooldown_seconds": "seconds a member waits between videos",
    "guild_daily": "videos per day for the whole server (a number or none)",
    "guild_concurrent": "videos running at once in the server (a number or none)",
    "guild_monthly_credits": "kie.ai credits the server may spend per month (a number or none)",
    "lengths": "allowed video lengths in seconds, e.g. 10,15 (empty: all)",
    "aspects": "allowed aspects: landscape, portrait (empty: all)",
    "models": "allowed models (empty: all)",
    "resolutions": "allowed resolutions of models that have them: 720p, 1080p, 4k (empty: all)",
    "audio": "whether videos with audio (which cost more) are allowed (true/false)",
    "blocked_terms": "words or phrases refused in scenes, comma-separated",
    "log_channel": "channel for the admin log (or none)",
    "timezone": "IANA time zone of 'per day' and 'per month', e.g. Europe/Paris",
    "failed_counts": "whether a video kie.ai failed counts against the limits (true/false)",
    "user_daily_failures": "videos kie.ai failed a member may have per day (a number or none)",
    "user_active_drafts": "drafts a member may have open at once (a number or none)",
    "user_storage_mb": "megabytes of images and videos a member may store (a number or none)",
    "max_segments": "segments a long storyboard may be made of, one video each (a number or none)",
}


class GuildQuota(QuotaLimits):
    """One guild's effective quota: the ``[quota]`` defaults with its overrides on top."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


SETTING_NAMES: tuple[str, ...] = tuple(GuildQuota.model_fields)
assert set(SETTINGS_HELP) == set(SETTING_NAMES)


class _BadValue(ValueError):
    """Why a typed value is refused: ``quota.reason.<code>`` with ``params``."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


# Pydantic's error types -> the reason worded in the catalogs (``quota.reason.<code>``).
_PYDANTIC_REASONS = {
    "greater_than_equal": "negative",
    "greater_than": "not_positive",
    "int_parsing": "not_int",
    "int_type": "not_int",
    "int_from_float": "not_int",
    "bool_parsing": "not_bool",
    "bool_type": "not_bool",
}


def _why(name: str, value: Any, exc: Exception) -> _BadValue:
    """The reason a value of setting ``name`` was refused, as a code and its parameters."""
    if isinstance(exc, _BadValue):
        return exc
    if not isinstance(exc, ValidationError):
        return _BadValue("other")
    kind = exc.errors()[0]["type"]
    if kind == "literal_error" and name in ("aspects", "resolutions"):
        return _BadValue(name)
    if kind == "value_error" and name == "timezone":
        return _BadValue("timezone", zone=str(value).strip())
    code = _PYDANTIC_REASONS.get(kind, "other")
    return _BadValue(code, text=str(value)) if code in ("not_int", "not_bool") else _BadValue(code)


_BOOLS = {
    "true": True, "yes": True, "on": True, "1": True, "enable": True, "enabled": True,
    "false": False, "no": False, "off": False, "0": False, "disable": False, "disabled": False,
}  # fmt: skip
_NONE = {"none", "null", "unlimited", "no limit", "-"}
_EMPTY_LIST = {"", "none", "all", "any", "everyone", "-", "[]"}
_MENTION = re.compile(r"^<(?:#|@&|@!?)(\d+)>$")


def _parse_int(text: str) -> int:
    text = text.strip()
    m = _MENTION.match(text)
    if m:
        return int(m.group(1))
    try:
        return int(text.replace("_", ""))
    except ValueError:
        raise _BadValue("not_int", text=text) from None


def _unwrap(annotation: Any) -> Any:
    """``Annotated[int, ...]`` -> ``int``; anything else as is."""
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


def _parse(name: str, raw: str) -> Any:
    """A setting's value as typed in Discord (``"5"``, ``"none"``, ``"10, 15"``) -> Python."""
    annotation = GuildQuota.model_fields[name].annotation
    text = raw.strip()
    args = tuple(_unwrap(a) for a in get_args(annotation))
    optional = type(None) in args
    if optional and text.lower() in _NONE:
        return None
    if annotation is bool:
        try:
            return _BOOLS[text.lower()]
        except KeyError:
            raise _BadValue("not_bool", text=raw) from None
    if get_origin(annotation) is list:
        if text.lower() in _EMPTY_LIST:
            return []
        items = [p.strip() for p in re.split(r"[,\n]", text) if p.strip()]
        if args[0] is int:
            parts = [q for p in items for q in p.split()]
            return [_parse_int(p) for p in parts]
        if name == "blocked_terms":
            return items
        return [p.lower() if name == "aspects" else p for p in items]
    if annotation is int or int in args:
        return _parse_int(text)
    return text


def dump(value: Any) -> str:
    """A setting's value as stored (JSON)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class QuotaSettings:
    """The guilds' effective settings: the defaults from the config file and the overrides."""

    def __init__(self, store: Database, defaults: QuotaDefaults) -> None:
        self.store = store
        self.base: dict[str, Any] = defaults.model_dump(include=set(SETTING_NAMES))

    async def overrides(
        self, guild_id: int, db: aiosqlite.Connection | None = None
    ) -> dict[str, Any]:
        """The settings the guild's admins set (name -> value). ``db``: the connection of a
        transaction under way (by default, the store's reader: what was last committed)."""
        sql = "SELECT name, value FROM quota_settings WHERE guild_id = ?"
        if db is None:
            rows = await self.store.read(sql, (guild_id,))
        else:
            async with db.execute(sql, (guild_id,)) as cur:
                rows = list(await cur.fetchall())
        out: dict[str, Any] = {}
        for row in rows:
            if row["name"] in SETTING_NAMES:
                out[row["name"]] = json.loads(row["value"])
        return out

    async def get(self, guild_id: int, db: aiosqlite.Connection | None = None) -> GuildQuota:
        overrides = await self.overrides(guild_id, db)
        try:
            return GuildQuota.model_validate({**self.base, **overrides})
        except ValidationError:
            # A stored value no longer valid (e.g. a model removed): drop the bad keys only.
            good = {}
            for key, value in overrides.items():
                try:
                    GuildQuota.model_validate({**self.base, key: value})
                except ValidationError:
                    log.warning("guild %s: ignoring invalid quota setting %s", guild_id, key)
                else:
                    good[key] = value
            return GuildQuota.model_validate({**self.base, **good})

    def validate_value(self, name: str, value: Any) -> Any:
        """The validated value of setting ``name``; raises QuotaSettingError saying why."""
        if name not in SETTING_NAMES:
            raise QuotaSettingError("quota_unknown_setting", name=name, known=list(SETTING_NAMES))
        try:
            parsed = _parse(name, value) if isinstance(value, str) else value
            checked = GuildQuota.model_validate({**self.base, name: parsed})
        except (ValueError, ValidationError) as exc:
            bad = _why(name, value, exc)
            raise QuotaSettingError(
                "quota_bad_value",
                name=name,
                value=str(value),
                reason=Ref(f"quota.reason.{bad.code}", **bad.params),
                expected=Ref(f"admin.setting.{name}"),
            ) from None
        result = getattr(checked, name)
        if name == "models" and result:
            from bot.models import known_models

            unknown = [m for m in result if m not in known_models()]
            if unknown:
                raise QuotaSettingError(
                    "quota_bad_value",
                    shape="models",
                    name=name,
                    value=str(value),
                    unknown=unknown,
                    known=list(known_models()),
                )
        return result
