"""A run whose recordings fail says why in one line and exits non-zero."""

from typing import Callable

import pytest
from click.testing import CliRunner

from acoupi.cli.run import run
from acoupi.system.constants import Settings

pytestmark = pytest.mark.celery


def test_every_recording_failing_is_told_and_fails_the_run(
    slow_program: Callable[..., Settings],
) -> None:
    settings = slow_program(
        **{
            "record_error": "No such device",
            "recording.duration": 1,
            "recording.interval": 1,
        }
    )
    result = CliRunner().invoke(
        run,
        ["--duration", "3", "--no-live", "--name", "unplugged", "--stop-timeout", "5"],
        obj={"settings": settings},
        catch_exceptions=False,
    )
    output = result.output
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    assert (
        "Last error: recording_task: OSError: [Errno 19] No such device: "
        "'/dev/snd/pcmC1D0c'" in output
    ), output
    assert "of which" in output and "recording_task)" in output, output
    assert "Nothing was recorded: every recording failed." in output
