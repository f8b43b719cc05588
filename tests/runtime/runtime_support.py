"""Helpers of the runtime tests: finding processes, waiting."""

import os
from pathlib import Path
from typing import Dict, List

from helpers import wait_until


def acoupi_processes(home: Path) -> Dict[int, str]:
    """Return every live process whose environment or folder is ``home``'s.

    Found through /proc, independently of any pidfile: this is how the
    tests check that a run leaves nothing behind. A worker that ``acoupi
    run`` forked has the environment its parent was started with (which
    may not name ``home`` when the run was started in this process), but
    works in ``home``; its command line is its parent's, so its process
    name (``acoupi-<worker>``) is appended.
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
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            cwd = ""
        if stat.rpartition(")")[2].split()[:1] == ["Z"]:
            continue
        if marker in environ.split(b"\0") or cwd == os.path.realpath(home):
            # The whole command line: the checkout's path comes first, and
            # a long one pushed the worker's name out of a cut-off line.
            command = cmdline.replace(b"\0", b" ").decode()
            found[int(entry.name)] = f"{command} [{name}]"
    return found


__all__ = ["acoupi_processes", "slow_args", "wait_until"]


def slow_args(home: Path, **options: object) -> List[str]:
    """Setup arguments of ``slow_pkg`` with every path inside ``home``."""
    args = [
        "--microphone.device_name",
        "fake",
        "--paths.tmp_audio",
        str(home / "tmp_audio"),
        "--paths.recordings",
        str(home / "recordings"),
        "--paths.db_metadata",
        str(home / "db" / "metadata.db"),
        "--messaging.messages_db",
        str(home / "db" / "messages.db"),
    ]
    for name, value in options.items():
        args += [f"--{name}", str(value)]
    return args
