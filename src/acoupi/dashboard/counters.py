"""Counts over the whole store, kept up to date incrementally.

Counting a season of detections (a million rows, looked up by random ids)
takes seconds on a Raspberry Pi, too slow for a page that refreshes every
few seconds. Rows are only ever added at the end (growing rowids and tag
ids), so each call counts only what was added since the previous one:

* all-time detections, and detections per tag;
* detections per tag per hour (by recording start, UTC), for the hours
  asked for; an hour is counted again when new tags reach it (a backlog
  can add detections to an hour long past).

When rows disappear (fewer recordings or model outputs than before, or
ids going back), everything is counted again from scratch. Safe to share
between threads.
"""

import datetime
import sqlite3
import threading
from typing import Dict, List, Optional, Tuple

from acoupi.dashboard.queries import DetectionQuery, count_by_bucket

__all__ = ["StoreCounters", "hour_stamp"]

TagKey = Tuple[str, str]

MAX_HOURS_KEPT = 2 * 744
"""Hour buckets kept in memory (two months): a few hundred kB at most."""

_HOUR = datetime.timedelta(hours=1)


def _runs(
    hours: List[datetime.datetime],
) -> List[Tuple[datetime.datetime, datetime.datetime]]:
    """Group sorted hour starts into contiguous ``[since, until)`` runs."""
    runs: List[Tuple[datetime.datetime, datetime.datetime]] = []
    for hour in hours:
        if runs and runs[-1][1] == hour:
            runs[-1] = (runs[-1][0], hour + _HOUR)
        else:
            runs.append((hour, hour + _HOUR))
    return runs


def hour_stamp(moment: datetime.datetime) -> str:
    """Return the hour bucket label of ``moment`` (``YYYY-MM-DDTHH:00Z``)."""
    utc = moment.astimezone(datetime.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:00Z")


class StoreCounters:
    """Incremental counts of one metadata database."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._shape: Optional[Tuple[int, int]] = None
        self._last_tag_id = 0
        self._last_detection_rowid = 0
        self._detections = 0
        self._tags: Dict[TagKey, int] = {}
        self._hours: Dict[str, Dict[TagKey, int]] = {}

    def _sync(self, connection: sqlite3.Connection) -> None:
        recordings, outputs, max_tag, max_detection = connection.execute(
            "SELECT (SELECT count(*) FROM recording),"
            " (SELECT count(*) FROM model_output),"
            " (SELECT coalesce(max(id), 0) FROM predicted_tag),"
            " (SELECT coalesce(max(rowid), 0) FROM detection)"
        ).fetchone()
        shrank = self._shape is not None and (
            recordings < self._shape[0]
            or outputs < self._shape[1]
            or max_tag < self._last_tag_id
            or max_detection < self._last_detection_rowid
        )
        if shrank:
            self._reset()
        self._shape = (recordings, outputs)
        if max_detection > self._last_detection_rowid:
            (added,) = connection.execute(
                "SELECT count(*) FROM detection WHERE rowid > ? AND rowid <= ?",
                (self._last_detection_rowid, max_detection),
            ).fetchone()
            self._detections += added
            self._last_detection_rowid = max_detection
        if max_tag > self._last_tag_id:
            self._add_tags(connection, max_tag)

    def _add_tags(self, connection: sqlite3.Connection, max_tag: int) -> None:
        window = (self._last_tag_id, max_tag)
        for key, value, count in connection.execute(
            "SELECT key, value, count(*) FROM predicted_tag"
            " WHERE id > ? AND id <= ? AND detection_id IS NOT NULL"
            " GROUP BY key, value",
            window,
        ):
            self._tags[(key, value)] = self._tags.get((key, value), 0) + count
        if self._hours:
            for (stamp,) in connection.execute(
                "SELECT DISTINCT substr(r.datetime, 1, 13) FROM predicted_tag pt"
                " JOIN detection d ON d.id = pt.detection_id"
                " JOIN model_output mo ON mo.id = d.model_output_id"
                " JOIN recording r ON r.id = mo.recording_id"
                " WHERE pt.id > ? AND pt.id <= ?",
                window,
            ):
                self._hours.pop(stamp.replace(" ", "T") + ":00Z", None)
        self._last_tag_id = max_tag

    def recordings(self, connection: sqlite3.Connection) -> int:
        """Return how many recordings the store holds."""
        with self._lock:
            self._sync(connection)
            return self._shape[0] if self._shape else 0

    def detections(self, connection: sqlite3.Connection) -> int:
        """Return how many detections the store holds."""
        with self._lock:
            self._sync(connection)
            return self._detections

    def tags(self, connection: sqlite3.Connection) -> Dict[TagKey, int]:
        """Return all-time detections per ``(key, value)`` tag."""
        with self._lock:
            self._sync(connection)
            return dict(self._tags)

    def hourly(
        self, connection: sqlite3.Connection, hours: List[datetime.datetime]
    ) -> Dict[str, Dict[TagKey, int]]:
        """Return detections per tag for each hour starting at ``hours``."""
        stamps = [hour_stamp(hour) for hour in hours]
        with self._lock:
            self._sync(connection)
            missing = [
                hour
                for hour, stamp in zip(hours, stamps, strict=True)
                if stamp not in self._hours
            ]
            for since, until in _runs(sorted(missing)):
                fresh: Dict[str, Dict[TagKey, int]] = {}
                hour = since
                while hour < until:
                    fresh[hour_stamp(hour)] = {}
                    hour += _HOUR
                for stamp, key, value, count in count_by_bucket(
                    connection, DetectionQuery(since=since, until=until), "hour"
                ):
                    if stamp in fresh:
                        fresh[stamp][(key, value)] = count
                self._hours.update(fresh)
            if len(self._hours) > MAX_HOURS_KEPT:
                for stamp in sorted(self._hours)[: len(self._hours) - MAX_HOURS_KEPT]:
                    if stamp not in stamps:
                        del self._hours[stamp]
            return {stamp: dict(self._hours[stamp]) for stamp in stamps}
