"""Recording conditions: decide whether to record right now.

Every condition reads the clock through its ``clock`` (default
:func:`acoupi.timeutil.now_utc`), so tests and simulations can control
time, and evaluates times of day in its configured timezone.
"""

import datetime
import logging
from typing import List, Optional

from acoupi import data
from acoupi.components.suntimes import LocationResolver, is_near_sun_event
from acoupi.components.timewindows import (
    Clock,
    TimezoneLike,
    as_tzinfo,
    is_in_any_interval,
    is_time_in_interval,
    local_time_of_day,
)
from acoupi.components.types import RecordingCondition
from acoupi.timeutil import now_utc

__all__ = ["DawnTimeInterval", "IsInInterval", "IsInIntervals"]


class IsInInterval(RecordingCondition):
    """Record while the local time of day is inside a daily interval.

    Parameters
    ----------
    interval
        Start and end times (inclusive); ``start > end`` wraps midnight.
    timezone
        Timezone the interval is written in.
    clock
        Returns the current time (injectable for tests).
    """

    def __init__(
        self,
        interval: data.TimeInterval,
        timezone: TimezoneLike,
        clock: Optional[Clock] = None,
    ):
        self.interval = interval
        self.timezone = as_tzinfo(timezone)
        self.clock = clock or now_utc

    def should_record(self) -> bool:
        """Return True if now is inside the interval."""
        now = local_time_of_day(self.clock(), self.timezone)
        return is_time_in_interval(now, self.interval)


class IsInIntervals(RecordingCondition):
    """Record while the local time of day is inside any of several intervals.

    Parameters
    ----------
    intervals
        Daily intervals, with the same rule as :class:`IsInInterval`.
    timezone
        Timezone the intervals are written in.
    clock
        Returns the current time (injectable for tests).
    """

    def __init__(
        self,
        intervals: List[data.TimeInterval],
        timezone: TimezoneLike,
        clock: Optional[Clock] = None,
    ):
        self.intervals = intervals
        self.timezone = as_tzinfo(timezone)
        self.clock = clock or now_utc

    def should_record(self) -> bool:
        """Return True if now is inside at least one interval."""
        now = local_time_of_day(self.clock(), self.timezone)
        return is_in_any_interval(now, self.intervals)


class DawnTimeInterval(RecordingCondition):
    """Record within ``duration`` minutes either side of dawn.

    Parameters
    ----------
    duration
        Half-width of the window, in minutes.
    timezone
        Local timezone (decides which calendar day's dawn applies).
    latitude, longitude
        Where the device is. Without them dawn is computed for the default
        location (Greenwich) and a warning is logged; see
        :mod:`acoupi.components.suntimes`.
    clock
        Returns the current time (injectable for tests).
    logger
        Receives the default-location warning.

    Notes
    -----
    On days without a dawn (polar day or night) the condition is False.
    """

    def __init__(
        self,
        duration: float,
        timezone: TimezoneLike,
        latitude: Optional[float] = None,
        longitude: Optional[float] = None,
        clock: Optional[Clock] = None,
        logger: Optional[logging.Logger] = None,
    ):
        self.duration = duration
        self.timezone = as_tzinfo(timezone)
        self.clock = clock or now_utc
        self.location = LocationResolver(latitude, longitude, logger)

    def should_record(self) -> bool:
        """Return True if now is within the window around dawn."""
        latitude, longitude = self.location.resolve()
        window = datetime.timedelta(minutes=self.duration)
        return is_near_sun_event(
            self.clock(),
            "dawn",
            latitude,
            longitude,
            self.timezone,
            before=window,
            after=window,
        )
