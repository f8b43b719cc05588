"""The shared read-only queries: filters, pages, counts and query plans."""

import datetime

import pytest
from dashboard_support import Installation

from acoupi.dashboard import queries
from acoupi.dashboard.sources import DataSources, NoDataError, open_read_only
from acoupi.system.constants import Settings


@pytest.fixture
def connection(installation: Installation):  # type: ignore[no-untyped-def]
    connection = open_read_only(installation.db)
    yield connection
    connection.close()


def ids(page: queries.Page) -> set:
    return {row.id for row in page.rows}


def test_sources_follow_the_program_config(installation: Installation) -> None:
    sources = DataSources.from_settings(installation.settings)
    assert sources.metadata_db == installation.db
    assert sources.recordings_dir == installation.db.parent / "recordings"


def test_missing_database_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(NoDataError, match="nothing has been recorded yet"):
        open_read_only(settings.home / "nope.db")


def test_connection_is_read_only(connection) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Exception, match="readonly|read-only|query_only"):
        connection.execute("DELETE FROM recording")


def test_tag_score_time_and_deployment_filters(
    installation: Installation,
    connection,  # type: ignore[no-untyped-def]
) -> None:
    everything = queries.list_detections(
        connection, queries.DetectionQuery(), limit=None
    )
    assert ids(everything) == {d.id for _, d in installation.pairs}
    bats = queries.list_detections(
        connection, queries.DetectionQuery(tags=["bat"]), limit=None
    )
    assert ids(bats) == {d.id for d in installation.detections["bat"]}
    keyed = queries.list_detections(
        connection, queries.DetectionQuery(tags=["event:frog", "bird"]), limit=None
    )
    expected = installation.detections["frog"] + installation.detections["bird"]
    assert ids(keyed) == {d.id for d in expected}
    strong = queries.list_detections(
        connection, queries.DetectionQuery(min_score=0.7), limit=None
    )
    assert {row.score for row in strong.rows} == {0.9, 0.95, 0.7, 0.8}
    recent = queries.list_detections(
        connection,
        queries.DetectionQuery(since=installation.now - datetime.timedelta(hours=3)),
        limit=None,
    )
    assert len(recent.rows) == 4
    south = queries.list_detections(
        connection, queries.DetectionQuery(deployment="south"), limit=None
    )
    assert {row.deployment for row in south.rows} == {"south"}
    assert len(south.rows) == 3


def test_pages_are_newest_first_and_complete(connection) -> None:  # type: ignore[no-untyped-def]
    seen = []
    offset = 0
    while True:
        page = queries.list_detections(
            connection, queries.DetectionQuery(), limit=2, offset=offset
        )
        seen.extend(page.rows)
        if not page.has_more:
            break
        offset += 2
    assert len(seen) == 7
    times = [row.recording_time for row in seen]
    assert times == sorted(times, reverse=True)
    assert len({row.id for row in seen}) == 7


def test_summary_counts_per_tag_per_day(
    installation: Installation,
    connection,  # type: ignore[no-untyped-def]
) -> None:
    counts = queries.detections_by_tag(connection, queries.DetectionQuery())
    assert counts == {"bat": 4, "bird": 2, "frog": 1}
    hourly = queries.count_by_bucket(connection, queries.DetectionQuery(), "hour")
    assert sum(row[3] for row in hourly) == 7
    assert all(row[0].endswith(":00Z") for row in hourly)


def test_counters_are_incremental_and_notice_deletions(
    fresh_installation: Installation,
) -> None:
    installation = fresh_installation
    import sqlite3

    from acoupi.dashboard.counters import StoreCounters, hour_stamp

    counters = StoreCounters()
    writer = sqlite3.connect(installation.db)
    reader = open_read_only(installation.db)
    assert counters.detections(reader) == 7
    assert counters.tags(reader) == {
        ("event", "bat"): 4,
        ("event", "bird"): 2,
        ("event", "frog"): 1,
    }
    old = installation.recordings[4]  # 30 h ago, two bats
    hour = old.created_on.replace(minute=0, second=0, microsecond=0)
    assert counters.hourly(reader, [hour])[hour_stamp(hour)] == {("event", "bat"): 2}
    # A backlog adds a detection to that old hour: counted, hour refreshed.
    output_id = writer.execute(
        "SELECT id FROM model_output WHERE recording_id = ?", (old.id.bytes,)
    ).fetchone()[0]
    writer.execute(
        "INSERT INTO detection (id, location, detection_score, model_output_id)"
        " VALUES (?, '', 0.5, ?)",
        (b"x" * 16, output_id),
    )
    writer.execute(
        "INSERT INTO predicted_tag (key, value, confidence_score, detection_id)"
        " VALUES ('event', 'owl', 0.5, ?)",
        (b"x" * 16,),
    )
    writer.commit()
    assert counters.detections(reader) == 8
    assert counters.hourly(reader, [hour])[hour_stamp(hour)] == {
        ("event", "bat"): 2,
        ("event", "owl"): 1,
    }
    writer.execute("PRAGMA foreign_keys = ON")  # as the store runs it
    writer.execute("DELETE FROM recording WHERE id = ?", (old.id.bytes,))
    writer.commit()
    assert counters.detections(reader) == 5
    assert ("event", "owl") not in counters.tags(reader)
    assert counters.hourly(reader, [hour])[hour_stamp(hour)] == {}
    writer.close()


def test_recordings_with_detection_counts(
    installation: Installation,
    connection,  # type: ignore[no-untyped-def]
) -> None:
    page = queries.list_recordings(connection, limit=None)
    assert [row.detections for row in page.rows] == [2, 1, 1, 0, 2, 1]
    assert all(row.file_exists for row in page.rows)


def test_parse_when() -> None:
    now = datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.timezone.utc)
    assert queries.parse_when("24h", now) == now - datetime.timedelta(days=1)
    assert queries.parse_when("2024-04-30").tzinfo is not None
    with pytest.raises(ValueError, match="is not a date"):
        queries.parse_when("yesterday-ish")


def test_first_page_walks_the_time_index(connection) -> None:  # type: ignore[no-untyped-def]
    """No full scan: the planner starts from the recording time index."""
    where, params = queries.DetectionQuery(tags=["bat"], min_score=0.5).where()
    plan = connection.execute(
        "EXPLAIN QUERY PLAN "
        + queries._DETECTION_SQL
        + where
        + queries.detection_order("DESC")
        + " LIMIT 26",
        params,
    ).fetchall()
    text = " | ".join(row[3] for row in plan)
    assert "ix_recording_datetime" in text, text
    # Only each recording's detections are sorted: the walk stops early.
    assert "TEMP B-TREE FOR ORDER BY" not in text, text
    assert "SCAN d " not in text + " " and "SCAN detection" not in text, text


@pytest.mark.parametrize("tags", [["bat"], ["event:frog", "bird"], ["frog"]])
def test_both_ways_to_find_a_tag_agree(connection, tags) -> None:  # type: ignore[no-untyped-def]
    """Tag-first (rare tags) and time-first (common ones) give the same pages."""
    query = queries.DetectionQuery(tags=tags, min_score=0.3)
    rare = {("event", "bat"): 1, ("event", "bird"): 1, ("event", "frog"): 1}
    rare[("event", "other")] = 10**6  # the filtered tags look rare: tag first
    common = {key: 10**6 for key in rare}  # they look common: time first
    assert queries._tag_first(connection, query, 3, rare) is True
    assert queries._tag_first(connection, query, 3, common) is False
    for offset in (0, 2):
        first = queries.list_detections(connection, query, 2, offset, counts=rare)
        second = queries.list_detections(connection, query, 2, offset, counts=common)
        assert [r.id for r in first.rows] == [r.id for r in second.rows]
        assert first.has_more == second.has_more


def test_unknown_tag_answers_without_scanning(connection) -> None:  # type: ignore[no-untyped-def]
    query = queries.DetectionQuery(tags=["owl"])
    assert queries._tag_first(connection, query, 25, None) is None
    assert queries.list_detections(connection, query).rows == []


def test_detections_come_in_the_time_they_were_heard(
    fresh_installation: Installation,
) -> None:
    """Recording start + detection start, not the order they were stored (F14)."""
    from acoupi import data
    from acoupi.components.stores.sqlite.store import SqliteStore

    store = SqliteStore(fresh_installation.db)
    recording = data.Recording(
        created_on=fresh_installation.now - datetime.timedelta(minutes=10),
        duration=10.0,
        samplerate=48_000,
        deployment=data.Deployment(name="east"),
    )
    store.store_deployment(recording.deployment)
    store.store_recording(recording)
    offsets = [7.0, 2.0, 9.5, 0.5, 4.0]  # stored in this order
    detections = [
        data.Detection(
            location=data.BoundingBox(coordinates=(start, 1e3, start + 0.2, 2e3)),
            detection_score=0.9,
        )
        for start in offsets
    ]
    store.store_model_output(
        data.ModelOutput(name_model="M", recording=recording, detections=detections)
    )
    store.close()
    query = queries.DetectionQuery(deployment="east")
    connection = open_read_only(fresh_installation.db)
    try:
        newest = queries.list_detections(connection, query, limit=None).rows
        oldest = queries.list_detections(
            connection, query, limit=None, newest_first=False
        ).rows
        paged = [
            row
            for offset in range(0, 5, 2)
            for row in queries.list_detections(connection, query, 2, offset).rows
        ]
    finally:
        connection.close()
    starts = sorted(offsets)
    assert [row.box[0] for row in oldest] == starts  # type: ignore[index]
    assert [row.box[0] for row in newest] == starts[::-1]  # type: ignore[index]
    assert [row.id for row in paged] == [row.id for row in newest]
