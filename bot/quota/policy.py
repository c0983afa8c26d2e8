"""Per-guild quotas: who may generate, how much, and the atomic reservation that enforces it.

Settings
    Each guild's :class:`GuildQuota` is the ``[quota]`` defaults of the config file with the
    guild's overrides on top (only the keys an admin set are stored, in ``quota_settings``).
    Every change is logged in ``quota_changes`` (who, when, setting, old, new).

Enforcement
    :meth:`Quotas.reserve` runs at Generate (and regenerate). One SQLite write transaction
    (``BEGIN IMMEDIATE``) checks every limit and records a ``usage`` row, so concurrent presses
    (tasks, threads or processes sharing the database file) never exceed a limit. It raises
    :class:`QuotaRefused` naming the limit, the numbers and, where it frees up at a known time,
    ``until`` (unix seconds; the English message renders it as ``<t:UNIX:R>``). Limits changed by
    an admin apply to new reservations at once; running jobs are never cut off.

    "Per day" starts at midnight and "per month" on the 1st at midnight, both in the guild's
    time zone. The cooldown runs from the user's last reservation that was not released and
    did not fail: a failed generation never starts it. Failures are limited on their own, per
    user per day (``user_daily_failures``), counted or not. "Running" means a reservation still
    in state ``reserved``.

Owners and the kill switch
    Bot owners are never limited: their reservations skip every check (including a disabled
    guild and the kill switch, so an owner can still test). They are recorded (``exempt``) and
    appear in reports, but do not count against the guild's or anyone's limits. The kill switch
    (:meth:`Quotas.pause`) refuses every new reservation of everyone else, bot-wide, with code
    ``paused``; jobs already running finish.

Release policy (what a reservation becomes when its job ends, :meth:`Quotas.settle`)
    - ``refused`` / ``cancelled``: the job never reached kie.ai, or kie.ai proved that no task
      was created (validation, 402, 429 given up, paused model, cancelled before submission):
      **released**, it does not count at all.
    - ``failed``: kie.ai created the task and the generation failed: counts (``charged``) only if
      the guild's ``failed_counts`` is true; by default **released**, since kie.ai does not
      document charging failed generations.
    - ``delivered``: **charged**: it counts, and no longer takes a running slot.
    - ``unknown``: the create outcome is unknown: it **stays reserved**, keeping its running slot
      and counting, until it is settled again with a known outcome.
    A reservation is priced for the model that takes the job. Before a fallback model takes a
    job, :meth:`Quotas.switch_model` checks the guild's rules against the fallback as it would
    be submitted (model, resolution, audio, length, aspect, the monthly budget at its price) and
    charges its price; when a rule refuses, the job ends refused and its reservation is released.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re
import time
import unicodedata
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal, get_args, get_origin

import aiosqlite
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.config.settings import QuotaDefaults, QuotaLimits
from bot.db.connection import Database
from bot.domain.errors import Ref, UserError
from bot.domain.storyboard import Storyboard, is_ignorable

log = logging.getLogger(__name__)

Outcome = Literal["delivered", "failed", "refused", "cancelled", "unknown"]
UsageState = Literal["reserved", "charged", "released"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
# Usage rows in these states count against the limits.
COUNTING = ("reserved", "charged")
PAUSED_KEY = "quota.paused"
# The guild id of bot-wide entries in the change log (the kill switch).
BOT_WIDE = 0

RELEASE_POLICY = (
    "A video that never reached kie.ai (refused, cancelled, rate-limited, model paused) is not "
    "counted. A video kie.ai failed counts only if failed_counts is on (default: off). A video "
    "whose submission outcome is unknown keeps its slot and counts until it is resolved."
)

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
}


class GuildQuota(QuotaLimits):
    """One guild's effective quota: the ``[quota]`` defaults with its overrides on top."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


SETTING_NAMES: tuple[str, ...] = tuple(GuildQuota.model_fields)
assert set(SETTINGS_HELP) == set(SETTING_NAMES)


class QuotaRefused(UserError):
    """A reservation was refused by a limit; ``code`` names it, ``params`` hold the numbers
    (JSON values: a refused fallback keeps them in the job). Worded as ``err.quota.<code>``."""

    prefix = "err.quota"

    @property
    def until(self) -> int | None:
        value = self.params.get("until")
        return int(value) if value is not None else None


class QuotaSettingError(UserError):
    """A quota setting name or value an admin typed is not valid; the message says why.
    Worded as ``err.<code>`` (its codes start ``quota_``)."""


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


class QuotaChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    guild_id: int
    actor_id: int | None
    setting: str
    old: Any
    new: Any
    at: float


class UsageSummary(BaseModel):
    """What a member has used and has left, for ``/storyboard-usage``."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    guild_id: int
    user_id: int
    owner: bool
    used_today: int
    daily_limit: int | None
    left_today: int | None  # None: unlimited
    running: int
    concurrent_limit: int | None
    user_month_videos: int
    user_month_credits: int
    guild_used_today: int
    guild_daily: int | None
    guild_running: int
    guild_concurrent: int | None
    guild_month_credits: int
    guild_monthly_credits: int | None
    guild_credits_left: int | None  # None: no budget
    day_resets_at: int
    month_resets_at: int
    refusal: QuotaRefused | None  # why the member cannot generate right now, if they cannot


class UserUsage(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: int
    videos: int
    credits: int
    running: int


class UsageReport(BaseModel):
    """Per-user videos and credits over a period, and the guild's totals against its limits.

    ``users``, ``videos``, ``credits`` and ``running`` include the owners' videos (what was
    spent); ``today_videos`` and ``month_credits`` are what counts against the guild's limits
    (owners excluded).
    """

    model_config = ConfigDict(frozen=True)

    guild_id: int
    days: int
    since: int  # local midnight, ``days - 1`` days before today
    users: list[UserUsage]
    videos: int
    credits: int
    running: int
    today_videos: int
    month_credits: int
    quota: GuildQuota


# --------------------------------------------------------------------------- time


def day_bounds(now: float, zone: dt.tzinfo) -> tuple[int, int]:
    """The unix times of local midnight today and tomorrow."""
    today = dt.datetime.fromtimestamp(now, zone).date()
    return _midnight(today, zone), _midnight(today + dt.timedelta(days=1), zone)


def month_bounds(now: float, zone: dt.tzinfo) -> tuple[int, int]:
    """The unix times of the 1st of this month and of next month, at local midnight."""
    first = dt.datetime.fromtimestamp(now, zone).date().replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return _midnight(first, zone), _midnight(following, zone)


def _midnight(day: dt.date, zone: dt.tzinfo) -> int:
    return int(dt.datetime.combine(day, dt.time.min, tzinfo=zone).timestamp())


# --------------------------------------------------------------------------- terms


_SPACES = re.compile(r"\s+")


@functools.cache
def _prototypes() -> dict[str, str]:
    """Each non-ASCII character of Unicode's confusables.txt -> the character it is folded to.

    confusable_homoglyphs ships confusables.txt as pairs listed both ways (a character and the
    prototype it can be mistaken for). A character has one prototype and no prototype is itself
    mapped, so the pairs form stars: each character folds to the centre of its star (of a lone
    pair, the ASCII side, else either one; the same for the terms and the text).
    """
    from confusable_homoglyphs.confusables import confusables_data

    def clean(text: str) -> str:  # right-to-left entries come wrapped in direction marks
        return "".join(ch for ch in text if not is_ignorable(ch))

    links: dict[str, set[str]] = {}
    for char, glyphs in confusables_data.items():
        a = clean(char)
        for glyph in glyphs:
            b = clean(glyph["c"])
            if a and b and a != b:
                links.setdefault(a, set()).add(b)
                links.setdefault(b, set()).add(a)
    table: dict[str, str] = {}
    seen: set[str] = set()
    for start in links:
        if start in seen:
            continue
        group, todo = [], [start]
        seen.add(start)
        while todo:
            node = todo.pop()
            group.append(node)
            for other in links[node] - seen:
                seen.add(other)
                todo.append(other)
        centre = max(group, key=lambda g: (len(links[g]), g.isascii(), g))
        for member in group:
            if len(member) == 1 and not member.isascii() and member != centre:
                table[member] = centre
    return table


@functools.cache
def _prototypes_as_i() -> dict[str, str]:
    """The same, reading the characters Unicode folds to ``l`` (Greek Ι, Cyrillic І...) as
    the capital I they also look like."""
    return {k: "i" if v == "l" else v for k, v in _prototypes().items()}


def normalize(text: str, *, capital_i: bool = False) -> str:
    """The form blocked terms are matched in, for the terms and the scenes alike.

    Invisible characters are dropped (format characters such as zero-width spaces, soft hyphens
    and direction marks; variation selectors), then NFKC (full-width forms become ASCII) and
    casefold; then every non-ASCII character that Unicode lists as confusable with another is
    replaced by its prototype (a Cyrillic ``о`` by a Latin ``o``), and runs of whitespace become
    one space. ASCII is kept as typed: ``click`` is not a disguised ``dick``, nor ``pom`` one of
    ``porn``. ``capital_i``: read look-alikes of ``l`` and ``I`` as ``i`` (``ΚΙLL``), not ``l``.
    """
    table = _prototypes_as_i() if capital_i else _prototypes()
    text = "".join(ch for ch in text if not is_ignorable(ch))
    # Folded before casefolding (the table tells capitals apart: Cyrillic Ӏ looks like l, its
    # small form like i), and again after it.
    for _ in range(2):
        text = unicodedata.normalize("NFKC", text)
        text = "".join(ch if ch.isascii() else table.get(ch, ch) for ch in text).casefold()
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold())


def check_terms(quota: GuildQuota, texts: Iterable[str]) -> None:
    """Raise QuotaRefused ``blocked_term`` naming the first blocked term found in ``texts``
    (compared in their :func:`normalize` forms, as substrings)."""
    if not quota.blocked_terms:
        return
    haystacks = [h for t in texts for h in {normalize(t), normalize(t, capital_i=True)}]
    for term in quota.blocked_terms:
        needle = normalize(term)
        if needle and any(needle in h for h in haystacks):
            raise QuotaRefused("blocked_term", term=term)


# --------------------------------------------------------------------------- values

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


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------- quotas


def _budget_refusal(used: int, budget: int, credits: int | None, month_end: int) -> QuotaRefused:
    """The month's budget is spent (``credits`` None: no video priced yet) or this video's
    ``credits`` would overspend it."""
    return QuotaRefused(
        "guild_budget",
        shape="spent" if credits is None else None,
        used=used,
        limit=budget,
        credits=credits,
        until=month_end,
    )


class Quotas:
    """Per-guild quota settings, the kill switch, and atomic reservations in the store."""

    def __init__(self, store: Database, defaults: QuotaDefaults) -> None:
        self.store = store
        self.defaults = defaults
        self._base = defaults.model_dump(include=set(SETTING_NAMES))
        # Application owner / team members found at start-up (see add_owners).
        self._owners: set[int] = set(defaults.owner_ids)

    # -- owners ------------------------------------------------------------------------
    def add_owners(self, user_ids: Iterable[int]) -> None:
        self._owners.update(user_ids)

    @property
    def owners(self) -> frozenset[int]:
        return frozenset(self._owners)

    def is_owner(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self._owners

    # -- settings ----------------------------------------------------------------------
    async def overrides(self, guild_id: int) -> dict[str, Any]:
        async with self.store.db.execute(
            "SELECT name, value FROM quota_settings WHERE guild_id = ?", (guild_id,)
        ) as cur:
            rows = await cur.fetchall()
        out: dict[str, Any] = {}
        for row in rows:
            if row["name"] in SETTING_NAMES:
                out[row["name"]] = json.loads(row["value"])
        return out

    async def get(self, guild_id: int) -> GuildQuota:
        overrides = await self.overrides(guild_id)
        try:
            return GuildQuota.model_validate({**self._base, **overrides})
        except ValidationError:
            # A stored value no longer valid (e.g. a model removed): drop the bad keys only.
            good = {}
            for key, value in overrides.items():
                try:
                    GuildQuota.model_validate({**self._base, key: value})
                except ValidationError:
                    log.warning("guild %s: ignoring invalid quota setting %s", guild_id, key)
                else:
                    good[key] = value
            return GuildQuota.model_validate({**self._base, **good})

    def validate_value(self, name: str, value: Any) -> Any:
        """The validated value of setting ``name``; raises QuotaSettingError saying why."""
        if name not in SETTING_NAMES:
            raise QuotaSettingError("quota_unknown_setting", name=name, known=list(SETTING_NAMES))
        try:
            parsed = _parse(name, value) if isinstance(value, str) else value
            checked = GuildQuota.model_validate({**self._base, name: parsed})
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

    async def set(
        self, guild_id: int, name: str, value: Any, *, actor_id: int | None
    ) -> tuple[Any, Any]:
        """Override one setting for the guild; returns ``(old, new)`` and logs the change."""
        new = self.validate_value(name, value)
        async with self.store.transaction() as db:
            old = getattr(await self.get(guild_id), name)
            await db.execute(
                "INSERT INTO quota_settings(guild_id, name, value) VALUES (?, ?, ?) "
                "ON CONFLICT(guild_id, name) DO UPDATE SET value = excluded.value",
                (guild_id, name, _dump(new)),
            )
            await self._log(db, guild_id, actor_id, name, old, new)
        return old, new

    async def add_item(
        self, guild_id: int, name: str, item: Any, *, actor_id: int | None
    ) -> tuple[Any, Any]:
        """Add one entry to a list setting (channels, roles, blocked_terms, ...)."""
        current = list(getattr(await self.get(guild_id), name))
        extra = self.validate_value(name, [item] if not isinstance(item, str) else item)
        return await self.set(
            guild_id, name, current + [x for x in extra if x not in current], actor_id=actor_id
        )

    async def remove_item(
        self, guild_id: int, name: str, item: Any, *, actor_id: int | None
    ) -> tuple[Any, Any]:
        current = list(getattr(await self.get(guild_id), name))
        gone = self.validate_value(name, [item] if not isinstance(item, str) else item)
        return await self.set(
            guild_id, name, [x for x in current if x not in gone], actor_id=actor_id
        )

    async def reset(self, guild_id: int, *, actor_id: int | None, name: str | None = None) -> None:
        """Drop the guild's overrides (all of them, or one setting): back to the defaults."""
        if name is not None and name not in SETTING_NAMES:
            self.validate_value(name, None)  # raises: unknown setting
        async with self.store.transaction() as db:
            before = await self.get(guild_id)
            overridden = await self.overrides(guild_id)
            names = [name] if name is not None else sorted(overridden)
            for key in names:
                if key not in overridden:
                    continue
                await db.execute(
                    "DELETE FROM quota_settings WHERE guild_id = ? AND name = ?", (guild_id, key)
                )
                await self._log(db, guild_id, actor_id, key, getattr(before, key), self._base[key])

    async def changes(self, guild_id: int, limit: int = 10) -> list[QuotaChange]:
        """The latest setting changes, newest first."""
        async with self.store.db.execute(
            "SELECT * FROM quota_changes WHERE guild_id = ? ORDER BY id DESC LIMIT ?",
            (guild_id, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [
            QuotaChange(
                guild_id=r["guild_id"],
                actor_id=r["actor_id"],
                setting=r["setting"],
                old=json.loads(r["old"]) if r["old"] is not None else None,
                new=json.loads(r["new"]) if r["new"] is not None else None,
                at=r["created_at"],
            )
            for r in rows
        ]

    async def _log(
        self,
        db: aiosqlite.Connection,
        guild_id: int,
        actor_id: int | None,
        setting: str,
        old: Any,
        new: Any,
    ) -> None:
        await db.execute(
            "INSERT INTO quota_changes(guild_id, actor_id, setting, old, new, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (guild_id, actor_id, setting, _dump(old), _dump(new), time.time()),
        )

    # -- kill switch -------------------------------------------------------------------
    async def pause(self, actor_id: int | None, paused: bool) -> None:
        """Stop (or resume) all new submissions bot-wide; jobs already running finish."""
        async with self.store.transaction() as db:
            old = await self._paused(db)
            await db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (PAUSED_KEY, "1" if paused else "0"),
            )
            await self._log(db, BOT_WIDE, actor_id, "paused", old, paused)

    async def paused(self) -> bool:
        return await self._paused(self.store.db)

    @staticmethod
    async def _paused(db: aiosqlite.Connection) -> bool:
        async with db.execute("SELECT value FROM meta WHERE key = ?", (PAUSED_KEY,)) as cur:
            row = await cur.fetchone()
        return bool(row and row["value"] == "1")

    # -- reservations ------------------------------------------------------------------
    async def reserve(
        self,
        *,
        job_id: str,
        guild_id: int,
        user_id: int,
        channel_id: int | None,
        role_ids: Sequence[int],
        board: Storyboard,
        model_name: str,
        credits: int,
        now: float,
        options: Mapping[str, object] | None = None,
    ) -> None:
        """Check every limit and record the reservation, in one write transaction.

        ``options``: the model's options that cost money (``resolution``, ``audio``), if any.

        Raises QuotaRefused when a limit refuses. Reserving a job id already reserved or
        charged does nothing (a retried press); a released one is reserved afresh.
        """
        owner = self.is_owner(user_id)
        async with self.store.transaction() as db:
            async with db.execute("SELECT state FROM usage WHERE job_id = ?", (job_id,)) as cur:
                row = await cur.fetchone()
            if row is not None and row["state"] in COUNTING:
                return
            if not owner:
                quota = await self.get(guild_id)
                await self._check(
                    db,
                    quota,
                    guild_id=guild_id,
                    user_id=user_id,
                    channel_id=channel_id,
                    role_ids=role_ids,
                    board=board,
                    model_name=model_name,
                    credits=credits,
                    now=now,
                    options=options,
                )
            await db.execute(
                "INSERT OR REPLACE INTO usage(job_id, guild_id, user_id, channel_id, model, "
                "credits, state, outcome, exempt, created_at, settled_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'reserved', NULL, ?, ?, NULL)",
                (job_id, guild_id, user_id, channel_id, model_name, credits, int(owner), now),
            )

    async def switch_model(
        self,
        job_id: str,
        model_name: str,
        credits: int,
        *,
        board: Storyboard,
        options: Mapping[str, object] | None = None,
        now: float | None = None,
    ) -> None:
        """Before a fallback model takes a reserved job: the guild's rules must allow it as it
        would be submitted (the model, its resolution and audio, the length and aspect, and
        the monthly budget at its price), then the reservation is charged at its price.

        Raises QuotaRefused (nothing changes) when a rule refuses. The job already holds its
        running slot and its place in the day's count, so only what differs is checked. A job
        without a reservation (the command line) or an owner's job is only repriced.
        """
        async with self.store.transaction() as db:
            async with db.execute(
                "SELECT guild_id, credits, exempt, created_at FROM usage WHERE job_id = ?",
                (job_id,),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return
            if not row["exempt"]:
                quota = await self.get(row["guild_id"])
                self._check_what(quota, model_name=model_name, options=options, board=board)
                budget = quota.guild_monthly_credits
                if budget is not None:
                    when = time.time() if now is None else now
                    month_start, month_end = month_bounds(when, quota.zone)
                    guild = await self._counts(db, row["guild_id"], None, 0.0, month_start)
                    # This job's reservation is already counted, at the old price.
                    mine = row["credits"] if row["created_at"] >= month_start else 0
                    used = guild["month_credits"] - mine
                    if used + credits > budget:
                        raise _budget_refusal(used, budget, credits, month_end)
            await db.execute(
                "UPDATE usage SET model = ?, credits = ? WHERE job_id = ?",
                (model_name, credits, job_id),
            )

    async def settle(
        self, job_id: str, *, outcome: Outcome, now: float | None = None
    ) -> UsageState | None:
        """Apply the release policy; returns the reservation's state (None: no reservation).

        ``charged`` and ``reserved`` count against the limits, ``released`` does not. Only a
        reservation still ``reserved`` changes; a settled one keeps its state.
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}")
        when = time.time() if now is None else now
        async with self.store.transaction() as db:
            async with db.execute(
                "SELECT guild_id, state FROM usage WHERE job_id = ?", (job_id,)
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return None
            if row["state"] != "reserved":
                return row["state"]
            state: UsageState
            if outcome == "unknown":
                state = "reserved"
            elif outcome == "delivered":
                state = "charged"
            elif outcome == "failed":
                quota = await self.get(row["guild_id"])
                state = "charged" if quota.failed_counts else "released"
            else:
                state = "released"
            await db.execute(
                "UPDATE usage SET state = ?, outcome = ?, settled_at = ? WHERE job_id = ?",
                (state, outcome, None if state == "reserved" else when, job_id),
            )
            return state

    async def usage_state(self, job_id: str) -> UsageState | None:
        async with self.store.db.execute(
            "SELECT state FROM usage WHERE job_id = ?", (job_id,)
        ) as cur:
            row = await cur.fetchone()
        return row["state"] if row else None

    async def reserved_jobs(self) -> list[tuple[str, float]]:
        """Every reservation still ``reserved``: (job id, when it was made)."""
        async with self.store.db.execute(
            "SELECT job_id, created_at FROM usage WHERE state = 'reserved'"
        ) as cur:
            return [(r["job_id"], r["created_at"]) for r in await cur.fetchall()]

    # -- the checks --------------------------------------------------------------------
    @staticmethod
    def _check_what(
        quota: GuildQuota,
        *,
        model_name: str | None,
        options: Mapping[str, object] | None,
        board: Storyboard | None,
    ) -> None:
        """The rules about what is made: the model, its options, the length and the aspect."""
        if model_name is not None and quota.models and model_name not in quota.models:
            raise QuotaRefused("model", model=model_name, allowed=list(quota.models))
        resolution = (options or {}).get("resolution")
        if resolution and quota.resolutions and resolution not in quota.resolutions:
            raise QuotaRefused(
                "resolution",
                model=model_name,
                resolution=resolution,
                allowed=list(quota.resolutions),
            )
        if (options or {}).get("audio") and not quota.audio:
            raise QuotaRefused("audio", model=model_name)
        if board is not None:
            if quota.lengths and board.length not in quota.lengths:
                raise QuotaRefused("length", length=board.length, allowed=sorted(quota.lengths))
            if quota.aspects and board.aspect not in quota.aspects:
                raise QuotaRefused("aspect", aspect=board.aspect, allowed=list(quota.aspects))

    async def _check(
        self,
        db: aiosqlite.Connection,
        quota: GuildQuota,
        *,
        guild_id: int,
        user_id: int,
        channel_id: int | None,
        role_ids: Sequence[int] | None,
        board: Storyboard | None,
        model_name: str | None,
        credits: int | None,
        now: float,
        options: Mapping[str, object] | None = None,
    ) -> None:
        """Raise QuotaRefused for the first limit that refuses. ``None`` arguments are skipped
        (``usage`` checks what it can without a storyboard)."""
        if await self._paused(db):
            raise QuotaRefused("paused")
        if not quota.enabled:
            raise QuotaRefused("disabled")
        if channel_id is not None and quota.channels and channel_id not in quota.channels:
            raise QuotaRefused("channel", channels=[f"<#{c}>" for c in quota.channels])
        if role_ids is not None and quota.roles and not set(role_ids) & set(quota.roles):
            raise QuotaRefused("role", roles=[f"<@&{r}>" for r in quota.roles])
        self._check_what(quota, model_name=model_name, options=options, board=board)
        if board is not None:
            check_terms(quota, [s.scene for s in board.shots])

        # The limit that frees up last is named first: the month, the day, then running
        # videos and the cooldown.
        day_start, day_end = day_bounds(now, quota.zone)
        month_start, month_end = month_bounds(now, quota.zone)
        user = await self._counts(db, guild_id, user_id, day_start, month_start)
        guild = await self._counts(db, guild_id, None, day_start, month_start)
        budget = quota.guild_monthly_credits
        if budget is not None:
            used = guild["month_credits"]
            over = used + credits > budget if credits is not None else used >= budget
            if over:
                raise _budget_refusal(used, budget, credits, month_end)
        if quota.guild_daily is not None and guild["today"] >= quota.guild_daily:
            raise QuotaRefused(
                "guild_daily",
                used=guild["today"],
                limit=quota.guild_daily,
                until=day_end,
            )
        if quota.user_daily is not None and user["today"] >= quota.user_daily:
            raise QuotaRefused(
                "user_daily",
                used=user["today"],
                limit=quota.user_daily,
                until=day_end,
            )
        failures = quota.user_daily_failures
        if failures is not None and user["failed_today"] >= failures:
            raise QuotaRefused(
                "user_daily_failures",
                failed=user["failed_today"],
                limit=failures,
                until=day_end,
            )
        if quota.guild_concurrent is not None and guild["running"] >= quota.guild_concurrent:
            raise QuotaRefused(
                "guild_concurrent",
                running=guild["running"],
                limit=quota.guild_concurrent,
            )
        if quota.user_concurrent is not None and user["running"] >= quota.user_concurrent:
            raise QuotaRefused(
                "user_concurrent",
                running=user["running"],
                limit=quota.user_concurrent,
            )
        if quota.user_cooldown_seconds and user["last"] is not None:
            ready = user["last"] + quota.user_cooldown_seconds
            if now < ready:
                until = int(-(-ready // 1))
                raise QuotaRefused(
                    "cooldown",
                    seconds=quota.user_cooldown_seconds,
                    until=until,
                )

    async def _counts(
        self,
        db: aiosqlite.Connection,
        guild_id: int,
        user_id: int | None,
        day_start: float,
        month_start: float,
    ) -> dict[str, Any]:
        """Counting (non-exempt) usage of a user in a guild, or of the whole guild.

        ``last`` (where the cooldown starts) is the newest counting reservation that did not
        fail: one running, unknown or made, never one kie.ai failed (whether or not the guild
        counts failures). ``failed_today`` counts every failure since ``day_start``, counted
        or released."""
        where = "guild_id = ? AND exempt = 0"
        params: list[Any] = [guild_id]
        if user_id is not None:
            where += " AND user_id = ?"
            params.append(user_id)
        counting = "state IN ('reserved', 'charged')"
        async with db.execute(
            "SELECT "
            "COALESCE(SUM(state = 'reserved'), 0) AS running, "
            f"COALESCE(SUM({counting} AND created_at >= ?), 0) AS today, "
            f"COALESCE(SUM(CASE WHEN {counting} AND created_at >= ? THEN credits ELSE 0 END), 0) "
            "AS credits, "
            f"COALESCE(SUM({counting} AND created_at >= ?), 0) AS month_videos, "
            f"MAX(CASE WHEN {counting} AND outcome IS NOT 'failed' THEN created_at END) AS last, "
            "COALESCE(SUM(outcome = 'failed' AND created_at >= ?), 0) AS failed_today "
            f"FROM usage WHERE {where}",
            (day_start, month_start, month_start, day_start, *params),
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        return {
            "running": int(row["running"]),
            "today": int(row["today"]),
            "month_credits": int(row["credits"]),
            "month_videos": int(row["month_videos"]),
            "last": row["last"],
            "failed_today": int(row["failed_today"]),
        }

    # -- what people see ---------------------------------------------------------------
    async def usage(
        self,
        guild_id: int,
        user_id: int,
        now: float,
        *,
        channel_id: int | None = None,
        role_ids: Sequence[int] | None = None,
    ) -> UsageSummary:
        """What the member has used and left, when it resets, and why they are blocked (if)."""
        quota = await self.get(guild_id)
        db = self.store.db
        day_start, day_end = day_bounds(now, quota.zone)
        month_start, month_end = month_bounds(now, quota.zone)
        user = await self._counts(db, guild_id, user_id, day_start, month_start)
        guild = await self._counts(db, guild_id, None, day_start, month_start)
        owner = self.is_owner(user_id)
        refusal: QuotaRefused | None = None
        if not owner:
            try:
                await self._check(
                    db,
                    quota,
                    guild_id=guild_id,
                    user_id=user_id,
                    channel_id=channel_id,
                    role_ids=role_ids,
                    board=None,
                    model_name=None,
                    credits=None,
                    now=now,
                )
            except QuotaRefused as exc:
                refusal = exc
        budget = quota.guild_monthly_credits
        return UsageSummary(
            guild_id=guild_id,
            user_id=user_id,
            owner=owner,
            used_today=user["today"],
            daily_limit=quota.user_daily,
            left_today=(
                None if quota.user_daily is None else max(0, quota.user_daily - user["today"])
            ),
            running=user["running"],
            concurrent_limit=quota.user_concurrent,
            user_month_videos=user["month_videos"],
            user_month_credits=user["month_credits"],
            guild_used_today=guild["today"],
            guild_daily=quota.guild_daily,
            guild_running=guild["running"],
            guild_concurrent=quota.guild_concurrent,
            guild_month_credits=guild["month_credits"],
            guild_monthly_credits=budget,
            guild_credits_left=None if budget is None else max(0, budget - guild["month_credits"]),
            day_resets_at=day_end,
            month_resets_at=month_end,
            refusal=refusal,
        )

    async def report(self, guild_id: int, *, days: int, now: float) -> UsageReport:
        """Per-user videos and credits of the last ``days`` local days (today included)."""
        if days < 1:
            raise QuotaSettingError("quota_days", days=days)
        quota = await self.get(guild_id)
        today = dt.datetime.fromtimestamp(now, quota.zone).date()
        since = _midnight(today - dt.timedelta(days=days - 1), quota.zone)
        async with self.store.db.execute(
            "SELECT user_id, COUNT(*) AS videos, COALESCE(SUM(credits), 0) AS credits, "
            "COALESCE(SUM(state = 'reserved'), 0) AS running "
            "FROM usage WHERE guild_id = ? AND created_at >= ? "
            "AND state IN ('reserved', 'charged') "
            "GROUP BY user_id ORDER BY credits DESC, videos DESC, user_id",
            (guild_id, since),
        ) as cur:
            rows = await cur.fetchall()
        users = [
            UserUsage(
                user_id=r["user_id"],
                videos=r["videos"],
                credits=r["credits"],
                running=r["running"],
            )
            for r in rows
        ]
        day_start, _ = day_bounds(now, quota.zone)
        month_start, _ = month_bounds(now, quota.zone)
        guild = await self._counts(self.store.db, guild_id, None, day_start, month_start)
        return UsageReport(
            guild_id=guild_id,
            days=days,
            since=since,
            users=users,
            videos=sum(u.videos for u in users),
            credits=sum(u.credits for u in users),
            running=sum(u.running for u in users),
            today_videos=guild["today"],
            month_credits=guild["month_credits"],
            quota=quota,
        )

    async def settle_part(
        self,
        job_id: str,
        *,
        made: int,
        last: int,
        last_outcome: Outcome,
        now: float | None = None,
    ) -> UsageState | None:
        """Settle a reservation of which only a part was used: a long storyboard whose segment
        ended without a video. The ``made`` credits of the segments made count; the failed
        segment's ``last`` credits follow the release policy for ``last_outcome``; the rest
        (segments never sent) is released. What counts is charged (outcome ``last_outcome``);
        nothing counting releases it. Only a reservation still ``reserved`` changes."""
        if last_outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {last_outcome!r}; expected one of {OUTCOMES}")
        when = time.time() if now is None else now
        async with self.store.transaction() as db:
            async with db.execute(
                "SELECT guild_id, state FROM usage WHERE job_id = ?", (job_id,)
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return None
            if row["state"] != "reserved":
                return row["state"]
            counts = last_outcome in ("delivered", "unknown")
            if last_outcome == "failed":
                counts = (await self.get(row["guild_id"])).failed_counts
            credits = made + (last if counts else 0)
            state: UsageState = "charged" if credits else "released"
            # A released reservation keeps the price it was made at (it counts nowhere).
            await db.execute(
                "UPDATE usage SET state = ?, outcome = ?, credits = COALESCE(?, credits), "
                "settled_at = ? WHERE job_id = ?",
                (state, last_outcome, credits or None, when, job_id),
            )
            return state
