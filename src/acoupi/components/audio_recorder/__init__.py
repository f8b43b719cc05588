"""Audio recorders (acoupi 0.8's package layout).

- :mod:`.base`: what every recorder shares (time expansion, saving).
- :mod:`.pyaudio_recorder`: ``PARecorder`` through PortAudio (acoupi 0.3's
  ``PyAudioRecorder``), also the simulated microphone.
- :mod:`.pipewire_recorder`: ``PWRecorder`` through PipeWire's
  ``pw-record``.

No audio library is imported with this package.
"""

from acoupi.components.audio_recorder.base import (
    SIMULATED_DEVICE,
    TMP_PATH,
    BaseAudioRecorder,
    is_simulated,
)
from acoupi.components.audio_recorder.pipewire_recorder import (
    PWRecorder,
    PWRecorderConfig,
)
from acoupi.components.audio_recorder.pyaudio_recorder import (
    MicrophoneConfig,
    PARecorder,
    PARecorderConfig,
    PyAudioRecorder,
    parse_microphone_config,
)
from acoupi.components.recording_files import FILENAME_TEMPLATE

__all__ = [
    "FILENAME_TEMPLATE",
    "SIMULATED_DEVICE",
    "TMP_PATH",
    "BaseAudioRecorder",
    "MicrophoneConfig",
    "PARecorder",
    "PARecorderConfig",
    "PWRecorder",
    "PWRecorderConfig",
    "PyAudioRecorder",
    "is_simulated",
    "parse_microphone_config",
]
