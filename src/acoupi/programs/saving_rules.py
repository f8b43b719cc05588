"""Rules for which recordings the built-in programs keep.

Shared by ``acoupi.programs.default`` and ``acoupi.programs.connected``.
"""

import datetime
import zoneinfo
from typing import List, Optional

from pydantic import BaseModel

from acoupi import data
from acoupi.components import types
from acoupi.components.saving_filters import (
    After_DawnDuskTimeInterval,
    Before_DawnDuskTimeInterval,
    FrequencySchedule,
    SaveIfInInterval,
)

__all__ = ["SaveRecordingFilter", "build_saving_filters"]


class SaveRecordingFilter(BaseModel):
    """Keep a recording when any enabled rule matches (0 disables a rule)."""

    starttime: Optional[datetime.time] = datetime.time(hour=18)
    """Keep recordings made from this time of day..."""

    endtime: Optional[datetime.time] = datetime.time(hour=20)
    """...until this time of day (program timezone)."""

    before_dawndusk_duration: int = 10
    """Keep recordings made this many minutes before dawn and dusk."""

    after_dawndusk_duration: int = 10
    """Keep recordings made this many minutes after dawn and dusk."""

    frequency_duration: int = 5
    """Keep the first this-many minutes..."""

    frequency_interval: int = 30
    """...of every this-many minutes."""


def build_saving_filters(
    rules: Optional[SaveRecordingFilter], timezone: str
) -> List[types.RecordingSavingFilter]:
    """Return the saving filters for ``rules`` (none: keep everything).

    Dawn and dusk are computed at the deployment's latitude and longitude.
    """
    if rules is None:
        return []
    tz = zoneinfo.ZoneInfo(timezone)
    filters: List[types.RecordingSavingFilter] = []
    if rules.starttime is not None and rules.endtime is not None:
        interval = data.TimeInterval(start=rules.starttime, end=rules.endtime)
        filters.append(SaveIfInInterval(interval=interval, timezone=tz))
    if rules.frequency_duration and rules.frequency_interval:
        filters.append(
            FrequencySchedule(
                duration=rules.frequency_duration,
                frequency=rules.frequency_interval,
            )
        )
    if rules.before_dawndusk_duration:
        filters.append(
            Before_DawnDuskTimeInterval(
                duration=rules.before_dawndusk_duration, timezone=tz
            )
        )
    if rules.after_dawndusk_duration:
        filters.append(
            After_DawnDuskTimeInterval(
                duration=rules.after_dawndusk_duration, timezone=tz
            )
        )
    return filters
