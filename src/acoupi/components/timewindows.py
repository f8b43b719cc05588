"""Time-of-day rules shared by recording conditions and saving filters.

One rule decides whether a moment falls inside a daily interval, so that
``IsInInterval``, ``IsInIntervals`` and ``SaveIfInInterval`` can never
disagree. Times of day are always read in an explicit timezone: acoupi's
datetimes are UTC, while schedules are written in local time.
"""

import datetime
import zoneinfo
from typing import Callable, Iterable, Union

from acoupi import data
from acoupi.timeutil import as_utc

__all__ = [
    "Clock",
    "TimezoneLike",
    "as_tzinfo",
    "is_in_any_interval",
    "is_time_in_interval",
    "local_time_of_day",
]

Clock = Callable[[], datetime.datetime]
"""A function returning the current (aware) time; injectable for tests."""

TimezoneLike = Union[datetime.tzinfo, str]
"""A tzinfo object, or an IANA name such as ``"Europe/London"``."""


def as_tzinfo(timezone: TimezoneLike) -> datetime.tzinfo:
    """Return ``timezone`` as a tzinfo, resolving IANA names.

    Raises
    ------
    zoneinfo.ZoneInfoNotFoundError
        If a name is given that the timezone database does not know.
    """
    if isinstance(timezone, str):
        return zoneinfo.ZoneInfo(timezone)
    return timezone


def local_time_of_day(
    moment: datetime.datetime, timezone: datetime.tzinfo
) -> datetime.time:
    """Return the wall-clock time of ``moment`` in ``timezone``.

    A naive ``moment`` is read as UTC, like everywhere else in acoupi.
    """
    return as_utc(moment).astimezone(timezone).time()


def is_time_in_interval(time: datetime.time, interval: data.TimeInterval) -> bool:
    """Return whether ``time`` lies in ``interval`` (both ends included).

    An interval whose start is after its end wraps midnight: 22:00–06:00
    contains 23:00 and 05:00 but not 12:00. A start equal to the end is a
    single instant.
    """
    # Interval times may carry a tzinfo from user input; the comparison is
    # between wall-clock times, so drop it.
    start = interval.start.replace(tzinfo=None)
    end = interval.end.replace(tzinfo=None)
    time = time.replace(tzinfo=None)
    if start <= end:
        return start <= time <= end
    return time >= start or time <= end


def is_in_any_interval(
    time: datetime.time, intervals: Iterable[data.TimeInterval]
) -> bool:
    """Return whether ``time`` lies in at least one of ``intervals``."""
    return any(is_time_in_interval(time, interval) for interval in intervals)
