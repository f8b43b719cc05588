"""Recording saving filters: decide whether a recording is kept.

``should_save_recording`` returns True to keep the recording, False to let
the file management task delete it. Times of day are evaluated in the
filter's timezone; recordings carry aware (UTC) ``created_on`` values.
"""

import datetime
import logging
from abc import abstractmethod
from typing import Callable, List, Optional, Tuple

from acoupi import data
from acoupi.components.output_checks import (
    has_confident_prediction,
    has_confident_tag,
    has_tag_value,
)
from acoupi.components.suntimes import LocationResolver, is_near_sun_event
from acoupi.components.timewindows import (
    TimezoneLike,
    as_tzinfo,
    is_time_in_interval,
    local_time_of_day,
)
from acoupi.components.types import RecordingSavingFilter
from acoupi.timeutil import as_utc

__all__ = [
    "After_DawnDuskTimeInterval",
    "Before_DawnDuskTimeInterval",
    "DetectionTagValue",
    "DetectionTags",
    "FrequencySchedule",
    "SaveIfInInterval",
    "SavingThreshold",
]


def _any_output(
    model_outputs: Optional[List[data.ModelOutput]],
    keep: Callable[[data.ModelOutput], bool],
) -> bool:
    """Return True if ``keep`` accepts any output (False without outputs)."""
    if model_outputs is None:
        return False
    return any(keep(model_output) for model_output in model_outputs)


class SaveIfInInterval(RecordingSavingFilter):
    """Keep recordings made inside a daily interval (local time).

    Parameters
    ----------
    interval
        Start and end (inclusive); ``start > end`` wraps midnight.
    timezone
        Timezone the interval is written in. The recording time is
        converted into it (upstream ignored it and compared raw times).
    """

    def __init__(self, interval: data.TimeInterval, timezone: TimezoneLike):
        self.interval = interval
        self.timezone = as_tzinfo(timezone)

    def should_save_recording(
        self,
        recording: data.Recording,
        model_outputs: Optional[List[data.ModelOutput]] = None,
    ) -> bool:
        """Return True if the recording started inside the interval."""
        time = local_time_of_day(recording.created_on, self.timezone)
        return is_time_in_interval(time, self.interval)


class FrequencySchedule(RecordingSavingFilter):
    """Keep the recordings of the first ``duration`` minutes of every period.

    Parameters
    ----------
    duration
        Minutes kept at the start of each period.
    frequency
        Length of the period in minutes, counted from the top of the hour
        (UTC; identical to local time except in zones with a fractional
        hour offset). Periods that do not divide 60 restart every hour.
    """

    def __init__(self, duration: int, frequency: int):
        if frequency <= 0:
            raise ValueError("frequency must be greater than 0")
        self.duration = duration
        self.frequency = frequency

    def should_save_recording(
        self,
        recording: data.Recording,
        model_outputs: Optional[List[data.ModelOutput]] = None,
    ) -> bool:
        """Return True if the recording started in a kept part of the period."""
        created_on = as_utc(recording.created_on)
        minutes = (created_on.minute % self.frequency) + created_on.second / 60
        return minutes < self.duration


class _DawnDuskFilter(RecordingSavingFilter):
    """Keep recordings in a window next to dawn or dusk (shared logic).

    Subclasses choose how far before and after each event the window goes.
    """

    def __init__(
        self,
        duration: float,
        timezone: TimezoneLike,
        latitude: Optional[float] = None,
        longitude: Optional[float] = None,
        logger: Optional[logging.Logger] = None,
    ):
        self.duration = duration
        self.timezone = as_tzinfo(timezone)
        self.location = LocationResolver(latitude, longitude, logger)

    @abstractmethod
    def _window(self) -> Tuple[datetime.timedelta, datetime.timedelta]:
        """Return how far the window reaches before and after the event."""

    def should_save_recording(
        self,
        recording: data.Recording,
        model_outputs: Optional[List[data.ModelOutput]] = None,
    ) -> bool:
        """Return True if the recording started in the dawn or dusk window."""
        latitude, longitude = self.location.resolve(recording.deployment)
        before, after = self._window()
        return any(
            is_near_sun_event(
                recording.created_on,
                event,
                latitude,
                longitude,
                self.timezone,
                before=before,
                after=after,
            )
            for event in ("dawn", "dusk")
        )


class Before_DawnDuskTimeInterval(_DawnDuskFilter):
    """Keep recordings made in the ``duration`` minutes before dawn or dusk.

    Parameters
    ----------
    duration
        Window length in minutes; the window ends at the event (inclusive).
    timezone
        Local timezone of the deployment.
    latitude, longitude
        Coordinates; when not given, the recording's deployment coordinates
        are used, and failing those the default location (with a warning).
    logger
        Receives the default-location warning.

    Notes
    -----
    On days without a dawn or dusk (polar day or night) there is no window
    for that event, so only the other one can match.
    """

    def _window(self) -> Tuple[datetime.timedelta, datetime.timedelta]:
        return datetime.timedelta(minutes=self.duration), datetime.timedelta(0)


class After_DawnDuskTimeInterval(_DawnDuskFilter):
    """Keep recordings made in the ``duration`` minutes after dawn or dusk.

    Parameters are those of :class:`Before_DawnDuskTimeInterval`; the window
    starts at the event (inclusive).
    """

    def _window(self) -> Tuple[datetime.timedelta, datetime.timedelta]:
        return datetime.timedelta(0), datetime.timedelta(minutes=self.duration)


class SavingThreshold(RecordingSavingFilter):
    """Keep recordings with at least one confident prediction.

    Parameters
    ----------
    saving_threshold
        Minimum score (inclusive) of a recording-level tag or a detection.
    """

    def __init__(self, saving_threshold: float):
        self.saving_threshold = saving_threshold

    def has_confident_model_output(self, model_output: data.ModelOutput) -> bool:
        """Return whether ``model_output`` has a prediction above threshold."""
        return has_confident_prediction(model_output, self.saving_threshold)

    def should_save_recording(
        self,
        recording: data.Recording,
        model_outputs: Optional[List[data.ModelOutput]] = None,
    ) -> bool:
        """Return True if any output has a confident prediction."""
        return _any_output(model_outputs, self.has_confident_model_output)


class DetectionTagValue(RecordingSavingFilter):
    """Keep recordings where a detection has a tag with one of some values.

    Parameters
    ----------
    values
        Tag values (for example species names) worth keeping.
    """

    def __init__(self, values: List[str]):
        self.values = values

    def has_confident_tagvalues(self, model_output: data.ModelOutput) -> bool:
        """Return whether a detection in ``model_output`` has a wanted value."""
        return has_tag_value(model_output, self.values)

    def should_save_recording(
        self,
        recording: data.Recording,
        model_outputs: Optional[List[data.ModelOutput]] = None,
    ) -> bool:
        """Return True if any output has a wanted tag value."""
        return _any_output(model_outputs, self.has_confident_tagvalues)


class DetectionTags(RecordingSavingFilter):
    """Keep recordings where one of some tags is confidently predicted.

    Parameters
    ----------
    tags
        Tags worth keeping.
    saving_threshold
        Minimum score (inclusive) of the tag and of its detection.
    """

    def __init__(self, tags: List[data.Tag], saving_threshold: float = 0.5):
        self.tags = tags
        self.saving_threshold = saving_threshold

    def has_confident_tag(self, model_output: data.ModelOutput) -> bool:
        """Return whether ``model_output`` confidently predicts a wanted tag."""
        return has_confident_tag(model_output, self.tags, self.saving_threshold)

    def should_save_recording(
        self,
        recording: data.Recording,
        model_outputs: Optional[List[data.ModelOutput]] = None,
    ) -> bool:
        """Return True if any output confidently predicts a wanted tag."""
        return _any_output(model_outputs, self.has_confident_tag)
