"""Files written by upstream acoupi 0.3.2 to 0.8.0 open with every row.

The fixtures in ``tests/data/upstream_db/<version>/`` were written by the
upstream packages themselves (``tests/data/upstream_db/generate.py``, run in
a venv of each version); ``expected.json`` lists what upstream was given.
0.4.1 stands for 0.4.x (Pony ORM, boxes in four columns); 0.7.1 for 0.5 to
0.7 (plain SQLite; their outbox has no ``message_type`` yet); 0.8.0 for
itself. The metadata schema is the same from 0.5 to 0.8.
"""

import datetime
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any, Dict, List
from uuid import UUID

import pytest

from acoupi import data
from acoupi.components.message_stores.sqlite import SqliteMessageStore
from acoupi.components.sqlite_db import APPLICATION_ID
from acoupi.components.sqlite_errors import DatabaseMigrationError
from acoupi.components.stores.sqlite import SqliteStore
from acoupi.components.stores.sqlite.schema import MIGRATIONS

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "upstream_db"
VERSIONS = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.json").exists())


def test_fixtures_of_the_three_upstream_schemas_exist():
    assert {"0.3.2", "0.4.1", "0.7.1", "0.8.0"} <= set(VERSIONS)


def raw(path: Path, sql: str) -> List[Any]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def when(text: str) -> datetime.datetime:
    value = datetime.datetime.fromisoformat(text)
    # 0.3 and 0.4 stored naive times; this package reads them as UTC.
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


@pytest.fixture(params=VERSIONS)
def upstream(request, tmp_path: Path) -> Dict[str, Any]:
    source = FIXTURES / request.param
    for name in ("metadata.db", "messages.db"):
        shutil.copy(source / name, tmp_path / name)
    expected = json.loads((source / "expected.json").read_text())
    return {"dir": tmp_path, "expected": expected}


def test_every_metadata_row_survives(upstream):
    folder, expected = upstream["dir"], upstream["expected"]
    counts = {
        table: raw(folder / "metadata.db", f"SELECT COUNT(*) FROM {table}")[0][0]
        for table in ("deployment", "recording", "model_output", "detection")
    }

    store = SqliteStore(folder / "metadata.db")

    for table, count in counts.items():
        assert raw(folder / "metadata.db", f"SELECT COUNT(*) FROM {table}") == [
            (count,)
        ]
    recordings = {r["id"]: r for r in expected["recordings"]}
    found = store.get_recordings([UUID(key) for key in recordings])
    assert len(found) == len(recordings)
    for recording, _ in found:
        row = recordings[str(recording.id)]
        assert recording.created_on == when(row["created_on"])
        assert (None if recording.path is None else str(recording.path)) == row["path"]
        assert recording.duration == row["duration"]
        assert recording.samplerate == row["samplerate"]
        assert str(recording.deployment.id) == row["deployment_id"]

    outputs = {str(o.id): o for o in store.get_model_outputs()}
    assert set(outputs) == {o["id"] for o in expected["model_outputs"]}
    for row in expected["model_outputs"]:
        output = outputs[row["id"]]
        assert str(output.recording.id) == row["recording_id"]
        assert output.name_model == row["name_model"]
        assert output.created_on == when(row["created_on"])
        assert [[t.tag.key, t.tag.value, t.confidence_score] for t in output.tags] == (
            row["tags"]
        )
        detections = {str(d.id): d for d in output.detections}
        assert set(detections) == {d["id"] for d in row["detections"]}
        for expected_detection in row["detections"]:
            detection = detections[expected_detection["id"]]
            assert detection.detection_score == expected_detection["score"]
            box = None if detection.location is None else detection.location.coordinates
            assert box == pytest.approx(
                None
                if expected_detection["box"] is None
                else tuple(expected_detection["box"])
            )
            assert [
                [t.tag.key, t.tag.value, t.confidence_score] for t in detection.tags
            ] == expected_detection["tags"]

    deployments = {
        str(d.id): d
        for d in [store.get_current_deployment()]
        + [r.deployment for r, _ in store.get_recordings([UUID(int=100)])]
    }
    for row in expected["deployments"]:
        stored = raw(
            folder / "metadata.db",
            "SELECT name, started_on, ended_on, latitude, longitude FROM deployment"
            f" WHERE id = x'{UUID(row['id']).hex}'",
        )
        assert len(stored) == 1
        name, started_on, ended_on, latitude, longitude = stored[0]
        assert name == row["name"]
        assert datetime.datetime.fromisoformat(started_on) == when(row["started_on"])
        assert (ended_on is None) == (row["ended_on"] is None)
        assert (latitude, longitude) == (row["latitude"], row["longitude"])
    assert str(store.get_current_deployment().id) in deployments


def test_summaries_read_migrated_tags_and_detections(upstream):
    expected = upstream["expected"]
    store = SqliteStore(upstream["dir"] / "metadata.db")
    times = [when(o["created_on"]) for o in expected["model_outputs"]]

    detections = store.get_detections(after=min(times), before=max(times))
    tags = store.get_predicted_tags(after=min(times), before=max(times))

    n_detections = sum(len(o["detections"]) for o in expected["model_outputs"])
    assert len(detections) == n_detections
    assert len(tags) == sum(
        len(d["tags"]) for o in expected["model_outputs"] for d in o["detections"]
    )


def test_every_message_and_response_survives(upstream):
    folder, expected = upstream["dir"], upstream["expected"]

    store = SqliteMessageStore(folder / "messages.db")

    unsent = store.get_unsent_messages()
    assert [str(m.id) for m in unsent] == expected["unsent"]
    by_id = {m["id"]: m for m in expected["messages"]}
    for message in unsent:
        assert message.content == by_id[str(message.id)]["content"]
        assert message.created_on == when(by_id[str(message.id)]["created_on"])
    for message_id, status, content, received_on in expected["responses"]:
        [response] = store.get_responses(UUID(message_id))
        assert int(response.status) == status
        assert response.content == content
        assert response.received_on == when(received_on)
        assert response.message.content == by_id[message_id]["content"]
    assert store.count_unsent() == len(expected["unsent"])


def test_migration_takes_a_backup_first_and_marks_the_file(upstream):
    folder = upstream["dir"]
    original = raw(folder / "metadata.db", "SELECT COUNT(*) FROM recording")

    SqliteStore(folder / "metadata.db").close()

    [backup] = folder.glob("metadata.db.backup-upstream-*")
    assert raw(backup, "SELECT COUNT(*) FROM recording") == original
    assert raw(backup, "PRAGMA integrity_check") == [("ok",)]
    assert raw(folder / "metadata.db", "PRAGMA application_id") == [(APPLICATION_ID,)]
    assert raw(folder / "metadata.db", "PRAGMA user_version") == [(len(MIGRATIONS),)]
    assert raw(folder / "metadata.db", "PRAGMA foreign_key_check") == []
    # Opening again migrates nothing and copies nothing.
    SqliteStore(folder / "metadata.db").close()
    assert len(list(folder.glob("metadata.db.backup-*"))) == 1


def test_migrated_file_takes_new_rows_at_an_existing_time(upstream):
    """Upstream's UNIQUE on recording.datetime is gone after the rebuild."""
    store = SqliteStore(upstream["dir"] / "metadata.db")
    [(existing, _)] = store.get_recordings([UUID(int=101)])
    twin = data.Recording(
        created_on=existing.created_on,
        duration=3.0,
        samplerate=192000,
        deployment=existing.deployment,
        path=Path("/other/microphone.wav"),
    )

    store.store_recording(twin)
    store.store_deployment(
        data.Deployment(name="same start", started_on=existing.deployment.started_on)
    )

    assert len(store.get_recordings([existing.id, twin.id])) == 2


def test_columns_this_package_does_not_read_are_kept(tmp_path: Path):
    for name in ("0.4.1", "0.8.0"):
        path = tmp_path / f"{name}.db"
        shutil.copy(FIXTURES / name / "metadata.db", path)
        SqliteStore(path).close()
        columns = [row[1] for row in raw(path, "PRAGMA table_info(detection)")]
        assert {"start_time_s", "end_time_s", "low_freq_hz", "high_freq_hz"} <= set(
            columns
        )
    assert raw(
        tmp_path / "0.8.0.db", "SELECT DISTINCT prediction_type FROM detection"
    ) == [("event",)]


def test_failed_migration_leaves_the_file_unchanged(tmp_path: Path):
    path = tmp_path / "metadata.db"
    shutil.copy(FIXTURES / "0.8.0" / "metadata.db", path)
    connection = sqlite3.connect(path)
    connection.execute("UPDATE recording SET datetime = 'not a time' WHERE rowid = 1")
    connection.commit()
    connection.close()
    before = raw(path, "SELECT * FROM recording ORDER BY rowid")
    schema = raw(path, "SELECT sql FROM sqlite_master ORDER BY name")

    with pytest.raises(DatabaseMigrationError) as info:
        SqliteStore(path)

    message = str(info.value)
    assert str(path) in message and "left unchanged" in message
    assert "backup-upstream" in message
    assert raw(path, "SELECT * FROM recording ORDER BY rowid") == before
    assert raw(path, "SELECT sql FROM sqlite_master ORDER BY name") == schema
    assert raw(path, "PRAGMA application_id") == [(0,)]
