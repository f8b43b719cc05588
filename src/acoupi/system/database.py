"""Plain SQLite connections for plugins (acoupi 0.8's helpers).

acoupi's own stores use :class:`acoupi.components.sqlite_db.Database`
(per-thread connections, schema versions). These two functions are for a
plugin keeping a small database of its own: a connection with rows by
column name, foreign keys on, WAL journal and a busy timeout, so it can
share files with acoupi's workers.
"""

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Union

from acoupi.components.sqlite_db import BUSY_TIMEOUT_S

__all__ = ["connect_db", "create_connection"]


def create_connection(path: Union[Path, str]) -> sqlite3.Connection:
    """Open ``path`` (created if missing) and return the connection.

    Rows are ``sqlite3.Row`` (by name or index); ``":memory:"`` works.
    The caller commits and closes it; see :func:`connect_db`.
    """
    connection = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA foreign_keys = ON")
    if str(path) != ":memory:":
        connection.execute("PRAGMA journal_mode = WAL")
    return connection


@contextmanager
def connect_db(path: Union[Path, str]) -> Iterator[sqlite3.Connection]:
    """Yield a connection; commit if the block succeeds, else roll back.

    The connection is closed either way.
    """
    connection = create_connection(path)
    try:
        yield connection
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.close()
