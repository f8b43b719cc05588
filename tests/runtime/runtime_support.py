"""Helpers of the runtime tests: finding processes, waiting."""

import os
import time
from pathlib import Path
from typing import Callable, Dict

import pytest


def acoupi_processes(home: Path) -> Dict[int, str]:
    """Return every live process whose environment points at ``home``.

    Found through /proc, independently of any pidfile: this is how the
    tests check that a run leaves nothing behind.
    """
    marker = f"ACOUPI_HOME={home}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if stat.rpartition(")")[2].split()[:1] == ["Z"]:
            continue
        if marker in environ.split(b"\0"):
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode()[:120]
    return found


def wait_until(predicate: Callable[[], object], timeout: float = 30) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"condition not met within {timeout} s")
