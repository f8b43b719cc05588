"""Schema history of the metadata database.

Table and column names (and column order) are those of acoupi 0.3, so tools
reading the file keep working, and a file written by acoupi 0.3 (Pony ORM,
schema version 0) is upgraded in place: version 1 only adds what is missing
(``CREATE ... IF NOT EXISTS``) and version 2 rewrites 0.3's values into the
canonical forms this package reads and compares.

Stored forms: ids are 16-byte UUID BLOBs (``predicted_tag.id`` is an integer),
datetimes are canonical UTC text (see :mod:`acoupi.components.sqlite_db`),
``detection.location`` is the JSON of the bounding box, or ``''`` when there
is none (0.3 files declare the column NOT NULL).
"""

import sqlite3

from acoupi.components.sqlite_db import Migration, add_column, canonicalise_datetimes

__all__ = ["MIGRATIONS"]

_TABLES = (
    """
    CREATE TABLE IF NOT EXISTS deployment (
        id BLOB NOT NULL PRIMARY KEY,
        name TEXT NOT NULL,
        started_on TEXT NOT NULL,
        ended_on TEXT,
        latitude REAL,
        longitude REAL
    )
    """,
    # Unlike 0.3, ``datetime`` is not UNIQUE: two microphones (or a clock
    # step) can start recordings at the same instant.
    """
    CREATE TABLE IF NOT EXISTS recording (
        id BLOB NOT NULL PRIMARY KEY,
        path TEXT UNIQUE,
        datetime TEXT NOT NULL,
        duration_s REAL NOT NULL,
        samplerate_hz INTEGER NOT NULL,
        audio_channels INTEGER DEFAULT 1,
        deployment_id BLOB NOT NULL REFERENCES deployment (id) ON DELETE CASCADE
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS model_output (
        id BLOB NOT NULL PRIMARY KEY,
        model_name TEXT NOT NULL,
        recording_id BLOB NOT NULL REFERENCES recording (id) ON DELETE CASCADE,
        created_on TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS detection (
        id BLOB NOT NULL PRIMARY KEY,
        location TEXT NOT NULL DEFAULT '',
        detection_score REAL NOT NULL,
        model_output_id BLOB NOT NULL
            REFERENCES model_output (id) ON DELETE CASCADE
    )
    """,
    # Recording-level tags set model_output_id only; detection-level tags set
    # detection_id only (as in 0.3).
    """
    CREATE TABLE IF NOT EXISTS predicted_tag (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        confidence_score REAL NOT NULL,
        detection_id BLOB REFERENCES detection (id) ON DELETE CASCADE,
        model_output_id BLOB REFERENCES model_output (id) ON DELETE CASCADE
    )
    """,
)

# One index per lookup the tasks make (recording.path is covered by its
# UNIQUE constraint).
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_deployment_started_on ON deployment (started_on)",
    "CREATE INDEX IF NOT EXISTS ix_recording_datetime ON recording (datetime)",
    "CREATE INDEX IF NOT EXISTS ix_recording_deployment_id "
    "ON recording (deployment_id)",
    "CREATE INDEX IF NOT EXISTS ix_model_output_recording_id "
    "ON model_output (recording_id)",
    "CREATE INDEX IF NOT EXISTS ix_model_output_created_on "
    "ON model_output (created_on)",
    "CREATE INDEX IF NOT EXISTS ix_detection_model_output_id "
    "ON detection (model_output_id)",
    "CREATE INDEX IF NOT EXISTS ix_predicted_tag_detection_id "
    "ON predicted_tag (detection_id)",
    "CREATE INDEX IF NOT EXISTS ix_predicted_tag_model_output_id "
    "ON predicted_tag (model_output_id)",
)

_DATETIME_COLUMNS = (
    ("deployment", "started_on"),
    ("deployment", "ended_on"),
    ("recording", "datetime"),
    ("model_output", "created_on"),
)


def _canonicalise_legacy_values(connection: sqlite3.Connection) -> None:
    """Rewrite values stored by acoupi 0.3 in their canonical form.

    0.3 wrote naive datetimes with an optional fraction, and a missing path
    as the text ``"None"``. Rows written by this package are already
    canonical, so on them this step changes nothing.
    """
    canonicalise_datetimes(connection, _DATETIME_COLUMNS)
    connection.execute("UPDATE recording SET path = NULL WHERE path = 'None'")


def _add_prediction_type(connection: sqlite3.Connection) -> None:
    """Add acoupi 0.8's ``detection.prediction_type``.

    NULL (every detection stored before) reads as ``presence``, the type a
    0.3 model's detections get.
    """
    add_column(connection, "detection", "prediction_type", "TEXT")


MIGRATIONS = (
    Migration(
        "tables (as in acoupi 0.3) and query indexes",
        statements=_TABLES + _INDEXES,
    ),
    Migration(
        "canonical datetimes and NULL paths in files from acoupi 0.3",
        step=_canonicalise_legacy_values,
    ),
    Migration("detection prediction types (acoupi 0.8)", step=_add_prediction_type),
)
"""Ordered schema history; the schema version is its length."""
