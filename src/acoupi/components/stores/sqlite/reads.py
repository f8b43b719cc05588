"""Queries of the metadata database, and rows turned back into data objects.

Every function runs inside a read transaction opened by the caller, so the
several queries that assemble one answer see the same snapshot.

List filters follow one rule everywhere: ``None`` means "no filter" and an
empty list matches nothing.
"""

import datetime
import json
import sqlite3
from collections import defaultdict, deque
from itertools import repeat
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple
from uuid import UUID

from pydantic_core import from_json

from acoupi import data
from acoupi.components.sqlite_db import (
    datetime_from_db,
    datetime_to_db,
    text_in,
    uuid_from_db,
    uuid_in,
    uuids_from_db,
)
from acoupi.components.stores.sqlite.trusted import trusted, trusted_many

__all__ = [
    "current_deployment",
    "detections",
    "model_outputs",
    "outputs_of_recordings",
    "predicted_tags",
    "recordings",
]

_DEPLOYMENT_COLUMNS = (
    "dep.id, dep.name, dep.started_on, dep.ended_on, dep.latitude, dep.longitude"
)
_RECORDING_COLUMNS = (
    "r.id, r.path, r.datetime, r.duration_s, r.samplerate_hz, r.audio_channels, "
    + _DEPLOYMENT_COLUMNS
)


# Up to this many ids travel as bound parameters: the statement's text then
# depends only on their number, so Python's statement cache spares SQLite
# parsing it again on every call. Longer lists are written as literals
# (uuid_in), to which no parameter limit applies.
_MAX_BOUND_IDS = 250


def _uuid_clause(column: str, values: Iterable[UUID]) -> Tuple[str, List[bytes]]:
    """Return ``column IN (...)`` for these UUIDs and its parameters."""
    values = list(values)
    if len(values) > _MAX_BOUND_IDS:
        return uuid_in(column, values), []
    marks = ",".join("?" * len(values))
    return f"{column} IN ({marks})", [value.bytes for value in values]


class _Where:
    """Collects ``AND``-ed conditions and their parameters."""

    def __init__(self) -> None:
        self.clauses: List[str] = []
        self.params: List[Any] = []
        self.matches_nothing = False

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def uuids(self, column: str, values: Optional[Sequence[UUID]]) -> None:
        if values is None:
            return
        if not values:
            self.matches_nothing = True
            return
        clause, params = _uuid_clause(column, values)
        self.add(clause, *params)

    def texts(self, column: str, values: Optional[Sequence[str]]) -> None:
        if values is None:
            return
        if not values:
            self.matches_nothing = True
            return
        clause, param = text_in(column, values)
        self.add(clause, param)

    def between(
        self,
        column: str,
        after: Optional[datetime.datetime],
        before: Optional[datetime.datetime],
    ) -> None:
        # Canonical text compares chronologically; both bounds inclusive.
        if after is not None:
            self.add(f"{column} >= ?", datetime_to_db(after))
        if before is not None:
            self.add(f"{column} <= ?", datetime_to_db(before))

    def score(self, column: str, gt: Optional[float], lt: Optional[float]) -> None:
        if gt is not None:
            self.add(f"{column} > ?", gt)
        if lt is not None:
            self.add(f"{column} < ?", lt)

    def sql(self) -> str:
        return " WHERE " + " AND ".join(self.clauses) if self.clauses else ""


_Deployment = trusted(
    data.Deployment, ("id", "name", "started_on", "ended_on", "latitude", "longitude")
)
_Recording = trusted(
    data.Recording,
    (
        "id",
        "path",
        "created_on",
        "duration",
        "samplerate",
        "audio_channels",
        "deployment",
    ),
)
_Tag = trusted(data.Tag, ("key", "value"))
_PredictedTags = trusted_many(data.PredictedTag, ("tag", "confidence_score"))
_BoundingBoxes = trusted_many(data.BoundingBox, ("type", "coordinates"))
# Constructors per Detection subclass: the store returns the subclass of the
# stored prediction type (data.detection_class).
_DETECTION_FIELDS = ("id", "location", "detection_score", "tags", "prediction_type")
_DETECTION = {
    kind: trusted(data.detection_class(kind), _DETECTION_FIELDS)
    for kind in data.PredictionType
}
_DETECTIONS = {
    kind: trusted_many(data.detection_class(kind), _DETECTION_FIELDS)
    for kind in data.PredictionType
}
_ModelOutput = trusted(
    data.ModelOutput,
    ("id", "name_model", "recording", "tags", "detections", "created_on"),
)

# The order data.PredictedTag lists are kept in (see data.SortedTags):
# highest score first, then key and value, descending. SQLite compares
# text bytewise, which for UTF-8 is Python's code point order. The index
# ix_predicted_tag_detection holds each detection's tags in this order.
_TAG_ORDER = "confidence_score DESC, key DESC, value DESC"
_PT_TAG_ORDER = "pt.confidence_score DESC, pt.key DESC, pt.value DESC"


def _deployment(row: Sequence[Any]) -> data.Deployment:
    return _Deployment(
        {
            "id": uuid_from_db(row[0]),
            "name": row[1],
            "started_on": datetime_from_db(row[2]),
            "ended_on": None if row[3] is None else datetime_from_db(row[3]),
            "latitude": row[4],
            "longitude": row[5],
        }
    )


def _recording(row: Sequence[Any]) -> data.Recording:
    return _Recording(
        {
            "id": uuid_from_db(row[0]),
            "path": None if row[1] is None else Path(row[1]),
            "created_on": datetime_from_db(row[2]),
            "duration": row[3],
            "samplerate": row[4],
            "audio_channels": row[5],
            "deployment": _deployment(row[6:]),
        }
    )


def _predicted_tags(
    keys: Sequence[str], values: Sequence[str], scores: Sequence[float]
) -> List[data.PredictedTag]:
    """Build predicted tags, sharing one Tag per (key, value) in a call.

    Thousands of tags repeat a few species names; one Tag object each is
    enough (tags read back are not meant to be changed in place).
    """
    pairs = list(zip(keys, values, strict=True))
    tag_of = {pair: _Tag({"key": pair[0], "value": pair[1]}) for pair in set(pairs)}
    return _PredictedTags(
        [
            {"tag": tag, "confidence_score": score}
            for tag, score in zip(map(tag_of.__getitem__, pairs), scores, strict=True)
        ]
    )


def _tag_rows(rows: List[Tuple[str, str, float]]) -> List[data.PredictedTag]:
    """Build predicted tags from ``(key, value, score)`` rows."""
    if not rows:
        return []
    keys, values, scores = zip(*rows, strict=True)
    return _predicted_tags(keys, values, scores)


def _locations(texts: Sequence[Optional[str]]) -> List[Optional[data.BoundingBox]]:
    """Read the stored JSON of many boxes (``''`` or NULL: no box).

    All of them are parsed by one call of pydantic's JSON parser (which
    reads numbers exactly as ``json.loads`` does): one call per box cost
    more than building the box. A damaged value is parsed on its own, so
    that its error is the one raised.
    """
    present = [index for index, text in enumerate(texts) if text]
    boxes: List[Optional[data.BoundingBox]] = [None] * len(texts)
    if not present:
        return boxes
    try:
        parsed = from_json("[" + ",".join([texts[i] for i in present]) + "]")  # type: ignore[misc]
    except ValueError:
        parsed = None
    if not isinstance(parsed, list) or len(parsed) != len(present):
        parsed = [json.loads(texts[i]) for i in present]  # type: ignore[arg-type]
    built = _BoundingBoxes(
        [
            {
                "type": box.get("type", "BoundingBox"),
                "coordinates": tuple(box["coordinates"]),
            }
            for box in parsed
        ]
    )
    for index, box in zip(present, built, strict=True):
        boxes[index] = box
    return boxes


def current_deployment(connection: sqlite3.Connection) -> Optional[data.Deployment]:
    """Return the deployment that started last, or None."""
    row = connection.execute(
        f"SELECT {_DEPLOYMENT_COLUMNS} FROM deployment dep"
        " ORDER BY dep.started_on DESC, dep.rowid DESC LIMIT 1"
    ).fetchone()
    return None if row is None else _deployment(row)


def recordings(
    connection: sqlite3.Connection,
    ids: Optional[Sequence[UUID]] = None,
    paths: Optional[Sequence[Path]] = None,
) -> List[data.Recording]:
    """Return recordings by id and/or path, newest first."""
    where = _Where()
    where.uuids("r.id", ids)
    where.texts("r.path", None if paths is None else [str(p) for p in paths])
    if where.matches_nothing:
        return []
    rows = connection.execute(
        f"SELECT {_RECORDING_COLUMNS} FROM recording r"
        " JOIN deployment dep ON dep.id = r.deployment_id"
        f"{where.sql()} ORDER BY r.datetime DESC, r.rowid DESC",
        where.params,
    )
    return [_recording(row) for row in rows]


def outputs_of_recordings(
    connection: sqlite3.Connection, recordings: Sequence[data.Recording]
) -> Dict[UUID, List[data.ModelOutput]]:
    """Return the model outputs of each recording (newest first) by its id."""
    by_recording: Dict[UUID, List[data.ModelOutput]] = {r.id: [] for r in recordings}
    if not recordings:
        return by_recording
    clause, params = _uuid_clause("mo.recording_id", by_recording)
    rows = connection.execute(
        "SELECT mo.id, mo.model_name, mo.recording_id, mo.created_on"
        f" FROM model_output mo WHERE {clause}"
        " ORDER BY mo.created_on DESC, mo.rowid DESC",
        params,
    ).fetchall()
    for output in _assemble_outputs(connection, rows, {r.id: r for r in recordings}):
        by_recording[output.recording.id].append(output)
    return by_recording


def output_infos_of_recordings(
    connection: sqlite3.Connection, recording_ids: Sequence[UUID]
) -> Dict[UUID, List[data.ModelOutputInfo]]:
    """Return which models processed each recording (newest first), by id.

    One query on ``model_output`` alone: no detections or tags are read.
    """
    by_recording: Dict[UUID, List[data.ModelOutputInfo]] = {
        recording_id: [] for recording_id in recording_ids
    }
    if not recording_ids:
        return by_recording
    clause, params = _uuid_clause("mo.recording_id", recording_ids)
    rows = connection.execute(
        "SELECT mo.id, mo.model_name, mo.recording_id, mo.created_on"
        f" FROM model_output mo WHERE {clause}"
        " ORDER BY mo.created_on DESC, mo.rowid DESC",
        params,
    )
    for output_id, model_name, recording_id, created_on in rows:
        by_recording[uuid_from_db(recording_id)].append(
            data.ModelOutputInfo(
                id=uuid_from_db(output_id),
                name_model=model_name,
                created_on=datetime_from_db(created_on),
            )
        )
    return by_recording


def model_outputs(
    connection: sqlite3.Connection,
    after: Optional[datetime.datetime] = None,
    before: Optional[datetime.datetime] = None,
    ids: Optional[Sequence[UUID]] = None,
    recording_ids: Optional[Sequence[UUID]] = None,
    model_names: Optional[Sequence[str]] = None,
    detection_ids: Optional[Sequence[UUID]] = None,
    limit: Optional[int] = None,
) -> List[data.ModelOutput]:
    """Return filtered model outputs, newest first."""
    where = _Where()
    where.between("mo.created_on", after, before)
    where.uuids("mo.id", ids)
    where.uuids("mo.recording_id", recording_ids)
    where.texts("mo.model_name", model_names)
    if detection_ids is not None:
        if not detection_ids:
            return []
        where.add(
            "mo.id IN (SELECT model_output_id FROM detection"
            f" WHERE {uuid_in('id', detection_ids)})"
        )
    if where.matches_nothing:
        return []
    sql = (
        "SELECT mo.id, mo.model_name, mo.recording_id, mo.created_on"
        f" FROM model_output mo{where.sql()}"
        " ORDER BY mo.created_on DESC, mo.rowid DESC"
    )
    if limit is not None:
        sql += " LIMIT ?"
        where.params.append(limit)
    rows = connection.execute(sql, where.params).fetchall()
    recording_ids_found = list({uuid_from_db(row[2]) for row in rows})
    recordings_by_id = {
        r.id: r for r in recordings(connection, ids=recording_ids_found)
    }
    return _assemble_outputs(connection, rows, recordings_by_id)


def detections(
    connection: sqlite3.Connection,
    ids: Optional[Sequence[UUID]] = None,
    model_output_ids: Optional[Sequence[UUID]] = None,
    score_gt: Optional[float] = None,
    score_lt: Optional[float] = None,
    model_names: Optional[Sequence[str]] = None,
    after: Optional[datetime.datetime] = None,
    before: Optional[datetime.datetime] = None,
) -> List[data.Detection]:
    """Return filtered detections with their tags, oldest output first.

    ``after``/``before`` apply to the creation time of the detection's model
    output; score bounds are strict.
    """
    where = _Where()
    where.uuids("d.id", ids)
    where.uuids("d.model_output_id", model_output_ids)
    where.score("d.detection_score", score_gt, score_lt)
    where.texts("mo.model_name", model_names)
    where.between("mo.created_on", after, before)
    if where.matches_nothing:
        return []
    # Each output's detections in the order data.ModelOutput keeps them (by
    # id), which ix_detection_model_output holds: no sorting.
    return _detections_with_tags(
        connection,
        " FROM model_output mo JOIN detection d ON d.model_output_id = mo.id",
        where,
        "mo.created_on, mo.rowid, d.id",
    )


def predicted_tags(
    connection: sqlite3.Connection,
    detection_ids: Optional[Sequence[UUID]] = None,
    after: Optional[datetime.datetime] = None,
    before: Optional[datetime.datetime] = None,
    score_gt: Optional[float] = None,
    score_lt: Optional[float] = None,
    keys: Optional[Sequence[str]] = None,
    values: Optional[Sequence[str]] = None,
) -> List[data.PredictedTag]:
    """Return filtered predicted tags.

    With ``after`` or ``before`` only detection-level tags are returned
    (those of detections whose model output was created in the window): the
    tags of :func:`detections` with the same window, in the same order
    (oldest output first, each detection's tags highest score first).
    Without, recording-level tags are included too, in the order they were
    stored.
    """
    where = _Where()
    source = "predicted_tag pt"
    order = "pt.id"
    if after is not None or before is not None:
        source = (
            "model_output mo JOIN detection d ON d.model_output_id = mo.id"
            " JOIN predicted_tag pt ON pt.detection_id = d.id"
        )
        where.between("mo.created_on", after, before)
        # The order the indexes walk (created_on, then each output's
        # detections, then each detection's tags): nothing to sort, and
        # the planner starts from the created_on index.
        order = f"mo.created_on, mo.rowid, d.id, {_PT_TAG_ORDER}"
    where.uuids("pt.detection_id", detection_ids)
    where.score("pt.confidence_score", score_gt, score_lt)
    where.texts("pt.key", keys)
    where.texts("pt.value", values)
    if where.matches_nothing:
        return []
    rows = connection.execute(
        f"SELECT pt.key, pt.value, pt.confidence_score FROM {source}"
        f"{where.sql()} ORDER BY {order}",
        where.params,
    ).fetchall()
    return _tag_rows(rows)


def _ids(rows: Iterable[Sequence[Any]]) -> List[UUID]:
    return [uuid_from_db(row[0]) for row in rows]


def _detections_with_tags(
    connection: sqlite3.Connection,
    source: str,
    where: _Where,
    order: str,
    group: str = "NULL",
) -> Any:
    """Return detections (with their tags) of ``source`` and ``where``.

    Two queries: the detections in ``order``, then their tags (the same
    source joined with ``predicted_tag``) in tag order. Returning each tag
    row with its detection's columns instead would cost more: Python's
    sqlite3 spends more per row than per column. With ``group`` (an SQL
    expression, e.g. the model output id) the result is a dict of detection
    lists by that value; without, a list.
    """
    rows = connection.execute(
        "SELECT d.id, d.location, d.detection_score, d.prediction_type,"
        f" {group}{source}{where.sql()} ORDER BY {order}",
        where.params,
    ).fetchall()
    if not rows:
        return [] if group == "NULL" else {}
    tag_rows = connection.execute(
        "SELECT pt.detection_id, pt.key, pt.value, pt.confidence_score"
        f"{source} JOIN predicted_tag pt ON pt.detection_id = d.id"
        f"{where.sql()} ORDER BY {order}, {_PT_TAG_ORDER}",
        where.params,
    ).fetchall()
    # Each detection's tags, in order; a detection without tags gets a
    # fresh empty list from the defaultdict. Grouped with C-level loops.
    tags_of: Dict[bytes, List[data.PredictedTag]] = defaultdict(list)
    if tag_rows:
        detection_ids, keys, values, scores = zip(*tag_rows, strict=True)
        deque(
            map(
                list.append,
                map(tags_of.__getitem__, detection_ids),
                _predicted_tags(keys, values, scores),
            ),
            0,
        )
    raw_ids, locations, detection_scores, types, groups = zip(*rows, strict=True)
    kinds = list(map(_PREDICTION_TYPES.get, types, repeat(_PRESENCE)))
    states = [
        {
            "id": uuid,
            "location": location,
            "detection_score": score,
            "tags": tags,
            "prediction_type": kind,
        }
        for uuid, location, score, tags, kind in zip(
            uuids_from_db(raw_ids),
            _locations(locations),
            detection_scores,
            map(tags_of.__getitem__, raw_ids),
            kinds,
            strict=True,
        )
    ]
    if kinds.count(kinds[0]) == len(kinds):  # one type: build them at once
        built = _DETECTIONS[kinds[0]](states)
    else:
        built = [
            _DETECTION[kind](state) for kind, state in zip(kinds, states, strict=True)
        ]
    if group == "NULL":
        return built
    grouped: Dict[Any, List[data.Detection]] = defaultdict(list)
    deque(map(list.append, map(grouped.__getitem__, groups), built), 0)
    return grouped


_PREDICTION_TYPES = {kind.value: kind for kind in data.PredictionType}


# NULL (a detection stored by acoupi 0.3) or a type this version does not
# know is read as the most general type, as data.detection_class does.
_PRESENCE = data.PredictionType.PRESENCE


def _assemble_outputs(
    connection: sqlite3.Connection,
    rows: Sequence[Tuple[bytes, str, bytes, str]],
    recordings_by_id: Dict[UUID, data.Recording],
) -> List[data.ModelOutput]:
    """Build model outputs from their rows with three more queries in total."""
    if not rows:
        return []
    output_ids = _ids(rows)
    where = _Where()
    where.uuids("d.model_output_id", output_ids)
    detections_by_output = _detections_with_tags(
        connection,
        " FROM detection d",
        where,
        # d.id: the order data.ModelOutput keeps its detections in, which
        # ix_detection_model_output holds: no sorting.
        "d.model_output_id, d.id",
        group="d.model_output_id",
    )
    output_tags: Dict[bytes, List[data.PredictedTag]] = defaultdict(list)
    clause, params = _uuid_clause("model_output_id", output_ids)
    tag_rows = connection.execute(
        "SELECT model_output_id, key, value, confidence_score FROM predicted_tag"
        # "+" keeps the planner off the detection_id index, where IS NULL
        # would match every recording-level tag in the file.
        f" WHERE {clause} AND +detection_id IS NULL ORDER BY {_TAG_ORDER}",
        params,
    ).fetchall()
    if tag_rows:
        owners, keys, values, scores = zip(*tag_rows, strict=True)
        for owner, tag in zip(
            owners, _predicted_tags(keys, values, scores), strict=True
        ):
            output_tags[owner].append(tag)

    outputs = []
    for output_id, model_name, recording_id, created_on in rows:
        outputs.append(
            _ModelOutput(
                {
                    "id": uuid_from_db(output_id),
                    "name_model": model_name,
                    "recording": recordings_by_id[uuid_from_db(recording_id)],
                    "tags": output_tags.get(output_id, []),
                    "detections": detections_by_output.get(output_id, []),
                    "created_on": datetime_from_db(created_on),
                }
            )
        )
    return outputs
