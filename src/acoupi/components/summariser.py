"""Summarisers: periodic summaries of what the models detected.

Both summarisers read the detection-level tags of the model outputs created
in the last ``interval`` (``store.get_predicted_tags(after=, before=)``),
group them by tag value (for example the species name) and return a JSON
message that ends with the time window it covers.
"""

import datetime
import json
import statistics
from abc import abstractmethod
from typing import Any, Dict, List, Optional, Protocol, Union

from acoupi import data
from acoupi.components.types import Summariser
from acoupi.timeutil import as_utc

__all__ = [
    "PredictedTagSource",
    "StatisticsDetectionsSummariser",
    "ThresholdsDetectionsSummariser",
]


class PredictedTagSource(Protocol):
    """What a summariser needs from a store (``SqliteStore`` provides it)."""

    def get_predicted_tags(
        self,
        *,
        after: Optional[datetime.datetime] = None,
        before: Optional[datetime.datetime] = None,
    ) -> List[data.PredictedTag]:
        """Return detection-level tags of outputs created in the window."""
        ...


def _as_interval(interval: Union[float, int, datetime.timedelta]) -> datetime.timedelta:
    if isinstance(interval, datetime.timedelta):
        return interval
    return datetime.timedelta(seconds=interval)


def _scores_by_value(tags: List[data.PredictedTag]) -> Dict[str, List[float]]:
    # Grouped by value, not key: the value is the species name.
    scores: Dict[str, List[float]] = {}
    for predicted in tags:
        scores.setdefault(predicted.tag.value, []).append(predicted.confidence_score)
    return scores


def _rounded_mean(scores: List[float]) -> Optional[float]:
    return round(statistics.mean(scores), 3) if scores else None


class _WindowSummariser(Summariser):
    """Shared window handling: read tags, build the JSON message."""

    def __init__(
        self,
        store: PredictedTagSource,
        interval: Union[float, int, datetime.timedelta] = 3600,
    ):
        self.store = store
        self.interval = _as_interval(interval)

    @abstractmethod
    def summarise(self, scores: Dict[str, List[float]]) -> Dict[str, Any]:
        """Return the per-value part of the summary."""

    def build_summary(self, now: datetime.datetime) -> data.Message:
        """Return the summary of the ``interval`` ending at ``now``."""
        now = as_utc(now)
        start = now - self.interval
        tags = self.store.get_predicted_tags(after=start, before=now)
        content = self.summarise(_scores_by_value(tags))
        content["timeinterval"] = {
            "starttime": start.isoformat(),
            "endtime": now.isoformat(),
        }
        return data.Message(
            content=json.dumps(content),
            created_on=now,
            message_type=data.MessageType.SUMMARY,
        )


class StatisticsDetectionsSummariser(_WindowSummariser):
    """Summarise scores per species: mean (3 decimals), min, max, count.

    Parameters
    ----------
    store
        Provides ``get_predicted_tags(after=, before=)``.
    interval
        Window length: a timedelta or a number of seconds.
    """

    def summarise(self, scores: Dict[str, List[float]]) -> Dict[str, Any]:
        """Return ``{value: {"mean", "min", "max", "count"}}``."""
        return {
            value: {
                "mean": _rounded_mean(values),
                "min": min(values),
                "max": max(values),
                "count": len(values),
            }
            for value, values in scores.items()
        }


class ThresholdsDetectionsSummariser(_WindowSummariser):
    """Count detections per species in three score bands.

    Each threshold is the (inclusive) lower edge of its band: low band
    ``[low, mid)``, mid band ``[mid, high)``, high band ``[high, 1]``.
    Scores below ``low_band_threshold`` are not counted. An empty band
    reports count 0 and mean null. (Upstream ignored
    ``high_band_threshold`` and failed whenever a band was empty.)

    Parameters
    ----------
    store
        Provides ``get_predicted_tags(after=, before=)``.
    interval
        Window length: a timedelta or a number of seconds.
    low_band_threshold, mid_band_threshold, high_band_threshold
        Band edges, increasing.
    """

    def __init__(
        self,
        store: PredictedTagSource,
        interval: Union[float, int, datetime.timedelta] = 3600,
        low_band_threshold: float = 0.1,
        mid_band_threshold: float = 0.5,
        high_band_threshold: float = 0.9,
    ):
        if not low_band_threshold <= mid_band_threshold <= high_band_threshold:
            raise ValueError(
                "Band thresholds must satisfy low <= mid <= high "
                f"(got {low_band_threshold}, {mid_band_threshold}, "
                f"{high_band_threshold})."
            )
        super().__init__(store, interval)
        self.low_band_threshold = low_band_threshold
        self.mid_band_threshold = mid_band_threshold
        self.high_band_threshold = high_band_threshold

    def summarise(self, scores: Dict[str, List[float]]) -> Dict[str, Any]:
        """Return per-value counts and means of the three bands."""
        summary: Dict[str, Any] = {}
        for value, values in scores.items():
            low = [
                s
                for s in values
                if self.low_band_threshold <= s < self.mid_band_threshold
            ]
            mid = [
                s
                for s in values
                if self.mid_band_threshold <= s < self.high_band_threshold
            ]
            high = [s for s in values if s >= self.high_band_threshold]
            summary[value] = {
                "count_low_threshold": len(low),
                "count_mid_threshold": len(mid),
                "count_high_threshold": len(high),
                "mean_low_threshold": _rounded_mean(low),
                "mean_mid_threshold": _rounded_mean(mid),
                "mean_high_threshold": _rounded_mean(high),
            }
        return summary
