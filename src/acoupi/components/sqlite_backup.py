"""Consistent, durable copies of SQLite files, and moving damaged ones aside.

A copy is taken with SQLite's online backup API (so committed rows still in
the WAL are included and a concurrent writer cannot tear it), written to a
temporary name, fsynced, then renamed: a power cut leaves either no copy or a
complete one.
"""

from __future__ import annotations

import datetime
import os
import sqlite3
from pathlib import Path
from typing import List

from acoupi.system.atomic import fsync_dir

__all__ = ["backup_database", "move_aside", "timestamp"]

_SIDE_FILES = ("-wal", "-shm", "-journal")


def timestamp() -> str:
    """Return the current UTC time as ``YYYYmmddTHHMMSSZ`` (for file names)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def backup_database(path: Path, label: str) -> Path:
    """Copy the database at ``path`` beside it and return the copy's path.

    The copy is named ``<name>.<label>-<time>``; an existing name gets a
    numeric suffix rather than being overwritten.
    """
    path = Path(path)
    target = _free_name(path.with_name(f"{path.name}.{label}-{timestamp()}"))
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        destination = sqlite3.connect(tmp)
        try:
            source.backup(destination)
        finally:
            destination.close()
    finally:
        source.close()
    try:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return target


def move_aside(path: Path, label: str = "damaged") -> List[Path]:
    """Rename a database and its WAL/SHM files to ``<name>.<label>-<time>``.

    Nothing is deleted. Returns the new paths (the database file first).
    """
    path = Path(path)
    target = _free_name(path.with_name(f"{path.name}.{label}-{timestamp()}"))
    moved = []
    for suffix in ("",) + _SIDE_FILES:
        source = path.with_name(path.name + suffix)
        if source.exists():
            destination = target.with_name(target.name + suffix)
            os.replace(source, destination)
            moved.append(destination)
    fsync_dir(path.parent)
    return moved


def _free_name(candidate: Path) -> Path:
    result, number = candidate, 1
    while result.exists():
        result = candidate.with_name(f"{candidate.name}.{number}")
        number += 1
    return result
