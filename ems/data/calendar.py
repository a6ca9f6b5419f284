"""Local calendar days and the UTC hours they contain.

Storage is per UTC hour; experiments run on local days (Europe/Berlin by
default), which have 23 hours on the last Sunday of March and 25 on the last
Sunday of October.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta, timezone as dt_timezone
from zoneinfo import ZoneInfo

import polars as pl


def local_midnight_utc(day: date, timezone: str) -> datetime:
    """The UTC instant (naive) at which local ``day`` begins."""
    local = datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone))
    return local.astimezone(dt_timezone.utc).replace(tzinfo=None)


@functools.lru_cache(maxsize=4096)
def local_day_hours(first: date, last: date, timezone: str) -> pl.DataFrame:
    """UTC hours (naive) of local days [first, last] with local_date and local_hour.

    ``local_hour`` is the wall-clock hour (0-23); on the autumn change the
    hour 2 appears twice, on the spring change it is missing. Cached (a polars
    frame is never changed in place), so the service computes a day's hours once.
    """
    start = local_midnight_utc(first, timezone)
    end = local_midnight_utc(last + timedelta(days=1), timezone)
    utc = pl.datetime_range(start, end, "1h", closed="left", eager=True, time_unit="us").alias("utc_hour")
    local = utc.dt.replace_time_zone("UTC").dt.convert_time_zone(timezone)
    return pl.DataFrame([utc, local.dt.date().alias("local_date"), local.dt.hour().cast(pl.Int8).alias("local_hour")])


def parse_day(value: object, key: str) -> date:
    """A config value (``"2016-01-01"`` or a date) as a date; a one-line error names ``key``."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{key}={value!r} is not an ISO date; write it as YYYY-MM-DD") from None


def with_local_date(frame: pl.DataFrame, timezone: str) -> pl.DataFrame:
    """Add ``local_date``: the ``timezone`` calendar day of each (naive UTC) ``utc_hour``."""
    local = pl.col("utc_hour").dt.replace_time_zone("UTC").dt.convert_time_zone(timezone)
    return frame.with_columns(local_date=local.dt.date())


#: Local wall-clock hours of a PMF (0..23).
HOURS = 24
#: The day types usage PMFs are kept for.
DAY_TYPES = ("weekday", "weekend")
#: Bounds that select a building's whole record in day-range queries.
WHOLE_RECORD = (date(1900, 1, 1), date(2100, 1, 1))


def day_type(day: date) -> str:
    """``weekend`` for Saturday and Sunday, else ``weekday`` (the one place this is decided)."""
    return DAY_TYPES[1] if day.isoweekday() >= 6 else DAY_TYPES[0]
