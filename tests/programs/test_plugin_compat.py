"""A plugin-style DetectionProgram runs end to end on real workers.

Recording -> detection (callback on the broker) -> store -> keep/delete by
filters -> message through Mosquitto, using only acoupi 0.3 public names.
"""

import json
from pathlib import Path

import pytest

from acoupi.components import SqliteStore
from acoupi.system.constants import Settings
from acoupi.system.lifecycle import setup_program
from acoupi.system.programs import load_program
from helpers import RECORD_ALL_DAY

pytestmark = [pytest.mark.celery, pytest.mark.mqtt]


def test_plugin_program_end_to_end(
    settings: Settings,
    isolated_home: Path,
    rabbitmq_url: str,
    mqtt_broker: tuple[str, int],
    subscriber,
    programs_on_path,
    running_workers,
    wait_for,
) -> None:
    topic, received = subscriber
    host, port = mqtt_broker
    setup_program(
        settings,
        "plugin_pkg.program",
        args=[
            *RECORD_ALL_DAY,
            "--microphone.device_name",
            "synthetic",
            "--paths.tmp_audio",
            str(isolated_home / "tmp audio"),
            "--messaging.mqtt.host",
            host,
            "--messaging.mqtt.port",
            str(port),
            "--messaging.mqtt.username",
            "acoupi",
            "--messaging.mqtt.topic",
            topic,
            "--broker_url",
            rabbitmq_url,
        ],
        prompt=False,
    )
    running_workers()
    program = load_program(settings)
    assert sorted(program.tasks) == [
        "detection_task",
        "file_management_task",
        "heartbeat_task",
        "recording_task",
        "send_messages_task",
        "summary_task",
    ]

    # A loud recording, made by the recording worker; detection follows on
    # another worker through the broker.
    loud = program.tasks["recording_task"].delay().get(timeout=30)
    assert loud.path.exists()

    # A silent recording, made here; its detection callback still runs on
    # the workers.
    program.recorder.loud = False  # type: ignore[attr-defined]
    quiet = program.tasks["recording_task"].apply().get()

    store = SqliteStore(program.config.paths.db_metadata)

    def analysed() -> bool:
        rows = store.get_recordings([loud.id, quiet.id])
        return len(rows) == 2 and all(outputs for _, outputs in rows)

    wait_for(analysed)
    (loud_row,) = store.get_recordings([loud.id])
    assert loud_row[1][0].name_model == "EnergyModel"
    assert loud_row[1][0].detections[0].tags[0].tag.value == (
        "Pipistrellus pipistrellus"
    )

    program.tasks["file_management_task"].delay().get(timeout=30)
    kept = store.get_recordings([loud.id])[0][0]
    assert kept.path is not None and kept.path.exists()
    assert kept.path.parent == program.config.saving.true_dir
    assert not loud.path.exists()
    assert not quiet.path.exists(), "the silent recording should be deleted"

    program.tasks["send_messages_task"].delay().get(timeout=30)
    payload = json.loads(received.wait_for(1, timeout=15)[0])
    assert payload["name_model"] == "EnergyModel"
    assert payload["recording"]["id"] == str(loud.id)
    assert program.message_store.get_unsent_messages() == []
