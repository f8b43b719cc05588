"""``acoupi run`` forks its workers: for real, with the real command line.

Each worker is forked from the run (sharing its memory), runs in its own
process, is forked again when it dies, and recording keeps its pace while
detection is busy in another process, also when the program's module
imports numpy. ``--no-lean`` still starts every worker and beat as
programs of their own.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List

import pytest
from runtime_support import acoupi_processes, wait_until

from acoupi.system.constants import Settings
from acoupi.system.model_threads import THREAD_VARIABLES
from acoupi.system.programs import load_program

pytestmark = pytest.mark.celery


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def _name(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def _live_pid(pidfile: Path) -> int:
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return 0
    return pid if Path(f"/proc/{pid}").exists() else 0


def _forked_workers(run: "subprocess.Popen[str]", run_dir: Path) -> Dict[str, int]:
    """Each worker's pid, checked to be a fork of ``run`` (not a program)."""
    workers = {}
    for pidfile in sorted(run_dir.glob("*.pid")):
        pid = _live_pid(pidfile)
        assert pid, pidfile
        assert _parent(pid) == run.pid, pidfile.stem
        assert _name(pid) == f"acoupi-{pidfile.stem}"[:15]
        # Forked, not started as a program: it has the run's command line.
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        assert cmdline == Path(f"/proc/{run.pid}/cmdline").read_bytes()
        workers[pidfile.stem] = pid
    return workers


def _succeeded(settings: Settings) -> int:
    log = settings.log_dir / "acoupi.log"
    return (
        log.read_text(errors="replace").count(" succeeded in ") if log.exists() else 0
    )


def _start(args: List[str], env: Dict[str, str]) -> "subprocess.Popen[str]":
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from acoupi.cli.run import run; run(prog_name='acoupi run')",
        ]
        + args,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop(run: "subprocess.Popen[str]") -> str:
    run.send_signal(signal.SIGTERM)
    output, _ = run.communicate(timeout=60)
    assert run.returncode == 0, output
    return output


def test_workers_are_forked_restarted_and_stopped(
    settings: Settings, run_acoupi: Callable[..., "subprocess.CompletedProcess[str]"]
) -> None:
    setup = run_acoupi("setup", "--program", "acoupi.programs.test", "--no-prompt")
    assert setup.returncode == 0, setup.stderr
    run = _start(
        ["--no-live", "--name", "forked", "--stop-timeout", "10"], dict(os.environ)
    )
    try:
        wait_until(lambda: _succeeded(settings) >= 1, 60)
        (worker,) = _forked_workers(run, settings.run_dir).values()
        # Beat runs in the run's main loop: no thread that a fork could copy.
        assert os.listdir(f"/proc/{run.pid}/task") == [str(run.pid)]

        done = _succeeded(settings)
        os.kill(worker, signal.SIGKILL)
        pidfile = settings.run_dir / "acoupi.pid"
        wait_until(lambda: _live_pid(pidfile) not in (0, worker), 30)
        assert list(_forked_workers(run, settings.run_dir)) == ["acoupi"]
        wait_until(lambda: _succeeded(settings) > done, 60)  # it works again
        output = _stop(run)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert "Process restarts: 1" in output
    assert "deployment 'forked' ended" in output
    assert acoupi_processes(settings.home) == {}
    assert sorted(settings.run_dir.glob("*.pid")) == []


def test_recording_keeps_its_pace_while_detection_is_busy(
    slow_program: Callable[..., Settings],
) -> None:
    delay, interval = 2.5, 1
    settings = slow_program(
        model_delay=delay,
        **{
            "recording.duration": interval,
            "recording.interval": interval,
            "detections.max_backlog": 3,
        },
    )
    run = _start(
        ["--no-live", "--duration", "14", "--name", "busy", "--stop-timeout", "8"],
        dict(os.environ),
    )
    try:
        wait_until(lambda: len(list(settings.run_dir.glob("*.pid"))) == 3, 60)
        workers = _forked_workers(run, settings.run_dir)
        assert sorted(workers) == ["default", "detection", "recording"]
        output, _ = run.communicate(timeout=90)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, output

    store = load_program(settings).store
    folders = (settings.home.parent / "tmp_audio", settings.home.parent / "recordings")
    recordings = store.get_recordings_by_path(
        [path for folder in folders for path in folder.rglob("*.wav")]
    )
    times = sorted(recording.created_on for recording, _ in recordings)
    steps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    # One recording a second, without a gap, while each detection took 2.5 s.
    assert len(times) >= 10, output
    assert max(steps) < 1.5 * interval, steps
    assert "gaps: 0" in output, output
    processed = sum(1 for _, outputs in recordings if outputs)
    assert 2 <= processed < len(times), output
    assert acoupi_processes(settings.home) == {}


def test_no_lean_starts_workers_and_beat_as_programs(
    settings: Settings, run_acoupi: Callable[..., "subprocess.CompletedProcess[str]"]
) -> None:
    setup = run_acoupi("setup", "--program", "acoupi.programs.test", "--no-prompt")
    assert setup.returncode == 0, setup.stderr
    run = _start(["--no-live", "--no-lean", "--name", "separate"], dict(os.environ))
    try:
        wait_until(lambda: _succeeded(settings) >= 1, 60)
        worker = _live_pid(settings.run_dir / "acoupi.pid")
        beat = _live_pid(settings.run_dir / "beat.pid")
        assert worker and beat
        command = Path(f"/proc/{worker}/cmdline").read_bytes().split(b"\0")
        assert command[1:3] == [b"-m", b"acoupi.runtime.worker_process"]
        assert b"beat" in Path(f"/proc/{beat}/cmdline").read_bytes()
        _stop(run)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert acoupi_processes(settings.home) == {}


def test_a_headless_run_does_without_rich(
    settings: Settings, run_acoupi: Callable[..., "subprocess.CompletedProcess[str]"]
) -> None:
    setup = run_acoupi("setup", "--program", "acoupi.programs.test", "--no-prompt")
    assert setup.returncode == 0, setup.stderr
    script = (
        "import sys\n"
        "from acoupi.cli.run import run\n"
        "try:\n"
        "    run(['--no-live', '--duration', '4', '--name', 'plain'], "
        "prog_name='acoupi run')\n"
        "except SystemExit as stop:\n"
        "    print('rich loaded:', 'rich' in sys.modules)\n"
        "    raise\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "acoupi is running: worker acoupi and the scheduler (beat)" in result.stdout
    assert "deployment 'plain' ended" in result.stdout
    assert "rich loaded: False" in result.stdout


def _without_thread_variables() -> Dict[str, str]:
    """This environment without the variables that cap native thread pools."""
    return {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}


def _logged(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text(errors="replace")


def _worker_starts(settings: Settings) -> Dict[str, str]:
    """The thread variables each worker logged that it started with."""
    starts = {}
    for name in ("default", "detection", "recording"):
        log = settings.log_dir / f"{name}.log"
        wait_until(lambda log=log: _logged(log, "worker started with"), 30)
        line = next(
            line
            for line in log.read_text(errors="replace").splitlines()
            if "worker started with" in line
        )
        starts[name] = line.partition("worker started with ")[2]
    return starts


FOREGROUND_COMMANDS = {
    "run": ["-c", "from acoupi.cli.run import run; run(prog_name='acoupi run')"],
    # Its health checks load the program before the run does.
    "deployment start": ["-m", "acoupi", "deployment", "start", "--foreground"],
}


@pytest.mark.parametrize("command", sorted(FOREGROUND_COMMANDS))
def test_workers_are_forked_when_the_program_imports_numpy(
    numpy_program: Callable[..., Settings], command: str
) -> None:
    # The module imports numpy, whose OpenBLAS starts a thread per core as
    # it loads unless told otherwise: in the run, before the first fork.
    settings = numpy_program(
        **{
            "detections.model_threads": 2,
            "recording.duration": 1,
            "recording.interval": 1,
        }
    )
    run = subprocess.Popen(
        [sys.executable, *FOREGROUND_COMMANDS[command], "--name", "numpy"],
        env=_without_thread_variables(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(lambda: len(list(settings.run_dir.glob("*.pid"))) == 3, 60)
        workers = _forked_workers(run, settings.run_dir)
        assert sorted(workers) == ["default", "detection", "recording"]
        assert os.listdir(f"/proc/{run.pid}/task") == [str(run.pid)]
        # The run's cap is its own: the workers start with the variables
        # as the user left them (unset), and detection caps the model.
        unset = ", ".join(f"{name}=None" for name in THREAD_VARIABLES)
        assert _worker_starts(settings) == dict.fromkeys(workers, unset)
        log = settings.log_dir / "detection.log"
        wait_until(lambda: _logged(log, "model ran"), 60)
        capped = ", ".join(f"{name}=2" for name in THREAD_VARIABLES)
        assert _logged(log, f"model ran (11.0) with {capped}")
        assert _logged(log, "Detection model limited to 2 thread(s)")
        output = _stop(run)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert "starts as a program" not in output
    assert acoupi_processes(settings.home) == {}


def test_the_users_own_thread_variable_reaches_the_workers(
    numpy_program: Callable[..., Settings],
) -> None:
    settings = numpy_program()
    env = {**_without_thread_variables(), "OPENBLAS_NUM_THREADS": "2"}
    run = _start(["--no-live", "--name", "own", "--stop-timeout", "8"], env)
    try:
        wait_until(lambda: len(list(settings.run_dir.glob("*.pid"))) == 3, 60)
        starts = _worker_starts(settings)
        _stop(run)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    # Kept, not capped at 1 (in the run too, which then starts the workers
    # as programs wherever OpenBLAS starts a thread for it).
    own = ", ".join(
        f"{name}={'2' if name == 'OPENBLAS_NUM_THREADS' else None}"
        for name in THREAD_VARIABLES
    )
    assert starts == dict.fromkeys(starts, own)
    assert acoupi_processes(settings.home) == {}
