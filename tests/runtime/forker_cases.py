"""Children forked from a pre-imported parent: their setting-up and their end.

Run by test_forker.py, each case in a fresh interpreter."""

import faulthandler
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from runtime_support import wait_until

from acoupi.runtime.forker import ForkError, fork_child
from acoupi.runtime.supervisor import ChildSpec, ChildState, Supervisor
from acoupi.system.constants import Settings
from acoupi.system.lifecycle import setup_program

RUNTIME_DIR = Path(__file__).parent


@pytest.fixture(autouse=True)
def _probe_importable(on_path: None) -> None:
    """``fork_probe`` importable here (forked children share ``sys.path``)."""


def _logged(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text()


def _fork(tmp_path: Path, *args: str, env: dict | None = None):  # type: ignore[no-untyped-def]
    return fork_child(
        "probe",
        "fork_probe",
        list(args),
        tmp_path / "probe.log",
        env if env is not None else dict(os.environ),
        tmp_path,
    )


def test_child_runs_in_its_own_session_with_its_name_folder_and_log(
    tmp_path: Path,
) -> None:
    child = _fork(tmp_path, "report", env={**os.environ, "PROBE_VALUE": "given"})
    assert child.wait(timeout=30) == 7
    log = (tmp_path / "probe.log").read_text()
    assert "session leader: True" in log
    assert "name: acoupi-probe" in log
    assert f"cwd: {tmp_path}" in log
    assert "PROBE_VALUE: given" in log
    assert f"parent: {os.getpid()}" in log
    assert "stderr works" in log
    assert os.environ.get("PROBE_VALUE") is None  # the parent's is untouched


def test_exit_codes_of_sys_exit_and_of_an_exception(tmp_path: Path) -> None:
    assert _fork(tmp_path, "exit", "3").wait(timeout=30) == 3
    assert _fork(tmp_path, "raise").wait(timeout=30) == 1
    log = (tmp_path / "probe.log").read_text()
    assert "RuntimeError: the probe was told to fail" in log


def test_no_fork_while_another_thread_runs(tmp_path: Path) -> None:
    release = threading.Event()
    other = threading.Thread(target=release.wait, name="busy", daemon=True)
    other.start()
    try:
        with pytest.raises(ForkError, match="threads run in this process \\(busy\\)"):
            _fork(tmp_path, "report")
    finally:
        release.set()
        other.join()
    assert not (tmp_path / "probe.log").exists()


def test_no_fork_while_a_thread_started_by_a_c_library_runs(tmp_path: Path) -> None:
    # faulthandler's watchdog is a thread of C code, unknown to `threading`.
    faulthandler.dump_traceback_later(600)
    try:
        with pytest.raises(ForkError, match="1 not started by Python"):
            _fork(tmp_path, "report")
    finally:
        faulthandler.cancel_dump_traceback_later()


def test_wait_times_out_and_a_signal_ends_the_child(tmp_path: Path) -> None:
    child = _fork(tmp_path, "sleep")
    wait_until(lambda: _logged(tmp_path / "probe.log", "sleeping"), 30)
    with pytest.raises(subprocess.TimeoutExpired):
        child.wait(timeout=0.2)
    assert child.poll() is None
    os.killpg(child.pid, signal.SIGTERM)  # its own process group
    assert child.wait(timeout=10) == -signal.SIGTERM


def test_child_dies_with_its_parent(tmp_path: Path) -> None:
    # A parent process that forks a sleeping child, then is killed -9.
    script = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from acoupi.runtime.forker import fork_child\n"
        f"child = fork_child('probe', 'fork_probe', ['sleep'], "
        f"Path({str(tmp_path / 'probe.log')!r}), dict(os.environ), Path('.'))\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        wait_until(lambda: _logged(tmp_path / "probe.log", "sleeping"), 30)
        parent.kill()
        parent.wait(timeout=10)
        wait_until(lambda: not Path(f"/proc/{pid}").exists(), 10)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_supervisor_forks_again_what_crashed_and_stops_it(tmp_path: Path) -> None:
    spec = ChildSpec(
        "probe", [sys.executable, "-m", "fork_probe", "sleep"], tmp_path / "probe.log"
    )
    supervisor = Supervisor(
        [spec],
        dict(os.environ),
        tmp_path,
        backoff_base=0.1,
        fork_entries=["fork_probe"],
    )
    supervisor.start()
    try:
        first = supervisor.pids()["probe"]
        wait_until(lambda: _logged(tmp_path / "probe.log", "sleeping"), 30)
        assert Path(f"/proc/{first}/comm").read_text().strip() == "acoupi-probe"
        # Forked, not started as a program: it has this process's command line.
        assert (
            Path(f"/proc/{first}/cmdline").read_bytes()
            == Path("/proc/self/cmdline").read_bytes()
        )
        os.kill(first, signal.SIGKILL)

        def restarted() -> bool:
            supervisor.poll()
            return supervisor.pids().get("probe") not in (None, first)

        wait_until(restarted, 10)
        second = supervisor.pids()["probe"]
        wait_until(
            lambda: Path(f"/proc/{second}/comm").read_text().strip() == "acoupi-probe",
            30,
        )
        assert supervisor.statuses()[0].last_exit == -signal.SIGKILL
    finally:
        codes = supervisor.stop()
    assert codes == {"probe": -signal.SIGTERM}
    assert not Path(f"/proc/{second}").exists()
    assert supervisor.statuses()[0].state == ChildState.STOPPED


def test_supervisor_starts_a_program_when_it_cannot_fork(tmp_path: Path) -> None:
    spec = ChildSpec(
        "probe", [sys.executable, "-m", "fork_probe", "sleep"], tmp_path / "probe.log"
    )
    release = threading.Event()
    other = threading.Thread(target=release.wait, name="busy", daemon=True)
    other.start()
    supervisor = Supervisor(
        [spec], dict(os.environ), tmp_path, fork_entries=["fork_probe"]
    )
    try:
        supervisor.start()
        pid = supervisor.pids()["probe"]
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert command[1:3] == [b"-m", b"fork_probe"]
        # Said at the next look, as any other event (also without live view).
        assert any("threads run in this process" in e for e in supervisor.poll())
    finally:
        supervisor.stop()
        release.set()
        other.join()


def test_workers_start_from_the_program_prepared_before_the_fork(
    tmp_path: Path, settings: Settings
) -> None:
    setup_program(settings, "acoupi.programs.test")
    # In a process of its own: preparing imports the program here.
    script = (
        "import os\n"
        "from pathlib import Path\n"
        "from acoupi.runtime import worker_process\n"
        "from acoupi.runtime.forker import fork_child\n"
        "from acoupi.system.constants import Settings\n"
        "worker_process.prepare(Settings())\n"
        "assert worker_process._app(worker_process.APP_MODULE) is not None\n"
        f"child = fork_child('probe', 'fork_probe', ['modules', "
        f"worker_process.APP_MODULE, 'celery.apps.worker'], "
        f"Path({str(tmp_path / 'probe.log')!r}), dict(os.environ), Path('.'))\n"
        "raise SystemExit(child.wait(30))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    log = (tmp_path / "probe.log").read_text()
    # The worker's app was built before the fork: the module that would
    # load the program again was never imported; Celery's worker was.
    assert "acoupi.runtime.celery_app: False" in log
    assert "celery.apps.worker: True" in log
