"""Read-only queries of detections and recordings, for people.

One module serves ``acoupi detections``, ``acoupi recordings`` and the
dashboard, so the terminal and the web page always agree. Everything runs on
a read-only connection (:func:`acoupi.dashboard.sources.open_read_only`).

Speed on a Raspberry Pi with a season of data (a million detections) comes
from walking the existing indexes newest first and stopping at the page's
end (``LIMIT``), never counting or sorting whole tables per request. Times
are those of the recordings (UTC); a detection's own time is its
recording's start plus its box's start.
"""

import datetime
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple
from uuid import UUID

from pydantic import BaseModel, Field, field_validator

from acoupi.components.sqlite_db import (
    datetime_from_db,
    datetime_to_db,
    text_in,
    uuid_from_db,
)

__all__ = [
    "DetectionQuery",
    "DetectionRow",
    "Page",
    "RecordingRow",
    "count_by_bucket",
    "detections_by_tag",
    "get_recording",
    "detection_order",
    "list_detections",
    "list_recordings",
    "parse_when",
    "tag_counts",
    "unknown_filters",
]

Bucket = Literal["hour", "day"]
_BUCKET_CHARS = {"hour": 13, "day": 10}


def parse_when(text: str, now: Optional[datetime.datetime] = None) -> datetime.datetime:
    """Read a date, a date and time, or an age such as ``24h`` or ``7d``.

    Dates and times without an offset are UTC. Ages count back from now.

    Raises
    ------
    ValueError
        With a message saying which forms are accepted.
    """
    value = text.strip()
    now = now or datetime.datetime.now(datetime.timezone.utc)
    units = {"m": 60, "h": 3600, "d": 86400}
    if value[-1:] in units and value[:-1].isdigit():
        return now - datetime.timedelta(seconds=int(value[:-1]) * units[value[-1]])
    if value == "today":
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date. Use a date (2024-05-01), a date and time "
            "in UTC (2024-05-01T21:30), 'today', or an age such as 90m, 24h "
            "or 7d."
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed


class DetectionQuery(BaseModel):
    """Which detections to show; unset fields do not filter."""

    tags: Optional[List[str]] = None
    """Tag values (``bat``) or ``key:value`` pairs (``event:bat``); any matches."""

    min_score: Optional[float] = Field(default=None, ge=0, le=1)
    """Lowest detection score shown (inclusive)."""

    since: Optional[datetime.datetime] = None
    """Earliest recording start (inclusive)."""

    until: Optional[datetime.datetime] = None
    """Latest recording start (exclusive)."""

    deployment: Optional[str] = None
    """Deployment name, or its id."""

    recording_id: Optional[UUID] = None
    """Only the detections of this recording."""

    @field_validator("tags")
    @classmethod
    def _drop_empty(cls, value: Optional[List[str]]) -> Optional[List[str]]:
        if value is None:
            return None
        cleaned = [tag.strip() for tag in value if tag.strip()]
        return cleaned or None

    def tag_condition(self) -> Tuple[str, List[Any]]:
        """Return the condition on ``pt`` (predicted_tag) matching ``tags``."""
        tags = self.tags or []
        pairs = [tag for tag in tags if ":" in tag]
        values = [tag for tag in tags if ":" not in tag]
        options: List[str] = []
        params: List[Any] = []
        if values:
            clause, param = text_in("pt.value", values)
            options.append(clause)
            params.append(param)
        if pairs:
            clause, param = text_in("pt.key || ':' || pt.value", pairs)
            options.append(clause)
            params.append(param)
        return "(" + " OR ".join(options or ["0"]) + ")", params

    def matches_tag(self, key: str, value: str) -> bool:
        """Whether a ``key``/``value`` tag passes the tag filter."""
        return not self.tags or value in self.tags or f"{key}:{value}" in self.tags

    def where(self) -> Tuple[str, List[Any]]:
        """Return the SQL condition over ``r``, ``dep``, ``d`` and its parameters."""
        clauses: List[str] = []
        params: List[Any] = []
        _recording_conditions(clauses, params, self.since, self.until, self.deployment)
        if self.recording_id is not None:
            clauses.append("r.id = ?")
            params.append(self.recording_id.bytes)
        if self.min_score is not None:
            clauses.append("d.detection_score >= ?")
            params.append(self.min_score)
        if self.tags:
            condition, tag_params = self.tag_condition()
            clauses.append(
                "EXISTS (SELECT 1 FROM predicted_tag pt WHERE pt.detection_id = d.id"
                f" AND {condition})"
            )
            params.extend(tag_params)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _recording_conditions(
    clauses: List[str],
    params: List[Any],
    since: Optional[datetime.datetime],
    until: Optional[datetime.datetime],
    deployment: Optional[str],
) -> None:
    if since is not None:
        clauses.append("r.datetime >= ?")
        params.append(datetime_to_db(since))
    if until is not None:
        clauses.append("r.datetime < ?")
        params.append(datetime_to_db(until))
    if deployment:
        try:
            deployment_id: Any = UUID(deployment).bytes
        except ValueError:
            clauses.append("dep.name = ?")
            params.append(deployment)
        else:
            clauses.append("dep.id = ?")
            params.append(deployment_id)


@dataclass
class DetectionRow:
    """One detection as people read it."""

    id: UUID
    recording_id: UUID
    recording_time: datetime.datetime
    recording_path: Optional[Path]
    samplerate: int
    duration: float
    deployment: str
    model: str
    score: float
    box: Optional[Tuple[float, float, float, float]]
    """(start s, low Hz, end s, high Hz) within the recording, if any."""
    tags: List[Tuple[str, str, float]] = field(default_factory=list)
    """(key, value, score) of each tag, best first."""

    @property
    def time(self) -> datetime.datetime:
        """When the sound was heard: recording start plus the box's start."""
        offset = self.box[0] if self.box else 0.0
        return self.recording_time + datetime.timedelta(seconds=offset)

    @property
    def tag(self) -> str:
        """The best tag's value, or ``""`` without tags."""
        return self.tags[0][1] if self.tags else ""

    def as_json(self) -> Dict[str, Any]:
        """Return the row as JSON-ready values."""
        box = self.box
        return {
            "id": str(self.id),
            "recording_id": str(self.recording_id),
            "recording_time": self.recording_time.isoformat(),
            "time": self.time.isoformat(),
            "deployment": self.deployment,
            "model": self.model,
            "score": self.score,
            "tag": self.tag,
            "tags": [{"key": k, "value": v, "score": s} for k, v, s in self.tags],
            "start_time": box[0] if box else None,
            "low_freq": box[1] if box else None,
            "end_time": box[2] if box else None,
            "high_freq": box[3] if box else None,
            "samplerate": self.samplerate,
        }


@dataclass
class Page:
    """One page of rows and whether more follow."""

    rows: List[Any]
    offset: int
    limit: int
    has_more: bool


# CROSS JOIN fixes the join order (SQLite never reorders it): walk the
# recordings by time index, newest first, and stop at the page's end.
# Left to itself the planner may scan every detection and sort them all.
_JOINS = (
    " FROM recording r"
    " CROSS JOIN deployment dep ON dep.id = r.deployment_id"
    " CROSS JOIN model_output mo ON mo.recording_id = r.id"
    " CROSS JOIN detection d ON d.model_output_id = mo.id"
)
_DETECTION_COLUMNS = (
    "SELECT d.id, d.location, d.detection_score, r.id, r.datetime, r.path,"
    " r.samplerate_hz, r.duration_s, dep.name, mo.model_name"
)
_DETECTION_SQL = _DETECTION_COLUMNS + _JOINS


def detection_order(order: str) -> str:
    """Return the ORDER BY of detections in time heard, ``ASC`` or ``DESC``.

    Recordings do not overlap, so recording start then the detection's
    start within it is the time each sound was heard. The recording terms
    come first so the planner still walks the recording time index and
    only sorts each recording's few detections.
    """
    return (
        f" ORDER BY r.datetime {order}, r.rowid {order},"
        f" coalesce(json_extract(d.location, '$.coordinates[0]'), 0) {order},"
        " d.rowid"
    )


def _box(text: Optional[str]) -> Optional[Tuple[float, float, float, float]]:
    if not text:
        return None
    try:
        coordinates = json.loads(text)["coordinates"]
        start, low, end, high = (float(value) for value in coordinates)
    except (ValueError, KeyError, TypeError):
        return None
    return start, low, end, high


def _attach_tags(connection: sqlite3.Connection, rows: List[DetectionRow]) -> None:
    if not rows:
        return
    by_id = {row.id.bytes: row for row in rows}
    literals = ",".join(f"x'{row.id.hex}'" for row in rows)
    for detection_id, key, value, score in connection.execute(
        "SELECT detection_id, key, value, confidence_score FROM predicted_tag"
        f" WHERE detection_id IN ({literals})"
        " ORDER BY confidence_score DESC, id"
    ):
        by_id[bytes(detection_id)].tags.append((key, value, score))


def _detection_row(row: Sequence[Any]) -> DetectionRow:
    return DetectionRow(
        id=uuid_from_db(row[0]),
        box=_box(row[1]),
        score=row[2],
        recording_id=uuid_from_db(row[3]),
        recording_time=datetime_from_db(row[4]),
        recording_path=None if row[5] is None else Path(row[5]),
        samplerate=row[6],
        duration=row[7],
        deployment=row[8],
        model=row[9],
    )


# Two ways to find a page of tagged detections. Walking recordings by time
# visits about (rows wanted) x (detections / matching ones) detections, and
# all of them when a rare tag has fewer matches than wanted (25 s for a
# million on this machine). Looking up the tag's rows first costs one pass
# over the tag table plus about this many visits' worth per match (measured:
# ~160 us per match against ~25 us per visited detection), whatever the page.
_MATCH_COST_IN_VISITS = 6


def tag_counts(connection: sqlite3.Connection) -> Dict[Tuple[str, str], int]:
    """Count detections per ``(key, value)`` tag with one pass over the tags."""
    return {
        (key, value): count
        for key, value, count in connection.execute(
            "SELECT key, value, count(*) FROM predicted_tag"
            " WHERE detection_id IS NOT NULL GROUP BY key, value"
        )
    }


_MAX_NAMES_LISTED = 20
"""Known tags shown after an unknown one (BirdNET knows thousands)."""


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_MAX_NAMES_LISTED]) or "none yet"
    more = len(names) - _MAX_NAMES_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def unknown_filters(
    connection: sqlite3.Connection,
    tags: Optional[Sequence[str]] = None,
    deployment: Optional[str] = None,
) -> List[str]:
    """Say which tag or deployment filter names nothing in the store.

    An empty answer to ``--tag nosuch`` would read as "nothing heard"; a
    typo should be told, with the names that exist.

    Returns
    -------
    list of str
        One sentence per unknown filter; empty when all are known.
    """
    notes = []
    if tags:
        counts = tag_counts(connection)
        unknown = [
            tag
            for tag in tags
            if not any(tag in (value, f"{key}:{value}") for key, value in counts)
        ]
        if unknown:
            by_count = sorted(counts.items(), key=lambda item: -item[1])
            known = sorted(dict.fromkeys(value for (_, value), _ in by_count))
            notes.append(
                f"No detection has the tag {', '.join(map(repr, unknown))}; "
                f"tags in the store: {_names(known)}."
            )
    if deployment:
        names = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM deployment ORDER BY name"
            )
        ]
        try:
            key: Any = UUID(deployment).bytes
        except ValueError:
            key = None
        found = deployment in names or (
            key is not None
            and connection.execute(
                "SELECT 1 FROM deployment WHERE id = ?", (key,)
            ).fetchone()
        )
        if not found:
            notes.append(
                f"No deployment is named {deployment!r}; deployments in the "
                f"store: {_names(list(dict.fromkeys(names)))}."
            )
    return notes


def _tag_first(
    connection: sqlite3.Connection,
    query: DetectionQuery,
    wanted: Optional[int],
    counts: Optional[Dict[Tuple[str, str], int]],
) -> Optional[bool]:
    """Decide how to find tagged detections: None when none can match."""
    if not query.tags:
        return False
    counts = tag_counts(connection) if counts is None else counts
    matching = sum(n for (k, v), n in counts.items() if query.matches_tag(k, v))
    if matching == 0:
        return None
    total = max(1, sum(counts.values()))
    visits = total if wanted is None else min(total, wanted * total / matching)
    return matching * _MATCH_COST_IN_VISITS < visits


def list_detections(
    connection: sqlite3.Connection,
    query: DetectionQuery,
    limit: Optional[int] = 50,
    offset: int = 0,
    newest_first: bool = True,
    counts: Optional[Dict[Tuple[str, str], int]] = None,
) -> Page:
    """Return one page of detections matching ``query``.

    Rows come in the time each sound was heard (recording start plus the
    detection's start), newest first (``newest_first=False`` for exports:
    oldest first). ``counts`` are the
    store's detections per tag (``StoreCounters.tags``), used to pick the
    faster way to find a tag; they are counted here when not given and a
    tag filter is set.
    """
    tag_first = _tag_first(
        connection, query, None if limit is None else offset + limit, counts
    )
    if tag_first is None:
        return Page(rows=[], offset=offset, limit=limit or 0, has_more=False)
    where, params = query.where()
    order = "DESC" if newest_first else "ASC"
    source = _DETECTION_SQL
    if tag_first:
        condition, tag_params = query.tag_condition()
        source = (
            f"{_DETECTION_COLUMNS}"
            " FROM (SELECT DISTINCT pt.detection_id AS id"
            # One sequential pass: walking an index here would read every
            # row by random access (8 s for a million).
            " FROM predicted_tag pt NOT INDEXED"
            f" WHERE {condition}) AS hit"
            " CROSS JOIN detection d ON d.id = hit.id"
            " CROSS JOIN model_output mo ON mo.id = d.model_output_id"
            " CROSS JOIN recording r ON r.id = mo.recording_id"
            " CROSS JOIN deployment dep ON dep.id = r.deployment_id"
        )
        params = [*tag_params, *params]
    sql = f"{source}{where}{detection_order(order)}"
    if limit is not None:
        # One more row than asked tells whether a next page exists.
        sql += " LIMIT ? OFFSET ?"
        params = [*params, limit + 1, offset]
    rows = [_detection_row(row) for row in connection.execute(sql, params)]
    has_more = limit is not None and len(rows) > limit
    rows = rows[:limit] if limit is not None else rows
    _attach_tags(connection, rows)
    for row in rows:
        row.tags.sort(key=lambda tag: -tag[2])
    return Page(rows=rows, offset=offset, limit=limit or len(rows), has_more=has_more)


def count_by_bucket(
    connection: sqlite3.Connection,
    query: DetectionQuery,
    bucket: Bucket = "day",
) -> List[Tuple[str, str, str, int]]:
    """Count detections per tag per day or hour (UTC, by recording start).

    Returns
    -------
    list of (bucket, key, value, count)
        ``bucket`` is ``YYYY-MM-DD`` or ``YYYY-MM-DD HH``, oldest first.
        A detection with several tags counts once under each.
    """
    where, params = query.where()
    chars = _BUCKET_CHARS[bucket]
    rows = connection.execute(
        f"SELECT substr(r.datetime, 1, {chars}), pt.key, pt.value, count(*)"
        f"{_JOINS} CROSS JOIN predicted_tag pt ON pt.detection_id = d.id"
        f"{where} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        params,
    ).fetchall()
    result = []
    for stamp, key, value, count in rows:
        label = stamp.replace(" ", "T") + (":00Z" if bucket == "hour" else "")
        result.append((label, key, value, count))
    return result


def detections_by_tag(
    connection: sqlite3.Connection, query: DetectionQuery
) -> Dict[str, int]:
    """Count matching detections per tag value, most frequent first."""
    counts: Dict[str, int] = {}
    for _, _, value, count in count_by_bucket(connection, query, "day"):
        counts[value] = counts.get(value, 0) + count
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


@dataclass
class RecordingRow:
    """One recording as people read it."""

    id: UUID
    time: datetime.datetime
    duration: float
    samplerate: int
    channels: int
    path: Optional[Path]
    deployment: str
    detections: int

    @property
    def file_exists(self) -> bool:
        """Whether the recording's file is still on disk."""
        return self.path is not None and self.path.is_file()

    def as_json(self) -> Dict[str, Any]:
        """Return the row as JSON-ready values."""
        return {
            "id": str(self.id),
            "time": self.time.isoformat(),
            "duration": self.duration,
            "samplerate": self.samplerate,
            "channels": self.channels,
            "path": None if self.path is None else str(self.path),
            "file_exists": self.file_exists,
            "deployment": self.deployment,
            "detections": self.detections,
        }


_RECORDING_SQL = (
    "SELECT r.id, r.datetime, r.duration_s, r.samplerate_hz, r.audio_channels,"
    " r.path, dep.name,"
    " (SELECT count(*) FROM model_output mo JOIN detection d"
    "  ON d.model_output_id = mo.id WHERE mo.recording_id = r.id)"
    " FROM recording r JOIN deployment dep ON dep.id = r.deployment_id"
)


def _recording_row(row: Sequence[Any]) -> RecordingRow:
    return RecordingRow(
        id=uuid_from_db(row[0]),
        time=datetime_from_db(row[1]),
        duration=row[2],
        samplerate=row[3],
        channels=row[4] or 1,
        path=None if row[5] is None else Path(row[5]),
        deployment=row[6],
        detections=row[7],
    )


def list_recordings(
    connection: sqlite3.Connection,
    since: Optional[datetime.datetime] = None,
    until: Optional[datetime.datetime] = None,
    deployment: Optional[str] = None,
    limit: Optional[int] = 50,
    offset: int = 0,
) -> Page:
    """Return one page of recordings, newest first, with their detection counts."""
    clauses: List[str] = []
    params: List[Any] = []
    _recording_conditions(clauses, params, since, until, deployment)
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    sql = f"{_RECORDING_SQL}{where} ORDER BY r.datetime DESC, r.rowid DESC"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [limit + 1, offset]
    rows = [_recording_row(row) for row in connection.execute(sql, params)]
    has_more = limit is not None and len(rows) > limit
    rows = rows[:limit] if limit is not None else rows
    return Page(rows=rows, offset=offset, limit=limit or len(rows), has_more=has_more)


def get_recording(
    connection: sqlite3.Connection, recording_id: UUID
) -> Optional[RecordingRow]:
    """Return one recording by id, or None."""
    row = connection.execute(
        f"{_RECORDING_SQL} WHERE r.id = ?", (recording_id.bytes,)
    ).fetchone()
    return None if row is None else _recording_row(row)
