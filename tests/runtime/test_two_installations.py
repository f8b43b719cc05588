"""Two installations on one machine keep exactly their own recordings.

The trap: every installation waited its recordings in ``/run/shm``; a
second one's start-up recovery filed the first one's recordings under its
own deployment, and the first one's database then pointed at missing files.
Here both share such a folder on purpose (an upgraded configuration), run
at the same time on simulated microphones, and one is killed with ``kill
-9`` and restarted while the other records.
"""

import os
import signal
import subprocess
from pathlib import Path
from typing import Dict, List, Set
from uuid import UUID

import pytest
from runtime_support import acoupi_processes, wait_until

from acoupi.audio.wav import is_complete_wav, read_guano
from acoupi.components import SqliteStore
from acoupi.components.recording_files import recording_id_from_path
from acoupi.system.constants import Settings
from acoupi.system.deployments import load_deployment_from_file
from helpers import RECORD_ALL_DAY

pytestmark = [pytest.mark.slow, pytest.mark.celery]


class Installation:
    """One acoupi installation: its own HOME, driven through the CLI."""

    def __init__(self, home: Path, base_env: Dict[str, str], acoupi_bin: Path):
        self.home = home
        self.acoupi_bin = acoupi_bin
        home.mkdir(parents=True, exist_ok=True)
        self.env = dict(base_env, HOME=str(home), ACOUPI_HOME=str(home / ".acoupi"))
        self.settings = Settings(home=home / ".acoupi")
        self.runs: List[subprocess.Popen[str]] = []

    def cli(self, *args: str) -> "subprocess.CompletedProcess[str]":
        return subprocess.run(
            [str(self.acoupi_bin), *args],
            env=self.env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )

    def start(self, name: str) -> "subprocess.Popen[str]":
        run = subprocess.Popen(
            [str(self.acoupi_bin), "run", "--no-live", "--name", name],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.runs.append(run)
        return run

    @property
    def store(self) -> SqliteStore:
        return SqliteStore(self.home / "storages" / "metadata.db")

    def recording_ids(self) -> Set[UUID]:
        database = self.home / "storages" / "metadata.db"
        if not database.exists():
            return set()
        import sqlite3
        from contextlib import closing

        try:
            with closing(sqlite3.connect(database, timeout=5)) as connection:
                rows = connection.execute("SELECT id FROM recording").fetchall()
        except sqlite3.OperationalError:  # being created by a worker right now
            return set()
        return {UUID(bytes=bytes(row[0])) for row in rows}

    def kill_9(self) -> None:
        """Kill everything of this installation at once, as a power cut."""
        for run in self.runs:
            if run.poll() is None:
                run.send_signal(signal.SIGKILL)
        for pid in acoupi_processes(self.home / ".acoupi"):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_until(lambda: not acoupi_processes(self.home / ".acoupi"), 15)
        for run in self.runs:
            run.wait(timeout=10)


def test_two_installations_keep_their_own_recordings_across_kill_9(
    isolated_home: Path, tmp_path: Path, cli_env: Dict[str, str], acoupi_bin: Path
) -> None:
    shared = tmp_path / "shm"
    shared.mkdir()  # like /run/shm: there before, nobody's own
    first = Installation(isolated_home, cli_env, acoupi_bin)
    second = Installation(tmp_path / "second-home", cli_env, acoupi_bin)
    for installation in (first, second):
        setup = installation.cli(
            "setup", "--program", "acoupi.programs.default", "--no-prompt",
            *RECORD_ALL_DAY,
            "--microphone.device_name", "simulated",
            "--microphone.samplerate", "16000",
            "--recording.duration", "1", "--recording.interval", "1",
            "--paths.tmp_audio", str(shared),
        )  # fmt: skip
        assert setup.returncode == 0, setup.stderr
    outputs = []
    try:
        first.start("Wood 1")
        second.start("Wood 2")
        wait_until(lambda: len(first.recording_ids()) >= 3, 60)
        wait_until(lambda: len(second.recording_ids()) >= 3, 60)

        first.kill_9()
        before = len(second.recording_ids())
        wait_until(lambda: len(second.recording_ids()) >= before + 2, 30)

        restarted = first.start("Wood 1")  # the deployment is still active
        seen = len(first.recording_ids())
        wait_until(lambda: len(first.recording_ids()) >= seen + 2, 60)

        for installation in (first, second):
            stop = installation.cli("deployment", "stop")
            assert stop.returncode == 0, stop.stdout + stop.stderr
        for run in (restarted, second.runs[0]):
            output, _ = run.communicate(timeout=60)
            outputs.append(output)
            assert run.returncode == 0, output
    finally:
        for installation in (first, second):
            installation.kill_9()

    # The restarted first installation left the second one's files alone.
    assert "not written by this installation" in outputs[0], outputs[0]
    assert "Traceback" not in "".join(outputs)

    deployments = {}
    for installation in (first, second):
        deployment = load_deployment_from_file(installation.settings.deployment_file)
        deployments[deployment.id] = installation
    first_ids, second_ids = first.recording_ids(), second.recording_ids()
    assert first_ids and second_ids and not first_ids & second_ids

    for installation, ids in ((first, first_ids), (second, second_ids)):
        for recording, _ in installation.store.get_recordings(sorted(ids)):
            # Every stored recording is at its path, and is this one's.
            assert recording.path is not None and recording.path.exists(), recording
            guano = read_guano(recording.path)
            owner = deployments[UUID(str(guano["acoupi|Deployment ID"]))]
            assert owner is installation, recording.path

    # Every complete recording on disk belongs to exactly one installation.
    on_disk = [
        path
        for folder in (
            shared,
            first.home / "storages" / "recordings",
            second.home / "storages" / "recordings",
        )
        for path in folder.rglob("*.wav")
        if is_complete_wav(path) and "quarantine" not in path.parts
    ]
    for path in on_disk:
        recording_id = recording_id_from_path(path)
        assert (recording_id in first_ids) != (recording_id in second_ids), path
