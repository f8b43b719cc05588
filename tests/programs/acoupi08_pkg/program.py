"""A program written only against acoupi 0.8.0's API.

Everything it uses exists in upstream 0.8.0 with these names, module paths
and keywords: typed detections (``EventDetection``), message builders
returning lists, binary message content with message types, MQTT topics
per message type, a bounded newest-first send task, heartbeat metrics and a
custom serializer, file management gated by conditions over
``ModelOutputInfo``, ``DateFileManager(filename_template=...)``,
``HasSufficientSpace``, ``add_guano_metadata`` and ``aligned_schedule``.
The model is a tiny energy detector and the recorder writes a synthetic
WAV (there is no microphone here).
"""

import datetime
import json
import wave
from functools import partial
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import numpy as np
from pydantic import Field

from acoupi import data
from acoupi.components import types
from acoupi.components.recording_conditions import HasSufficientSpace
from acoupi.components.saving_managers import DateFileManager
from acoupi.devices.metrics import get_free_memory, get_remaining_storage
from acoupi.programs.templates import (
    AudioConfiguration,
    DetectionProgram,
    DetectionProgramConfiguration,
)
from acoupi.system.exceptions import RecordingError
from acoupi.tasks import (
    aligned_schedule,
    generate_file_management_task,
    generate_heartbeat_task,
)
from acoupi.tasks.heartbeat import Heartbeat
from acoupi.tasks.management import ProcessedByRequiredModels
from acoupi.tasks.recording import add_guano_metadata

MODEL_NAME = "Energy08"
FILENAME_TEMPLATE = "{deployment.name}_{recording.created_on:%Y%m%d_%H%M%S_%f}.wav"


class Audio08Config(AudioConfiguration):
    duration: int = 1
    interval: int = 5


class Program08Config(DetectionProgramConfiguration):
    recording: Audio08Config = Field(default_factory=Audio08Config)
    loud: bool = True
    min_free_mb: int = 1


class EnergyModel(types.Model):
    """Detects a loud 40 kHz call as one sound event."""

    name = MODEL_NAME

    def run(self, recording: data.Recording) -> data.ModelOutput:
        assert recording.path is not None
        with wave.open(str(recording.path)) as wav:
            samples = np.frombuffer(wav.readframes(wav.getnframes()), np.int16)
        rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) / 32768
        detections: List[data.Detection] = []
        if rms > 0.05:
            detections.append(
                data.EventDetection(
                    detection_score=0.9,
                    location=data.BoundingBox.from_coordinates(0.1, 35000, 0.4, 45000),
                    tags=[
                        data.PredictedTag(
                            tag=data.Tag(key="species", value="Nyctalus noctula"),
                            confidence_score=0.8,
                        )
                    ],
                )
            )
        return data.ModelOutput(
            name_model=self.name, recording=recording, detections=detections
        )


class SyntheticRecorder(types.AudioRecorder):
    """Writes a WAV with (or without) a 40 kHz tone, then its GUANO metadata."""

    def __init__(self, audio_dir: Path, duration: float, loud: bool):
        self.audio_dir = audio_dir
        self.duration = duration
        self.loud = loud
        self.samplerate = 192_000

    def record(self, deployment: data.Deployment) -> data.Recording:
        now = data.utc_now()
        path = self.audio_dir / f"{now:%Y%m%d_%H%M%S_%f}.wav"
        t = np.arange(int(self.samplerate * self.duration)) / self.samplerate
        amplitude = 0.5 if self.loud else 0.0
        signal = (amplitude * np.sin(2 * np.pi * 40_000 * t) * 32767).astype(np.int16)
        try:
            with wave.open(str(path), "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(self.samplerate)
                wav.writeframes(signal.tobytes())
        except OSError as error:
            raise RecordingError(f"could not write {path}: {error}") from error
        recording = data.Recording(
            path=path,
            created_on=now,
            duration=self.duration,
            samplerate=self.samplerate,
            deployment=deployment,
        )
        add_guano_metadata(recording)
        return recording


class OneMessagePerDetection(types.MessageBuilder):
    """One binary (UTF-8 JSON bytes) detection message per detection."""

    def build_message(self, model_output: data.ModelOutput) -> List[data.Message]:
        return [
            data.Message(
                content=json.dumps(
                    {
                        "recording": str(model_output.recording.id),
                        "type": detection.prediction_type.value,
                        "species": detection.tags[0].tag.value,
                    }
                ).encode(),
                message_type=data.MessageType.DETECTION,
            )
            for detection in model_output.detections
        ]


def not_too_recent(
    recording: data.Recording, model_outputs: Sequence[data.ModelOutputInfo]
) -> bool:
    """A management condition: every output is at least as new as the recording."""
    return all(info.created_on >= recording.created_on for info in model_outputs)


def heartbeat_serializer(heartbeat: Heartbeat) -> bytes:
    """A compact custom format: device id, then the metric names."""
    names = ",".join(metric.name for metric in heartbeat.metrics)
    return f"{heartbeat.device_id}|{heartbeat.status}|{names}".encode()


class Program08(DetectionProgram[Program08Config]):
    config_schema = Program08Config

    def setup(self, config: Program08Config) -> None:
        super().setup(config)
        # A second, clock-aligned heartbeat (0.8's aligned_schedule).
        self.add_task(
            self.create_heartbeat_task(config),  # type: ignore[arg-type]
            schedule=aligned_schedule(datetime.timedelta(seconds=30), 5),
            name="aligned_heartbeat_task",
        )

    def configure_model(self, config: Program08Config) -> EnergyModel:
        return EnergyModel()

    def configure_recorder(self, config: Program08Config) -> types.AudioRecorder:
        return SyntheticRecorder(
            config.paths.tmp_audio, config.recording.duration, config.loud
        )

    def get_recording_conditions(
        self, config: Program08Config
    ) -> List[types.RecordingCondition]:
        # No daily schedule, so the test does not depend on the time of day.
        return [HasSufficientSpace(config.paths.tmp_audio, config.min_free_mb, "MB")]

    def get_file_managers(
        self, config: Program08Config
    ) -> List[types.RecordingSavingManager]:
        return [
            DateFileManager(
                config.paths.recordings, filename_template=FILENAME_TEMPLATE
            )
        ]

    def get_message_factories(
        self, config: Program08Config
    ) -> List[types.MessageBuilder]:
        return [OneMessagePerDetection()]

    def create_file_management_task(
        self, config: Program08Config
    ) -> Callable[[], None]:
        return generate_file_management_task(
            store=self.store,
            file_managers=self.get_file_managers(config),
            logger=self.logger.getChild("file_management"),
            file_filters=self.get_recording_filters(config),
            management_conditions=[
                ProcessedByRequiredModels([MODEL_NAME]),
                not_too_recent,
            ],
            tmp_path=config.paths.tmp_audio,
        )

    def create_heartbeat_task(
        self, config: Program08Config
    ) -> Optional[Callable[[], None]]:
        assert self.messenger is not None
        return generate_heartbeat_task(
            messengers=[self.messenger],
            metrics=[
                get_free_memory,
                partial(get_remaining_storage, config.paths.tmp_audio),
            ],
            serializer=heartbeat_serializer,
            logger=self.logger.getChild("heartbeat"),
        )
