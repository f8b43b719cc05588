"""The connected program: set up from the command line, every task run, and
recordings moved through the whole chain on real workers."""

import json
from pathlib import Path

import pytest

from acoupi.components import SqliteStore
from acoupi.system.constants import Settings
from acoupi.system.programs import load_program
from helpers import RECORD_ALL_DAY

pytestmark = [pytest.mark.celery, pytest.mark.mqtt]


@pytest.fixture
def connected(
    run_acoupi,
    isolated_home: Path,
    rabbitmq_url: str,
    mqtt_broker: tuple[str, int],
    subscriber,
) -> str:
    """Set up the connected program with the real command line."""
    topic, _ = subscriber
    host, port = mqtt_broker
    result = run_acoupi(
        "setup", "--program", "acoupi.programs.connected", "--no-prompt",
        *RECORD_ALL_DAY,
        "--microphone.device_name", "simulated",
        "--microphone.samplerate", "48000",
        "--recording.duration", "1",
        "--paths.tmp_audio", str(isolated_home / "tmp"),
        "--messaging.mqtt.host", host,
        "--messaging.mqtt.port", str(port),
        "--messaging.mqtt.username", "acoupi",
        "--messaging.mqtt.topic", topic,
        "--broker_url", rabbitmq_url,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return topic


def test_every_task_runs_from_the_command_line(
    connected: str, run_acoupi, isolated_home: Path, subscriber
) -> None:
    _, received = subscriber
    listing = run_acoupi("task", "list")
    assert listing.returncode == 0, listing.stderr
    tasks = [line.strip(" •") for line in listing.stdout.splitlines()[1:]]
    assert tasks == [
        "file_management_task",
        "heartbeat_task",
        "recording_task",
        "send_messages_task",
    ]
    for task in tasks:
        result = run_acoupi("task", "run", task)
        assert result.returncode == 0, (task, result.stdout, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr

    # The recording (made after the management run) waits in tmp; a second
    # management run files it under the date folders.
    assert len(list((isolated_home / "tmp").glob("*.wav"))) == 1
    assert run_acoupi("task", "run", "file_management_task").returncode == 0
    assert not list((isolated_home / "tmp").glob("*.wav"))
    kept = list((isolated_home / "storages" / "recordings").rglob("*.wav"))
    assert len(kept) == 1

    heartbeat = json.loads(received.wait_for(1)[0])
    assert heartbeat["status"] == "OK" and heartbeat["device_id"]


def test_recordings_move_through_the_chain_on_workers(
    connected: str,
    settings: Settings,
    isolated_home: Path,
    running_workers,
    subscriber,
) -> None:
    _, received = subscriber
    running_workers()
    program = load_program(settings)
    recordings = [
        program.tasks["recording_task"].delay().get(timeout=30) for _ in range(2)
    ]
    assert all(r.path.parent == isolated_home / "tmp" for r in recordings)
    program.tasks["file_management_task"].delay().get(timeout=30)
    store = SqliteStore(program.config.paths.db_metadata)
    for recording in recordings:
        ((stored, _),) = store.get_recordings([recording.id])
        assert stored.path is not None and stored.path.exists()
        assert program.config.paths.recordings in stored.path.parents
        assert not recording.path.exists()
    program.tasks["heartbeat_task"].delay().get(timeout=30)
    assert json.loads(received.wait_for(1)[0])["status"] == "OK"
