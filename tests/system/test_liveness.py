"""Worker heartbeat files: a real worker on the built-in broker keeps one
fresh, and status reads it instead of pinging through the broker."""

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from acoupi.system import celery as system_celery
from acoupi.system.celery import (
    CeleryState,
    WorkerState,
    get_celery_status,
    start_workers,
    stop_workers,
)
from acoupi.system.constants import Settings
from acoupi.system.lifecycle import setup_program
from acoupi.system.liveness import (
    HEARTBEAT_STALE,
    heartbeat_path,
    worker_liveness,
)
from acoupi.system.pidfiles import owned_processes
from helpers import wait_until


@pytest.fixture
def embedded_workers(settings: Settings) -> Iterator[Settings]:
    """The test program's worker running on the built-in file broker."""
    setup_program(settings, "acoupi.programs.test")
    start_workers(settings, timeout=60)
    try:
        yield settings
    finally:
        stop_workers(settings)


def _no_broker(*args: object, **kwargs: object) -> None:
    raise AssertionError("status contacted the broker")


@pytest.mark.celery
def test_status_of_workers_needs_no_ping(
    embedded_workers: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = embedded_workers
    beat = heartbeat_path(settings.run_dir, "acoupi")
    pid = int((settings.run_dir / "acoupi.pid").read_text())
    assert wait_until(beat.exists, timeout=30)
    assert beat.read_text() == str(pid)

    # A ping over the file broker costs about a second: status must not
    # open the broker at all while heartbeats tell.
    monkeypatch.setattr(system_celery, "_Broker", _no_broker)
    status = get_celery_status(settings)

    assert status.state == CeleryState.AVAILABLE
    assert [(w.worker_name.split("@")[0], w.state) for w in status.workers] == [
        ("acoupi", WorkerState.OK)
    ]
    os.kill(pid, 9)
    assert wait_until(lambda: "acoupi" not in owned_processes(settings.run_dir))
    status = get_celery_status(settings)

    assert status.state == CeleryState.UNAVAILABLE
    assert [w.state for w in status.workers] == [WorkerState.NOTOK]


def test_stale_or_foreign_heartbeat_is_not_alive(tmp_path: Path) -> None:
    # A stand-in worker: pidfiles only count for processes that run acoupi
    # or Celery (acoupi.system.pidfiles), so the test's own pid would not.
    worker = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "acoupi-worker"]
    )
    try:
        pid = worker.pid
        (tmp_path / "acoupi.pid").write_text(str(pid))
        beat = heartbeat_path(tmp_path, "acoupi")

        # No heartbeat yet (an older worker, or still starting): ask a ping.
        assert worker_liveness(tmp_path, ["acoupi"]) is None

        beat.write_text(str(pid))
        assert worker_liveness(tmp_path, ["acoupi"]) == {"acoupi": True}
        later = time.time() + HEARTBEAT_STALE + 1
        assert worker_liveness(tmp_path, ["acoupi"], now=later) == {"acoupi": False}

        # A heartbeat left by another process (pid reused) proves nothing.
        beat.write_text(str(pid + 1))
        assert worker_liveness(tmp_path, ["acoupi"]) == {"acoupi": False}
    finally:
        worker.kill()
        worker.wait()
