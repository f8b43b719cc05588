"""A BatDetect2-style program, as a third-party plugin would write it.

It uses only public acoupi 0.3 names. The model is a tiny energy detector
so the test needs no ML download; the recorder writes a synthetic WAV
because there is no microphone here.
"""

import datetime
import wave
from pathlib import Path
from typing import List

import numpy as np
from pydantic import BaseModel, Field

from acoupi import components, data, tasks
from acoupi.components import types
from acoupi.programs.templates import (
    AudioConfiguration,
    DetectionProgram,
    DetectionProgramConfiguration,
)


class BatAudioConfig(AudioConfiguration):
    duration: int = 1
    interval: int = 5


class ModelConfig(BaseModel):
    detection_threshold: float = 0.4


class SavingConfig(BaseModel):
    true_dir: Path = Field(default_factory=lambda: Path.home() / "bats" / "true")
    false_dir: Path = Field(default_factory=lambda: Path.home() / "bats" / "false")
    saving_threshold: float = 0.3


class PluginConfig(DetectionProgramConfiguration):
    recording: BatAudioConfig = Field(default_factory=BatAudioConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    saving: SavingConfig = Field(default_factory=SavingConfig)
    loud: bool = True
    """Whether the synthetic recorder makes a call (detectable) or silence."""


class EnergyModel(types.Model):
    """Detects a loud 40 kHz call; silence gives no detection."""

    name = "EnergyModel"

    def run(self, recording: data.Recording) -> data.ModelOutput:
        assert recording.path is not None
        with wave.open(str(recording.path)) as wav:
            samples = np.frombuffer(wav.readframes(wav.getnframes()), np.int16)
        rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) / 32768
        detections = []
        if rms > 0.05:
            detections.append(
                data.Detection(
                    detection_score=0.9,
                    location=data.BoundingBox.from_coordinates(0.1, 35000, 0.4, 45000),
                    tags=[
                        data.PredictedTag(
                            tag=data.Tag(
                                key="species", value="Pipistrellus pipistrellus"
                            ),
                            confidence_score=0.85,
                        )
                    ],
                )
            )
        return data.ModelOutput(
            name_model=self.name, recording=recording, detections=detections
        )


class SyntheticRecorder(types.AudioRecorder):
    """Writes a WAV with (or without) a 40 kHz tone: there is no microphone."""

    def __init__(self, audio_dir: Path, duration: float, loud: bool):
        self.audio_dir = audio_dir
        self.duration = duration
        self.loud = loud
        self.samplerate = 192_000

    def record(self, deployment: data.Deployment) -> data.Recording:
        now = datetime.datetime.now(datetime.timezone.utc)
        path = self.audio_dir / f"{now:%Y%m%d_%H%M%S_%f}.wav"
        t = np.arange(int(self.samplerate * self.duration)) / self.samplerate
        amplitude = 0.5 if self.loud else 0.0
        signal = (amplitude * np.sin(2 * np.pi * 40_000 * t) * 32767).astype(np.int16)
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(self.samplerate)
            wav.writeframes(signal.tobytes())
        return data.Recording(
            path=path,
            created_on=now,
            duration=self.duration,
            samplerate=self.samplerate,
            deployment=deployment,
        )


class PluginProgram(DetectionProgram[PluginConfig]):
    config_schema = PluginConfig

    def setup(self, config: PluginConfig) -> None:
        super().setup(config)
        summary_task = tasks.generate_summariser_task(
            summarisers=[
                components.StatisticsDetectionsSummariser(
                    store=self.store,  # type: ignore[arg-type]
                    interval=3600,
                )
            ],
            message_store=self.message_store,
            logger=self.logger.getChild("summary"),
        )
        self.add_task(summary_task, schedule=datetime.timedelta(minutes=60))

    def configure_model(self, config: PluginConfig) -> EnergyModel:
        return EnergyModel()

    def configure_recorder(self, config: PluginConfig) -> types.AudioRecorder:
        return SyntheticRecorder(
            config.paths.tmp_audio, config.recording.duration, config.loud
        )

    def get_file_managers(
        self, config: PluginConfig
    ) -> List[types.RecordingSavingManager]:
        return [
            components.SaveRecordingManager(
                dirpath=config.paths.recordings,
                dirpath_true=config.saving.true_dir,
                dirpath_false=config.saving.false_dir,
                timeformat="%Y%m%d_%H%M%S_%f",
                detection_threshold=config.model.detection_threshold,
                saving_threshold=config.saving.saving_threshold,
            )
        ]

    def get_message_factories(self, config: PluginConfig) -> List[types.MessageBuilder]:
        return [
            components.DetectionThresholdMessageBuilder(
                detection_threshold=config.model.detection_threshold
            )
        ]

    def get_recording_filters(
        self, config: PluginConfig
    ) -> List[types.RecordingSavingFilter]:
        return [components.SavingThreshold(config.saving.saving_threshold)]
