"""Errors of a SQLite database file, each naming the file and the fix.

A field technician who sees "file is not a database" cannot tell which of
acoupi's files is meant or what to do about it. Every failure of a database
*file* (as opposed to a bad query) is turned into a :class:`DatabaseFileError`
that names the path and says how to get going again, for example with
``acoupi db reset PATH``, which moves the damaged file aside (it is never
deleted) so a fresh one is started.
"""

from __future__ import annotations

import errno
import os
import shlex
import sqlite3
from pathlib import Path
from typing import Optional

from acoupi.system.exceptions import AcoupiError

__all__ = [
    "DatabaseDamagedError",
    "DatabaseFileError",
    "DatabaseMigrationError",
    "DatabasePathError",
    "describe_open_error",
    "diagnose_database",
    "explain_error",
    "reset_command",
    "translate_sqlite_error",
]

# Messages of sqlite3.DatabaseError that mean the file itself is unusable,
# as opposed to a constraint violation or a lock held by another process.
_DAMAGE_MARKERS = (
    "file is not a database",
    "database disk image is malformed",
    "malformed database schema",
    "file is encrypted",
    "database corruption",
)
_IO_MARKERS = (
    "disk i/o error",
    "unable to open database file",
    "attempt to write a readonly database",
    "readonly database",
)


def reset_command(path: Path) -> str:
    """Return the command that moves a damaged database aside."""
    return f"acoupi db reset {shlex.quote(str(path))}"


class DatabaseFileError(AcoupiError):
    """A database file cannot be used; names the file and how to fix it.

    Parameters
    ----------
    path
        The database file.
    message
        What is wrong, naming the file.
    help
        What to do about it.
    """

    def __init__(self, path: Path, message: str, help: Optional[str] = None):
        super().__init__(message, help)
        self.path = Path(path)

    def explain(self) -> str:
        """Return the message and the fix on one line, for logs."""
        return f"{self.message} {self.help}" if self.help else self.message


class DatabaseDamagedError(DatabaseFileError):
    """The file is not a readable SQLite database (corrupt or overwritten)."""

    def __init__(self, path: Path, cause: str):
        super().__init__(
            path,
            f"The database {path} is damaged or is not a database ({cause}).",
            f"Run `{reset_command(path)}` to move it aside (it is kept, "
            "renamed with '.damaged-<time>') and start a fresh one; then "
            "restart acoupi. Nothing else is affected.",
        )
        self.cause = cause


class DatabasePathError(DatabaseFileError):
    """The database path cannot hold a database (wrong kind of path, rights)."""


class DatabaseMigrationError(DatabaseFileError):
    """Upgrading the file's schema failed; the file was left unchanged."""

    def __init__(self, path: Path, cause: str, backup: Optional[Path]):
        copy = f" A copy taken before the upgrade is at {backup}." if backup else ""
        super().__init__(
            path,
            f"Could not upgrade the database {path} to this version of acoupi: "
            f"{cause}. The file was left unchanged.{copy}",
            "Keep the file and report the problem with `acoupi --debug ...`; "
            f"to start recording again meanwhile, `{reset_command(path)}` "
            "moves it aside and starts a fresh one.",
        )


def describe_open_error(path: Path, error: OSError) -> DatabasePathError:
    """Explain why ``path`` (or its folder) could not be created or opened."""
    parent = _first_blocking_parent(path)
    if parent is not None:
        return DatabasePathError(
            path,
            f"Cannot create the database {path}: {parent} is a file, not a folder.",
            f"Move or delete {parent}, or choose another database path "
            "with `acoupi config set`.",
        )
    if path.is_dir():
        return DatabasePathError(
            path,
            f"The database path {path} is a folder, not a file.",
            "Set the database path to a file inside that folder (for example "
            f"{path / 'metadata.db'}) with `acoupi config set`, or move the "
            "folder away.",
        )
    if isinstance(error, PermissionError) or error.errno in (errno.EACCES, errno.EPERM):
        return DatabasePathError(
            path,
            f"Permission denied writing the database {path}.",
            f"Make {path.parent} writable by the user running acoupi "
            "(`ls -ld` shows its owner), or run acoupi as that user.",
        )
    if error.errno == errno.EROFS:
        return DatabasePathError(
            path,
            f"The database {path} is on a read-only filesystem.",
            "Remount the storage read-write or choose another database path.",
        )
    return DatabasePathError(
        path,
        f"Cannot open the database {path}: {error.strerror or error}.",
        "Check the path and that its folder exists and is writable.",
    )


def translate_sqlite_error(
    path: Path, error: sqlite3.Error
) -> Optional[DatabaseFileError]:
    """Return the file error behind a sqlite3 error, or None for other errors.

    Constraint violations, locks and SQL mistakes return None: they are not
    about the file and are raised as they are.
    """
    if isinstance(error, (sqlite3.IntegrityError, sqlite3.ProgrammingError)):
        return None
    text = str(error).lower()
    if any(marker in text for marker in _DAMAGE_MARKERS):
        return DatabaseDamagedError(path, str(error))
    if any(marker in text for marker in _IO_MARKERS):
        if path.is_dir() or _first_blocking_parent(path) is not None:
            return describe_open_error(path, OSError(errno.EISDIR, str(error)))
        if not os.access(path.parent, os.W_OK) or (
            path.exists() and not os.access(path, os.W_OK)
        ):
            return describe_open_error(path, PermissionError(errno.EACCES, text))
        return DatabasePathError(
            path,
            f"Cannot read or write the database {path} ({error}).",
            "Check that the storage is mounted, not full and writable "
            "(`df -h`, `dmesg`); if the file itself is damaged, "
            f"`{reset_command(path)}` moves it aside and starts a fresh one.",
        )
    return None


def explain_error(path: Path, error: Exception) -> str:
    """Describe a failed read of ``path`` in one line.

    Names the file and its fix when the file is at fault (damaged,
    unreadable), else gives the error itself. Used by status and the live
    view.
    """
    if isinstance(error, sqlite3.Error):
        translated = translate_sqlite_error(path, error)
        if translated is not None:
            return translated.explain()
    return str(error) or type(error).__name__


def diagnose_database(path: Path) -> Optional[DatabaseFileError]:
    """Return what is wrong with a database path, or None if it is usable.

    Opens an existing file read-only and runs SQLite's ``quick_check``;
    never modifies anything. A missing file is fine (it is created on first
    use) as long as its folder can be created.
    """
    path = Path(path)
    if _first_blocking_parent(path) is not None or path.is_dir():
        return describe_open_error(path, OSError(errno.EISDIR, "not usable"))
    if not path.exists():
        return None
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            rows = connection.execute("PRAGMA quick_check").fetchall()
        finally:
            connection.close()
    except sqlite3.Error as error:
        if "locked" in str(error).lower():
            return None
        return translate_sqlite_error(path, error) or DatabaseDamagedError(
            path, str(error)
        )
    problems = [row[0] for row in rows if row[0] != "ok"]
    if problems:
        return DatabaseDamagedError(path, "; ".join(problems[:3]))
    return None


def _first_blocking_parent(path: Path) -> Optional[Path]:
    """Return the first ancestor of ``path`` that exists but is not a folder."""
    for parent in reversed(Path(path).parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None
