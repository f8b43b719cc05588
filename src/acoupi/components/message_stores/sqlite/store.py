"""The SQLite message store: an outbox that survives outages and power cuts."""

import sqlite3
from pathlib import Path
from typing import Any, List, Literal, Optional, Sequence
from uuid import UUID

from acoupi import data
from acoupi.components import types
from acoupi.components.message_stores.sqlite.schema import MIGRATIONS
from acoupi.components.sqlite_db import (
    Database,
    Synchronous,
    datetime_from_db,
    datetime_to_db,
    uuid_from_db,
    uuid_to_db,
)

__all__ = ["SqliteMessageStore"]

Order = Literal["oldest_first", "newest_first"]

# "sent = 0" exactly, so SQLite reads the partial index ix_message_unsent.
_UNSENT = "FROM message m WHERE m.sent = 0"


class SqliteMessageStore(types.MessageStore):
    """Messages waiting to be sent, and every response they got.

    A message is *unsent* until it has a SUCCESS response; FAILED, ERROR and
    TIMEOUT responses record attempts and leave it unsent, so it is sent
    again later. Nothing is ever deleted.

    Commits use ``synchronous=FULL`` by default: a message the store has
    accepted survives a power cut (the WAL is synced at each commit).
    Messages are few and small, and losing one silently would defeat the
    purpose of an outbox, so the extra flush is worth it.

    The file is opened on first use, not when the store is created: a
    damaged outbox then fails only the calls that send or store messages
    (with a :class:`~acoupi.components.sqlite_errors.DatabaseFileError`
    naming the file and the fix), never a program's recording.

    Parameters
    ----------
    db_path
        The database file; missing parent directories are created.
    synchronous
        Durability of commits, ``"FULL"`` (default) or ``"NORMAL"``.
    """

    def __init__(self, db_path: Path, synchronous: Synchronous = "FULL") -> None:
        self.db_path = Path(db_path)
        self.database = Database(
            self.db_path, MIGRATIONS, synchronous=synchronous, lazy=True
        )

    def close(self) -> None:
        """Close this thread's connection (it is reopened on next use)."""
        self.database.close()

    def store_message(self, message: data.Message) -> None:
        """Store a message to send; nothing happens if its id is stored."""
        with self.database.write() as connection:
            _insert_message(connection, message)

    def get_unsent_messages(
        self, limit: Optional[int] = None, order: Order = "oldest_first"
    ) -> List[data.Message]:
        """Return the messages that have no SUCCESS response.

        Parameters
        ----------
        limit
            Return at most this many (a bounded batch); all by default.
        order
            ``"oldest_first"`` (default) or ``"newest_first"``, by
            ``created_on`` and then by the order they were stored.
        """
        direction = "DESC" if order == "newest_first" else "ASC"
        sql = (
            f"SELECT m.id, m.content, m.created_on, m.message_type {_UNSENT}"
            f" ORDER BY m.created_on {direction}, m.rowid {direction}"
        )
        params: List[int] = []
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self.database.read() as connection:
            rows = connection.execute(sql, params).fetchall()
        return [_message(row) for row in rows]

    def count_unsent(self) -> int:
        """Return how many messages have no SUCCESS response."""
        with self.database.read() as connection:
            row = connection.execute(f"SELECT COUNT(*) {_UNSENT}").fetchone()
        return int(row[0])

    def prune_unsent(self, keep: int) -> int:
        """Delete all but the newest ``keep`` unsent messages; return how many.

        For an outbox nothing sends (no messenger configured): it keeps
        recent messages to look at without growing forever.
        """
        with self.database.write() as connection:
            cursor = connection.execute(
                "DELETE FROM message WHERE rowid IN (SELECT m.rowid"
                f" {_UNSENT} ORDER BY m.created_on DESC, m.rowid DESC"
                " LIMIT -1 OFFSET ?)",
                (max(0, keep),),
            )
        return int(cursor.rowcount)

    def store_response(self, response: data.Response) -> None:
        """Record the outcome of one attempt to send a message.

        The message is stored too if it was not (in the same transaction).
        """
        with self.database.write() as connection:
            _insert_message(connection, response.message)
            connection.execute(
                "INSERT INTO response (content, message_id, status, received_on)"
                " VALUES (?, ?, ?, ?)",
                (
                    # '' for None: files from acoupi 0.3 declare it NOT NULL.
                    "" if response.content is None else response.content,
                    uuid_to_db(response.message.id),
                    int(response.status),
                    datetime_to_db(response.received_on),
                ),
            )
            if response.status == data.ResponseStatus.SUCCESS:
                connection.execute(
                    "UPDATE message SET sent = 1 WHERE id = ?",
                    (uuid_to_db(response.message.id),),
                )

    def get_responses(self, message_id: UUID) -> List[data.Response]:
        """Return every response recorded for a message, oldest first.

        Lets a sender see how often and when a message was tried.
        """
        with self.database.read() as connection:
            rows = connection.execute(
                "SELECT m.id, m.content, m.created_on, m.message_type,"
                " r.status, r.content, r.received_on"
                " FROM response r JOIN message m ON m.id = r.message_id"
                " WHERE r.message_id = ? ORDER BY r.received_on, r.id",
                (uuid_to_db(message_id),),
            ).fetchall()
        return [
            data.Response(
                message=_message(row[:4]),
                status=data.ResponseStatus(row[4]),
                content=row[5] or None,
                received_on=datetime_from_db(row[6]),
            )
            for row in rows
        ]


def _insert_message(connection: sqlite3.Connection, message: data.Message) -> None:
    connection.execute(
        "INSERT INTO message (id, content, created_on, message_type)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        (
            uuid_to_db(message.id),
            message.content,
            datetime_to_db(message.created_on),
            None if message.message_type is None else message.message_type.value,
        ),
    )


def _message(row: Sequence[Any]) -> data.Message:
    return data.Message(
        id=uuid_from_db(row[0]),
        content=row[1],
        created_on=datetime_from_db(row[2]),
        message_type=_message_type(row[3]),
    )


def _message_type(value: Optional[str]) -> Optional[data.MessageType]:
    try:
        return None if value is None else data.MessageType(value)
    except ValueError:
        # A type this version does not know (written by a newer acoupi):
        # the message is still sent, on the messenger's default route.
        return None
