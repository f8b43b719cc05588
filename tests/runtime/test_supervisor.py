"""The supervisor restarts crashed children and leaves nothing running."""

import os
import sys
import time
from pathlib import Path

from runtime_support import wait_until

from acoupi.runtime.supervisor import ChildSpec, ChildState, Supervisor


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def _python(tmp_path: Path, name: str, code: str) -> ChildSpec:
    return ChildSpec(name, [sys.executable, "-c", code], tmp_path / f"{name}.log")


def test_crashed_child_is_restarted_with_backoff(tmp_path: Path) -> None:
    crash = _python(tmp_path, "crash", "import sys; print('boom'); sys.exit(3)")
    supervisor = Supervisor([crash], dict(os.environ), tmp_path, backoff_base=0.2)
    supervisor.start()
    try:
        events = []
        deadline = time.monotonic() + 10
        while supervisor.total_restarts < 3 and time.monotonic() < deadline:
            events += supervisor.poll()
            time.sleep(0.05)
        assert supervisor.total_restarts >= 3
        delays = [
            float(e.split("restarting in ")[1].split(" s")[0])
            for e in events
            if "exited with code 3" in e
        ]
        assert delays[:3] == [0.2, 0.4, 0.8]  # the backoff doubles
        assert any("restarted" in e for e in events)
        assert "boom" in (tmp_path / "crash.log").read_text()
        status = supervisor.statuses()[0]
        assert status.restarts >= 3 and status.last_exit == 3
    finally:
        supervisor.stop()
    assert supervisor.statuses()[0].state == ChildState.STOPPED


def test_stop_kills_stragglers_and_their_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    stubborn = _python(
        tmp_path,
        "stubborn",
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n",
    )
    polite = _python(tmp_path, "polite", "import time; time.sleep(60)")
    supervisor = Supervisor(
        [stubborn, polite], dict(os.environ), tmp_path, stop_timeout=1.0
    )
    supervisor.start()
    pids = supervisor.pids()
    wait_until(lambda: pidfile.exists() and pidfile.read_text(), timeout=10)
    grandchild = int(pidfile.read_text())
    assert _alive(grandchild)

    started = time.monotonic()
    codes = supervisor.stop()
    assert time.monotonic() - started < 5
    assert codes["stubborn"] is None  # had to be killed
    assert codes["polite"] == -15  # stopped by SIGTERM
    for pid in [*pids.values(), grandchild]:
        wait_until(lambda pid=pid: not _alive(pid), timeout=5)
    assert any("killed" in event for event in supervisor.events)
