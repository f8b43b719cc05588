"""SqliteStore: round trips, stored formats, filters, ordering, migrations."""

import datetime
import multiprocessing
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List, Optional
from uuid import uuid4

import pytest

from acoupi import data
from acoupi.components import SqliteStore
from acoupi.components.sqlite_db import SchemaVersionError
from acoupi.components.stores.sqlite.schema import MIGRATIONS

UTC = datetime.timezone.utc
T0 = datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def make_deployment(**kwargs) -> data.Deployment:
    kwargs.setdefault("name", "test")
    kwargs.setdefault("started_on", T0)
    return data.Deployment(**kwargs)


def make_recording(
    deployment: data.Deployment,
    seconds: float = 0,
    path: Optional[str] = None,
) -> data.Recording:
    return data.Recording(
        created_on=at(seconds),
        duration=3.0,
        samplerate=192000,
        audio_channels=2,
        deployment=deployment,
        path=None if path is None else Path(path),
    )


def make_output(
    recording: data.Recording,
    seconds: float = 0,
    model: str = "batdetect2",
    detections: int = 2,
    tags_per_detection: int = 2,
    score: float = 0.5,
) -> data.ModelOutput:
    return data.ModelOutput(
        name_model=model,
        recording=recording,
        created_on=at(seconds),
        tags=[
            data.PredictedTag(
                tag=data.Tag(key="recording", value="noisy"), confidence_score=0.9
            )
        ],
        detections=[
            data.Detection(
                location=data.BoundingBox.from_coordinates(
                    0.1 * i, 20_000, 0.1 * i + 0.05, 40_000 + i
                ),
                detection_score=score,
                tags=[
                    data.PredictedTag(
                        tag=data.Tag(key="species", value=f"sp{j}"),
                        confidence_score=round(0.2 + 0.1 * j, 2),
                    )
                    for j in range(tags_per_detection)
                ],
            )
            for i in range(detections)
        ],
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "metadata.db"


@pytest.fixture
def store(db_path: Path):
    store = SqliteStore(db_path)
    yield store
    store.close()


@pytest.fixture
def deployment() -> data.Deployment:
    return make_deployment(name="site A", latitude=51.5, longitude=-0.12)


def raw(db_path: Path, sql: str, *params) -> list:
    with sqlite3.connect(db_path) as connection:
        return connection.execute(sql, params).fetchall()


# --- round trips and stored formats -----------------------------------------


def test_creates_missing_parent_directory(db_path: Path, store: SqliteStore):
    assert db_path.is_file()
    assert store.db_path == db_path


def test_model_output_round_trips_through_get_recordings_by_path(
    store: SqliteStore, deployment: data.Deployment
):
    recording = make_recording(deployment, path="/audio/a.wav")
    output = make_output(recording, detections=3, tags_per_detection=3)
    # One detection without a bounding box (stored as '').
    output = data.ModelOutput.model_validate(
        {**dict(output), "detections": [*output.detections, data.Detection()]}
    )
    store.store_model_output(output)

    [(got_recording, got_outputs)] = store.get_recordings_by_path(
        [Path("/audio/a.wav")]
    )

    assert got_recording == recording
    assert got_outputs == [output]
    assert sum(d.location is None for d in got_outputs[0].detections) == 1


def test_get_recordings_returns_deployment_with_its_end(store: SqliteStore):
    deployment = make_deployment(ended_on=at(3600))
    recording = make_recording(deployment)
    store.store_recording(recording)

    [(got, outputs)] = store.get_recordings([recording.id])

    assert got.deployment == deployment
    assert outputs == []


def test_recording_without_path_is_stored_as_null(
    store: SqliteStore, db_path: Path, deployment: data.Deployment
):
    first = make_recording(deployment, seconds=0)
    second = make_recording(deployment, seconds=0)  # same instant, no path
    store.store_recording(first)
    store.store_recording(second)

    assert raw(db_path, "SELECT path FROM recording") == [(None,), (None,)]
    assert [r.path for r, _ in store.get_recordings([first.id])] == [None]


def test_stored_formats_are_uuid_bytes_and_canonical_utc_text(
    store: SqliteStore, db_path: Path, deployment: data.Deployment
):
    paris = datetime.timezone(datetime.timedelta(hours=2))
    recording = make_recording(deployment, path="/x.wav")
    recording.created_on = datetime.datetime(2024, 5, 1, 14, 0, 0, tzinfo=paris)
    store.store_recording(recording)

    [(id_, stamp, deployment_id)] = raw(
        db_path, "SELECT id, datetime, deployment_id FROM recording"
    )

    assert id_ == recording.id.bytes
    assert deployment_id == deployment.id.bytes
    assert stamp == "2024-05-01 12:00:00.000000+00:00"
    [(got, _)] = store.get_recordings([recording.id])
    assert got.created_on == T0 and got.created_on.tzinfo is not None


def test_naive_datetimes_are_read_as_utc(store: SqliteStore):
    deployment = make_deployment(started_on=datetime.datetime(2024, 5, 1, 12))
    store.store_deployment(deployment)

    assert store.get_current_deployment().started_on == T0


def test_table_and_column_names_are_those_of_acoupi_0_3(
    store: SqliteStore, db_path: Path
):
    def columns(table: str) -> List[str]:
        return [row[1] for row in raw(db_path, f"PRAGMA table_info({table})")]

    assert columns("deployment") == [
        "id",
        "name",
        "started_on",
        "ended_on",
        "latitude",
        "longitude",
    ]
    assert columns("recording") == [
        "id",
        "path",
        "datetime",
        "duration_s",
        "samplerate_hz",
        "audio_channels",
        "deployment_id",
    ]
    assert columns("model_output") == ["id", "model_name", "recording_id", "created_on"]
    assert columns("detection") == [
        "id",
        "location",
        "detection_score",
        "model_output_id",
        "prediction_type",  # added for acoupi 0.8 files, after 0.3's columns
    ]
    assert columns("predicted_tag") == [
        "id",
        "key",
        "value",
        "confidence_score",
        "detection_id",
        "model_output_id",
    ]


def test_detection_tags_link_to_detection_and_recording_tags_to_output(
    store: SqliteStore, db_path: Path, deployment: data.Deployment
):
    output = make_output(make_recording(deployment), detections=1, tags_per_detection=1)
    store.store_model_output(output)

    rows = raw(db_path, "SELECT key, detection_id, model_output_id FROM predicted_tag")

    assert sorted(rows) == [
        ("recording", None, output.id.bytes),
        ("species", output.detections[0].id.bytes, None),
    ]


# --- deployments ---------------------------------------------------------------


def test_get_current_deployment_creates_and_persists_one(
    store: SqliteStore, db_path: Path
):
    created = store.get_current_deployment()

    assert created.name.startswith("Deployment ")
    datetime.datetime.strptime(created.name, "Deployment %Y-%m-%d %H:%M:%S")
    assert created.started_on.tzinfo is not None
    assert SqliteStore(db_path).get_current_deployment() == created
    assert raw(db_path, "SELECT COUNT(*) FROM deployment") == [(1,)]


def test_get_current_deployment_is_the_latest_started(store: SqliteStore):
    old = make_deployment(name="old", started_on=at(0))
    new = make_deployment(name="new", started_on=at(60), ended_on=at(120))
    store.store_deployment(new)
    store.store_deployment(old)

    assert store.get_current_deployment() == new


def test_store_deployment_does_not_overwrite(store: SqliteStore):
    deployment = make_deployment(name="first")
    store.store_deployment(deployment)
    store.store_deployment(deployment.model_copy(update={"name": "second"}))

    assert store.get_current_deployment().name == "first"


def test_update_deployment(store: SqliteStore, deployment: data.Deployment):
    store.store_deployment(deployment)
    end = at(7200)
    store.update_deployment(
        deployment.model_copy(
            update={
                "name": "renamed",
                "latitude": 1.0,
                "longitude": 2.0,
                "ended_on": end,
            }
        )
    )
    # ended_on=None does not clear a stored end.
    store.update_deployment(deployment.model_copy(update={"name": "again"}))

    current = store.get_current_deployment()
    assert (current.name, current.latitude, current.longitude) == ("again", 51.5, -0.12)
    assert current.ended_on == end


def test_update_unknown_deployment_raises(store: SqliteStore):
    with pytest.raises(ValueError, match="No deployment found"):
        store.update_deployment(make_deployment())


# --- recordings ------------------------------------------------------------------


def test_store_recording_uses_the_given_deployment(
    store: SqliteStore, deployment: data.Deployment
):
    other = make_deployment(name="other", started_on=at(-60))
    recording = make_recording(deployment)
    store.store_recording(recording, deployment=other)

    [(got, _)] = store.get_recordings([recording.id])
    assert got.deployment == other


def test_store_recording_twice_is_a_no_op(
    store: SqliteStore, db_path: Path, deployment: data.Deployment
):
    recording = make_recording(deployment, path="/a.wav")
    store.store_recording(recording)
    store.store_recording(recording)
    assert raw(db_path, "SELECT COUNT(*) FROM recording") == [(1,)]


def test_two_recordings_cannot_share_a_path(
    store: SqliteStore, deployment: data.Deployment
):
    store.store_recording(make_recording(deployment, path="/a.wav"))
    with pytest.raises(sqlite3.IntegrityError):
        store.store_recording(make_recording(deployment, seconds=1, path="/a.wav"))


def test_get_recordings_newest_first_and_skips_unknown(
    store: SqliteStore, deployment: data.Deployment
):
    recordings = [
        make_recording(deployment, seconds=s, path=f"/{s}.wav") for s in (5, 1, 3)
    ]
    for recording in recordings:
        store.store_recording(recording)

    got = store.get_recordings([r.id for r in recordings] + [uuid4()])
    by_path = store.get_recordings_by_path([Path("/1.wav"), Path("/5.wav")])

    assert [r.created_on for r, _ in got] == [at(5), at(3), at(1)]
    assert [r.path for r, _ in by_path] == [Path("/5.wav"), Path("/1.wav")]
    assert store.get_recordings([]) == []
    assert store.get_recordings_by_path([]) == []


def test_outputs_of_a_recording_are_newest_first(
    store: SqliteStore, deployment: data.Deployment
):
    recording = make_recording(deployment)
    outputs = [make_output(recording, seconds=s, model=f"m{s}") for s in (1, 9, 4)]
    for output in outputs:
        store.store_model_output(output)

    [(_, got)] = store.get_recordings([recording.id])
    assert [o.name_model for o in got] == ["m9", "m4", "m1"]


def test_many_ids_and_paths_in_one_query(
    store: SqliteStore, deployment: data.Deployment
):
    # More than the 999 bound parameters older SQLite builds allow.
    recordings = [
        make_recording(deployment, seconds=i, path=f"/r/{i}.wav") for i in range(1200)
    ]
    store.store_model_outputs([make_output(r, detections=0) for r in recordings[:10]])
    for recording in recordings[10:]:
        store.store_recording(recording)

    assert len(store.get_recordings([r.id for r in recordings])) == 1200
    assert len(store.get_recordings_by_path([r.path for r in recordings])) == 1200


@pytest.mark.parametrize("count", [1, 250, 251])
def test_id_lists_bound_or_written_out_give_the_same_answer(
    store: SqliteStore, deployment: data.Deployment, count: int
):
    # Up to 250 ids are bound parameters, more are written into the SQL;
    # two full lists in one query stay under SQLite's oldest limit (999).
    outputs = [
        make_output(make_recording(deployment, seconds=i), seconds=i, detections=1)
        for i in range(count)
    ]
    store.store_model_outputs(outputs)
    detection_ids = [o.detections[0].id for o in outputs]
    output_ids = [o.id for o in outputs]

    found = store.get_detections(ids=detection_ids, model_output_ids=output_ids)
    assert [d.id for d in found] == detection_ids
    assert len(store.get_model_outputs(ids=output_ids)) == count
    assert len(store.get_recordings([o.recording.id for o in outputs])) == count


def test_update_recording_path(
    store: SqliteStore, db_path: Path, deployment: data.Deployment
):
    recording = make_recording(deployment)  # not stored yet
    returned = store.update_recording_path(recording, Path("/kept/a.wav"))

    assert returned is recording and recording.path == Path("/kept/a.wav")
    [(got, _)] = store.get_recordings_by_path([Path("/kept/a.wav")])
    assert got.id == recording.id
    store.update_recording_path(recording, Path("/moved/a.wav"))
    assert raw(db_path, "SELECT path FROM recording") == [("/moved/a.wav",)]


# --- model outputs -----------------------------------------------------------


def test_store_model_output_is_idempotent(
    store: SqliteStore, db_path: Path, deployment: data.Deployment
):
    output = make_output(make_recording(deployment), detections=3)
    store.store_model_output(output)
    store.store_model_output(output)  # a retried task
    store.store_model_outputs([output])

    assert raw(db_path, "SELECT COUNT(*) FROM model_output") == [(1,)]
    assert raw(db_path, "SELECT COUNT(*) FROM detection") == [(3,)]
    assert raw(db_path, "SELECT COUNT(*) FROM predicted_tag") == [(7,)]


def test_failed_model_output_write_leaves_nothing(
    store: SqliteStore, db_path: Path, deployment: data.Deployment
):
    first = make_output(make_recording(deployment, path="/a.wav"))
    store.store_model_output(first)
    # Same detection ids under a new output id: the detection insert fails.
    clash = first.model_copy(update={"id": uuid4(), "name_model": "other"})

    with pytest.raises(sqlite3.IntegrityError):
        store.store_model_output(clash)

    assert raw(db_path, "SELECT model_name FROM model_output") == [("batdetect2",)]


def test_store_model_outputs_in_one_batch(
    store: SqliteStore, deployment: data.Deployment
):
    outputs = [
        make_output(make_recording(deployment, seconds=i), seconds=i) for i in range(5)
    ]
    store.store_model_outputs(outputs)

    assert store.get_model_outputs() == outputs[::-1]


@pytest.fixture
def outputs(store: SqliteStore, deployment: data.Deployment) -> List[data.ModelOutput]:
    """Four outputs at 0, 10, 20, 30 s; two models; scores 0.2 .. 0.8."""
    outputs = []
    for i in range(4):
        recording = make_recording(deployment, seconds=10 * i, path=f"/{i}.wav")
        outputs.append(
            make_output(
                recording,
                seconds=10 * i,
                model="birdnet" if i % 2 else "batdetect2",
                score=0.2 * (i + 1),
            )
        )
    store.store_model_outputs(outputs)
    return outputs


def test_get_model_outputs_filters(store: SqliteStore, outputs):
    ids = [o.id for o in outputs]

    assert [o.id for o in store.get_model_outputs()] == ids[::-1]
    assert store.get_model_outputs(after=at(10), before=at(20)) == outputs[2:0:-1]
    assert store.get_model_outputs(ids=ids[:2]) == outputs[1::-1]
    assert store.get_model_outputs(recording_ids=[outputs[3].recording.id]) == [
        outputs[3]
    ]
    assert store.get_model_outputs(model_names=["birdnet"]) == [outputs[3], outputs[1]]
    assert store.get_model_outputs(
        detection_ids=[outputs[2].detections[0].id, outputs[0].detections[1].id]
    ) == [outputs[2], outputs[0]]
    assert store.get_model_outputs(limit=2) == outputs[:1:-1]
    assert store.get_model_outputs(model_names=["birdnet"], after=at(15)) == [
        outputs[3]
    ]


@pytest.mark.parametrize(
    "empty", ["ids", "recording_ids", "model_names", "detection_ids"]
)
def test_get_model_outputs_empty_list_matches_nothing(
    store: SqliteStore, outputs, empty: str
):
    assert store.get_model_outputs(**{empty: []}) == []


def test_get_detections_filters(store: SqliteStore, outputs):
    def ids(detections):
        return [d.id for d in detections]

    all_detections = [d for o in outputs for d in o.detections]

    assert store.get_detections() == all_detections
    assert store.get_detections(ids=[all_detections[3].id]) == [all_detections[3]]
    assert store.get_detections(model_output_ids=[outputs[1].id]) == (
        outputs[1].detections
    )
    # Scores are 0.2, 0.4, 0.6, 0.8 per output; bounds are strict.
    assert ids(store.get_detections(score_gt=0.4, score_lt=0.8)) == ids(
        outputs[2].detections
    )
    assert ids(store.get_detections(model_names=["birdnet"])) == ids(
        outputs[1].detections + outputs[3].detections
    )
    assert ids(store.get_detections(after=at(20))) == ids(
        outputs[2].detections + outputs[3].detections
    )
    assert ids(store.get_detections(before=at(0))) == ids(outputs[0].detections)
    assert store.get_detections(ids=[]) == []


def test_window_tags_are_the_window_detections_tags_in_order(
    store: SqliteStore, outputs
):
    detections = store.get_detections(after=at(0), before=at(30))
    tags = store.get_predicted_tags(after=at(0), before=at(30))

    assert [d.id for d in detections] == [d.id for o in outputs for d in o.detections]
    assert len(tags) == 16
    assert tags == [tag for detection in detections for tag in detection.tags]


def test_detections_of_mixed_types_read_as_their_classes(
    store: SqliteStore, db_path: Path, deployment: data.Deployment
):
    output = make_output(make_recording(deployment), detections=4)
    store.store_model_output(output)
    stored = ["event", "sequence", None, "unknown to this version"]
    connection = sqlite3.connect(db_path)
    for detection, kind in zip(output.detections, stored, strict=True):
        connection.execute(
            "UPDATE detection SET prediction_type = ? WHERE id = ?",
            (kind, detection.id.bytes),
        )
    connection.commit()
    connection.close()

    read = store.get_detections()
    [(_, [read_output])] = store.get_recordings([output.recording.id])

    expected = [
        data.EventDetection,
        data.SequenceDetection,
        data.PresenceDetection,
        data.PresenceDetection,
    ]
    for detections in (read, read_output.detections):
        assert [type(d) for d in detections] == expected
        assert [d.id for d in detections] == [d.id for d in output.detections]
        assert [d.tags for d in detections] == [d.tags for d in output.detections]


def test_changing_a_read_object_changes_no_other_result(store: SqliteStore, outputs):
    first = store.get_model_outputs()
    detection = first[0].detections[0]
    detection.tags[0].tag.value = "changed"
    detection.tags.append(detection.tags[0])
    detection.location = None
    first[0].recording.deployment.name = "changed"

    assert store.get_model_outputs() == outputs[::-1]
    assert store.get_detections() == [d for o in outputs for d in o.detections]


def test_get_predicted_tags_filters(store: SqliteStore, outputs):
    def values(tags):
        return sorted((t.tag.key, t.tag.value, t.confidence_score) for t in tags)

    everything = store.get_predicted_tags()
    window = store.get_predicted_tags(after=at(10), before=at(20))

    # 4 outputs x (1 recording tag + 2 detections x 2 tags)
    assert len(everything) == 20
    # In a window, only detection-level tags (2 outputs x 2 x 2).
    assert len(window) == 8
    assert {t.tag.key for t in window} == {"species"}
    detection = outputs[0].detections[0]
    assert values(store.get_predicted_tags(detection_ids=[detection.id])) == values(
        detection.tags
    )
    assert {t.confidence_score for t in store.get_predicted_tags(score_gt=0.2)} == {
        0.3,
        0.9,
    }
    assert {t.confidence_score for t in store.get_predicted_tags(score_lt=0.3)} == {0.2}
    assert len(store.get_predicted_tags(keys=["recording"])) == 4
    assert len(store.get_predicted_tags(values=["sp1"], after=at(30))) == 2
    assert store.get_predicted_tags(keys=[]) == []


def test_every_query_uses_an_index(store: SqliteStore, db_path: Path, outputs):
    """No store query scans a table: cost must not grow with the file."""
    executed: List[str] = []
    store.database.connection().set_trace_callback(executed.append)
    detection_ids = [d.id for d in outputs[1].detections]

    store.get_current_deployment()
    store.get_recordings([outputs[0].recording.id])
    store.get_recordings_by_path([Path("/1.wav")])
    store.get_model_outputs(after=at(10), before=at(20))
    store.get_model_outputs(detection_ids=detection_ids)
    store.get_model_outputs(recording_ids=[outputs[0].recording.id])
    store.get_detections(after=at(10), before=at(20))
    store.get_detections(model_output_ids=[outputs[0].id])
    store.get_predicted_tags(after=at(10), before=at(20))
    store.get_predicted_tags(detection_ids=detection_ids)

    selects = [sql for sql in executed if sql.lstrip().startswith("SELECT")]
    assert len(selects) >= 10
    for sql in selects:
        plan = [row[-1] for row in raw(db_path, f"EXPLAIN QUERY PLAN {sql}")]
        scans = [
            step
            for step in plan
            if step.startswith("SCAN")
            and "USING INDEX" not in step
            and "json_each" not in step
        ]
        assert not scans, (sql, plan)
        # Looking up "detection_id IS NULL" in this index would read every
        # recording-level tag in the file.
        if "detection_id IS NULL" in sql:
            assert "ix_predicted_tag_detection" not in " ".join(plan), plan


# --- threads and fork ------------------------------------------------------------


def test_one_store_used_from_many_threads(
    store: SqliteStore, db_path: Path, deployment: data.Deployment
):
    barrier = threading.Barrier(8)

    def work(worker: int) -> None:
        barrier.wait()
        for i in range(20):
            recording = make_recording(deployment, seconds=worker * 100 + i)
            store.store_model_output(make_output(recording, detections=1))
            store.get_recordings([recording.id])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))

    assert raw(db_path, "SELECT COUNT(*) FROM model_output") == [(160,)]


def _write_in_forked_child(store: SqliteStore, deployment: data.Deployment) -> None:
    store.store_model_output(make_output(make_recording(deployment, seconds=99)))


def test_store_survives_fork(store: SqliteStore, db_path: Path, deployment):
    # The parent opens its connection before forking, as Celery prefork does.
    store.store_recording(make_recording(deployment, seconds=1))
    child = multiprocessing.get_context("fork").Process(
        target=_write_in_forked_child, args=(store, deployment)
    )
    child.start()
    child.join(30)

    assert child.exitcode == 0
    store.store_recording(make_recording(deployment, seconds=2))
    assert raw(db_path, "SELECT COUNT(*) FROM recording") == [(3,)]
    assert raw(db_path, "PRAGMA integrity_check") == [("ok",)]


# --- migrations --------------------------------------------------------------------

# Schema of a metadata file written by acoupi 0.3.2 (Pony ORM), as observed.
ACOUPI_0_3_SCHEMA = [
    """CREATE TABLE "deployment" ("id" UUID NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL, "started_on" DATETIME UNIQUE NOT NULL,
    "ended_on" DATETIME, "latitude" REAL, "longitude" REAL)""",
    """CREATE TABLE "recording" ("id" UUID NOT NULL PRIMARY KEY,
    "path" TEXT UNIQUE, "datetime" DATETIME UNIQUE NOT NULL,
    "duration_s" REAL NOT NULL, "samplerate_hz" INTEGER NOT NULL,
    "audio_channels" INTEGER NOT NULL, "deployment_id" UUID NOT NULL
    REFERENCES "deployment" ("id") ON DELETE CASCADE)""",
    """CREATE INDEX "idx_recording__deployment_id" ON "recording" ("deployment_id")""",
    """CREATE TABLE "model_output" ("id" UUID NOT NULL PRIMARY KEY,
    "model_name" TEXT NOT NULL, "recording_id" UUID NOT NULL
    REFERENCES "recording" ("id") ON DELETE CASCADE,
    "created_on" DATETIME NOT NULL)""",
    """CREATE TABLE "detection" ("id" UUID NOT NULL PRIMARY KEY,
    "location" TEXT NOT NULL, "detection_score" REAL NOT NULL,
    "model_output_id" UUID NOT NULL REFERENCES "model_output" ("id")
    ON DELETE CASCADE)""",
    """CREATE TABLE "predicted_tag" ("id" INTEGER PRIMARY KEY AUTOINCREMENT,
    "key" TEXT NOT NULL, "value" TEXT NOT NULL,
    "confidence_score" REAL NOT NULL,
    "detection_id" UUID REFERENCES "detection" ("id") ON DELETE SET NULL,
    "model_output_id" UUID REFERENCES "model_output" ("id") ON DELETE SET NULL)""",
]


def test_upgrades_a_file_written_by_acoupi_0_3(db_path: Path):
    dep_id, rec_id, out_id, det_id = (uuid4() for _ in range(4))
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as connection:
        for statement in ACOUPI_0_3_SCHEMA:
            connection.execute(statement)
        connection.execute(
            "INSERT INTO deployment VALUES (?, 'old', '2024-05-01 11:00:00.000000',"
            " NULL, NULL, NULL)",
            (dep_id.bytes,),
        )
        connection.executemany(
            "INSERT INTO recording VALUES (?, ?, ?, 1.0, 8000, 1, ?)",
            [
                (rec_id.bytes, "/a.wav", "2024-05-01 12:00:00.000000", dep_id.bytes),
                (uuid4().bytes, "None", "2024-05-01 12:00:01.500000", dep_id.bytes),
            ],
        )
        connection.execute(
            "INSERT INTO model_output VALUES (?, 'm', ?, '2024-05-01 12:00:05.000000')",
            (out_id.bytes, rec_id.bytes),
        )
        connection.execute(
            "INSERT INTO detection VALUES (?, '', 0.5, ?)",
            (det_id.bytes, out_id.bytes),
        )
        connection.execute(
            "INSERT INTO predicted_tag (key, value, confidence_score, detection_id)"
            " VALUES ('species', 'x', 0.7, ?)",
            (det_id.bytes,),
        )
    connection.close()

    store = SqliteStore(db_path)

    assert raw(db_path, "PRAGMA user_version") == [(len(MIGRATIONS),)]
    assert raw(db_path, "SELECT path FROM recording ORDER BY datetime") == [
        ("/a.wav",),
        (None,),
    ]
    [(recording, [output])] = store.get_recordings_by_path([Path("/a.wav")])
    assert recording.created_on == T0
    assert output.detections[0].id == det_id
    assert output.detections[0].location is None
    tags = store.get_predicted_tags(after=at(5), before=at(5))
    assert [(t.tag.value, t.confidence_score) for t in tags] == [("x", 0.7)]
    assert store.get_current_deployment().id == dep_id
    # New rows can be added next to the old ones.
    store.store_model_output(make_output(make_recording(recording.deployment, 60)))
    assert len(store.get_model_outputs()) == 2
    assert raw(db_path, "PRAGMA integrity_check") == [("ok",)]


def test_upgrades_from_each_older_version_of_our_schema(tmp_path: Path):
    from acoupi.components.sqlite_db import Database

    path = tmp_path / "v1.db"
    Database(path, MIGRATIONS[:1]).close()
    assert raw(path, "PRAGMA user_version") == [(1,)]

    SqliteStore(path).close()

    assert raw(path, "PRAGMA user_version") == [(len(MIGRATIONS),)]


def test_files_of_schema_2_get_the_ordered_indexes(tmp_path: Path, deployment):
    from acoupi.components.sqlite_db import Database

    fresh = tmp_path / "fresh.db"
    SqliteStore(fresh).close()
    # A file written at version 2, with that version's indexes and a row.
    path = tmp_path / "v2.db"
    Database(path, MIGRATIONS[:2]).close()
    connection = sqlite3.connect(path)
    connection.executescript(
        "DROP INDEX ix_detection_model_output; DROP INDEX ix_predicted_tag_detection;"
        " CREATE INDEX ix_detection_model_output_id ON detection (model_output_id);"
        " CREATE INDEX ix_predicted_tag_detection_id ON predicted_tag (detection_id);"
    )
    connection.close()
    output = make_output(make_recording(deployment, seconds=0))
    store = SqliteStore(path)
    assert raw(path, "PRAGMA user_version") == [(len(MIGRATIONS),)]
    store.store_model_output(output)

    schema = "SELECT name, sql FROM sqlite_master ORDER BY name"
    assert raw(path, schema) == raw(fresh, schema)
    assert store.get_model_outputs() == [output]


def test_reopening_does_not_reapply_migrations(db_path: Path, deployment):
    store = SqliteStore(db_path)
    store.store_recording(make_recording(deployment, path="/a.wav"))
    store.close()

    reopened = SqliteStore(db_path)

    assert len(reopened.get_recordings_by_path([Path("/a.wav")])) == 1


def test_refuses_a_file_from_a_newer_version(db_path: Path):
    SqliteStore(db_path).close()
    with sqlite3.connect(db_path) as connection:
        connection.execute("PRAGMA user_version = 99")
    connection.close()

    with pytest.raises(SchemaVersionError, match="schema version 99"):
        SqliteStore(db_path)
