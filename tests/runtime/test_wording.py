"""What the run says at its end, in plain words."""

import datetime
from typing import Callable

import pytest

from acoupi.runtime.coverage import measure_coverage
from acoupi.system.constants import Settings
from acoupi.system.programs import load_program

UTC = datetime.timezone.utc


def test_coverage_says_what_its_span_is() -> None:
    start = datetime.datetime(2026, 1, 1, tzinfo=UTC)
    spans = [(start + datetime.timedelta(seconds=5 * n), 5.0) for n in range(4)]
    text = measure_coverage(spans, 5).describe()
    # "20.0 s of 20.0 s" after a 15 s run read like a clock error.
    assert text.startswith(
        "20.0 s of audio in 4 files, 100.00 % of the 20.0 s from the first "
        "recording's start to the last one's end;"
    ), text


def test_end_of_deployment_files_what_waits_in_plain_words(
    slow_program: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    program = load_program(slow_program())
    deployment = program.store.get_current_deployment()
    for _ in range(2):
        program.store.store_recording(program.recorder.record(deployment))
    program.on_end(deployment.model_copy(update={"ended_on": deployment.started_on}))
    out = capsys.readouterr().out
    tmp = program.config.paths.tmp_audio
    assert f"Filing 2 recordings still waiting in {tmp}..." in out, out
    assert "file_management_task" not in out and "remaining files" not in out
