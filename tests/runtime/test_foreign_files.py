"""Defects 6 and 7: files acoupi did not write, and upper-case ``.WAV``.

A WAV dropped by another user into a shared temporary folder was registered
and filed as a recording; an upper-case ``.WAV`` was registered by recovery
but never filed.
"""

import os
from pathlib import Path
from typing import Any, Callable

import pytest

from acoupi.runtime.recovery import recover
from acoupi.system.constants import Settings
from acoupi.system.files import get_temp_files
from acoupi.system.programs import load_program
from audio_support import write_wav
from fault_support import FaultTable

NOBODY = 65534


@pytest.fixture
def program(slow_program: Callable[..., Settings]) -> Any:
    return load_program(slow_program())


def test_another_users_wav_is_never_registered_or_filed(
    program: Any, fault_table: FaultTable
) -> None:
    tmp: Path = program.config.paths.tmp_audio
    planted = write_wav(tmp / "planted.wav")
    os.chown(planted, NOBODY, NOBODY)
    partial = tmp / ".planted.wav.partial"
    partial.write_bytes(b"RIFF")
    os.chown(partial, NOBODY, NOBODY)

    report = recover(program)

    assert report.touched == 0
    assert not program.store.get_recordings_by_path([planted])
    assert planted.exists() and partial.exists()
    assert get_temp_files(tmp) == []
    fault_table.add(
        "another user's WAV",
        "WAV and partial owned by 'nobody' in the temporary folder",
        recordings_lost=0,
        visible="ignored: never registered, filed or quarantined",
    )


def test_upper_case_wav_is_a_recording_everywhere(program: Any) -> None:
    tmp: Path = program.config.paths.tmp_audio
    upper = write_wav(tmp / "LOUD.WAV")
    report = recover(program)
    assert report.registered == [upper]
    # The file management task works from this list: it files what recovery
    # registered.
    assert get_temp_files(tmp) == [upper]
