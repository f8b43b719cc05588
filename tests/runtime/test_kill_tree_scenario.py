"""Fault suite, long part: kill -9 of the whole ``acoupi run`` tree.

Records one-second clips with real workers on the embedded broker, kills
the supervisor and every child at once (as a power cut would, minus the
lost tmpfs), starts again and checks: every WAV has its database row, the
database is intact, the detection queue holds each recording at most once,
and nothing but the clip in progress is lost (it is quarantined, counted,
and reported).
"""

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
from runtime_support import acoupi_processes

from acoupi.runtime.recovery import QUARANTINE_FOLDER, recover
from acoupi.system.broker import pending_task_arguments
from acoupi.system.constants import Settings
from acoupi.system.programs import load_program
from fault_support import FaultTable, integrity_ok
from helpers import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.celery]


def _recordings(settings: Settings) -> int:
    program = load_program(settings)
    return len(program.store.get_recordings_by_path(_wavs(program)))


def _wavs(program: object) -> list[Path]:
    paths = program.config.paths  # type: ignore[attr-defined]
    return [
        p
        for folder in (paths.tmp_audio, paths.recordings)
        for p in Path(folder).rglob("*.wav")
        if QUARANTINE_FOLDER not in p.parts
    ]


def test_kill_9_of_the_whole_tree(
    slow_program: Callable[..., Settings], fault_table: FaultTable
) -> None:
    settings = slow_program(
        **{"recording.duration": 1, "recording.interval": 1, "model_delay": 0.5}
    )
    process = subprocess.Popen(
        [
            sys.executable, "-c",
            "from acoupi.cli.run import run; run(prog_name='acoupi run')",
            "--no-live", "--name", "site",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: _recordings(settings) >= 4, timeout=60)
        tree = acoupi_processes(settings.home)
        for pid in tree:  # all at once, no warning: a power cut
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait(timeout=10)
        wait_until(lambda: not acoupi_processes(settings.home), timeout=10)
    finally:
        if process.poll() is None:
            process.kill()

    program = load_program(settings)
    report = recover(program)
    wavs = _wavs(program)
    stored = program.store.get_recordings_by_path(wavs)
    # Each recording's detection is queued (or held) at most once.
    arguments = pending_task_arguments(program.app, "detection") or []
    duplicated = sum(
        max(0, sum(str(r.id) in a for a in arguments) - 1) for r, _ in stored
    )
    lost = len(wavs) - len(stored)
    database = program.config.paths.db_metadata
    fault_table.add(
        "kill -9 of the whole run",
        f"SIGKILL to {len(tree)} processes mid-recording",
        recordings_lost=f"{lost} (+{len(report.quarantined)} clip in progress, "
        "quarantined)",
        messages_lost=f"0 / {duplicated} duplicated",
        databases_intact=integrity_ok(database),
        visible=f"recovery: {report.describe()}",
    )
    assert lost == 0
    assert duplicated == 0
    assert integrity_ok(database)
    assert len(report.quarantined) <= 1
