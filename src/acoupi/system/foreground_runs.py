"""Find and stop the foreground run (``acoupi run``) of an installation.

A foreground run records itself in ``<run_dir>/foreground-run.json`` (its
pid, the process's start time and its deployment). ``acoupi deployment
stop`` (through :func:`acoupi.system.stop_program`) uses it to stop the
run instead of ending the deployment under running workers: it writes a
stop request, wakes the run with SIGTERM and waits. The run then stops its
workers first and only then ends the deployment, so no recording is stored
under an ended deployment, and prints its summary in its own terminal.

The process's start time guards against a reused pid: a record whose pid
now belongs to another process is stale.
"""

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from acoupi.system.atomic import atomic_write_text
from acoupi.system.constants import Settings
from acoupi.system.exceptions import AcoupiError
from acoupi.system.pidfiles import process_start_time

__all__ = [
    "ForegroundRun",
    "ForegroundRunError",
    "clear_run",
    "find_run",
    "register_run",
    "request_stop",
    "stop_requested",
    "wait_for_exit",
]

RUN_FILE = "foreground-run.json"
STOP_REQUEST_FILE = "foreground-stop-request"


class ForegroundRunError(AcoupiError):
    """The foreground run could not be stopped."""


@dataclass(frozen=True)
class ForegroundRun:
    """A running ``acoupi run``."""

    pid: int
    started: Optional[float]
    """When the process started (epoch seconds, from ``/proc``)."""

    deployment: str


def _run_file(settings: Settings) -> Path:
    return Path(settings.run_dir) / RUN_FILE


def _request_file(settings: Settings) -> Path:
    return Path(settings.run_dir) / STOP_REQUEST_FILE


def register_run(settings: Settings, deployment: str) -> None:
    """Record this process as the installation's foreground run."""
    pid = os.getpid()
    Path(settings.run_dir).mkdir(parents=True, exist_ok=True)
    _request_file(settings).unlink(missing_ok=True)  # not meant for this run
    record = {"pid": pid, "started": process_start_time(pid), "deployment": deployment}
    atomic_write_text(_run_file(settings), json.dumps(record))


def clear_run(settings: Settings) -> None:
    """Forget this process as the foreground run (and any stop request)."""
    run = find_run(settings)
    if run is None or run.pid == os.getpid():
        _run_file(settings).unlink(missing_ok=True)
    _request_file(settings).unlink(missing_ok=True)


def _alive(run: ForegroundRun) -> bool:
    try:
        os.kill(run.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, but another user's: request_stop says so
    try:
        state = Path(f"/proc/{run.pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return True  # no /proc: the pid is all there is to go by
    if state[:1] == ["Z"]:
        return False  # exited, not yet reaped by its parent
    started = process_start_time(run.pid)
    # Another start time: the pid now belongs to an unrelated process.
    return run.started is None or started is None or abs(started - run.started) < 0.01


def find_run(settings: Settings) -> Optional[ForegroundRun]:
    """Return the installation's live foreground run, or None.

    A record left by a run that was killed (or whose pid was reused since)
    is ignored.
    """
    try:
        record = json.loads(_run_file(settings).read_text(encoding="utf-8"))
        run = ForegroundRun(
            pid=int(record["pid"]),
            started=record.get("started"),
            deployment=str(record.get("deployment", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return run if _alive(run) else None


def stop_requested(settings: Settings) -> bool:
    """Return whether ``deployment stop`` asked the foreground run to end."""
    return _request_file(settings).exists()


def request_stop(settings: Settings, run: ForegroundRun) -> None:
    """Ask ``run`` to stop and end its deployment.

    Raises
    ------
    ForegroundRunError
        If the run belongs to another user (it cannot be signalled).
    """
    atomic_write_text(_request_file(settings), "end the deployment\n")
    try:
        os.kill(run.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass  # it ended meanwhile
    except PermissionError:
        _request_file(settings).unlink(missing_ok=True)
        raise ForegroundRunError(
            f"The foreground run (pid {run.pid}) belongs to another user and "
            "cannot be stopped from here.",
            help="Stop it in its own terminal (Ctrl-C) or as that user.",
        ) from None


def wait_for_exit(run: ForegroundRun, timeout: float, poll: float = 0.2) -> bool:
    """Wait up to ``timeout`` s for ``run`` to exit; return whether it did."""
    deadline = time.monotonic() + timeout
    while _alive(run):
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True
