"""What every audio recorder shares: settings, time expansion, saving.

A backend (:mod:`.pyaudio_recorder`, :mod:`.pipewire_recorder`) only
captures a :class:`~acoupi.audio.clip.Clip`; this base names it, writes it
atomically with its GUANO chunk and returns the ``Recording``.
"""

import logging
from abc import abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from acoupi import data
from acoupi.components.recording_files import FILENAME_TEMPLATE
from acoupi.components.types import AudioRecorder

if TYPE_CHECKING:
    from acoupi.audio.clip import Clip

__all__ = [
    "SIMULATED_DEVICE",
    "TMP_PATH",
    "BaseAudioRecorder",
    "is_simulated",
]

TMP_PATH = Path("/run/shm/")
"""Default folder of temporary recordings (in memory on Raspberry Pi OS)."""

SIMULATED_DEVICE = "simulated"
"""Device name that selects the simulated microphone (a synthetic soundscape)."""


def is_simulated(device_name: str) -> bool:
    """Return True when ``device_name`` selects the simulated microphone."""
    return device_name.strip().lower() == SIMULATED_DEVICE


class BaseAudioRecorder(AudioRecorder):
    """A recorder that captures clips and files them as WAV + GUANO.

    Parameters
    ----------
    duration
        Seconds per recording.
    samplerate
        Samples per second the microphone records at.
    audio_channels
        Number of channels.
    device_name
        Input device, as the backend names it.
    audio_dir
        Folder of the temporary recordings (created if missing).
    time_expansion
        How many times slower the files play than the sound happened, as
        bat detectors that record 10x slowed write them: the WAV header
        rate is ``samplerate / time_expansion`` and GUANO ``TE`` the factor.
        The samples are not changed.
    logger
        Optional logger.
    filename_template
        Name of the files: ``str.format`` with ``{time:<strftime>}`` (UTC)
        and ``{id}``.

    Raises
    ------
    ValueError
        When ``time_expansion`` is not greater than zero.
    """

    def __init__(
        self,
        duration: float,
        samplerate: int,
        audio_channels: int,
        device_name: str,
        audio_dir: Path = TMP_PATH,
        time_expansion: float = 1,
        logger: Optional[logging.Logger] = None,
        filename_template: str = FILENAME_TEMPLATE,
    ):
        if time_expansion <= 0:
            raise ValueError(
                f"time_expansion must be greater than 0, not {time_expansion}"
            )
        self.duration = duration
        self.samplerate = samplerate
        self.audio_channels = audio_channels
        self.device_name = device_name
        self.audio_dir = Path(audio_dir)
        self.time_expansion = time_expansion
        self.logger = logger or logging.getLogger(__name__)
        self.filename_template = filename_template

    @abstractmethod
    def capture(self, duration: float) -> "Clip":
        """Capture ``duration`` seconds from the device."""

    def record(self, deployment: data.Deployment) -> data.Recording:
        """Record ``duration`` seconds and return the temporary recording."""
        from acoupi.audio.files import save_clip

        clip = self.capture(self.duration)
        recording = data.Recording(
            created_on=clip.created_on,
            duration=clip.duration,
            samplerate=clip.samplerate,
            audio_channels=clip.channels,
            chunksize=getattr(self, "chunksize", None),
            deployment=deployment,
            time_expansion=self.time_expansion,
        )
        recording.path = save_clip(
            clip,
            self.audio_dir,
            template=self.filename_template,
            deployment=deployment,
            fields={"id": recording.id},
            time_expansion=self.time_expansion,
        )
        return recording

    def get_expanded_samplerate(self) -> int:
        """Return the WAV header rate after time expansion."""
        from acoupi.audio.files import expanded_samplerate

        return expanded_samplerate(self.samplerate, self.time_expansion)

    def generate_recording(self, path: Path, duration: Optional[float] = None) -> None:
        """Record ``duration`` seconds (default: ``self.duration``) to ``path``.

        The file gets the time-expanded header rate, like :meth:`record`.
        """
        from acoupi.audio.wav import write_wav

        clip = self.capture(duration or self.duration)
        write_wav(path, clip.frames, self.get_expanded_samplerate(), overwrite=True)
