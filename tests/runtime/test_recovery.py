"""Start-up recovery of the recordings a crash left in the temporary folder."""

import datetime
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any, Callable, List

import pytest

from acoupi import data
from acoupi.components.recording_files import recording_filename
from acoupi.runtime.recovery import QUARANTINE_FOLDER, read_wav_info, recover
from acoupi.system.broker import queue_depths
from acoupi.system.constants import Settings
from acoupi.system.programs import load_program
from audio_support import write_wav
from helpers import RECORD_ALL_DAY

UTC = datetime.timezone.utc


@pytest.fixture
def program(slow_program: Callable[..., Settings]) -> Any:
    return load_program(slow_program())


def _stored(program: Any, created_on: datetime.datetime) -> data.Recording:
    """A recording written and stored the way the recording task does it."""
    deployment = program.store.get_current_deployment()
    recording = data.Recording(
        created_on=created_on, duration=0.1, samplerate=8000, deployment=deployment
    )
    path = program.config.paths.tmp_audio / recording_filename(created_on, recording.id)
    write_wav(path)
    recording.path = path
    program.store.store_recording(recording)
    return recording


def _age(path: Path, seconds: float = 60) -> None:
    """Date ``path`` back: a crash's leftover is older than a running write."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_crash_leftovers_are_processed_not_forgotten(
    program: Any, caplog: pytest.LogCaptureFixture
) -> None:
    tmp = program.config.paths.tmp_audio
    quarantine = program.config.paths.recordings / QUARANTINE_FOLDER
    now = datetime.datetime(2024, 5, 1, 12, tzinfo=UTC)

    # Stored, never processed (a crash before detection): queued again.
    pending = _stored(program, now)
    # Stored and processed: left for the file management task.
    done = _stored(program, now + datetime.timedelta(seconds=10))
    program.store.store_model_output(
        program.model.run(done).model_copy(update={"recording": done})
    )
    # Written but never stored (a crash in between): registered.
    unknown_id = uuid.uuid4()
    unknown = write_wav(
        tmp / recording_filename(datetime.datetime(2024, 1, 2, 3, 4, 5), unknown_id),
        samplerate=16000,
        seconds=0.5,
    )
    nameless = write_wav(tmp / "manual.wav")
    # Killed mid-write: a WAV cut short, and the recorder's hidden partial.
    cut = write_wav(tmp / recording_filename(now, uuid.uuid4()), seconds=0.2)
    cut_bytes = cut.read_bytes()[:-100]
    cut.write_bytes(cut_bytes)
    partial = tmp / f".{recording_filename(now, uuid.uuid4())}.partial"
    partial.write_bytes(b"RIFF")
    _age(partial)
    # Not a recording: never touched (the folder may be shared).
    other = tmp / "notes.txt"
    other.write_text("keep me")

    with caplog.at_level(logging.WARNING, "acoupi.runtime.recovery"):
        report = recover(program)

    # QA F24: it said "left unrecorded" (it was recorded, not registered).
    assert f"Registered {unknown}: a crash had left it on disk but not in the " in (
        caplog.text
    )
    assert "unrecorded" not in caplog.text
    assert set(report.redispatched) == {pending.path, unknown, nameless}
    assert set(report.registered) == {unknown, nameless}
    assert report.left == [done.path]
    assert not report.failed
    assert queue_depths(program.app, ["detection"]) == {"detection": 3}

    registered = program.store.get_recordings([unknown_id])[0][0]
    assert registered.created_on == datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert registered.samplerate == 16000
    assert registered.duration == pytest.approx(0.5)
    assert registered.path == unknown
    assert program.store.get_recordings_by_path([nameless])

    # Quarantined, never deleted, content intact.
    assert sorted(p.name for p in quarantine.iterdir()) == sorted(
        [cut.name, partial.name.lstrip(".")]
    )
    assert (quarantine / cut.name).read_bytes() == cut_bytes
    assert not cut.exists() and not partial.exists()
    assert other.read_text() == "keep me"
    for path in (pending.path, done.path, unknown, nameless):
        assert path.exists()


def test_recovery_twice_does_not_duplicate(program: Any) -> None:
    write_wav(program.config.paths.tmp_audio / "once.wav")
    first = recover(program)
    second = recover(program)
    assert len(first.registered) == 1 and not second.registered
    recordings = program.store.get_recordings_by_path(
        [program.config.paths.tmp_audio / "once.wav"]
    )
    assert len(recordings) == 1


def test_program_without_store_has_nothing_to_recover(settings: Settings) -> None:
    from acoupi.system.lifecycle import setup_program

    setup_program(settings, "acoupi.programs.test")
    assert recover(load_program(settings)).touched == 0


def test_wav_completeness(tmp_path: Path) -> None:
    good = write_wav(tmp_path / "a.wav", seconds=0.25, samplerate=8000)
    info = read_wav_info(good)
    assert info is not None and info.duration == pytest.approx(0.25)
    good.write_bytes(good.read_bytes()[:60])
    assert read_wav_info(good) is None
    (tmp_path / "b.wav").write_bytes(b"")
    assert read_wav_info(tmp_path / "b.wav") is None


def test_recover_command_and_the_service_runs_it_first(
    run_acoupi, isolated_home: Path, settings: Settings
) -> None:
    setup = run_acoupi(
        "setup", "--program", "acoupi.programs.default", "--no-prompt",
        *RECORD_ALL_DAY,
        "--microphone.device_name", "simulated",
        "--paths.tmp_audio", str(isolated_home / "tmp"),
    )  # fmt: skip
    assert setup.returncode == 0, setup.stderr
    # The first start makes the folder, as this installation's own.
    assert run_acoupi("recover").returncode == 0
    left = write_wav(
        isolated_home
        / "tmp"
        / recording_filename(datetime.datetime.now(UTC), uuid.uuid4())
    )
    (isolated_home / "tmp" / ".cut.wav.partial").write_bytes(b"RIFF")
    _age(isolated_home / "tmp" / ".cut.wav.partial")

    result = run_acoupi("recover")
    assert result.returncode == 0, result.stderr
    assert "1 registered" in result.stdout and "1 quarantined" in result.stdout
    assert left.exists(), "a complete recording stays for the filing task"

    unit = isolated_home / ".config/systemd/user" / settings.acoupi_service_file
    assert "ExecStartPre=-" in unit.read_text()
    assert "-m acoupi recover" in unit.read_text()


_STALLED_WRITER = """
import sys, time
import numpy as np
import acoupi.audio.wav as wav

wav.os.fsync = lambda fd: time.sleep(60)  # stall mid-write, then be killed
wav.write_wav(sys.argv[1], np.zeros((8000, 1), dtype=np.int16), 8000)
"""


def test_a_writer_killed_mid_write_leaves_what_recovery_quarantines(
    program: Any,
) -> None:
    import signal
    import subprocess
    import sys
    import time

    tmp = program.config.paths.tmp_audio
    target = tmp / recording_filename(datetime.datetime.now(UTC), uuid.uuid4())
    writer = subprocess.Popen([sys.executable, "-c", _STALLED_WRITER, str(target)])
    try:
        deadline = time.monotonic() + 30
        while not list(tmp.glob(".*.partial")) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    (leftover,) = tmp.glob(".*.partial")
    assert not target.exists()
    _age(leftover)

    report = recover(program)
    assert [p.name for p in report.quarantined] == [leftover.name.lstrip(".")]
    assert not leftover.exists()


def _installation(home: Path, shared: Path, name: str) -> Any:
    """Set up and load slow_pkg in ``home``, waiting recordings in ``shared``."""
    from runtime_support import slow_args

    from acoupi.system.lifecycle import setup_program

    settings = Settings(home=home / ".acoupi")
    args = slow_args(home)
    args[args.index("--paths.tmp_audio") + 1] = str(shared)
    setup_program(settings, "slow_pkg", args=args)
    program = load_program(settings)
    program.on_start(data.Deployment(name=name))
    return program


def _leftover(folder: Path, deployment: Any = None) -> Path:
    """A complete recording a crash left, with its deployment in GUANO."""
    import numpy as np

    from acoupi.audio import wav

    guano = None if deployment is None else {"acoupi|Deployment ID": deployment.id}
    path = folder / recording_filename(datetime.datetime.now(UTC), uuid.uuid4())
    return wav.write_wav(path, np.zeros((800, 1), dtype=np.int16), 8000, guano)


def test_recovery_touches_only_this_installations_files(
    isolated_home: Path, tmp_path: Path, on_path: None
) -> None:
    """Two installations share a folder (upstream's /run/shm): the trap."""
    from acoupi.system.folders import OWNER_FILE

    shared = tmp_path / "shm"
    shared.mkdir()  # there before either installation: nobody's own
    first = _installation(isolated_home, shared, "Wood 1")
    second = _installation(tmp_path / "second", shared, "Wood 2")
    first_deployment = first.store.get_current_deployment()
    second_deployment = second.store.get_current_deployment()
    mine = _leftover(shared, first_deployment)
    theirs = _leftover(shared, second_deployment)
    anonymous = _leftover(shared)
    their_partial = shared / f".{theirs.name}.x1y2.partial"
    their_partial.write_bytes(b"RIFF")
    _age(their_partial)

    report = recover(first)
    assert report.registered == [mine]
    assert set(report.foreign) == {theirs, anonymous, their_partial}
    assert theirs.exists() and anonymous.exists() and their_partial.exists()
    assert not first.store.get_recordings_by_path([theirs, anonymous])
    assert not (shared / OWNER_FILE).exists()

    report = recover(second)
    assert report.registered == [theirs]
    (recording, _), *_ = second.store.get_recordings_by_path([theirs])
    assert recording.deployment.id == second_deployment.id


def test_a_filing_copy_cut_short_is_removed_not_quarantined(program: Any) -> None:
    # Filing across filesystems copies under a partial name and removes the
    # original only after the rename. A kill mid-copy left that copy, which
    # recovery used to quarantine as a "half-written recording" although the
    # recording itself was intact.
    now = datetime.datetime(2024, 5, 1, 12, tzinfo=UTC)
    waiting = _stored(program, now)
    assert waiting.path is not None
    kept = program.config.paths.recordings / "kept"
    kept.mkdir(parents=True)
    cut_short = kept / f".{waiting.path.name}.k3x9_q2a.partial"
    cut_short.write_bytes(waiting.path.read_bytes()[:100])
    orphan = kept / ".20240501_130000_lost.wav.zz81.partial"
    orphan.write_bytes(b"RIFF")
    fresh = kept / f".{waiting.path.name}.busy0001.partial"
    fresh.write_bytes(b"RIFF")
    _age(cut_short)
    _age(orphan)

    report = recover(program)

    assert report.copies_removed == [cut_short]
    assert not cut_short.exists() and waiting.path.exists()
    assert not orphan.exists()  # its recording is nowhere: kept in quarantine
    quarantine = program.config.paths.recordings / QUARANTINE_FOLDER
    assert [p.name for p in quarantine.iterdir()] == [orphan.name.lstrip(".")]
    assert fresh.exists()  # a filing in progress is left alone
    assert "1 unfinished copies of intact recordings removed" in report.describe()


def test_filing_copies_under_a_partial_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from acoupi.audio.wav import PARTIAL_SUFFIX
    from acoupi.system import files

    renamed: List[str] = []
    real_replace = os.replace

    def spy(source: Any, dest: Any) -> None:
        renamed.append(Path(source).name)
        real_replace(source, dest)

    monkeypatch.setattr(files.os, "replace", spy)
    source = tmp_path / "rec.wav"
    write_wav(source)
    dest = tmp_path / "kept" / "rec.wav"
    dest.parent.mkdir()

    files._copy_durably(source, dest)

    assert len(renamed) == 1 and renamed[0].startswith(".rec.wav.")
    assert renamed[0].endswith(PARTIAL_SUFFIX)
