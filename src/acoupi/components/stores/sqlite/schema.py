"""Schema history of the metadata database.

Table and column names (and column order) are those of acoupi 0.3, so tools
reading the file keep working. Files written by upstream acoupi 0.3 to 0.8
(and by earlier builds of this package) are adopted in place: the first step
rebuilds each table into the definition below, keeping every row and every
column (see :mod:`acoupi.components.sqlite_tables`), the second rewrites
values into the canonical forms this package reads and compares.

Stored forms: ids are 16-byte UUID BLOBs (``predicted_tag.id`` is an integer),
datetimes are canonical UTC text (see :mod:`acoupi.components.sqlite_db`),
``detection.location`` is the JSON of the bounding box, or ``''`` when there
is none. ``detection.prediction_type`` holds acoupi 0.8's prediction type
(NULL when unknown).
"""

import sqlite3
from typing import Optional, Set

from acoupi.components.sqlite_db import Migration, canonicalise_datetimes
from acoupi.components.sqlite_tables import Column, Table, conform_tables

__all__ = ["INDEXES", "MIGRATIONS", "TABLES"]

_BOX_COLUMNS = ("start_time_s", "low_freq_hz", "end_time_s", "high_freq_hz")


def _location(old: Set[str]) -> Optional[str]:
    """Location JSON from 0.3's column, or from the box columns of 0.4 to 0.8."""
    if "location" in old:
        return "COALESCE(location, '')"
    if all(name in old for name in _BOX_COLUMNS):
        # Upstream writes the four together; a box with a missing side
        # cannot be a BoundingBox, and its columns are kept as they are.
        missing = " OR ".join(f"{name} IS NULL" for name in _BOX_COLUMNS)
        return (
            f"CASE WHEN {missing} THEN '' ELSE json_object('type', 'BoundingBox',"
            f" 'coordinates', json_array({', '.join(_BOX_COLUMNS)})) END"
        )
    return "''"


TABLES = (
    Table(
        "deployment",
        (
            Column("id", "BLOB NOT NULL PRIMARY KEY"),
            Column("name", "TEXT NOT NULL"),
            Column("started_on", "TEXT NOT NULL"),
            Column("ended_on", "TEXT"),
            Column("latitude", "REAL"),
            Column("longitude", "REAL"),
        ),
    ),
    # Unlike upstream, ``datetime`` is not UNIQUE: two microphones (or a
    # clock step) can start recordings at the same instant.
    Table(
        "recording",
        (
            Column("id", "BLOB NOT NULL PRIMARY KEY"),
            Column("path", "TEXT UNIQUE"),
            Column("datetime", "TEXT NOT NULL"),
            Column("duration_s", "REAL NOT NULL"),
            Column("samplerate_hz", "INTEGER NOT NULL"),
            Column("audio_channels", "INTEGER DEFAULT 1"),
            Column(
                "deployment_id",
                "BLOB NOT NULL REFERENCES deployment (id) ON DELETE CASCADE",
            ),
        ),
    ),
    Table(
        "model_output",
        (
            Column("id", "BLOB NOT NULL PRIMARY KEY"),
            Column("model_name", "TEXT NOT NULL"),
            Column(
                "recording_id",
                "BLOB NOT NULL REFERENCES recording (id) ON DELETE CASCADE",
            ),
            Column("created_on", "TEXT NOT NULL"),
        ),
    ),
    Table(
        "detection",
        (
            Column("id", "BLOB NOT NULL PRIMARY KEY"),
            Column("location", "TEXT NOT NULL DEFAULT ''", source=_location),
            Column("detection_score", "REAL NOT NULL"),
            Column(
                "model_output_id",
                "BLOB NOT NULL REFERENCES model_output (id) ON DELETE CASCADE",
            ),
            Column("prediction_type", "TEXT"),
        ),
    ),
    # Recording-level tags set model_output_id only; detection-level tags set
    # detection_id only (as in 0.3; 0.5 and later have detection tags only).
    Table(
        "predicted_tag",
        (
            Column("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
            Column("key", "TEXT NOT NULL"),
            Column("value", "TEXT NOT NULL"),
            Column("confidence_score", "REAL NOT NULL"),
            Column("detection_id", "BLOB REFERENCES detection (id) ON DELETE CASCADE"),
            Column(
                "model_output_id",
                "BLOB REFERENCES model_output (id) ON DELETE CASCADE",
            ),
        ),
    ),
)

_DETECTION_INDEX = (
    "CREATE UNIQUE INDEX IF NOT EXISTS ix_detection_model_output"
    " ON detection (model_output_id, id)"
)
_TAG_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_predicted_tag_detection"
    " ON predicted_tag (detection_id, confidence_score DESC, key DESC, value DESC)"
)

# One index per lookup the tasks, the status and the summaries make
# (recording.path is covered by its UNIQUE constraint). Query plans are
# checked in tests/components/test_store_query_plans.py.
INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_deployment_started_on ON deployment (started_on)",
    "CREATE INDEX IF NOT EXISTS ix_recording_datetime ON recording (datetime)",
    "CREATE INDEX IF NOT EXISTS ix_recording_deployment_id "
    "ON recording (deployment_id)",
    "CREATE INDEX IF NOT EXISTS ix_model_output_recording_id "
    "ON model_output (recording_id)",
    "CREATE INDEX IF NOT EXISTS ix_model_output_created_on "
    "ON model_output (created_on)",
    # Each output's detections by id (the order data.ModelOutput keeps) and
    # each detection's tags in data.SortedTags' order, the tag columns
    # included: the reads walk these indexes without sorting, and without
    # reading the tag table at all. UNIQUE (id is unique anyway) is what
    # lets SQLite carry an ORDER BY through the detection loop into the
    # tag loop; without it, it sorts every tag row.
    _DETECTION_INDEX,
    _TAG_INDEX,
    "CREATE INDEX IF NOT EXISTS ix_predicted_tag_model_output_id "
    "ON predicted_tag (model_output_id)",
)

_DATETIME_COLUMNS = (
    ("deployment", "started_on"),
    ("deployment", "ended_on"),
    ("recording", "datetime"),
    ("model_output", "created_on"),
)


def _conform(connection: sqlite3.Connection) -> None:
    conform_tables(connection, TABLES)
    for statement in INDEXES:
        connection.execute(statement)


def _canonicalise_legacy_values(connection: sqlite3.Connection) -> None:
    """Rewrite values stored by upstream acoupi in their canonical form.

    0.3 and 0.4 wrote naive datetimes with an optional fraction and a missing
    path as the text ``"None"``; 0.5 to 0.8 wrote ISO datetimes with the
    offset they were given. Canonical rows are left as they are.
    """
    canonicalise_datetimes(connection, _DATETIME_COLUMNS)
    connection.execute("UPDATE recording SET path = NULL WHERE path = 'None'")


MIGRATIONS = (
    Migration(
        "tables of this version (adopting files of upstream 0.3 to 0.8)"
        " and query indexes",
        step=_conform,
    ),
    Migration(
        "canonical datetimes and NULL paths in files from upstream acoupi",
        step=_canonicalise_legacy_values,
    ),
    Migration(
        "indexes holding detections and tags in the order the reads return",
        statements=(
            "DROP INDEX IF EXISTS ix_detection_model_output_id",
            "DROP INDEX IF EXISTS ix_predicted_tag_detection_id",
            _DETECTION_INDEX,
            _TAG_INDEX,
        ),
    ),
)
"""Ordered schema history; the schema version is its length."""
