"""What every audio recorder shares: settings, time expansion, saving.

A backend (:mod:`.pyaudio_recorder`, :mod:`.pipewire_recorder`) only
captures a :class:`~acoupi.audio.clip.Clip`; this base names it, writes it
atomically with its GUANO chunk and returns the ``Recording``.
"""

import logging
import os
import struct
import wave
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Iterator, Optional

from acoupi import data
from acoupi.components.recording_files import FILENAME_TEMPLATE
from acoupi.components.types import AudioRecorder

if TYPE_CHECKING:
    from acoupi.audio.clip import Clip

__all__ = [
    "SIMULATED_DEVICE",
    "TMP_PATH",
    "BaseAudioRecorder",
    "MediaInfo",
    "get_media_info",
    "is_simulated",
    "iter_riff_chunks",
    "patch_samplerate",
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


@dataclass
class MediaInfo:
    """What a WAV file's header says about its audio."""

    duration: float
    """Seconds, at the header's sample rate."""

    samplerate: int
    """Frames per second in the header (after any time expansion)."""

    audio_channels: int
    frames: int


def get_media_info(path: Path) -> MediaInfo:
    """Return the duration, rate, channels and frames of the WAV at ``path``."""
    with wave.open(str(path), "rb") as wav:
        frames = wav.getnframes()
        rate = wav.getframerate()
        return MediaInfo(
            duration=frames / rate,
            samplerate=rate,
            audio_channels=wav.getnchannels(),
            frames=frames,
        )


def iter_riff_chunks(fp: BinaryIO) -> Iterator[bytes]:
    """Yield the id of each chunk of an open RIFF file, from the first one.

    After each id, ``fp`` is positioned at the start of that chunk's data.
    """
    position = 12  # after "RIFF", the size and "WAVE"
    while True:
        fp.seek(position)
        header = fp.read(8)
        if len(header) < 8:
            return
        chunk_id, size = struct.unpack("<4sI", header)
        yield chunk_id
        position += 8 + size + (size & 1)  # chunks are padded to even sizes


def patch_samplerate(filepath: Path, new_sample_rate: int) -> None:
    """Rewrite the sample rate (and byte rate) in a WAV header, in place.

    acoupi's recorders write the time-expanded rate directly; this is for
    files made by other tools.

    Raises
    ------
    ValueError
        When the file is not a RIFF/WAVE file or has no ``fmt`` chunk.
    """
    with open(filepath, "r+b") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
            raise ValueError(f"{filepath} is not a WAV (RIFF/WAVE) file.")
        for chunk_id in iter_riff_chunks(handle):
            if chunk_id == b"fmt ":
                break
        else:
            raise ValueError(f"{filepath} has no 'fmt ' chunk.")
        start = handle.tell()
        # fmt: format(2) channels(2) rate(4) byte rate(4) block align(2)
        fmt = handle.read(14)
        if len(fmt) < 14:
            raise ValueError(f"{filepath} has a truncated 'fmt ' chunk.")
        block_align = struct.unpack_from("<H", fmt, 12)[0]
        handle.seek(start + 4)
        handle.write(struct.pack("<II", new_sample_rate, new_sample_rate * block_align))
        handle.flush()
        os.fsync(handle.fileno())
