"""bot.quota.periods: days and months in the guild's time zone."""

from __future__ import annotations

import zoneinfo

from bot.quota.periods import day_bounds, days_back, month_bounds
from tests.bot.quota.shared import local


def test_bounds_across_dst_and_december() -> None:
    zone = zoneinfo.ZoneInfo("Europe/Paris")
    # The day DST starts is 23 hours long.
    start, end = day_bounds(local("Europe/Paris", 2025, 3, 30, 12, 0), zone)
    assert end - start == 23 * 3600
    start, end = month_bounds(local("Europe/Paris", 2025, 12, 15, 12, 0), zone)
    assert start == int(local("Europe/Paris", 2025, 12, 1, 0, 0))
    assert end == int(local("Europe/Paris", 2026, 1, 1, 0, 0))


def test_days_back_starts_at_local_midnight() -> None:
    zone = zoneinfo.ZoneInfo("Asia/Shanghai")
    now = local("Asia/Shanghai", 2025, 3, 10, 1, 0)  # still March 9th in UTC
    assert days_back(now, zone, 1) == int(local("Asia/Shanghai", 2025, 3, 10, 0, 0))
    assert days_back(now, zone, 7) == int(local("Asia/Shanghai", 2025, 3, 4, 0, 0))
    assert days_back(now, zone, 1) == day_bounds(now, zone)[0]
