"""Which pidfiles in ``run_dir`` still name one of *our* processes.

A pidfile only holds a number. It survives a reboot or a crash, and the
kernel hands its PID to any later process, so "``kill -0`` succeeds" is no
proof: after a reboot an unrelated process with the same PID made ``acoupi
run`` refuse to start, and ``acoupi workers stop`` sent it SIGTERM.

A PID counts as ours only if the process (1) is alive and not a zombie,
(2) started no later than the pidfile was written (a process started
afterwards, e.g. after a reboot, cannot have written it) and (3) runs
Celery or acoupi: its command line or its process name says so (a worker
that ``acoupi run`` forked keeps the command line of whatever started the
run, and is named ``acoupi-<worker>``). Everything else is a stale
pidfile, which :func:`remove_stale_pidfiles` deletes before anything
signals or refuses.
"""

import logging
import os
import time
from pathlib import Path
from typing import Dict, Optional

__all__ = [
    "live_pid",
    "owned_processes",
    "process_start_time",
    "remove_stale_pidfiles",
]

logger = logging.getLogger(__name__)

START_TOLERANCE = 2.0
"""Seconds a process may seem to start after its pidfile was written.

The boot time in ``/proc/stat`` is rounded to the second, and the file
system's clock and the kernel's may disagree by a tick.
"""

WRITE_GRACE = 5.0
"""Seconds an empty pidfile is taken to be still being written."""

_OUR_COMMANDS = ("celery", "acoupi")
"""A process is ours only if its command line or name mentions one of these."""


def _boot_time() -> Optional[float]:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _stat_fields(pid: int) -> Optional[list[str]]:
    """Fields of ``/proc/<pid>/stat`` after the command name, or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses.
    return stat.rpartition(")")[2].split()


def process_start_time(pid: int) -> Optional[float]:
    """Return when process ``pid`` started (epoch seconds), or None if unknown.

    Parameters
    ----------
    pid
        A process id.

    Returns
    -------
    float or None
        Start time, or None when the process does not exist or ``/proc`` is
        not available.
    """
    fields = _stat_fields(pid)
    boot = _boot_time()
    if not fields or boot is None:
        return None
    try:
        # Field 22 (starttime), counted from field 3 (state) = index 0.
        ticks = int(fields[19])
    except (IndexError, ValueError):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def _command_line(pid: int) -> Optional[str]:
    """The command line and the name of ``pid``, or None without /proc."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        name = Path(f"/proc/{pid}/comm").read_bytes().strip()
    except OSError:
        return None
    return (raw.replace(b"\0", b" ") + b" " + name).decode(errors="replace")


def _is_ours(pid: int, written: float) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # another user's process is never one of ours
    fields = _stat_fields(pid)
    if fields is None:
        # No /proc (not Linux): kill -0 is all there is to go by.
        return True
    if fields[:1] == ["Z"]:
        return False  # a zombie answers signals but is dead
    started = process_start_time(pid)
    if started is not None and started > written + START_TOLERANCE:
        return False  # started after the pidfile was written: PID reused
    command = _command_line(pid)
    if command is not None and not any(word in command for word in _OUR_COMMANDS):
        return False
    return True


def live_pid(pidfile: Path) -> Optional[int]:
    """Return the PID in ``pidfile`` if it is one of our live processes.

    Parameters
    ----------
    pidfile
        A pidfile written by Celery (worker, beat) or ``acoupi run``.

    Returns
    -------
    int or None
        The PID; None if the file is missing, unreadable, or names a dead,
        reused or foreign process.
    """
    try:
        text = pidfile.read_text().strip()
        written = pidfile.stat().st_mtime
        pid = int(text)
    except (OSError, ValueError):
        return None
    return pid if _is_ours(pid, written) else None


def owned_processes(run_dir: Path) -> Dict[str, int]:
    """Return ``{pidfile stem: pid}`` for every pidfile naming our process."""
    found: Dict[str, int] = {}
    if not run_dir.is_dir():
        return found
    for pidfile in sorted(run_dir.glob("*.pid")):
        pid = live_pid(pidfile)
        if pid is not None:
            found[pidfile.stem] = pid
    return found


def _being_written(pidfile: Path) -> bool:
    """Return whether ``pidfile`` is a fresh, still empty file.

    Celery creates the file, then writes the PID: in between it reads empty.
    """
    try:
        info = pidfile.stat()
    except OSError:
        return False
    return info.st_size == 0 and time.time() - info.st_mtime < WRITE_GRACE


def remove_stale_pidfiles(run_dir: Path) -> list[str]:
    """Delete the pidfiles that name no process of ours; return their stems.

    Celery itself trusts ``kill -0``: it refuses to start over a pidfile
    whose PID was reused, and ``celery multi stop`` signals that PID. Call
    this before either.
    """
    removed: list[str] = []
    if not run_dir.is_dir():
        return removed
    for pidfile in sorted(run_dir.glob("*.pid")):
        if live_pid(pidfile) is not None or _being_written(pidfile):
            continue
        try:
            pidfile.unlink()
        except FileNotFoundError:
            continue
        except OSError as error:
            logger.warning("Cannot remove stale pidfile %s: %s", pidfile, error)
            continue
        logger.info("Removed stale pidfile %s (its process is gone)", pidfile)
        removed.append(pidfile.stem)
    return removed
