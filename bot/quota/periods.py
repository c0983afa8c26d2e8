"""The quota's periods: "today" and "this month" as unix times, in a guild's time zone.

"Per day" starts at local midnight and "per month" on the 1st at local midnight.
"""

from __future__ import annotations

import datetime as dt


def day_bounds(now: float, zone: dt.tzinfo) -> tuple[int, int]:
    """The unix times of local midnight today and tomorrow."""
    today = dt.datetime.fromtimestamp(now, zone).date()
    return midnight(today, zone), midnight(today + dt.timedelta(days=1), zone)


def month_bounds(now: float, zone: dt.tzinfo) -> tuple[int, int]:
    """The unix times of the 1st of this month and of next month, at local midnight."""
    first = dt.datetime.fromtimestamp(now, zone).date().replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return midnight(first, zone), midnight(following, zone)


def days_back(now: float, zone: dt.tzinfo, days: int) -> int:
    """The unix time of local midnight ``days - 1`` days before today (``days`` 1: today)."""
    today = dt.datetime.fromtimestamp(now, zone).date()
    return midnight(today - dt.timedelta(days=days - 1), zone)


def midnight(day: dt.date, zone: dt.tzinfo) -> int:
    return int(dt.datetime.combine(day, dt.time.min, tzinfo=zone).timestamp())
