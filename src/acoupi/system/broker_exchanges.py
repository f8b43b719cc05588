"""The embedded broker's exchange tables: which queues each exchange feeds.

Kombu's filesystem transport keeps one JSON file per exchange and updates it
in place. Two workers starting at the same moment (``acoupi run`` forks them
together) can then interleave: one truncates the file while the other writes,
and the table is left with trailing garbage. Every later worker that binds to
that exchange crashed on it, so a worker killed once never came back.

Here a table is changed under an exclusive lock on a separate lock file and
replaced atomically, so readers need no lock and always see a whole table. A
table that cannot be parsed (left by an older acoupi, or by a damaged disk) is
logged and started afresh: workers add their own binding again when they
start, which is better than no worker at all.
"""

import fcntl
import json
import logging
import os
from pathlib import Path
from typing import Callable, List, Tuple

from acoupi.system.atomic import atomic_write_bytes

__all__ = ["Binding", "bind", "read_table", "unbind"]

logger = logging.getLogger(__name__)

Binding = Tuple[str, str, str]
"""One row of a table: routing key, pattern, queue (as kombu stores it)."""


def read_table(path: Path) -> List[Binding]:
    """The bindings in the table at ``path``; none if it is missing or damaged."""
    return _load(path)[0]


def bind(path: Path, binding: Binding) -> None:
    """Add ``binding`` to the table at ``path`` if it is not there yet."""

    def add(rows: List[Binding]) -> List[Binding]:
        return rows if binding in rows else [binding, *rows]

    _update(path, add)


def unbind(path: Path, binding: Binding) -> None:
    """Remove ``binding`` from the table at ``path`` if it is there."""
    _update(path, lambda rows: [row for row in rows if row != binding])


def _load(path: Path) -> Tuple[List[Binding], bool]:
    """The table's bindings, and whether the file was whole (or absent)."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return [], True
    try:
        rows = json.loads(content)
        return [
            (str(key), str(pattern), str(queue)) for key, pattern, queue in rows
        ], True
    except (ValueError, TypeError) as error:
        logger.warning(
            "The broker's exchange table %s is damaged (%s); starting it afresh. "
            "Running workers bind again when they restart.",
            path,
            error,
        )
        return [], False


def _update(path: Path, change: Callable[[List[Binding]], List[Binding]]) -> None:
    lock_path = path.parent / f".{path.name}.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        rows, whole = _load(path)
        changed = change(rows)
        # A damaged table is rewritten even when unchanged: that repairs it.
        if changed != rows or not whole:
            atomic_write_bytes(path, json.dumps(changed).encode("utf-8"), 0o600)
    finally:
        os.close(fd)  # closing releases the lock
