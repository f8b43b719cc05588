"""A program written only against acoupi 0.8's API runs on real workers,
next to a 0.3-style program in the same process.

Recording (synthetic, with GUANO) -> detection on a worker (typed event
detections, a builder returning a list of binary messages) -> file
management gated by 0.8 conditions, filed with a 0.8 file name template ->
messages through Mosquitto on per-type topics, newest first and bounded ->
heartbeat with metrics and a custom serializer.
"""

import datetime
import json
from pathlib import Path
from typing import Iterator

import pytest
from celery import Celery

from acoupi import data
from acoupi.audio.wav import read_guano
from acoupi.components import SqliteStore
from acoupi.system.constants import Settings
from acoupi.system.lifecycle import setup_program
from acoupi.system.programs import load_program
from acoupi.tasks import aligned_schedule
from helpers import RECORD_ALL_DAY
from messaging_support import Subscriber

pytestmark = [pytest.mark.celery, pytest.mark.mqtt]


@pytest.fixture
def type_subscriber(
    mqtt_broker: tuple[str, int], subscriber: tuple[str, Subscriber]
) -> Iterator[tuple[str, Subscriber]]:
    """Subscribe to every per-type topic under the test's topic."""
    topic, _ = subscriber
    with Subscriber(*mqtt_broker, f"{topic}/#") as typed:
        yield topic, typed


def test_acoupi_08_program_on_workers_beside_a_03_program(
    settings: Settings,
    isolated_home: Path,
    rabbitmq_url: str,
    mqtt_broker: tuple[str, int],
    type_subscriber: tuple[str, Subscriber],
    programs_on_path: None,
    running_workers,
    wait_for,
) -> None:
    topic, received = type_subscriber
    host, port = mqtt_broker
    setup_program(
        settings,
        "acoupi08_pkg.program",
        args=[
            *RECORD_ALL_DAY,
            "--microphone.device_name", "synthetic",
            "--paths.tmp_audio", str(isolated_home / "tmp audio"),
            "--messaging.mqtt.host", host,
            "--messaging.mqtt.port", str(port),
            "--messaging.mqtt.username", "acoupi",
            "--messaging.mqtt.topic", topic,
            "--messaging.mqtt.use_message_type", "true",
            "--messaging.max_messages", "1",
            "--messaging.message_order", "newest_first",
            "--broker_url", rabbitmq_url,
        ],
        prompt=False,
    )  # fmt: skip
    running_workers()
    program = load_program(settings)
    schedule = program.app.conf.beat_schedule["aligned_heartbeat_task"]["schedule"]
    assert schedule == aligned_schedule(datetime.timedelta(seconds=30), 5)

    first = program.tasks["recording_task"].delay().get(timeout=30)
    second = program.tasks["recording_task"].delay().get(timeout=30)
    assert read_guano(first.path)["acoupi|Deployment Name"]

    store = SqliteStore(program.config.paths.db_metadata)

    def analysed() -> bool:
        rows = store.get_recordings([first.id, second.id])
        return len(rows) == 2 and all(outputs for _, outputs in rows)

    wait_for(analysed)
    (row,) = store.get_recordings([first.id])
    (detection,) = row[1][0].detections
    assert isinstance(detection, data.EventDetection)
    assert detection.prediction_type == data.PredictionType.EVENT

    # File management: the conditions see ModelOutputInfo; the file name
    # comes from the 0.8 template, under date folders.
    program.tasks["file_management_task"].delay().get(timeout=30)
    kept = store.get_recordings([first.id])[0][0]
    assert kept.path is not None and kept.path.exists()
    created = first.created_on
    # ":" of the default deployment name is unsafe in file names: "_".
    name = first.deployment.name.replace(":", "_")
    assert kept.path.name == f"{name}_{created:%Y%m%d_%H%M%S_%f}.wav"
    assert kept.path.parent == program.config.paths.recordings / (
        f"{created.year}/{created.month}/{created.day}"
    )

    # Two binary detection messages wait; max_messages=1 and newest_first
    # send the second recording's first, on the per-type topic.
    unsent = program.message_store.get_unsent_messages()
    assert len(unsent) == 2
    assert all(isinstance(m.content, bytes) for m in unsent)
    assert {m.message_type for m in unsent} == {data.MessageType.DETECTION}
    program.tasks["send_messages_task"].delay().get(timeout=30)
    received.wait_for(1, timeout=15)
    assert len(received.settle()) == 1
    message = received.received[0]
    assert message.topic == f"{topic}/detection"
    assert json.loads(message.payload) == {
        "recording": str(second.id),
        "type": "event",
        "species": "Nyctalus noctula",
    }
    program.tasks["send_messages_task"].delay().get(timeout=30)
    received.wait_for(2, timeout=15)
    assert json.loads(received.received[1].payload)["recording"] == str(first.id)
    assert program.message_store.get_unsent_messages() == []

    # Heartbeat: metrics measured on the worker, custom bytes serializer,
    # heartbeat topic.
    program.tasks["heartbeat_task"].delay().get(timeout=30)
    received.wait_for(3, timeout=15)
    heartbeat = received.received[2]
    assert heartbeat.topic == f"{topic}/heartbeat"
    device_id, status, names = heartbeat.payload.split("|")
    assert device_id and status == "OK"
    assert names == "free_memory,remaining_storage"

    # A 0.3-style program (plugin_pkg: only 0.3 names) in this same process,
    # on its own app and home, runs its chain with the 0.8 one loaded.
    from plugin_pkg.program import PluginConfig, PluginProgram

    old_home = isolated_home / "old"
    config_03 = PluginConfig.model_validate(
        {
            "microphone": {"device_name": "synthetic"},
            # The template records 06:00-22:30; this test runs at any hour.
            "recording": {"schedule_start": "00:00:00", "schedule_end": "23:59:59"},
            "paths": {
                "tmp_audio": old_home / "tmp",
                "recordings": old_home / "recordings",
                "db_metadata": old_home / "metadata.db",
            },
            "messaging": {"messages_db": old_home / "messages.db"},
            "saving": {"true_dir": old_home / "t", "false_dir": old_home / "f"},
        }
    )
    app_03 = Celery("acoupi-03-in-process")
    app_03.conf.task_always_eager = True
    program_03 = PluginProgram(program_config=config_03, app=app_03)
    program_03.store.store_deployment(data.Deployment(name="old-style"))
    recording_03 = program_03.tasks["recording_task"].apply().get()
    output_03 = program_03.store.get_recordings([recording_03.id])[0][1][0]
    assert output_03.name_model == "EnergyModel"
    (detection_03,) = output_03.detections
    # 0.3 models build plain Detections: they read back as presence.
    assert detection_03.prediction_type == data.PredictionType.PRESENCE
    (message_03,) = program_03.message_store.get_unsent_messages()
    assert isinstance(message_03.content, str)
    assert json.loads(message_03.content)["name_model"] == "EnergyModel"
