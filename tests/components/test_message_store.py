"""SqliteMessageStore: the outbox of messages and their responses."""

import datetime
import sqlite3
from pathlib import Path
from typing import List

import pytest

from acoupi import data
from acoupi.components import SqliteMessageStore
from acoupi.components.message_stores.sqlite.schema import MIGRATIONS

UTC = datetime.timezone.utc
T0 = datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
Status = data.ResponseStatus


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def message(seconds: float = 0, content: str = "{}") -> data.Message:
    return data.Message(content=content, created_on=at(seconds))


def respond(
    store: SqliteMessageStore, message: data.Message, status: Status, **kwargs
) -> None:
    store.store_response(data.Response(message=message, status=status, **kwargs))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "messages" / "messages.db"


@pytest.fixture
def store(db_path: Path):
    store = SqliteMessageStore(db_path)
    yield store
    store.close()


def raw(db_path: Path, sql: str, *params) -> list:
    with sqlite3.connect(db_path) as connection:
        return connection.execute(sql, params).fetchall()


def test_stored_message_is_unsent_and_round_trips(store: SqliteMessageStore):
    sent = message(content='{"species": "Myotis"}')
    store.store_message(sent)

    assert store.get_unsent_messages() == [sent]
    assert store.count_unsent() == 1


def test_store_message_is_idempotent(store: SqliteMessageStore, db_path: Path):
    sent = message()
    store.store_message(sent)
    store.store_message(sent)

    assert raw(db_path, "SELECT COUNT(*) FROM message") == [(1,)]


def test_unsent_messages_are_oldest_first_then_insertion_order(
    store: SqliteMessageStore,
):
    late, early, tie_a, tie_b = message(30), message(0), message(10), message(10)
    for m in (late, tie_a, early, tie_b):
        store.store_message(m)

    assert store.get_unsent_messages() == [early, tie_a, tie_b, late]
    assert store.get_unsent_messages(limit=2) == [early, tie_a]
    assert store.get_unsent_messages(order="newest_first", limit=2) == [late, tie_b]
    assert store.get_unsent_messages(limit=0) == []


def test_naive_and_offset_datetimes_order_correctly(store: SqliteMessageStore):
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    # 13:00+02:00 is 11:00 UTC: before a naive 12:00 (read as UTC).
    naive = data.Message(content="naive", created_on=datetime.datetime(2024, 5, 1, 12))
    offset = data.Message(
        content="offset", created_on=datetime.datetime(2024, 5, 1, 13, tzinfo=plus_two)
    )
    store.store_message(naive)
    store.store_message(offset)

    assert [m.content for m in store.get_unsent_messages()] == ["offset", "naive"]


@pytest.mark.parametrize("status", [Status.FAILED, Status.ERROR, Status.TIMEOUT])
def test_failed_attempts_leave_the_message_unsent(
    store: SqliteMessageStore, status: Status
):
    sent = message()
    store.store_message(sent)
    respond(store, sent, status, content="broker down")
    respond(store, sent, status)

    assert store.get_unsent_messages() == [sent]
    assert store.count_unsent() == 1


def test_success_marks_sent_but_deletes_nothing(
    store: SqliteMessageStore, db_path: Path
):
    first, second = message(0), message(1)
    store.store_message(first)
    store.store_message(second)
    respond(store, first, Status.FAILED)
    respond(store, first, Status.SUCCESS)

    assert store.get_unsent_messages() == [second]
    assert store.count_unsent() == 1
    assert raw(db_path, "SELECT COUNT(*) FROM message") == [(2,)]
    assert raw(db_path, "SELECT COUNT(*) FROM response") == [(2,)]


def test_response_to_an_unknown_message_stores_the_message(
    store: SqliteMessageStore,
):
    failed, succeeded = message(0), message(1)
    respond(store, failed, Status.FAILED)
    respond(store, succeeded, Status.SUCCESS)

    assert store.get_unsent_messages() == [failed]


def test_get_responses_lists_every_attempt(store: SqliteMessageStore):
    sent = message()
    store.store_message(sent)
    respond(store, sent, Status.TIMEOUT, received_on=at(60))
    respond(store, sent, Status.SUCCESS, content="ok", received_on=at(120))

    responses = store.get_responses(sent.id)

    assert [(r.status, r.content, r.received_on) for r in responses] == [
        (Status.TIMEOUT, None, at(60)),
        (Status.SUCCESS, "ok", at(120)),
    ]
    assert all(r.message == sent for r in responses)


def test_schema_and_stored_formats(store: SqliteMessageStore, db_path: Path):
    sent = message(0.5)
    respond(store, sent, Status.ERROR, content="bad request")

    def columns(table: str) -> List[str]:
        return [row[1] for row in raw(db_path, f"PRAGMA table_info({table})")]

    # message_type (acoupi 0.8) and the sent flag come after 0.3's columns.
    assert columns("message") == [
        "id",
        "content",
        "created_on",
        "message_type",
        "sent",
    ]
    assert columns("response") == [
        "id",
        "content",
        "message_id",
        "status",
        "received_on",
    ]
    assert raw(db_path, "SELECT * FROM message") == [
        (sent.id.bytes, "{}", "2024-05-01 12:00:00.500000+00:00", None, 0)
    ]
    [(_, content, message_id, status, _)] = raw(db_path, "SELECT * FROM response")
    assert (content, message_id, status) == ("bad request", sent.id.bytes, 2)


def test_commits_are_synced_by_default(store: SqliteMessageStore):
    connection = store.database.connection()
    assert connection.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL


def test_many_unsent_messages_are_read_in_bounded_batches(
    store: SqliteMessageStore,
):
    for i in range(500):
        store.store_message(message(i))
    batch = store.get_unsent_messages(limit=50)
    for m in batch:
        respond(store, m, Status.SUCCESS)

    assert store.count_unsent() == 450
    assert store.get_unsent_messages(limit=1)[0].created_on == at(50)


def test_upgrades_a_file_written_by_acoupi_0_3(db_path: Path):
    db_path.parent.mkdir(parents=True)
    pending, done = message(), message()
    with sqlite3.connect(db_path) as connection:
        # Schema of a message file written by acoupi 0.3.2 (Pony ORM).
        connection.execute(
            'CREATE TABLE "message" ("id" UUID NOT NULL PRIMARY KEY,'
            ' "content" TEXT NOT NULL, "created_on" DATETIME NOT NULL)'
        )
        connection.execute(
            'CREATE TABLE "response" ("id" INTEGER PRIMARY KEY AUTOINCREMENT,'
            ' "content" TEXT NOT NULL, "message_id" UUID NOT NULL'
            ' REFERENCES "message" ("id") ON DELETE CASCADE,'
            ' "status" INTEGER NOT NULL, "received_on" DATETIME NOT NULL)'
        )
        connection.executemany(
            "INSERT INTO message VALUES (?, '{}', ?)",
            [
                (done.id.bytes, "2024-05-01 11:00:00.000000"),
                (pending.id.bytes, "2024-05-01 12:00:00.000000"),
            ],
        )
        connection.execute(
            "INSERT INTO response (content, message_id, status, received_on)"
            " VALUES ('', ?, 0, '2024-05-01 11:00:01.000000')",
            (done.id.bytes,),
        )
    connection.close()

    store = SqliteMessageStore(db_path)
    late = message(60)
    store.store_message(late)
    respond(store, late, Status.FAILED)  # content None into a NOT NULL column

    assert raw(db_path, "PRAGMA user_version") == [(len(MIGRATIONS),)]
    assert store.get_unsent_messages() == [pending, late]
    assert store.get_responses(done.id)[0].content is None
    store.close()
