"""Recording conditions: decide whether to record right now.

Every condition reads the clock through its ``clock`` (default
:func:`acoupi.timeutil.now_utc`), so tests and simulations can control
time, and evaluates times of day in its configured timezone.
"""

import datetime
import logging
import shutil
from pathlib import Path
from typing import List, Literal, Optional

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
from acoupi.system.files import TEMP_PATH
from acoupi.timeutil import now_utc

__all__ = ["DawnTimeInterval", "HasSufficientSpace", "IsInInterval", "IsInIntervals"]

SpaceUnit = Literal["B", "KB", "MB", "GB"]
_UNIT_POWERS = {"B": 0, "KB": 1, "MB": 2, "GB": 3}


def to_bytes(size: float, unit: SpaceUnit, binary: bool = False) -> int:
    """Return ``size`` in ``unit`` as bytes (powers of 1024 if ``binary``).

    Raises
    ------
    ValueError
        If ``unit`` is not one of B, KB, MB, GB.
    """
    if unit not in _UNIT_POWERS:
        raise ValueError(f"Unknown unit {unit!r}; use one of B, KB, MB, GB.")
    return int(size * (1024 if binary else 1000) ** _UNIT_POWERS[unit])


class HasSufficientSpace(RecordingCondition):
    """Record only while the filesystem of ``path`` has enough free space.

    A full disk makes every later write fail, the database's included;
    refusing to record a little before that keeps the device healthy.

    Parameters
    ----------
    path
        Where recordings are written (the temporary folder by default). If it
        does not exist yet, the nearest existing parent folder is checked.
    min_space
        Free space needed to record, in ``unit``.
    unit
        ``"B"``, ``"KB"``, ``"MB"`` (default) or ``"GB"``.
    binary
        Count units in powers of 1024 instead of 1000.
    logger
        Where a refusal is reported (a warning naming the free space).
    """

    def __init__(
        self,
        path: Path = TEMP_PATH,
        min_space: float = 1024,
        unit: SpaceUnit = "MB",
        binary: bool = False,
        logger: Optional[logging.Logger] = None,
    ):
        if min_space < 0:
            raise ValueError(f"min_space must be 0 or more, got {min_space}.")
        self.path = Path(path)
        self.unit = unit
        self.min_space = to_bytes(min_space, unit, binary=binary)
        self.logger = logger or logging.getLogger(__name__)

    def free_space(self) -> int:
        """Return the free bytes on the filesystem of ``path``."""
        path = self.path.absolute()
        while not path.exists() and path != path.parent:
            path = path.parent
        return shutil.disk_usage(path).free

    def should_record(self) -> bool:
        """Return True while more than ``min_space`` bytes are free."""
        free = self.free_space()
        if free > self.min_space:
            return True
        self.logger.warning(
            "Not recording: %d bytes free on the disk of %s, %d needed. "
            "Free some space (or lower min_space) to resume.",
            free,
            self.path,
            self.min_space,
        )
        return False


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
