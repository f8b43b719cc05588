"""Defect 3 (second half): recovery must not queue detection twice.

Each restart used to queue detection again for every unprocessed recording,
even those already waiting or running: one recording was processed 3 times
and the queue grew from 2 to 9 over 5 restarts.
"""

import datetime
import os
import time
from typing import Any, Callable

import pytest
from kombu import Connection

from acoupi import data
from acoupi.components.recording_files import recording_filename
from acoupi.runtime.recovery import recover
from acoupi.system.broker import queue_depths
from acoupi.system.constants import Settings
from acoupi.system.programs import load_program
from acoupi.system.state import get_status
from audio_support import write_wav
from fault_support import FaultTable


@pytest.fixture
def program(slow_program: Callable[..., Settings]) -> Any:
    return load_program(slow_program())


def _unprocessed(program: Any) -> data.Recording:
    now = datetime.datetime.now(datetime.timezone.utc)
    recording = data.Recording(
        created_on=now,
        duration=0.1,
        samplerate=8000,
        deployment=program.store.get_current_deployment(),
    )
    path = program.config.paths.tmp_audio / recording_filename(now, recording.id)
    write_wav(path)
    recording.path = path
    program.store.store_recording(recording)
    return recording


def test_restarts_do_not_grow_the_queue(program: Any, fault_table: FaultTable) -> None:
    first = _unprocessed(program)
    _unprocessed(program)
    reports = [recover(program) for _ in range(5)]
    assert len(reports[0].redispatched) == 2
    for later in reports[1:]:
        assert later.redispatched == []
        assert len(later.pending) == 2
    assert queue_depths(program.app, ["detection"]) == {"detection": 2}
    assert "2 already queued" in reports[1].describe()
    assert first.path in reports[1].pending
    depth = queue_depths(program.app, ["detection"])["detection"]
    fault_table.add(
        "repeated restarts",
        "5 recoveries with 2 unprocessed recordings",
        recordings_lost=0,
        messages_lost=f"0 / {depth - 2} duplicated",
        visible="summary: '2 already queued'",
    )


def test_detection_a_worker_is_running_is_not_queued_again(program: Any) -> None:
    recording = _unprocessed(program)
    recover(program)
    conf = program.app.conf
    # A worker takes the message and is still running it (not acknowledged).
    with Connection(
        "filesystem://",
        transport=conf.broker_transport,
        transport_options=conf.broker_transport_options,
    ) as connection:
        queue = connection.SimpleQueue("detection", accept=["pickle"])
        held = queue.get(timeout=5)
        assert queue_depths(program.app, ["detection"]) == {"detection": 0}
        report = recover(program)
        assert report.pending == [recording.path]
        assert queue_depths(program.app, ["detection"]) == {"detection": 0}
        held.ack()


def test_status_counts_a_stranded_recording_and_its_age(
    slow_program: Callable[..., Settings],
) -> None:
    """A recording no queue holds (its worker died) still shows, with its age."""
    settings = slow_program()
    recording = _unprocessed(load_program(settings))
    assert recording.path is not None
    written = time.time() - 270
    os.utime(recording.path, (written, written))
    (settings.home / "notes.wav").write_text("not a recording")

    status = get_status(settings)
    assert status.pending == "1 recording(s), oldest written 4.5 min ago"
