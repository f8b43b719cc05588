"""Schema history of the message database (the outbox).

Table and column names and order are those of acoupi 0.3; a file written by
0.3 (schema version 0) is upgraded in place. Ids of messages are 16-byte UUID
BLOBs, ``response.status`` is the integer value of
:class:`acoupi.data.ResponseStatus`, datetimes are canonical UTC text (see
:mod:`acoupi.components.sqlite_db`).
"""

import sqlite3

from acoupi.components.sqlite_db import Migration, add_column, canonicalise_datetimes

__all__ = ["MIGRATIONS"]

_TABLES = (
    """
    CREATE TABLE IF NOT EXISTS message (
        id BLOB NOT NULL PRIMARY KEY,
        content TEXT NOT NULL,
        created_on TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS response (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        content TEXT NOT NULL DEFAULT '',
        message_id BLOB NOT NULL REFERENCES message (id) ON DELETE CASCADE,
        status INTEGER NOT NULL,
        received_on TEXT NOT NULL
    )
    """,
)

_INDEXES = (
    # The outbox is read oldest first, in bounded batches.
    "CREATE INDEX IF NOT EXISTS ix_message_created_on ON message (created_on)",
    # "Has this message a SUCCESS response?" is asked for every message.
    "CREATE INDEX IF NOT EXISTS ix_response_message_id_status"
    " ON response (message_id, status)",
)


def _canonicalise_legacy_values(connection: sqlite3.Connection) -> None:
    """Rewrite the naive datetimes of acoupi 0.3 files canonically."""
    canonicalise_datetimes(
        connection, (("message", "created_on"), ("response", "received_on"))
    )


def _add_message_type(connection: sqlite3.Connection) -> None:
    """Add acoupi 0.8's ``message.message_type`` (NULL: no type).

    Binary contents need no change: a BLOB stored in the TEXT column stays
    a BLOB (SQLite's type affinity never converts BLOBs).
    """
    add_column(connection, "message", "message_type", "TEXT")


MIGRATIONS = (
    Migration(
        "tables (as in acoupi 0.3) and outbox indexes",
        statements=_TABLES + _INDEXES,
    ),
    Migration(
        "canonical datetimes in files from acoupi 0.3",
        step=_canonicalise_legacy_values,
    ),
    Migration("message types (acoupi 0.8)", step=_add_message_type),
)
"""Ordered schema history; the schema version is its length."""
