"""Recording schedulers: decide when the next recording starts."""

import datetime
from typing import Optional

from acoupi.components.types import RecordingScheduler
from acoupi.timeutil import as_utc, now_utc

__all__ = ["IntervalScheduler"]


class IntervalScheduler(RecordingScheduler):
    """Start a recording every ``timeinterval`` seconds, on whole seconds.

    Parameters
    ----------
    timeinterval
        Seconds between the starts of two recordings.
    """

    timeinterval: float

    def __init__(self, timeinterval: float):
        if timeinterval <= 0:
            raise ValueError("timeinterval must be greater than 0")
        self.timeinterval = timeinterval

    def time_until_next_recording(
        self, time: Optional[datetime.datetime] = None
    ) -> float:
        """Return the seconds until the next recording.

        The next recording starts at the first whole second at or after
        ``time + timeinterval``, so the wait is never shorter than the
        interval. (Upstream truncated to whole seconds and could return one
        second less than the interval.)
        """
        time = as_utc(time) if time is not None else now_utc()
        target = time + datetime.timedelta(seconds=self.timeinterval)
        if target.microsecond:
            target = target.replace(microsecond=0) + datetime.timedelta(seconds=1)
        return (target - time).total_seconds()
