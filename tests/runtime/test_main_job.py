"""The main job for real: the triggered program on the simulated microphone,
run in the foreground on the built-in broker; and kill -9 at any point loses
no recording that was complete on disk."""

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import List, Set
from uuid import UUID

from runtime_support import acoupi_processes, wait_until

from acoupi.audio.wav import is_complete_wav, read_guano
from acoupi.components import SqliteStore
from acoupi.components.recording_files import recording_id_from_path
from helpers import RECORD_ALL_DAY


def test_triggered_program_tiles_time_and_keeps_recordings_with_events(
    run_acoupi, isolated_home: Path
) -> None:
    setup = run_acoupi(
        "setup", "--program", "acoupi.programs.triggered", "--no-prompt",
        "--microphone.device_name", "simulated",
        "--microphone.samplerate", "192000",
        "--recording.duration", "2", "--recording.interval", "2",
        "--paths.tmp_audio", str(isolated_home / "tmp"),
    )  # fmt: skip
    assert setup.returncode == 0, setup.stderr
    run = run_acoupi("run", "--duration", "10", "--no-live", "--name", "test")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "Traceback" not in output
    assert "gaps: 0 (largest 0.000 s); overlaps: 0" in output, output
    assert "bat:" in output, output  # the soundscape has a bat call every 2 s
    kept = list((isolated_home / "storages" / "recordings").rglob("*.wav"))
    assert len(kept) >= 3, output
    guano = read_guano(kept[0])
    assert guano["Samplerate"] == 192000
    # Kept recordings carry what the detector found, for any GUANO reader.
    assert "bat" in guano["Species Auto ID"]
    assert guano["acoupi|Detections"][0]["model"] == "BandEnergyDetector"
    assert not acoupi_processes(isolated_home / ".acoupi")


def _complete_wavs(home: Path) -> List[Path]:
    return [
        path
        for folder in (home / "tmp", home / "storages" / "recordings")
        for path in folder.rglob("*.wav")
        if is_complete_wav(path)
    ]


def _complete_recordings(home: Path) -> Set[UUID]:
    # By recording id: filing a recording renames its file.
    return {recording_id_from_path(path) for path in _complete_wavs(home)}


def _kill_all(acoupi_home: Path) -> None:
    for pid in acoupi_processes(acoupi_home):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_kill_9_loses_no_complete_recording(
    run_acoupi, acoupi_bin: Path, cli_env: dict, isolated_home: Path
) -> None:
    acoupi_home = isolated_home / ".acoupi"
    setup = run_acoupi(
        "setup", "--program", "acoupi.programs.default", "--no-prompt",
        *RECORD_ALL_DAY,
        "--microphone.device_name", "simulated",
        "--microphone.samplerate", "48000",
        "--recording.duration", "1", "--recording.interval", "1",
        "--paths.tmp_audio", str(isolated_home / "tmp"),
    )  # fmt: skip
    assert setup.returncode == 0, setup.stderr
    supervisor = subprocess.Popen(
        [str(acoupi_bin), "run", "--no-live", "--name", "power cuts"],
        env=cli_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: len(_complete_recordings(isolated_home)) >= 3, 60)

        # A worker dies mid-work: the supervisor restarts it, recording goes on.
        # By its pidfile: a forked worker has the command line of the run.
        recorder = int((acoupi_home / "run" / "recording.pid").read_text())
        assert recorder in acoupi_processes(acoupi_home)
        os.kill(recorder, signal.SIGKILL)
        seen = len(_complete_recordings(isolated_home))
        wait_until(lambda: len(_complete_recordings(isolated_home)) >= seen + 2, 60)

        # Then everything dies at once, as in a power cut.
        os.kill(supervisor.pid, signal.SIGKILL)
        _kill_all(acoupi_home)
        supervisor.wait(timeout=10)
        wait_until(lambda: not acoupi_processes(acoupi_home), 10)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        _kill_all(acoupi_home)
    on_disk = _complete_recordings(isolated_home)
    assert len(on_disk) >= 5

    # Starting again recovers the state and loses nothing.
    time.sleep(0.5)
    rerun = run_acoupi(
        "run", "--duration", "4", "--no-live", "--end-deployment",
        "--name", "after the cut",
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    # QA F26: the run must say it records under the deployment left active.
    assert "Continuing deployment 'power cuts', started" in rerun.stdout
    assert "--name 'after the cut' ignored" in rerun.stdout
    assert "`acoupi deployment stop`" in rerun.stdout
    after = _complete_recordings(isolated_home)
    assert on_disk <= after, on_disk - after
    # ...and the store knows every one of them at its current path.
    store = SqliteStore(isolated_home / "storages" / "metadata.db")
    stored = {
        r.id for r, _ in store.get_recordings_by_path(_complete_wavs(isolated_home))
    }
    assert on_disk <= stored, on_disk - stored
    assert not acoupi_processes(acoupi_home)
