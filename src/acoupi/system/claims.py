"""Who holds a claimed broker message, and giving back those of the dead.

A consumer of the embedded broker claims a message by moving it into its
own folder ``claimed/<pid>-<start ticks>`` and deletes it only when the task
is acknowledged. The folder name proves ownership: a folder whose process
no longer exists (or whose PID now belongs to a process that started at
another time) belongs to a consumer that died holding those messages, and
they go back to the queue, once, under their original names (so they keep
their place and are never queued twice).

Queue files are also checked before they are read: with pickle, reading a
message runs code, so only regular files owned by this user are accepted.
"""

import json
import logging
import os
from pathlib import Path
from typing import List, Optional

from acoupi.system.pidfiles import process_start_time

__all__ = [
    "drop_claim",
    "owner_name",
    "pending_messages",
    "refusal",
    "requeue_orphans",
]

logger = logging.getLogger(__name__)


def _start_ticks(pid: int) -> Optional[int]:
    started = process_start_time(pid)
    # Whole centiseconds: stable for one process, different for a reused PID.
    return None if started is None else int(round(started * 100))


def owner_name(pid: Optional[int] = None) -> str:
    """Return the claim folder name of process ``pid`` (default: this one)."""
    pid = os.getpid() if pid is None else pid
    ticks = _start_ticks(pid)
    return f"{pid}-{ticks if ticks is not None else 0}"


def _owner_alive(name: str) -> bool:
    pid_text, _, ticks_text = name.partition("-")
    try:
        pid = int(pid_text)
        ticks = int(ticks_text)
    except ValueError:
        return False  # not a claim folder of ours: its messages are orphans
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    current = _start_ticks(pid)
    if current is None or ticks == 0:
        return current is None or ticks == 0
    # The boot time is read to the second: allow for its rounding.
    return abs(current - ticks) <= 100


def refusal(path: str) -> Optional[str]:
    """Return why queue file ``path`` must not be read, or None if it may.

    Parameters
    ----------
    path
        A message file in the queue folder.
    """
    try:
        info = os.lstat(path)
    except OSError as error:
        return f"cannot inspect it: {error}"
    if not os.path.isfile(path) or os.path.islink(path):
        return "it is not a regular file"
    if info.st_uid != os.geteuid():
        return (
            f"it belongs to user id {info.st_uid}, not to the user running "
            f"acoupi ({os.geteuid()}): messages from other users are never run"
        )
    return None


def requeue_orphans(claimed: Path, queue: Path) -> List[str]:
    """Move the messages of dead consumers from ``claimed`` back to ``queue``.

    Parameters
    ----------
    claimed
        The broker's ``claimed`` folder.
    queue
        The broker's queue folder.

    Returns
    -------
    list of str
        Names of the messages put back.
    """
    requeued: List[str] = []
    if not claimed.is_dir():
        return requeued
    for entry in sorted(claimed.iterdir()):
        if entry.is_file():
            # A message claimed by a version that read and deleted it at
            # once: it was left by a crash during that read.
            files, folder = [entry], None
        elif entry.is_dir() and not _owner_alive(entry.name):
            files, folder = sorted(entry.iterdir()), entry
        else:
            continue
        for path in files:
            if refusal(str(path)) is not None:
                continue  # not ours to run; left where it is
            try:
                os.rename(path, queue / path.name)
            except FileNotFoundError:
                continue  # another consumer put it back first
            requeued.append(path.name)
            logger.warning(
                "Broker message %s was held by a worker that stopped; queued again.",
                path.name,
            )
        if folder is not None:
            try:
                folder.rmdir()
            except OSError:
                pass  # not empty (refused files) or removed by another
    return requeued


def pending_messages(queue: Path, claimed: Path, queue_name: str) -> List[Path]:
    """Return every message of ``queue_name`` not yet finished.

    Both those waiting in the queue and those claimed by a consumer (running,
    or held by one that died and not yet put back).
    """
    wanted = f"{queue_name}.msg"
    found: List[Path] = []
    folders = [queue]
    if claimed.is_dir():
        folders += [claimed, *(p for p in claimed.iterdir() if p.is_dir())]
    for folder in folders:
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        found += [
            folder / name
            for name in names
            if not name.startswith(".") and name.partition(".")[2] == wanted
        ]
    return found


def drop_claim(claimed: Path, task_id: str, keep_in: Path) -> Optional[Path]:
    """Take the message of task ``task_id`` out of this process's claims.

    Used when this worker must exit because the task is stuck: the message
    is moved to ``keep_in`` (kept for inspection, not run again), so that
    the restarted worker does not take the same stuck task again.

    Returns
    -------
    Path or None
        Where the message was moved, or None if this process holds no such
        message.
    """
    folder = claimed / owner_name()
    try:
        paths = sorted(folder.iterdir())
    except OSError:
        return None
    for path in paths:
        try:
            message = json.loads(path.read_text())
            claimed_id = message["headers"]["id"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if str(claimed_id) == str(task_id):
            keep_in.mkdir(parents=True, exist_ok=True)
            destination = keep_in / path.name
            os.replace(path, destination)
            return destination
    return None
