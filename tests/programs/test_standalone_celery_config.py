"""``CeleryConfig()`` alone configures a working Celery app, as plugins use it.

acoupi 0.3 plugins (``acoupi_batdetect2``, ``acoupi_birdnet``) and user
scripts build their app from ``CeleryConfig().model_dump()`` and run tasks in
Celery's test worker (``celery.contrib.pytest``'s ``celery_config`` /
``celery_app`` / ``celery_worker`` fixtures). These tests do exactly what
those fixtures do, with a plugin-style program and a real recording.
"""

import datetime
import json
import wave
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from celery import Celery
from celery.contrib.testing.app import TestApp
from celery.contrib.testing.worker import start_worker
from plugin_pkg.program import PluginConfig, PluginProgram

from acoupi import data
from acoupi.components import SqliteStore
from acoupi.system.broker import broker_paths, queue_depths
from acoupi.system.constants import CeleryConfig, Settings

pytestmark = [pytest.mark.celery, pytest.mark.timeout(60)]


def test_python_dump_places_the_embedded_broker_in_the_home(
    settings: Settings,
) -> None:
    conf = CeleryConfig().model_dump()
    paths = broker_paths(settings)
    assert conf["broker_url"] == "filesystem://"
    assert conf["broker_transport_options"]["data_folder_in"] == str(paths.queue)
    assert conf["broker_transport_options"]["control_folder"] == str(paths.control)
    assert conf["result_backend"] == f"file://{paths.results}"
    assert all(folder.is_dir() for folder in paths.all())
    assert set(conf["task_queues"]) == {"celery", "recording", "detection"}


def test_saved_configuration_keeps_the_bare_urls(settings: Settings) -> None:
    config = CeleryConfig(broker_transport_options={"polling_interval": 2.0})
    stored = json.loads(config.model_dump_json())
    assert stored["broker_url"] == "filesystem://"
    assert stored["result_backend"] == "file://"
    assert stored["broker_transport_options"] == {"polling_interval": 2.0}
    assert "task_queues" not in stored
    # Round trip through a python dump: still valid, options kept.
    again = CeleryConfig.model_validate(config.model_dump())
    assert again.broker_transport_options["polling_interval"] == 2.0


def test_other_brokers_are_left_alone(settings: Settings) -> None:
    conf = CeleryConfig(
        broker_url="redis://127.0.0.1:6379/15", result_backend="rpc://"
    ).model_dump()
    assert conf["broker_url"] == "redis://127.0.0.1:6379/15"
    assert conf["broker_transport_options"] == {}
    assert conf["result_backend"] == "rpc://"
    assert not broker_paths(settings).root.exists()


def _write_call(path: Path, samplerate: int = 192_000) -> None:
    t = np.arange(samplerate) / samplerate
    signal = (0.5 * np.sin(2 * np.pi * 40_000 * t) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(samplerate)
        wav.writeframes(signal.tobytes())


@pytest.fixture
def celery_app(isolated_home: Path) -> Iterator[Celery]:
    """What ``celery.contrib.pytest.celery_app`` builds from ``celery_config``."""
    app = TestApp(config=CeleryConfig().model_dump(), set_as_current=False)
    # Fail here with the transport's own error rather than hang in the
    # worker thread, which is what a broken configuration used to do.
    assert queue_depths(app, ["celery"]) == {"celery": 0}
    yield app
    app.close()


def test_plugin_program_runs_in_celerys_test_worker(
    celery_app: Celery, tmp_path: Path, programs_on_path: None
) -> None:
    config = PluginConfig.model_validate(
        {
            "microphone": {"device_name": "simulated", "samplerate": 192_000},
            "paths": {
                "tmp_audio": tmp_path / "tmp",
                "recordings": tmp_path / "audio",
                "db_metadata": tmp_path / "metadata.db",
            },
            # As the plugin's own tests do: a messenger (never contacted
            # here), so detections become messages in the outbox.
            "messaging": {
                "messages_db": tmp_path / "messages.db",
                "http": {"base_url": "http://127.0.0.1:9/detections"},
            },
        }
    )
    recording_path = tmp_path / "call.wav"
    _write_call(recording_path)
    recording = data.Recording(
        path=recording_path,
        duration=1,
        samplerate=192_000,
        created_on=datetime.datetime.now(datetime.timezone.utc),
        deployment=data.Deployment(name="test"),
    )
    store = SqliteStore(config.paths.db_metadata)
    store.store_recording(recording)

    # The order of the plugins' conftest: Celery's test worker starts
    # first (no -Q), the program is made afterwards and routes detection
    # to the ``detection`` queue, then the worker reloads its tasks.
    with start_worker(celery_app, pool="solo", perform_ping_check=False) as worker:
        program = PluginProgram(program_config=config, app=celery_app)
        assert celery_app.conf["accept_content"] == ["pickle"]
        assert celery_app.conf.task_routes["detection_task"] == {"queue": "detection"}
        worker.reload()
        program.tasks["detection_task"].delay(recording).get(timeout=20)

    ((stored, outputs),) = store.get_recordings([recording.id])
    assert stored.id == recording.id
    assert outputs[0].detections[0].tags[0].tag.value == "Pipistrellus pipistrellus"
    assert program.message_store.get_unsent_messages()


def test_pytz_is_installed_with_acoupi() -> None:
    # acoupi_batdetect2 and acoupi_birdnet import pytz without declaring it.
    from importlib.metadata import requires

    declared = {
        req.split(";")[0].split("[")[0].split(">")[0].split("=")[0].strip()
        for req in requires("acoupi") or []
    }
    assert "pytz" in declared
