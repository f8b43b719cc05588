"""The tests' own process lookup works wherever the checkout lies."""

import subprocess
import sys
from pathlib import Path

from runtime_support import acoupi_processes, wait_until


def test_process_lookup_sees_the_whole_command_line(
    tmp_path: Path, cli_env: dict
) -> None:
    # A worker's command line starts with the checkout's path: a long path
    # (here 200 characters) must not hide the worker's name at the end.
    long_dir = tmp_path / ("checkout-" + "x" * 200)
    home = tmp_path / "acoupi-home"
    env = dict(cli_env, ACOUPI_HOME=str(home))
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; time.sleep(30)",
            str(long_dir),
            "recording@host",
        ],
        env=env,
    )
    try:
        found = wait_until(lambda: acoupi_processes(home), 10)
        assert isinstance(found, dict)
        assert any("recording@host" in cmd for cmd in found.values()), found
    finally:
        process.kill()
        process.wait()
