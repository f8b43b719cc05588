"""A detection program with a fake recorder and a deliberately slow model.

No microphone here: the recorder writes a short tone instantly; the model
sleeps ``model_delay`` seconds per recording, then answers like TestModel.
"""

import datetime
import errno
import time
import wave
from pathlib import Path
from typing import List

from acoupi import data
from acoupi.components import types
from acoupi.components.message_factories import FullModelOutputMessageBuilder
from acoupi.components.model_template import TestModel
from acoupi.components.recording_files import recording_filename
from acoupi.programs.templates import (
    DetectionProgram,
    DetectionProgramConfiguration,
)


class SlowConfig(DetectionProgramConfiguration):
    model_delay: float = 0.0
    record_error: str = ""
    """If set, every recording fails as an unplugged microphone does."""


class FakeRecorder(types.AudioRecorder):
    def __init__(
        self, audio_dir: Path, samplerate: int = 8000, error: str = ""
    ) -> None:
        self.audio_dir = audio_dir
        self.samplerate = samplerate
        self.error = error

    def record(self, deployment: data.Deployment) -> data.Recording:
        if self.error:
            raise OSError(errno.ENODEV, self.error, "/dev/snd/pcmC1D0c")
        now = datetime.datetime.now(datetime.timezone.utc)
        recording = data.Recording(
            created_on=now,
            duration=0.1,
            samplerate=self.samplerate,
            deployment=deployment,
        )
        path = self.audio_dir / recording_filename(now, recording.id)
        with wave.open(str(path), "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(self.samplerate)
            handle.writeframes(b"\x00\x01" * 800)
        recording.path = path
        return recording


class SlowModel(TestModel):
    def __init__(self, delay: float) -> None:
        self.delay = delay

    def run(self, recording: data.Recording) -> data.ModelOutput:
        time.sleep(self.delay)
        return super().run(recording)


class SlowDetectionProgram(DetectionProgram[SlowConfig]):
    config_schema = SlowConfig

    def configure_model(self, config: SlowConfig) -> types.Model:
        return SlowModel(config.model_delay)

    def configure_recorder(self, config: SlowConfig) -> types.AudioRecorder:
        return FakeRecorder(config.paths.tmp_audio, error=config.record_error)

    def get_recording_conditions(self, config: SlowConfig) -> List:
        return []  # record at any time of day

    def get_message_factories(self, config: SlowConfig) -> List:
        return [FullModelOutputMessageBuilder()]
