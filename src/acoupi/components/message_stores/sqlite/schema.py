"""Schema history of the message database (the outbox).

Table and column names and order are those of acoupi 0.3; files written by
upstream acoupi 0.3 to 0.8 (and by earlier builds of this package) are
adopted in place, keeping every row (see
:mod:`acoupi.components.sqlite_tables`). Ids of messages are 16-byte UUID
BLOBs, ``response.status`` is the integer value of
:class:`acoupi.data.ResponseStatus`, datetimes are canonical UTC text (see
:mod:`acoupi.components.sqlite_db`). ``message.message_type`` is acoupi
0.8's message type (NULL when unknown).
"""

import sqlite3
from typing import Set

from acoupi.components.sqlite_db import Migration, canonicalise_datetimes
from acoupi.components.sqlite_tables import (
    Column,
    Table,
    conform_tables,
    table_columns,
)
from acoupi.data import ResponseStatus

__all__ = ["INDEXES", "MIGRATIONS", "TABLES"]

_SUCCESS = int(ResponseStatus.SUCCESS)


def _sent(old: Set[str]) -> str:
    """Backfill ``sent`` from the responses already stored."""
    return (
        "EXISTS (SELECT 1 FROM response r WHERE r.message_id = message.id"
        f" AND r.status = {_SUCCESS})"
    )


TABLES = (
    Table(
        "message",
        (
            Column("id", "BLOB NOT NULL PRIMARY KEY"),
            Column("content", "TEXT NOT NULL"),
            Column("created_on", "TEXT NOT NULL"),
            Column("message_type", "TEXT"),
            # 1 once a SUCCESS response is stored: lets the outbox read its
            # unsent messages through a small partial index instead of
            # checking the responses of every message ever sent.
            Column("sent", "INTEGER NOT NULL DEFAULT 0", source=_sent),
        ),
    ),
    Table(
        "response",
        (
            Column("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
            # '' for None: 0.3 files declared it NOT NULL, 0.5+ allowed NULL.
            Column(
                "content",
                "TEXT NOT NULL DEFAULT ''",
                source=lambda old: "COALESCE(content, '')",
            ),
            Column(
                "message_id",
                "BLOB NOT NULL REFERENCES message (id) ON DELETE CASCADE",
            ),
            Column("status", "INTEGER NOT NULL"),
            Column("received_on", "TEXT NOT NULL"),
        ),
    ),
)

INDEXES = (
    # The outbox is read oldest first, in bounded batches.
    "CREATE INDEX IF NOT EXISTS ix_message_created_on ON message (created_on)",
    # "Has this message a SUCCESS response?" is asked for every message.
    "CREATE INDEX IF NOT EXISTS ix_response_message_id_status"
    " ON response (message_id, status)",
)


def _conform(connection: sqlite3.Connection) -> None:
    conform_tables(connection, TABLES)
    for statement in INDEXES:
        connection.execute(statement)


def _canonicalise_legacy_values(connection: sqlite3.Connection) -> None:
    """Rewrite upstream's datetimes canonically and its byte contents as text.

    0.4 to 0.8 store message contents as UTF-8 bytes; they become text
    (contents that are not valid UTF-8 stay bytes).
    """
    canonicalise_datetimes(
        connection, (("message", "created_on"), ("response", "received_on"))
    )
    rows = connection.execute(
        "SELECT rowid, content FROM message WHERE typeof(content) = 'blob'"
    ).fetchall()
    updates = []
    for rowid, content in rows:
        try:
            updates.append((bytes(content).decode("utf-8"), rowid))
        except UnicodeDecodeError:
            continue
    connection.executemany("UPDATE message SET content = ? WHERE rowid = ?", updates)


def _add_sent_flag(connection: sqlite3.Connection) -> None:
    """Add and fill ``message.sent`` in files adopted before it existed."""
    if "sent" not in table_columns(connection, "message"):
        connection.execute(
            "ALTER TABLE message ADD COLUMN sent INTEGER NOT NULL DEFAULT 0"
        )
        connection.execute(f"UPDATE message SET sent = {_sent(set())}")
    connection.execute(
        "CREATE INDEX IF NOT EXISTS ix_message_unsent ON message (created_on)"
        " WHERE sent = 0"
    )


MIGRATIONS = (
    Migration(
        "tables of this version (adopting files of upstream 0.3 to 0.8)"
        " and outbox indexes",
        step=_conform,
    ),
    Migration(
        "canonical datetimes and text contents in files from upstream acoupi",
        step=_canonicalise_legacy_values,
    ),
    Migration("sent flag and partial index of unsent messages", step=_add_sent_flag),
)
"""Ordered schema history; the schema version is its length."""
