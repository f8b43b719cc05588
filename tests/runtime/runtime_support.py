"""Helpers of the runtime tests: finding processes, waiting."""

import os
from pathlib import Path
from typing import Dict

from helpers import wait_until


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
            # The whole command line: the checkout's path comes first, and
            # a long one pushed the worker's name out of a cut-off line.
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode()
    return found


__all__ = ["acoupi_processes", "wait_until"]
