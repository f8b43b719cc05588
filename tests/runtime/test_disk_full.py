"""Defect 4: a full disk was invisible and nothing cleaned up.

Runs on a real 8 MB tmpfs (root can mount one here; the test is skipped
with the reason where mounting is not allowed). The disk-usage helper is not
faked: the tmpfs really fills up.
"""

import datetime
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from acoupi import data
from acoupi.components.retention import apply_retention
from acoupi.system.constants import Settings
from acoupi.system.exceptions import HealthCheckError
from acoupi.system.lifecycle import setup_program
from acoupi.system.programs import load_program
from acoupi.system.state import get_status
from acoupi.tasks.heartbeat import generate_heartbeat_task
from audio_support import write_wav
from fault_support import FaultTable, integrity_ok
from runtime.conftest import slow_args

MB = 1_000_000


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MB file system of the test's own."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    """Write a ballast file leaving about ``leave`` bytes free."""
    import shutil

    ballast = disk / "ballast"
    free = shutil.disk_usage(disk).free
    with open(ballast, "wb") as handle:
        handle.write(b"\0" * max(0, free - leave))
    return ballast


@pytest.fixture
def program_on_disk(
    settings: Settings, disk: Path, on_path: None
) -> Callable[..., Any]:
    def configure(**options: object) -> Any:
        setup_program(settings, "slow_pkg", args=slow_args(disk, **options))
        return load_program(settings)

    return configure


def test_guard_pauses_recording_and_says_so_everywhere(
    program_on_disk: Callable[..., Any],
    disk: Path,
    settings: Settings,
    fault_table: FaultTable,
) -> None:
    program = program_on_disk(**{"storage.min_free_mb": 2})
    record = program.tasks["recording_task"]
    assert record() is not None  # room: records

    _fill(disk, leave=1 * MB)
    assert record() is None  # paused before the disk is full

    problem = program.storage_problem()
    assert problem is not None and "Recording paused" in problem
    assert str(disk) in problem
    with pytest.raises(HealthCheckError) as caught:
        program.check(program.config)
    assert "Recording paused" in caught.value.message
    assert "storage.keep_free_mb" in (caught.value.help or "")
    assert get_status(settings).storage == problem

    # The database stays writable: the guard left it room.
    deployment = program.store.get_current_deployment()
    program.store.update_deployment(deployment)

    # slow_pkg has no messenger: a heartbeat task with a collecting one.
    heartbeats = []

    class Collect:
        def send_message(self, message: data.Message) -> data.Response:
            heartbeats.append(json.loads(message.content))
            return data.Response(status=data.ResponseStatus.SUCCESS, message=message)

        def check(self) -> None:
            pass

    messenger: Any = Collect()
    generate_heartbeat_task([messenger], problem=program.storage_problem)()
    assert heartbeats[0]["status"] == "PROBLEM"
    assert heartbeats[0]["problem"] == problem

    # Every WAV written has its database row; the database is intact.
    tmp = program.config.paths.tmp_audio
    wavs = list(tmp.glob("*.wav"))
    unrecorded = [w for w in wavs if not program.store.get_recordings_by_path([w])]
    database = program.config.paths.db_metadata
    fault_table.add(
        "disk full (8 MB tmpfs)",
        "storage filled to 1 MB free while recording",
        recordings_lost=len(unrecorded),
        databases_intact=integrity_ok(database),
        visible="check fails, status 'disk', heartbeat PROBLEM, live view",
    )
    assert unrecorded == []


def _kept(program: Any, age_days: float, detected: bool) -> data.Recording:
    created = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(
        days=age_days
    )
    recording = data.Recording(
        created_on=created,
        duration=1,
        samplerate=8000,
        deployment=program.store.get_current_deployment(),
    )
    path = program.config.paths.recordings / f"{uuid.uuid4()}_{recording.id}.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_wav(path, seconds=30)  # ~480 kB at 8 kHz
    recording.path = path
    program.store.store_recording(recording)
    if detected:
        program.store.store_model_output(
            data.ModelOutput(
                name_model="m",
                recording=recording,
                detections=[data.Detection(detection_score=0.9)],
            )
        )
    return recording


def test_retention_frees_space_oldest_undetected_first_never_unsent(
    program_on_disk: Callable[..., Any], disk: Path
) -> None:
    program = program_on_disk()
    oldest_unsent = _kept(program, 5, detected=False)
    old_plain = _kept(program, 4, detected=False)
    old_detected = _kept(program, 3, detected=True)
    new_plain = _kept(program, 1, detected=False)
    program.message_store.store_message(
        data.Message(content=json.dumps({"recording": str(oldest_unsent.id)}))
    )
    _fill(disk, leave=int(0.3 * MB))

    report = apply_retention(
        program.store,
        program.config.paths.recordings,
        keep_free=int(0.7 * MB),
        message_store=program.message_store,
    )

    assert report.deleted == [old_plain.path]  # one freed enough
    assert report.protected == 1
    for kept in (oldest_unsent, old_detected, new_plain):
        assert kept.path is not None and kept.path.exists()
    assert program.store.get_recordings([old_plain.id])  # the row stays


def test_retention_by_age(program_on_disk: Callable[..., Any]) -> None:
    program = program_on_disk(**{"storage.max_age_days": 2})
    old = _kept(program, 3, detected=False)
    old_detected = _kept(program, 3, detected=True)
    recent = _kept(program, 1, detected=False)
    program.tasks["file_management_task"]()  # applies the settings' retention
    assert old.path is not None and not old.path.exists()
    assert old_detected.path is not None and old_detected.path.exists()
    assert recent.path is not None and recent.path.exists()
