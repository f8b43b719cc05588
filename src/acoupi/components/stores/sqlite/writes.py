"""Inserts and updates of the metadata database.

Every function here runs inside a transaction opened by the caller (see
:meth:`acoupi.components.sqlite_db.Database.write`), so that one store call
is one atomic, single-fsync write.

"Get-or-create" is ``INSERT ... ON CONFLICT (id) DO NOTHING``: only a row
with the same id is skipped; any other constraint violation (for example a
second recording claiming an existing path) still raises.
"""

import sqlite3
from pathlib import Path
from typing import Iterable, List, Optional, Tuple

from acoupi import data
from acoupi.components.sqlite_db import datetime_to_db, uuid_to_db

__all__ = [
    "insert_deployment",
    "insert_model_output",
    "insert_recording",
    "set_recording_path",
    "update_deployment",
]

_TagRow = Tuple[str, str, float, Optional[bytes], Optional[bytes]]


def insert_deployment(
    connection: sqlite3.Connection, deployment: data.Deployment
) -> None:
    """Store ``deployment`` unless a deployment with its id exists."""
    connection.execute(
        "INSERT INTO deployment"
        " (id, name, started_on, ended_on, latitude, longitude)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        (
            uuid_to_db(deployment.id),
            deployment.name,
            datetime_to_db(deployment.started_on),
            None
            if deployment.ended_on is None
            else datetime_to_db(deployment.ended_on),
            deployment.latitude,
            deployment.longitude,
        ),
    )


def update_deployment(
    connection: sqlite3.Connection, deployment: data.Deployment
) -> bool:
    """Update name, position and (when set) end of a stored deployment.

    Returns
    -------
    bool
        False when no deployment has this id.
    """
    cursor = connection.execute(
        "UPDATE deployment SET name = ?, latitude = ?, longitude = ?,"
        " ended_on = COALESCE(?, ended_on) WHERE id = ?",
        (
            deployment.name,
            deployment.latitude,
            deployment.longitude,
            None
            if deployment.ended_on is None
            else datetime_to_db(deployment.ended_on),
            uuid_to_db(deployment.id),
        ),
    )
    return cursor.rowcount > 0


def insert_recording(
    connection: sqlite3.Connection,
    recording: data.Recording,
    deployment: Optional[data.Deployment] = None,
) -> None:
    """Store ``recording`` (and its deployment) unless its id exists.

    ``deployment`` overrides ``recording.deployment`` when given.
    """
    deployment = deployment if deployment is not None else recording.deployment
    insert_deployment(connection, deployment)
    connection.execute(
        "INSERT INTO recording (id, path, datetime, duration_s, samplerate_hz,"
        " audio_channels, deployment_id) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO NOTHING",
        (
            uuid_to_db(recording.id),
            # A missing path stays NULL (0.3 stored the text "None").
            None if recording.path is None else str(recording.path),
            datetime_to_db(recording.created_on),
            recording.duration,
            recording.samplerate,
            recording.audio_channels,
            uuid_to_db(deployment.id),
        ),
    )


def set_recording_path(
    connection: sqlite3.Connection, recording: data.Recording, path: Path
) -> None:
    """Store ``recording`` if needed and set its path."""
    insert_recording(connection, recording)
    connection.execute(
        "UPDATE recording SET path = ? WHERE id = ?",
        (str(path), uuid_to_db(recording.id)),
    )


def insert_model_output(
    connection: sqlite3.Connection, model_output: data.ModelOutput
) -> bool:
    """Store a model output with its recording, detections and tags.

    Idempotent: when an output with this id is already stored nothing is
    written (the first write wins). Because an output and all its children
    are written in one transaction, an existing row means a complete output.

    Returns
    -------
    bool
        True when the output was new and has been written.
    """
    insert_recording(connection, model_output.recording)
    output_id = uuid_to_db(model_output.id)
    cursor = connection.execute(
        "INSERT INTO model_output (id, model_name, recording_id, created_on)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        (
            output_id,
            model_output.name_model,
            uuid_to_db(model_output.recording.id),
            datetime_to_db(model_output.created_on),
        ),
    )
    if cursor.rowcount == 0:
        return False

    detection_rows = []
    tag_rows: List[_TagRow] = list(_tag_rows(model_output.tags, None, output_id))
    for detection in model_output.detections:
        detection_id = uuid_to_db(detection.id)
        detection_rows.append(
            (
                detection_id,
                ""
                if detection.location is None
                else detection.location.model_dump_json(),
                detection.detection_score,
                output_id,
                detection.prediction_type.value,
            )
        )
        tag_rows.extend(_tag_rows(detection.tags, detection_id, None))

    connection.executemany(
        "INSERT INTO detection"
        " (id, location, detection_score, model_output_id, prediction_type)"
        " VALUES (?, ?, ?, ?, ?)",
        detection_rows,
    )
    connection.executemany(
        "INSERT INTO predicted_tag"
        " (key, value, confidence_score, detection_id, model_output_id)"
        " VALUES (?, ?, ?, ?, ?)",
        tag_rows,
    )
    return True


def _tag_rows(
    tags: Iterable[data.PredictedTag],
    detection_id: Optional[bytes],
    model_output_id: Optional[bytes],
) -> Iterable[_TagRow]:
    for tag in tags:
        yield (
            tag.tag.key,
            tag.tag.value,
            tag.confidence_score,
            detection_id,
            model_output_id,
        )
