"""No read on the tasks', status' or summaries' paths scans a big table.

Every SELECT the stores issue (captured with SQLite's trace callback) and the
run summary's and live view's own queries are explained with ``EXPLAIN
QUERY PLAN``; a full ``SCAN`` of recording, model_output, detection,
predicted_tag, message or response (with or without an index) fails: its
cost would grow with months of data. Two scans are bounded and allowed: an
index walked in order under a ``LIMIT`` (it stops after that many rows),
and the partial index of unsent messages (it holds only those). Plans are
checked on a file of thousands of rows both without statistics and after
``ANALYZE``, since SQLite's choices differ.
"""

import datetime
import re
import sqlite3
from pathlib import Path
from typing import Callable, List
from uuid import UUID

import pytest

from acoupi import data
from acoupi.components.message_stores import SqliteMessageStore
from acoupi.components.stores import SqliteStore
from acoupi.runtime import metrics

UTC = datetime.timezone.utc
T0 = datetime.datetime(2024, 5, 1, tzinfo=UTC)
BIG_TABLES = (
    "recording",
    "model_output",
    "detection",
    "predicted_tag",
    "message",
    "response",
)
ALIASES = {"r", "mo", "m", "d", "pt", "t"}
SCAN = re.compile(r"^SCAN (\w+)")
BOUNDED_INDEXES = ("ix_message_unsent",)


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def full_scans(connection: sqlite3.Connection, sql: str, params=()) -> List[str]:
    plan = [
        row[-1]
        for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    ]
    scans = []
    for step in plan:
        match = SCAN.match(step)
        if not match or not (match.group(1) in BIG_TABLES or match.group(1) in ALIASES):
            continue
        if "INDEX" in step and (
            " LIMIT " in sql or any(name in step for name in BOUNDED_INDEXES)
        ):
            continue
        scans.append(step)
    return scans


@pytest.fixture(scope="module", params=["no statistics", "analyzed"])
def filled(request, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("plans")
    store = SqliteStore(folder / "metadata.db")
    deployment = data.Deployment(name="plans", started_on=at(-10))
    outputs = []
    for index in range(400):
        recording = data.Recording(
            created_on=at(10 * index),
            duration=3.0,
            samplerate=48000,
            deployment=deployment,
            path=Path(f"/r/{index}.wav"),
        )
        outputs.append(
            data.ModelOutput(
                name_model="m",
                recording=recording,
                created_on=at(10 * index + 1),
                tags=[data.PredictedTag(tag=data.Tag(key="noise", value="low"))],
                detections=[
                    data.Detection(
                        detection_score=0.5,
                        tags=[
                            data.PredictedTag(
                                tag=data.Tag(key="species", value=f"s{d}"),
                                confidence_score=0.4,
                            )
                        ],
                    )
                    for d in range(5)
                ],
            )
        )
    store.store_model_outputs(outputs)
    # NORMAL: 800 synced commits would only slow the test down.
    messages = SqliteMessageStore(folder / "messages.db", synchronous="NORMAL")
    for index in range(400):
        message = data.Message(content="{}", created_on=at(index))
        messages.store_message(message)
        status = (
            data.ResponseStatus.SUCCESS if index % 2 else data.ResponseStatus.FAILED
        )
        messages.store_response(data.Response(message=message, status=status))
    if request.param == "analyzed":
        for name in ("metadata.db", "messages.db"):
            connection = sqlite3.connect(folder / name)
            connection.execute("ANALYZE")
            connection.commit()
            connection.close()
    store.close()
    messages.close()
    return folder


def traced(database, call: Callable[[], object]) -> List[str]:
    executed: List[str] = []
    connection = database.connection()
    connection.set_trace_callback(executed.append)
    try:
        call()
    finally:
        connection.set_trace_callback(None)
    return [sql for sql in executed if sql.lstrip().upper().startswith("SELECT")]


READS = {
    "current deployment": lambda s: s.get_current_deployment(),
    "recordings by id": lambda s: s.get_recordings([UUID(int=1)]),
    "recordings by path (file management)": lambda s: s.get_recordings_by_path(
        [Path("/r/5.wav"), Path("/r/7.wav")]
    ),
    "outputs in a window": lambda s: s.get_model_outputs(
        after=at(2000), before=at(2080)
    ),
    "latest outputs": lambda s: s.get_model_outputs(limit=5),
    "outputs of recordings": lambda s: s.get_model_outputs(recording_ids=[UUID(int=1)]),
    "detections in a window (summaries)": lambda s: s.get_detections(
        after=at(2000), before=at(2080)
    ),
    "detections of outputs": lambda s: s.get_detections(model_output_ids=[UUID(int=1)]),
    "tags in a window (summaries)": lambda s: s.get_predicted_tags(
        after=at(2000), before=at(2080)
    ),
    "tags of detections": lambda s: s.get_predicted_tags(detection_ids=[UUID(int=1)]),
}


@pytest.mark.parametrize("name", list(READS))
def test_store_reads_use_indexes(filled: Path, name: str):
    store = SqliteStore(filled / "metadata.db")
    selects = traced(store.database, lambda: READS[name](store))
    assert selects
    for sql in selects:
        assert not full_scans(store.database.connection(), sql), sql


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.get_unsent_messages(limit=10),
        lambda s: s.get_unsent_messages(limit=10, order="newest_first"),
        lambda s: s.count_unsent(),
        lambda s: s.get_responses(UUID(int=1)),
    ],
    ids=["oldest unsent", "newest unsent", "count unsent", "responses"],
)
def test_outbox_reads_use_indexes(filled: Path, call):
    store = SqliteMessageStore(filled / "messages.db")
    selects = traced(store.database, lambda: call(store))
    assert selects
    for sql in selects:
        assert not full_scans(store.database.connection(), sql), sql


def _traced_metrics(call: Callable[[], object]) -> List[str]:
    executed: List[str] = []
    real_connect = metrics._connect_ro

    def connect(path: Path) -> sqlite3.Connection:
        connection = real_connect(path)
        connection.set_trace_callback(executed.append)
        return connection

    metrics._connect_ro = connect  # type: ignore[assignment]
    try:
        call()
    finally:
        metrics._connect_ro = real_connect  # type: ignore[assignment]
    return executed


def _assert_no_scan(database: Path, selects: List[str]) -> None:
    assert selects
    connection = sqlite3.connect(database)
    try:
        for sql in selects:
            assert not full_scans(connection, sql), sql
    finally:
        connection.close()


def test_run_summary_coverage_query_uses_indexes(filled: Path):
    database = filled / "metadata.db"
    _assert_no_scan(
        database, _traced_metrics(lambda: metrics.recording_spans(database, at(3920)))
    )


def test_run_summary_tag_count_uses_indexes(filled: Path):
    database = filled / "metadata.db"
    _assert_no_scan(
        database,
        _traced_metrics(lambda: metrics.detections_by_tag(database, at(3920))),
    )


# Reads that return thousands of detections and tags: their rows must come
# out of the indexes already in the order returned (sorting them cost as
# much as reading them). Recording-level tags (detection_id IS NULL) are
# few and exempt.
SORT_FREE = (
    "recordings by path (file management)",
    "outputs in a window",
    "detections in a window (summaries)",
    "tags in a window (summaries)",
)


@pytest.mark.parametrize("name", SORT_FREE)
def test_detections_and_tags_are_read_in_index_order(filled: Path, name: str):
    store = SqliteStore(filled / "metadata.db")
    selects = [
        sql
        for sql in traced(store.database, lambda: READS[name](store))
        if " detection d" in sql and "detection_id IS NULL" not in sql
    ]
    assert selects
    connection = store.database.connection()
    for sql in selects:
        plan = [row[-1] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}")]
        assert not [step for step in plan if "TEMP B-TREE" in step], (sql, plan)
