"""Defect 2: stale pidfiles and PID reuse.

A pidfile from before a reboot names whatever process got that PID since.
Liveness used to be ``kill -0`` only, so ``acoupi run`` refused to start and
``acoupi workers stop`` sent SIGTERM to a stranger.
"""

import os
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from acoupi.runtime.foreground import _refuse_running, running_processes
from acoupi.system.celery import stop_workers
from acoupi.system.constants import Settings
from acoupi.system.lifecycle import setup_program
from acoupi.system.pidfiles import live_pid, remove_stale_pidfiles
from fault_support import FaultTable

HOUR = 3600.0


@pytest.fixture
def stranger() -> Iterator["subprocess.Popen[bytes]"]:
    """An unrelated process whose command line even says "celery"."""
    process = subprocess.Popen(["bash", "-c", "exec -a celery-impostor sleep 300"])
    time.sleep(0.1)  # let exec happen
    yield process
    process.kill()
    process.wait()


def _stale_pidfile(settings: Settings, name: str, pid: int) -> Path:
    """Write ``pid`` as a pidfile written an hour ago, as before a reboot."""
    run_dir = Path(settings.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    pidfile = run_dir / f"{name}.pid"
    pidfile.write_text(f"{pid}\n")
    past = time.time() - HOUR
    os.utime(pidfile, (past, past))
    return pidfile


def test_reused_pid_is_not_ours(
    settings: Settings, stranger: "subprocess.Popen[bytes]"
) -> None:
    pidfile = _stale_pidfile(settings, "recording", stranger.pid)
    assert live_pid(pidfile) is None
    assert running_processes(settings) == {}
    _refuse_running(settings)  # does not raise "already running here"
    assert not pidfile.exists()


def test_foreign_command_is_not_ours(settings: Settings) -> None:
    """A fresh pidfile naming a process that runs neither Celery nor acoupi."""
    with subprocess.Popen(["sleep", "300"]) as process:
        try:
            run_dir = Path(settings.run_dir)
            run_dir.mkdir(parents=True)
            pidfile = run_dir / "default.pid"
            time.sleep(0.05)
            pidfile.write_text(str(process.pid))
            assert live_pid(pidfile) is None
        finally:
            process.kill()


def test_our_own_live_process_counts(settings: Settings) -> None:
    run_dir = Path(settings.run_dir)
    run_dir.mkdir(parents=True)
    # pytest runs from the acoupi checkout: "acoupi" is in its command line
    # or its path; write a pidfile for a celery-named child instead to be sure.
    with subprocess.Popen(["bash", "-c", "exec -a celery-worker sleep 300"]) as child:
        try:
            time.sleep(0.1)
            pidfile = run_dir / "default.pid"
            pidfile.write_text(str(child.pid))
            assert live_pid(pidfile) == child.pid
            assert remove_stale_pidfiles(run_dir) == []
            assert pidfile.exists()
        finally:
            child.kill()


def test_empty_pidfile_being_written_is_kept(settings: Settings) -> None:
    run_dir = Path(settings.run_dir)
    run_dir.mkdir(parents=True)
    (run_dir / "default.pid").write_text("")
    assert remove_stale_pidfiles(run_dir) == []


def test_workers_stop_never_signals_a_stranger(
    settings: Settings, stranger: "subprocess.Popen[bytes]", fault_table: FaultTable
) -> None:
    setup_program(settings, "acoupi.programs.test")
    pidfile = _stale_pidfile(settings, "acoupi", stranger.pid)
    stop_workers(settings)
    time.sleep(0.2)
    assert stranger.poll() is None, "workers stop killed an unrelated process"
    fault_table.add(
        "PID reuse after a reboot",
        "pidfile from before boot names a live 'celery' stranger",
        visible="stale pidfile removed (logged); stranger alive; start allowed"
        if not pidfile.exists()
        else "PIDFILE KEPT",
    )
