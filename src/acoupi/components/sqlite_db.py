"""SQLite plumbing shared by the metadata store and the message store.

Both stores are plain :mod:`sqlite3` files written by several Celery worker
processes (and threads) at once on a device that may lose power at any time.
This module holds everything they have in common:

* :class:`Database` opens per-thread, per-process connections with the
  pragmas that make concurrent writers and power cuts safe, runs write
  transactions with ``BEGIN IMMEDIATE``, and brings the schema up to date on
  open with an ordered list of :class:`Migration` steps (after a backup copy,
  in one transaction). Failures of the *file* (damaged, wrong kind of path,
  no rights) are raised as
  :class:`~acoupi.components.sqlite_errors.DatabaseFileError`, naming the
  file and the fix.
* Adapters between Python values and their stored form: UUIDs are 16-byte
  BLOBs and datetimes are canonical UTC text (see :func:`datetime_to_db`).
* Helpers to build ``IN (...)`` filters of any length.

Datetime format
---------------
Every datetime is stored as ``YYYY-MM-DD HH:MM:SS.ffffff+00:00``: converted
to UTC, always with six fractional digits and an explicit offset. All values
therefore have the same length and layout, so text comparison (``ORDER BY``,
``>=``) is chronological, and the offset keeps the timezone explicit in the
file. It is exactly ``dt.isoformat(sep=" ", timespec="microseconds")`` of
the UTC value, which :meth:`datetime.datetime.fromisoformat` reads back.
Naive values (from older files or callers) are read as UTC.
"""

from __future__ import annotations

import datetime
import json
import os
import sqlite3
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Literal, Optional, Sequence
from uuid import UUID, SafeUUID

from acoupi.components.sqlite_backup import backup_database
from acoupi.components.sqlite_errors import (
    DatabaseFileError,
    DatabaseMigrationError,
    describe_open_error,
    reset_command,
    translate_sqlite_error,
)
from acoupi.timeutil import as_utc

__all__ = [
    "APPLICATION_ID",
    "BUSY_TIMEOUT_S",
    "Database",
    "canonicalise_datetimes",
    "Migration",
    "SchemaVersionError",
    "Synchronous",
    "datetime_from_db",
    "datetime_to_db",
    "text_in",
    "uuid_from_db",
    "uuid_in",
    "uuids_from_db",
    "uuid_to_db",
]

BUSY_TIMEOUT_S = 10.0
"""How long a writer waits for another process's write lock before failing.

Writes are short (milliseconds), so ten seconds only runs out when something
is badly wrong, never because several workers happen to write together.
"""

MIGRATION_WAIT_S = 600
"""How long a process waits for another one upgrading the same file (s)."""

APPLICATION_ID = 0x61637570
"""``PRAGMA application_id`` of files written by this package ("acup").

Upstream acoupi also numbers its schemas with ``user_version`` (0.8's
outbox is at 2), so the version alone cannot tell our files from theirs.
A file without this id is adopted from scratch: every migration step is
written to be safe on any upstream shape.
"""

JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024
"""Truncate the WAL file back to this size after checkpoints (bytes).

Without a limit the WAL keeps the size of its largest burst forever, which
matters on small SD cards.
"""

Synchronous = Literal["NORMAL", "FULL"]
"""Durability level of commits (``PRAGMA synchronous``).

In WAL mode ``NORMAL`` never corrupts the file, but a power cut may undo the
last transactions committed before the next checkpoint; ``FULL`` syncs the
WAL on every commit, so a committed transaction survives power loss too.
"""

_new_object = object.__new__
# UUID's slot setters, called directly: cheaper than object.__setattr__.
_set_uuid_int = UUID.__dict__["int"].__set__
_set_uuid_is_safe = UUID.__dict__["is_safe"].__set__
_UNKNOWN_SAFETY = SafeUUID.unknown

MigrationStep = Callable[[sqlite3.Connection], None]

# Connections that belonged to a parent process before a fork. SQLite forbids
# using *or closing* them in the child (closing could checkpoint or unlink
# the parent's WAL), so they are kept referenced here and never finalised.
_FORKED_AWAY: List[sqlite3.Connection] = []


class SchemaVersionError(DatabaseFileError, RuntimeError):
    """The database file was written by a newer version of acoupi."""


@dataclass(frozen=True)
class Migration:
    """One step of a schema's history.

    Parameters
    ----------
    description
        What the step does, for humans reading the list.
    statements
        SQL statements run in order.
    step
        Optional Python code run after the statements, for data changes SQL
        cannot express.
    """

    description: str
    statements: Sequence[str] = ()
    step: Optional[MigrationStep] = None

    def apply(self, connection: sqlite3.Connection) -> None:
        """Run the step on ``connection`` (inside the caller's transaction)."""
        # Statements are executed one by one: ``executescript`` would commit
        # the surrounding transaction first.
        for statement in self.statements:
            connection.execute(statement)
        if self.step is not None:
            self.step(connection)


class _Local(threading.local):
    connection: Optional[sqlite3.Connection] = None
    pid: int = -1


class Database:
    """A SQLite file with a versioned schema, safe for many writers.

    Each thread of each process gets its own connection, opened lazily and
    reused: ``sqlite3`` connections must not cross threads, and a connection
    inherited through ``fork`` (Celery prefork workers) must not be used by
    the child, so it is replaced when the process id changes. (Opening a
    connection with its pragmas costs about twice a whole small write on a
    reused one, see ``bench/store_throughput.py``, hence the reuse.)

    Parameters
    ----------
    path
        The database file. Its parent directory is created if missing.
    migrations
        The schema history, oldest first. The schema version stored in
        ``PRAGMA user_version`` is the number of steps applied.
    synchronous
        Durability level of commits, see :data:`Synchronous`.
    busy_timeout
        Seconds to wait for another connection's lock.
    lazy
        Open (and migrate) the file on first use instead of now, so that a
        damaged file only fails the calls that need it.

    Raises
    ------
    SchemaVersionError
        If the file has a newer schema version than ``migrations`` knows.
    DatabaseFileError
        If the file is damaged, or its path cannot hold a database.
    """

    def __init__(
        self,
        path: Path,
        migrations: Sequence[Migration],
        synchronous: Synchronous = "NORMAL",
        busy_timeout: float = BUSY_TIMEOUT_S,
        lazy: bool = False,
    ) -> None:
        self.path = Path(path)
        self.migrations = tuple(migrations)
        self.synchronous: Synchronous = synchronous
        self.busy_timeout = busy_timeout
        self._local = _Local()
        self._migrated = False
        if not lazy:
            self.connection()

    @property
    def schema_version(self) -> int:
        """The version the schema of this code is at (number of migrations)."""
        return len(self.migrations)

    def connection(self) -> sqlite3.Connection:
        """Return this thread's connection, opening it if needed."""
        local = self._local
        pid = os.getpid()
        if local.connection is not None and local.pid != pid:
            _FORKED_AWAY.append(local.connection)
            local.connection = None
        if local.connection is None:
            with self.file_errors():
                connection = self._open()
            if not self._migrated:
                try:
                    self._migrate(connection)
                except BaseException:
                    connection.close()
                    raise
                self._migrated = True
            local.connection = connection
            local.pid = pid
        return local.connection

    @contextmanager
    def file_errors(self) -> Iterator[None]:
        """Raise failures of the file itself as :class:`DatabaseFileError`.

        Other errors (constraints, locks, SQL) pass through unchanged.
        """
        try:
            yield
        except sqlite3.Error as error:
            translated = translate_sqlite_error(self.path, error)
            if translated is None:
                raise
            raise translated from error

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise describe_open_error(self.path, error) from error
        # isolation_level=None: the sqlite3 module must not open transactions
        # behind our back; we issue BEGIN ourselves so that writers take the
        # write lock up front (BEGIN IMMEDIATE) and wait on busy_timeout
        # instead of failing with "database is locked" on lock upgrade.
        connection = sqlite3.connect(
            str(self.path), timeout=self.busy_timeout, isolation_level=None
        )
        connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        self._enable_wal(connection)
        connection.execute(f"PRAGMA synchronous = {self.synchronous}")
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
        return connection

    def _enable_wal(self, connection: sqlite3.Connection) -> None:
        # WAL mode is stored in the file, so only the first opener switches.
        # Switching needs an exclusive lock and SQLite reports a competing
        # opener as "locked" at once, without the busy handler, hence the
        # explicit wait.
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                if connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                    return
                connection.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as error:
                if "locked" not in str(error):
                    raise
            if time.monotonic() > deadline:
                raise sqlite3.OperationalError(
                    f"could not switch {self.path} to WAL mode: database is locked"
                )
            time.sleep(0.01)

    def close(self) -> None:
        """Close the calling thread's connection (reopened on next use)."""
        local = self._local
        if local.connection is not None and local.pid == os.getpid():
            local.connection.close()
        local.connection = None

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """Run a write transaction: all or nothing, one writer at a time.

        ``BEGIN IMMEDIATE`` takes the write lock at the start, so concurrent
        writers queue on the busy timeout rather than deadlocking.
        """
        connection = self._idle_connection()
        with self.file_errors():
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Run reads in one transaction so that they see a single snapshot."""
        connection = self._idle_connection()
        with self.file_errors():
            connection.execute("BEGIN")
            try:
                yield connection
            finally:
                if connection.in_transaction:
                    connection.execute("COMMIT")

    def _idle_connection(self) -> sqlite3.Connection:
        connection = self.connection()
        if connection.in_transaction:
            # Only possible if an earlier call was interrupted between BEGIN
            # and its try block; a worker runs for months, so recover rather
            # than fail every later call with "transaction within a
            # transaction".
            connection.execute("ROLLBACK")
        return connection

    def migrate(self) -> None:
        """Bring the file's schema up to date, all or nothing.

        A file that already holds tables is first copied beside itself
        (``<name>.backup-v<version>-<time>``); the steps then run in one
        transaction, so a failure leaves the file as it was. Safe when
        several processes open the same file at once: the version is read
        again after taking the write lock, so each step runs once.

        Raises
        ------
        SchemaVersionError
            If the file was written by a newer version of this package.
        DatabaseMigrationError
            If a step fails (the file is left unchanged).
        """
        self._migrate(self.connection())

    def _migrate(self, connection: sqlite3.Connection) -> None:
        with self.file_errors():
            if self._current_version(connection) == self.schema_version:
                return
            # Rebuilding a table drops it; with foreign keys on, that would
            # cascade to its children. The pragma is a no-op inside a
            # transaction, hence before BEGIN.
            connection.execute("PRAGMA foreign_keys = OFF")
            # Adopting a large upstream file takes a while; other processes
            # opening it meanwhile wait for it instead of failing as locked.
            connection.execute(f"PRAGMA busy_timeout = {MIGRATION_WAIT_S * 1000}")
            try:
                self._migrate_locked(connection)
            finally:
                connection.execute("PRAGMA foreign_keys = ON")
                connection.execute(
                    f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}"
                )

    def _migrate_locked(self, connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")
        try:
            version = self._current_version(connection)
            if version == self.schema_version:
                connection.execute("COMMIT")
                return
            if version > self.schema_version:
                raise SchemaVersionError(
                    self.path,
                    f"{self.path} has schema version {version}, but this "
                    f"version of acoupi only knows up to {self.schema_version}.",
                    "Upgrade acoupi to use it (`pip install -U acoupi`), or "
                    "move the file aside with "
                    f"`{reset_command(self.path)}` to start a fresh one.",
                )
            backup = self._backup_if_used(connection, version)
            try:
                for migration in self.migrations[version:]:
                    migration.apply(connection)
                # Both live in the file header, so they commit (or roll back)
                # together with the migration steps.
                connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                connection.execute(f"PRAGMA user_version = {self.schema_version}")
                connection.execute("COMMIT")
            except (sqlite3.Error, RuntimeError, ValueError) as error:
                connection.execute("ROLLBACK")
                if (
                    isinstance(error, sqlite3.Error)
                    and translate_sqlite_error(self.path, error) is not None
                ):
                    raise
                raise DatabaseMigrationError(self.path, str(error), backup) from error
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    def _backup_if_used(
        self, connection: sqlite3.Connection, version: int
    ) -> Optional[Path]:
        """Copy the file beside itself unless it holds no tables yet."""
        (tables,) = connection.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"
        ).fetchone()
        if not tables:
            return None
        origin = "v" + str(version) if self._is_ours(connection) else "upstream"
        try:
            return backup_database(self.path, f"backup-{origin}")
        except (OSError, sqlite3.Error) as error:
            raise DatabaseMigrationError(
                self.path, f"the backup copy could not be written ({error})", None
            ) from error

    @staticmethod
    def _is_ours(connection: sqlite3.Connection) -> bool:
        (application_id,) = connection.execute("PRAGMA application_id").fetchone()
        return int(application_id) == APPLICATION_ID

    def _current_version(self, connection: sqlite3.Connection) -> int:
        """The file's schema version; 0 for files not written by us."""
        if not self._is_ours(connection):
            return 0
        return self._user_version(connection)

    @staticmethod
    def _user_version(connection: sqlite3.Connection) -> int:
        return int(connection.execute("PRAGMA user_version").fetchone()[0])


def uuid_to_db(value: UUID) -> bytes:
    """Return the stored form of a UUID (its 16 bytes)."""
    return value.bytes


def uuid_from_db(value: bytes) -> UUID:
    """Read a UUID stored as 16 bytes."""
    if len(value) != 16:
        return UUID(bytes=bytes(value))  # raises ValueError, naming the length
    # What UUID(bytes=...) ends with, minus its argument checks: reads
    # build thousands of ids per call.
    uuid = _new_object(UUID)
    _set_uuid_int(uuid, int.from_bytes(value, "big"))
    _set_uuid_is_safe(uuid, _UNKNOWN_SAFETY)
    return uuid


def uuids_from_db(values: Sequence[bytes]) -> List[UUID]:
    """Read many UUIDs stored as 16 bytes (as :func:`uuid_from_db`, in bulk)."""
    if set(map(len, values)) != {16}:
        return [uuid_from_db(value) for value in values]
    # Each step runs over all values in a C loop (map), not one Python call
    # per UUID.
    uuids = list(map(_new_object, repeat(UUID, len(values))))
    numbers = map(int.from_bytes, values, repeat("big"))  # type: ignore[arg-type]
    deque(map(_set_uuid_int, uuids, numbers), 0)
    deque(map(_set_uuid_is_safe, uuids, repeat(_UNKNOWN_SAFETY)), 0)
    return uuids


def datetime_to_db(value: datetime.datetime) -> str:
    """Return the canonical stored text of a datetime (see module docstring)."""
    utc = as_utc(value).astimezone(datetime.timezone.utc)
    return utc.isoformat(sep=" ", timespec="microseconds")


def datetime_from_db(value: str) -> datetime.datetime:
    """Read a stored datetime as an aware UTC datetime."""
    parsed = datetime.datetime.fromisoformat(value)
    if parsed.tzinfo is datetime.timezone.utc:  # canonical text: done
        return parsed
    return as_utc(parsed).astimezone(datetime.timezone.utc)


def canonicalise_datetimes(
    connection: sqlite3.Connection, columns: Iterable[tuple[str, str]]
) -> None:
    """Rewrite datetimes of the given ``(table, column)`` pairs canonically.

    For migrating files written by acoupi 0.3, which stored naive datetimes
    with an optional fraction: such text does not compare correctly with
    canonical text. Canonical values are left untouched.
    """
    for table, column in columns:
        rows = connection.execute(
            f"SELECT rowid, {column} FROM {table} WHERE {column} IS NOT NULL"
        ).fetchall()
        updates = [
            (canonical, rowid)
            for rowid, value in rows
            if (canonical := datetime_to_db(datetime_from_db(value))) != value
        ]
        connection.executemany(
            f"UPDATE {table} SET {column} = ? WHERE rowid = ?", updates
        )


def uuid_in(column: str, values: Iterable[UUID]) -> str:
    """Return ``column IN (x'..', ...)`` for any number of UUIDs.

    The UUIDs are written as hexadecimal BLOB literals rather than bound
    parameters: they cannot carry SQL (only hex digits), and this avoids
    the bound-parameter limit (999 on older SQLite builds) without splitting
    queries, which would break ``ORDER BY ... LIMIT``.
    """
    literals = ",".join(f"x'{value.hex}'" for value in values)
    return f"{column} IN ({literals})"


def text_in(column: str, values: Iterable[str]) -> tuple[str, str]:
    """Return ``column IN (...)`` for any number of strings, and its parameter.

    The strings travel as one JSON array parameter expanded by ``json_each``,
    so arbitrary text is bound safely and the parameter limit does not apply.
    """
    return (
        f"{column} IN (SELECT value FROM json_each(?))",
        json.dumps(list(values)),
    )
