"""``acoupi deployment stop`` ends a foreground run, never just its deployment.

The trap: ``deployment stop`` ended the deployment under a running
``acoupi run``, whose workers kept recording into the ended deployment; a
Ctrl-C on the run then printed only "No deployment is running".
"""

import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path
from typing import Callable, List

import pytest
from runtime_support import acoupi_processes, wait_until

from acoupi.components.sqlite_db import datetime_to_db
from acoupi.system.constants import Settings
from acoupi.system.deployments import load_deployment_from_file
from acoupi.system.foreground_runs import find_run

pytestmark = pytest.mark.celery


def _recording_times(database: Path) -> List[str]:
    if not database.exists():
        return []
    try:
        with closing(sqlite3.connect(database, timeout=5)) as connection:
            rows = connection.execute("SELECT datetime FROM recording").fetchall()
    except sqlite3.OperationalError:  # being created by a worker right now
        return []
    return [row[0] for row in rows]


def _start_run(acoupi_bin: Path, cli_env: dict) -> "subprocess.Popen[str]":
    return subprocess.Popen(
        [str(acoupi_bin), "run", "--no-live", "--name", "Wood 1"],
        env=cli_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_deployment_stop_ends_the_foreground_run_with_its_summary(
    slow_program: Callable[..., Settings],
    isolated_home: Path,
    acoupi_bin: Path,
    cli_env: dict,
    run_acoupi,
) -> None:
    settings = slow_program(**{"recording.duration": 1, "recording.interval": 1})
    database = isolated_home / "db" / "metadata.db"
    run = _start_run(acoupi_bin, cli_env)
    try:
        wait_until(lambda: len(_recording_times(database)) >= 2, 40)
        assert find_run(settings) is not None
        asked = time.monotonic()
        stop = run_acoupi("deployment", "stop", timeout=60)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        # The command returns once the run is over, within about one
        # recording interval plus the workers' warm shutdown.
        assert run.wait(timeout=5) == 0
        assert time.monotonic() - asked < 15
        output = run.stdout.read() if run.stdout else ""
    finally:
        if run.poll() is None:
            run.kill()
    assert "Acoupi stopped: deployment 'Wood 1' ended at" in stop.stdout
    assert "Stopped: `acoupi deployment stop` ended the deployment." in output
    assert "deployment 'Wood 1' ended." in output and "Recordings made:" in output
    assert "Error" not in output and "Traceback" not in output

    ended = load_deployment_from_file(settings.deployment_file)
    assert ended.ended_on is not None
    times = _recording_times(database)
    assert times and max(times) < datetime_to_db(ended.ended_on)
    assert not acoupi_processes(settings.home)
    assert find_run(settings) is None
    # Nothing records after the stop.
    time.sleep(1.5)
    assert len(_recording_times(database)) == len(times)


@pytest.mark.slow
def test_ctrl_c_after_the_deployment_ended_elsewhere_still_summarises(
    slow_program: Callable[..., Settings],
    isolated_home: Path,
    acoupi_bin: Path,
    cli_env: dict,
) -> None:
    """Ended by another route (the API, an older `acoupi`): the run stops."""
    from acoupi.system.deployments import end_deployment

    settings = slow_program(**{"recording.duration": 1, "recording.interval": 1})
    database = isolated_home / "db" / "metadata.db"
    run = _start_run(acoupi_bin, cli_env)
    try:
        wait_until(lambda: _recording_times(database), 40)
        end_deployment(settings)
        try:
            run.wait(timeout=20)
        except subprocess.TimeoutExpired:
            run.send_signal(signal.SIGINT)
            run.wait(timeout=20)
        output = run.stdout.read() if run.stdout else ""
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, output
    assert "Stopped: the deployment was ended at" in output, output
    assert "No deployment is running" not in output
    assert not acoupi_processes(settings.home)
