"""Cheap proof that a worker is alive and connected: heartbeat files.

Pinging workers through the broker costs about a second on the built-in
file broker (it polls its control folder), which made ``acoupi deployment
status`` slow exactly when workers run. Instead every worker touches
``run_dir/<name>.alive`` every :data:`HEARTBEAT_INTERVAL` seconds from a
step of its Celery consumer. The consumer steps run only while the worker
is connected to its broker (Celery stops them when the connection drops
and starts them again after reconnecting), so a fresh file whose recorded
pid is the live process of the worker's pidfile proves: the process is
that worker, it is connected, and its event loop still runs.

:func:`worker_liveness` is the one place that reads these proofs;
workers started without the step (older installs) have no file, and the
caller falls back to a ping.
"""

import os
import time
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

__all__ = [
    "HEARTBEAT_INTERVAL",
    "HEARTBEAT_STALE",
    "add_heartbeat_step",
    "heartbeat_path",
    "worker_liveness",
]

HEARTBEAT_INTERVAL = 5.0
"""Seconds between two touches of a worker's heartbeat file."""

HEARTBEAT_STALE = 3 * HEARTBEAT_INTERVAL
"""A heartbeat older than this means the worker is stuck or disconnected."""

RUN_DIR_SETTING = "acoupi_run_dir"
"""Celery setting carrying the folder of pidfiles and heartbeat files."""


def heartbeat_path(run_dir: Path, name: str) -> Path:
    """The heartbeat file of worker ``name`` (without ``@host``)."""
    return Path(run_dir) / f"{name}.alive"


def _touch(path: Path) -> None:
    # The content names the process, so a stale file left by a dead worker
    # whose pid was reused by another worker's pidfile cannot pass.
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(str(os.getpid()))
    os.replace(temporary, path)


def add_heartbeat_step(app: Any, run_dir: Path) -> None:
    """Make the workers of ``app`` keep their heartbeat file fresh.

    Parameters
    ----------
    app
        A Celery app; its workers get a consumer step.
    run_dir
        The folder of the workers' pidfiles.
    """
    from celery import bootsteps

    class Heartbeat(bootsteps.StartStopStep):
        """Touch ``<run_dir>/<worker>.alive`` while connected."""

        requires = {"celery.worker.consumer.tasks:Tasks"}

        def __init__(self, parent: Any, **kwargs: Any) -> None:
            super().__init__(parent, **kwargs)
            self.timer_ref: Any = None
            self.path: Optional[Path] = None

        def start(self, parent: Any) -> None:
            name = str(parent.hostname).split("@", 1)[0]
            self.path = heartbeat_path(run_dir, name)
            self.beat()
            self.timer_ref = parent.timer.call_repeatedly(HEARTBEAT_INTERVAL, self.beat)

        def beat(self) -> None:
            if self.path is None:
                return
            try:
                _touch(self.path)
            except OSError:  # a full disk must not stop the worker
                pass

        def stop(self, parent: Any) -> None:
            # Disconnected or stopping: the file goes stale, which status
            # reads as "not answering" without asking the broker.
            if self.timer_ref is not None:
                self.timer_ref.cancel()
                self.timer_ref = None

    app.conf[RUN_DIR_SETTING] = str(run_dir)
    app.steps["consumer"].add(Heartbeat)


def _read_pid(path: Path) -> Optional[int]:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def worker_liveness(
    run_dir: Path, names: Sequence[str], now: Optional[float] = None
) -> Optional[Dict[str, bool]]:
    """Tell from the heartbeat files which workers are alive.

    Parameters
    ----------
    run_dir
        The folder of pidfiles and heartbeat files.
    names
        Workers expected to run (those with a pidfile).
    now
        Current time as ``time.time()`` (tests).

    Returns
    -------
    dict or None
        Worker name -> alive. None when some worker has a live process but
        no heartbeat file yet (started before this proof existed, or still
        starting), so only a ping can tell.
    """
    from acoupi.system.pidfiles import live_pid

    now = time.time() if now is None else now
    result: Dict[str, bool] = {}
    for name in names:
        pid = live_pid(Path(run_dir) / f"{name}.pid")
        if pid is None:
            result[name] = False
            continue
        beat = heartbeat_path(run_dir, name)
        try:
            age = now - beat.stat().st_mtime
        except OSError:
            return None
        result[name] = _read_pid(beat) == pid and age <= HEARTBEAT_STALE
    return result
