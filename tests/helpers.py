"""Small helpers shared by test folders."""

import datetime
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import pytest


def importable_everywhere(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """Make modules in ``directory`` importable here and in child processes."""
    monkeypatch.syspath_prepend(str(directory))
    pythonpath = os.environ.get("PYTHONPATH")
    monkeypatch.setenv(
        "PYTHONPATH", str(directory) + (os.pathsep + pythonpath if pythonpath else "")
    )


def wait_until(predicate: Callable[[], object], timeout: float = 30) -> object:
    """Poll ``predicate`` until it returns something truthy; fail on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"condition not met within {timeout} s")


def stop_process(process: "subprocess.Popen[Any]", timeout: float) -> None:
    """Stop ``process`` with SIGTERM; kill it if it outlives ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def expected_until(moment: datetime.datetime, now: datetime.datetime) -> str:
    """How status names a time: the clock today, with the day otherwise.

    Tests that open a window two hours ahead cross midnight after 22:00.
    """
    if moment.date() == now.date():
        return f"{moment:%H:%M}"
    return f"{moment:%a %d %b %H:%M}"


RECORD_ALL_DAY: tuple[str, ...] = (
    "--recording.schedule_start", "00:00:00",
    "--recording.schedule_end", "23:59:59",
)  # fmt: skip
"""Setup options so the default program records at any hour.

Its own window is 06:00-22:30: a test run at night would record nothing.
"""
