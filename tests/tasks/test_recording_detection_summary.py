"""Recording, detection and summary tasks against the real SQLite stores."""

import datetime
import json
import logging

import pytest

from acoupi.components import types
from acoupi.components.message_factories import FullModelOutputMessageBuilder
from acoupi.components.message_stores import SqliteMessageStore
from acoupi.components.model_template import TestModel
from acoupi.components.output_cleaners import ThresholdDetectionCleaner
from acoupi.components.stores import SqliteStore
from acoupi.components.summariser import StatisticsDetectionsSummariser
from acoupi.tasks.detection import generate_detection_task, model_output_id
from acoupi.tasks.recording import generate_recording_task
from acoupi.tasks.summary import generate_summariser_task
from audio_support import record_wav

UTC = datetime.timezone.utc
NOW = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class WavRecorder(types.AudioRecorder):
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    def record(self, deployment):
        self.count += 1
        created = NOW + datetime.timedelta(seconds=self.count)
        return record_wav(self.directory, created, deployment)


class Condition(types.RecordingCondition):
    def __init__(self, answer):
        self.answer = answer
        self.calls = 0

    def should_record(self):
        self.calls += 1
        return self.answer


@pytest.fixture
def store(tmp_path):
    return SqliteStore(tmp_path / "db" / "metadata.db")


@pytest.fixture
def message_store(tmp_path):
    return SqliteMessageStore(tmp_path / "db" / "messages.db")


def test_recording_task_records_and_stores(tmp_path, store):
    task = generate_recording_task(WavRecorder(tmp_path), store)
    assert task.__name__ == "recording_task"
    recording = task()
    assert recording is not None and recording.path.exists()
    ((stored, outputs),) = store.get_recordings([recording.id])
    assert stored.path == recording.path and outputs == []
    assert stored.deployment.id == store.get_current_deployment().id


def test_recording_task_respects_conditions(tmp_path, store, caplog):
    recorder = WavRecorder(tmp_path)
    refuse, accept = Condition(False), Condition(True)
    task = generate_recording_task(
        recorder, store, recording_conditions=[refuse, accept]
    )
    with caplog.at_level(logging.INFO):
        assert task() is None
    assert "Recording conditions not met." in caplog.text
    assert recorder.count == 0 and accept.calls == 0  # short-circuit
    assert generate_recording_task(recorder, store, recording_conditions=[accept])()


class FlakyMessageStore(SqliteMessageStore):
    """Fails the first time a message is stored: a worker dying mid-task."""

    failed = False

    def store_message(self, message):
        if not self.failed:
            self.failed = True
            raise RuntimeError("worker lost")
        super().store_message(message)


def test_detection_task_stores_output_and_messages(tmp_path, store, message_store):
    recording = record_wav(tmp_path, NOW, store.get_current_deployment())
    store.store_recording(recording)
    task = generate_detection_task(
        store,
        TestModel(),
        message_store,
        output_cleaners=[ThresholdDetectionCleaner(0.5)],
        message_factories=[FullModelOutputMessageBuilder()],
    )
    assert task.__name__ == "detection_task"
    task(recording)
    ((_, outputs),) = store.get_recordings([recording.id])
    (output,) = outputs
    assert output.id == model_output_id(recording.id, "TestModel")
    assert len(output.detections) == 1
    (message,) = message_store.get_unsent_messages()
    assert json.loads(message.content)["id"] == str(output.id)


def test_retried_detection_task_does_not_duplicate(tmp_path, store):
    messages = FlakyMessageStore(tmp_path / "db" / "messages.db")
    recording = record_wav(tmp_path, NOW, store.get_current_deployment())
    store.store_recording(recording)
    task = generate_detection_task(
        store,
        TestModel(),
        messages,
        message_factories=[FullModelOutputMessageBuilder()],
    )
    with pytest.raises(RuntimeError):
        task(recording)  # output stored, message lost
    task(recording)  # the retry
    task(recording)  # and a duplicate delivery
    ((_, outputs),) = store.get_recordings([recording.id])
    assert len(outputs) == 1
    assert len(messages.get_unsent_messages()) == 1


def test_detection_task_filters(tmp_path, store, message_store):
    class Never(types.ProcessingFilter):
        def should_process_recording(self, recording):
            return False

    class ExplodingModel(TestModel):
        def run(self, recording):
            raise AssertionError("must not run")

    recording = record_wav(tmp_path, NOW, store.get_current_deployment())
    generate_detection_task(
        store, ExplodingModel(), message_store, processing_filters=[Never()]
    )(recording)


def test_summary_task_logs_failures_and_stores_messages(
    tmp_path, store, message_store, caplog
):
    class Broken(types.Summariser):
        def build_summary(self, now):
            raise RuntimeError("boom")

    class Nothing(types.Summariser):
        def build_summary(self, now):
            return None  # newer summarisers may have nothing to say

    task = generate_summariser_task(
        [Broken(), Nothing(), StatisticsDetectionsSummariser(store)],
        message_store,
        clock=lambda: NOW,
    )
    assert task.__name__ == "summary_task"
    with caplog.at_level(logging.ERROR):
        task()
    assert "Error building summary message" in caplog.text
    (message,) = message_store.get_unsent_messages()
    assert json.loads(message.content)["timeinterval"]["endtime"] == NOW.isoformat()
    assert message.created_on == NOW


def test_summary_task_default_clock(store, message_store):
    generate_summariser_task([StatisticsDetectionsSummariser(store)], message_store)()
    (message,) = message_store.get_unsent_messages()
    assert message.created_on.tzinfo is not None
