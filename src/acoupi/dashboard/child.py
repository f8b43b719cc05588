"""The dashboard as a child process of ``acoupi run --dashboard``.

A separate process keeps the web server's memory and any crash of it
apart from the recording workers; it is stopped when the run ends.
"""

import os
import subprocess
import sys
from contextlib import contextmanager
from typing import Iterator, List, Mapping, Optional

from acoupi.system.constants import Settings

__all__ = ["dashboard_command", "dashboard_process"]

STOP_TIMEOUT_S = 5.0


def dashboard_command(
    host: Optional[str] = None, port: Optional[int] = None
) -> List[str]:
    """Return the command that serves the dashboard with this interpreter."""
    command = [sys.executable, "-m", "acoupi", "dashboard"]
    if host:
        command += ["--host", host]
    if port:
        command += ["--port", str(port)]
    return command


@contextmanager
def dashboard_process(
    settings: Settings,
    host: Optional[str] = None,
    port: Optional[int] = None,
    environment: Optional[Mapping[str, str]] = None,
) -> Iterator["subprocess.Popen[bytes]"]:
    """Serve the dashboard in a child process for the duration of the block.

    Its environment is ``environment`` (``os.environ`` by default) with
    this installation's ``ACOUPI_HOME``.
    """
    base = os.environ if environment is None else environment
    env = {**base, "ACOUPI_HOME": str(settings.home)}
    # Its "Dashboard of ... (Ctrl-C to stop)" line would repeat the run's
    # own; errors still reach the terminal on stderr.
    process = subprocess.Popen(
        dashboard_command(host, port),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
