"""The quota policy: who may generate and how much, checked as the reservation is made; and
:class:`Quotas`, the one object the rest of the bot uses for quotas.

Enforcement
    :meth:`Quotas.reserve` runs at Generate (and regenerate). One SQLite write transaction
    (``BEGIN IMMEDIATE``) checks every limit and records a ``usage`` row (bot.quota.ledger), so
    concurrent presses (tasks, threads or processes sharing the database file) never exceed a
    limit. It raises :class:`QuotaRefused` naming the limit, the numbers and, where it frees up
    at a known time, ``until`` (unix seconds; the English message renders it as
    ``<t:UNIX:R>``). Limits changed by an admin apply to new reservations at once; running jobs
    are never cut off.

    "Per day" and "per month" are the guild's (bot.quota.periods). The cooldown runs from the
    user's last reservation that was not released and did not fail: a failed generation never
    starts it. Failures are limited on their own, per user per day (``user_daily_failures``),
    counted or not. "Running" means a reservation still in state ``reserved``. A long
    storyboard made of more segments than the guild's ``max_segments`` is refused
    (``segments``); :meth:`Quotas.max_segments` gives the cap to whoever plans the segments.

Owners and the kill switch
    Bot owners are never limited: their reservations skip every check (including a disabled
    guild and the kill switch, so an owner can still test). They are recorded (``exempt``) and
    appear in reports, but do not count against the guild's or anyone's limits. The kill switch
    (:meth:`Quotas.pause`) refuses every new reservation of everyone else, bot-wide, with code
    ``paused``; jobs already running finish.

Fallbacks
    A reservation is priced for the model that takes the job. Before a fallback model takes a
    job, :meth:`Quotas.switch_model` checks the guild's rules against the fallback as it would
    be submitted (model, resolution, audio, length, aspect, the monthly budget at its price) and
    charges its price; when a rule refuses, the job ends refused and its reservation is released.
    The repricing is written before the job is switched: a job a crash left on its own model
    settles at its own model's price (:meth:`Quotas.settle` with the job's ``model``).

What a reservation becomes when its job ends is the ledger's release policy (bot.quota.ledger).
The names other packages use stay importable from here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import aiosqlite

from bot.config.settings import QuotaDefaults
from bot.db.connection import Database
from bot.domain.storyboard import Storyboard
from bot.quota.admin import BOT_WIDE, PAUSED_KEY, Admin, QuotaChange, is_paused
from bot.quota.errors import QuotaRefused, QuotaSettingError
from bot.quota.ledger import (
    COUNTING,
    OUTCOMES,
    RELEASE_POLICY,
    Ledger,
    Outcome,
    Reservation,
    UsageState,
    UserUsage,
)
from bot.quota.periods import day_bounds, month_bounds
from bot.quota.reports import Reports, UsageReport, UsageSummary
from bot.quota.rules import budget_refusal, check_what
from bot.quota.settings import SETTING_NAMES, SETTINGS_HELP, GuildQuota, QuotaSettings
from bot.quota.terms import check_terms, normalize

__all__ = [
    "BOT_WIDE",
    "COUNTING",
    "OUTCOMES",
    "PAUSED_KEY",
    "RELEASE_POLICY",
    "SETTINGS_HELP",
    "SETTING_NAMES",
    "GuildQuota",
    "Outcome",
    "QuotaChange",
    "QuotaRefused",
    "QuotaSettingError",
    "Quotas",
    "UsageReport",
    "UsageState",
    "UsageSummary",
    "UserUsage",
    "check_terms",
    "check_what",
    "day_bounds",
    "month_bounds",
    "normalize",
]


class Quotas:
    """Per-guild quota settings, the kill switch, and atomic reservations in the store."""

    def __init__(self, store: Database, defaults: QuotaDefaults) -> None:
        self.store = store
        self.defaults = defaults
        self.settings = QuotaSettings(store, defaults)
        self.admin = Admin(store, self.settings)
        self.ledger = Ledger(store)
        self.reports = Reports(self.ledger)
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

    # -- settings and admin changes (bot.quota.settings, bot.quota.admin) ---------------
    async def overrides(self, guild_id: int) -> dict[str, Any]:
        return await self.settings.overrides(guild_id)

    async def get(self, guild_id: int) -> GuildQuota:
        return await self.settings.get(guild_id)

    def validate_value(self, name: str, value: Any) -> Any:
        """The validated value of setting ``name``; raises QuotaSettingError saying why."""
        return self.settings.validate_value(name, value)

    async def max_segments(self, guild_id: int, user_id: int | None = None) -> int | None:
        """The most segments a long storyboard of this guild may be made of (None: no cap),
        for ``tracker.plan(board, max_segments=...)``. An owner (``user_id``) has no cap."""
        if self.is_owner(user_id):
            return None
        return (await self.get(guild_id)).max_segments

    async def set(
        self, guild_id: int, name: str, value: Any, *, actor_id: int | None
    ) -> tuple[Any, Any]:
        """Override one setting for the guild; returns ``(old, new)`` and logs the change."""
        return await self.admin.set(guild_id, name, value, actor_id=actor_id)

    async def add_item(
        self, guild_id: int, name: str, item: Any, *, actor_id: int | None
    ) -> tuple[Any, Any]:
        """Add one entry to a list setting (channels, roles, blocked_terms, ...), atomically."""
        return await self.admin.add_item(guild_id, name, item, actor_id=actor_id)

    async def remove_item(
        self, guild_id: int, name: str, item: Any, *, actor_id: int | None
    ) -> tuple[Any, Any]:
        """Remove one entry from a list setting, atomically."""
        return await self.admin.remove_item(guild_id, name, item, actor_id=actor_id)

    async def reset(self, guild_id: int, *, actor_id: int | None, name: str | None = None) -> None:
        """Drop the guild's overrides (all of them, or one setting): back to the defaults."""
        await self.admin.reset(guild_id, actor_id=actor_id, name=name)

    async def changes(self, guild_id: int, limit: int = 10) -> list[QuotaChange]:
        """The latest setting changes, newest first."""
        return await self.admin.changes(guild_id, limit)

    async def pause(self, actor_id: int | None, paused: bool) -> None:
        """Stop (or resume) all new submissions bot-wide; jobs already running finish."""
        await self.admin.pause(actor_id, paused)

    async def paused(self) -> bool:
        return await is_paused(self.store.db)

    # -- reservations (bot.quota.ledger) ------------------------------------------------
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
        segments: int | None = None,
    ) -> None:
        """Check every limit and record the reservation, in one write transaction.

        ``options``: the model's options that cost money (``resolution``, ``audio``), if any.
        ``segments``: the segments the job is made of (``Plan.count``; None: one video).

        Raises QuotaRefused when a limit refuses. Reserving a job id already reserved or
        charged does nothing (a retried press); a released one is reserved afresh.
        """
        owner = self.is_owner(user_id)

        async def check(db: aiosqlite.Connection) -> None:
            quota = await self.settings.get(guild_id, db)
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
                segments=segments,
            )

        await self.ledger.reserve(
            job_id=job_id,
            guild_id=guild_id,
            user_id=user_id,
            channel_id=channel_id,
            model_name=model_name,
            credits=credits,
            exempt=owner,
            now=now,
            check=None if owner else check,
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
        segments: int | None = None,
    ) -> None:
        """Before a fallback model takes a reserved job: the guild's rules must allow it as it
        would be submitted (the model, its resolution and audio, the length and aspect, the
        ``segments`` it is made of when it makes the storyboard as a chain, and the monthly
        budget at its price), then the reservation is charged at its price.

        Raises QuotaRefused (nothing changes) when a rule refuses. The job already holds its
        running slot and its place in the day's count, so only what differs is checked. A job
        without a reservation (the command line) or an owner's job is only repriced.
        """

        async def check(db: aiosqlite.Connection, held: Reservation) -> None:
            quota = await self.settings.get(held.guild_id, db)
            check_what(
                quota, model_name=model_name, options=options, board=board, segments=segments
            )
            budget = quota.guild_monthly_credits
            if budget is None:
                return
            when = time.time() if now is None else now
            month_start, month_end = month_bounds(when, quota.zone)
            guild = await self.ledger.counts(held.guild_id, None, 0.0, month_start, db)
            # This job's reservation is already counted, at the old price.
            mine = held.credits if held.created_at >= month_start else 0
            used = guild.month_credits - mine
            if used + credits > budget:
                raise budget_refusal(used, budget, credits, month_end)

        await self.ledger.switch_model(job_id, model_name, credits, check=check)

    async def settle(
        self,
        job_id: str,
        *,
        outcome: Outcome,
        now: float | None = None,
        model: str | None = None,
        credits: int | None = None,
    ) -> UsageState | None:
        """Apply the release policy; returns the reservation's state (None: no reservation).

        ``charged`` and ``reserved`` count against the limits, ``released`` does not. Only a
        reservation still ``reserved`` changes; a settled one keeps its state. ``model`` and
        ``credits``: the job's, at which a reservation repriced for another model settles
        (bot.quota.ledger.Ledger.settle).
        """
        return await self.ledger.settle(
            job_id,
            outcome=outcome,
            failed_counts=self._failed_counts,
            now=now,
            model=model,
            credits=credits,
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
        """Settle a long storyboard's reservation of which only a part was used
        (bot.quota.ledger.Ledger.settle_part)."""
        return await self.ledger.settle_part(
            job_id,
            made=made,
            last=last,
            last_outcome=last_outcome,
            failed_counts=self._failed_counts,
            now=now,
        )

    async def _failed_counts(self, db: aiosqlite.Connection, guild_id: int) -> bool:
        return (await self.settings.get(guild_id, db)).failed_counts

    async def usage_state(self, job_id: str) -> UsageState | None:
        return await self.ledger.usage_state(job_id)

    async def reserved_jobs(self) -> list[tuple[str, float]]:
        """Every reservation still ``reserved``: (job id, when it was made)."""
        return await self.ledger.reserved_jobs()

    # -- the checks --------------------------------------------------------------------
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
        segments: int | None = None,
    ) -> None:
        """Raise QuotaRefused for the first limit that refuses. ``None`` arguments are skipped
        (``usage`` checks what it can without a storyboard)."""
        if await is_paused(db):
            raise QuotaRefused("paused")
        if not quota.enabled:
            raise QuotaRefused("disabled")
        if channel_id is not None and quota.channels and channel_id not in quota.channels:
            raise QuotaRefused("channel", channels=[f"<#{c}>" for c in quota.channels])
        if role_ids is not None and quota.roles and not set(role_ids) & set(quota.roles):
            raise QuotaRefused("role", roles=[f"<@&{r}>" for r in quota.roles])
        check_what(quota, model_name=model_name, options=options, board=board, segments=segments)
        if board is not None:
            check_terms(quota, [s.scene for s in board.shots])

        # The limit that frees up last is named first: the month, the day, then running
        # videos and the cooldown.
        day_start, day_end = day_bounds(now, quota.zone)
        month_start, month_end = month_bounds(now, quota.zone)
        user = await self.ledger.counts(guild_id, user_id, day_start, month_start, db)
        guild = await self.ledger.counts(guild_id, None, day_start, month_start, db)
        budget = quota.guild_monthly_credits
        if budget is not None:
            used = guild.month_credits
            over = used + credits > budget if credits is not None else used >= budget
            if over:
                raise budget_refusal(used, budget, credits, month_end)
        if quota.guild_daily is not None and guild.today >= quota.guild_daily:
            raise QuotaRefused(
                "guild_daily", used=guild.today, limit=quota.guild_daily, until=day_end
            )
        if quota.user_daily is not None and user.today >= quota.user_daily:
            raise QuotaRefused("user_daily", used=user.today, limit=quota.user_daily, until=day_end)
        failures = quota.user_daily_failures
        if failures is not None and user.failed_today >= failures:
            raise QuotaRefused(
                "user_daily_failures", failed=user.failed_today, limit=failures, until=day_end
            )
        if quota.guild_concurrent is not None and guild.running >= quota.guild_concurrent:
            raise QuotaRefused(
                "guild_concurrent", running=guild.running, limit=quota.guild_concurrent
            )
        if quota.user_concurrent is not None and user.running >= quota.user_concurrent:
            raise QuotaRefused("user_concurrent", running=user.running, limit=quota.user_concurrent)
        if quota.user_cooldown_seconds and user.last is not None:
            ready = user.last + quota.user_cooldown_seconds
            if now < ready:
                until = int(-(-ready // 1))
                raise QuotaRefused("cooldown", seconds=quota.user_cooldown_seconds, until=until)

    # -- what people see (bot.quota.reports) ---------------------------------------------
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
        owner = self.is_owner(user_id)
        refusal: QuotaRefused | None = None
        if not owner:
            try:
                await self._check(
                    self.store.db,
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
        return await self.reports.summary(
            quota, guild_id=guild_id, user_id=user_id, owner=owner, now=now, refusal=refusal
        )

    async def report(self, guild_id: int, *, days: int, now: float) -> UsageReport:
        """Per-user videos and credits of the last ``days`` local days (today included)."""
        quota = await self.get(guild_id)
        return await self.reports.report(quota, guild_id=guild_id, days=days, now=now)
