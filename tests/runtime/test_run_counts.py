"""The run's live counts: right, and as cheap on day 100 as on day 1.

The trap: the supervisor re-counted every row stored since the run started
once a second (20 % of a core after 100 000 recordings), and the summary's
per-tag count scanned every predicted tag whatever the window.
"""

import datetime
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator

import pytest

from acoupi import data
from acoupi.components.message_stores import SqliteMessageStore
from acoupi.components.sqlite_db import datetime_to_db
from acoupi.components.stores import SqliteStore
from acoupi.runtime import metrics
from acoupi.runtime.metrics import DETECTIONS_BY_TAG, MetricsCollector
from acoupi.timeutil import now_utc

UTC = datetime.timezone.utc


def _program(tmp_path: Path) -> Any:
    """What the collector reads of a program, with real databases."""
    store = SqliteStore(tmp_path / "metadata.db")
    outbox = SqliteMessageStore(tmp_path / "messages.db")
    config = SimpleNamespace(paths=SimpleNamespace(recordings=tmp_path / "rec"))
    return SimpleNamespace(store=store, message_store=outbox, config=config)


OLD = datetime.datetime(2024, 1, 1, tzinfo=UTC)
OK = data.ResponseStatus.SUCCESS


def _bulk_recordings(database: Path, count: int, when: datetime.datetime = OLD) -> None:
    """Add ``count`` recordings (with an output and a tagged detection each)."""
    old = datetime_to_db(when)
    deployment = uuid.uuid4().bytes
    with closing(sqlite3.connect(database)) as db, db:
        db.execute(
            "INSERT INTO deployment (id, name, started_on) VALUES (?, 'old', ?)",
            (deployment, old),
        )
        for _ in range(count):
            recording, output, detection = (uuid.uuid4().bytes for _ in range(3))
            db.execute(
                "INSERT INTO recording (id, datetime, duration_s, samplerate_hz,"
                " deployment_id) VALUES (?, ?, 1, 8000, ?)",
                (recording, old, deployment),
            )
            db.execute(
                "INSERT INTO model_output (id, model_name, recording_id,"
                " created_on) VALUES (?, 'm', ?, ?)",
                (output, recording, old),
            )
            db.execute(
                "INSERT INTO detection (id, detection_score, model_output_id)"
                " VALUES (?, 0.9, ?)",
                (detection, output),
            )
            db.execute(
                "INSERT INTO predicted_tag (key, value, confidence_score,"
                " detection_id) VALUES ('species', 'bat', 0.9, ?)",
                (detection,),
            )


def _record(program: Any, tags: int = 1) -> data.Recording:
    deployment = program.store.get_current_deployment()
    recording = data.Recording(
        created_on=now_utc(), duration=1, samplerate=8000, deployment=deployment
    )
    program.store.store_recording(recording)
    detections = [
        data.Detection(
            detection_score=0.9,
            tags=[data.PredictedTag(tag=data.Tag(key="species", value="bird"))],
        )
        for _ in range(tags)
    ]
    program.store.store_model_output(
        data.ModelOutput(name_model="m", recording=recording, detections=detections)
    )
    return recording


def test_counts_are_of_this_run_and_follow_new_rows(tmp_path: Path) -> None:
    program = _program(tmp_path)
    _bulk_recordings(program.store.db_path, 50)
    _record(program)  # stored before the run: not counted
    outbox = program.message_store
    old = data.Message(content="before")
    outbox.store_message(old)
    outbox.store_response(data.Response(status=OK, message=old))
    outbox.store_message(data.Message(content="before, unsent"))

    collector = MetricsCollector(program, now_utc(), [])
    first = collector.collect()
    assert (first.recordings, first.model_outputs, first.detections) == (0, 0, 0)
    assert (first.messages_sent, first.messages_pending) == (1, 1)

    _record(program, tags=2)
    _record(program, tags=0)
    new = data.Message(content="new")
    outbox.store_response(data.Response(status=data.ResponseStatus.FAILED, message=new))
    later = collector.collect()
    assert (later.recordings, later.model_outputs, later.detections) == (2, 2, 2)
    assert (later.messages_sent, later.messages_pending) == (1, 2)

    outbox.store_response(data.Response(status=OK, message=new))
    outbox.store_response(data.Response(status=OK, message=new))
    last = collector.collect()
    assert (last.messages_sent, last.messages_pending) == (2, 1)
    assert not last.problems


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], int]]:
    """Count SQLite virtual-machine steps of the collector's queries.

    A deterministic measure of work: no timing involved.
    """
    counted = [0]
    connect = metrics._connect_ro

    def counting(path: Path) -> sqlite3.Connection:
        connection = connect(path)

        def step() -> int:
            counted[0] += 1
            return 0

        connection.set_progress_handler(step, 1)
        return connection

    monkeypatch.setattr(metrics, "_connect_ro", counting)

    def taken() -> int:
        value, counted[0] = counted[0], 0
        return value

    yield taken


def test_a_look_costs_the_same_whatever_the_size_of_the_store(
    tmp_path: Path, steps: Callable[[], int]
) -> None:
    """A day-1 run and a day-100 run: the next look costs the same."""
    cost = {}
    for size in (100, 5000):
        program = _program(tmp_path / str(size))
        _record(program)  # the deployment, before the run
        collector = MetricsCollector(program, now_utc(), [])
        # What the run stored so far (with times within the run).
        _bulk_recordings(program.store.db_path, size, when=now_utc())
        collector.collect()
        _record(program)
        steps()
        assert collector.collect().recordings == size + 1
        cost[size] = steps()
    assert cost[5000] == cost[100], cost


def test_detections_by_tag_reads_only_the_window(tmp_path: Path) -> None:
    program = _program(tmp_path)
    _bulk_recordings(program.store.db_path, 200)  # old bats, out of the window
    since = now_utc()
    _record(program, tags=3)
    assert metrics.detections_by_tag(program.store.db_path, since) == {"bird": 3}
    with closing(sqlite3.connect(program.store.db_path)) as db:
        plan = " | ".join(
            row[3]
            for row in db.execute(f"EXPLAIN QUERY PLAN {DETECTIONS_BY_TAG}", ("x",))
        )
    assert "USING INDEX ix_model_output_created_on" in plan, plan
    assert "SCAN" not in plan.replace("SCAN CONSTANT", ""), plan
