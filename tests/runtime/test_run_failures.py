"""A run whose recordings fail says why in one line and exits non-zero.

The trap: the run showed "Tasks run: 0 (1 failed)" and "Last error:
recording: Traceback (most recent call last):" and exited 0, the cause only
in ``recording.log``.
"""

import signal
import subprocess
from pathlib import Path
from typing import Callable

import pytest
from runtime_support import wait_until

from acoupi.system.constants import Settings

pytestmark = pytest.mark.celery


def _failed_once(log: Path) -> bool:
    return log.exists() and "raised unexpected" in log.read_text(errors="replace")


def test_every_recording_failing_is_told_and_fails_the_run(
    slow_program: Callable[..., Settings], acoupi_bin: Path, cli_env: dict
) -> None:
    settings = slow_program(
        **{
            "record_error": "No such device",
            "recording.duration": 1,
            "recording.interval": 1,
        }
    )
    run = subprocess.Popen(
        [str(acoupi_bin), "run", "--no-live", "--name", "unplugged"],
        env=cli_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # Stopped once a recording has failed, however slow the machine.
        wait_until(lambda: _failed_once(settings.log_dir / "recording.log"), 60)
        run.send_signal(signal.SIGINT)
        output, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 1, output
    assert "Traceback" not in output
    assert (
        "Last error: recording_task: OSError: [Errno 19] No such device: "
        "'/dev/snd/pcmC1D0c'" in output
    ), output
    assert "of which" in output and "recording_task)" in output, output
    assert "Nothing was recorded: every recording failed." in output
