"""Record through PipeWire's ``pw-record`` (``PWRecorder``, acoupi 0.8).

``pw-record`` writes each recording into a temporary WAV; its samples are
then filed like every other recorder's (atomic write, GUANO chunk, time
expansion, file name template), so both backends give the same files.
"""

import datetime
import logging
import shutil
import signal
import subprocess
import tempfile
import time
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from pydantic import BaseModel, Field

from acoupi.components.audio_recorder.base import TMP_PATH, BaseAudioRecorder
from acoupi.components.recording_files import FILENAME_TEMPLATE
from acoupi.system.exceptions import (
    DeviceUnavailableError,
    HealthCheckError,
    RecordingError,
)

if TYPE_CHECKING:
    from acoupi.audio.clip import Clip

__all__ = ["PWRecorder", "PWRecorderConfig", "record_audio"]

PW_RECORD = "pw-record"
"""PipeWire's recording command."""

START_GRACE = 5.0
"""Seconds ``pw-record`` may take beyond the recording to connect and finish."""

WAV_HEADER_BYTES = 44
"""Size of the header ``pw-record`` writes before the samples."""


def record_audio(
    path: Path,
    samplerate: int,
    audio_channels: int,
    device_name: str,
    duration: float,
) -> None:
    """Record ``duration`` seconds of 16-bit audio to ``path`` with ``pw-record``.

    Parameters
    ----------
    path
        WAV file to write (its folder is created if missing).
    samplerate, audio_channels
        Format asked of PipeWire (it converts if the device differs).
    device_name
        PipeWire node name or serial (``pw-record --target``); ``"default"``
        records from the default source.
    duration
        Seconds to record.

    Raises
    ------
    DeviceUnavailableError
        When ``pw-record`` is not installed.
    RecordingError
        When it fails, hangs, or writes no audio.
    """
    executable = shutil.which(PW_RECORD)
    if executable is None:
        raise DeviceUnavailableError(
            f"The {PW_RECORD} command was not found.",
            help="Install PipeWire's tools (`sudo apt install pipewire-bin`) "
            "or record through PortAudio (PARecorder).",
        )
    samples = round(duration * samplerate)
    command = [
        executable,
        f"--rate={samplerate}",
        f"--channels={audio_channels}",
        "--format=s16",
    ]
    if device_name and device_name != "default":
        command.append(f"--target={device_name}")
    command.append(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    # pw-record before 1.0 has no --sample-count: stop it with SIGINT (it
    # then finishes the WAV header) once the file holds enough frames.
    wanted_bytes = WAV_HEADER_BYTES + samples * audio_channels * 2
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + duration + START_GRACE
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if path.exists() and path.stat().st_size >= wanted_bytes:
                break
            time.sleep(min(0.05, duration / 10))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            _, stderr = process.communicate(timeout=START_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
    size = path.stat().st_size if path.exists() else 0
    if size < wanted_bytes:
        detail = (stderr or "").strip().splitlines()
        raise RecordingError(
            f"PipeWire recorded {max(0, size - WAV_HEADER_BYTES)} of "
            f"{wanted_bytes - WAV_HEADER_BYTES} bytes from {device_name!r}"
            + (f": {detail[-1]}" if detail else "."),
            help="Check that PipeWire and its session manager run "
            "(`pw-cli info 0`), and the device name, sample rate and "
            "channels (`pw-cli ls Node`).",
        )


def _read_clip(
    path: Path, samplerate: int, n_frames: int, created_on: datetime.datetime
) -> "Clip":
    import numpy as np

    from acoupi.audio.clip import Clip

    with wave.open(str(path), "rb") as wav:
        channels = wav.getnchannels()
        if wav.getsampwidth() != 2:
            raise RecordingError(
                f"{PW_RECORD} wrote {8 * wav.getsampwidth()}-bit samples, not 16.",
                help="Update PipeWire; acoupi asks for --format=s16.",
            )
        # The header's frame count may be stale; read what is there.
        frames = np.frombuffer(wav.readframes(n_frames), dtype="<i2")
    return Clip(
        frames=frames.reshape(-1, channels)[:n_frames].copy(),
        start_frame=0,
        samplerate=samplerate,
        created_on=created_on,
        device_name=PW_RECORD,
    )


class PWRecorder(BaseAudioRecorder):
    """Record from a PipeWire source with ``pw-record``.

    Parameters are those of :class:`BaseAudioRecorder`; ``device_name`` is
    a PipeWire node name (``pw-cli ls Node``) or ``"default"``.
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
        super().__init__(
            duration=duration,
            samplerate=samplerate,
            audio_channels=audio_channels,
            device_name=device_name,
            audio_dir=audio_dir,
            time_expansion=time_expansion,
            logger=logger,
            filename_template=filename_template,
        )

    def capture(self, duration: float) -> "Clip":
        """Record ``duration`` seconds through ``pw-record``."""
        created_on = datetime.datetime.now(datetime.timezone.utc)
        with tempfile.TemporaryDirectory(prefix=".pw-", dir=self._scratch()) as tmp:
            path = Path(tmp) / "capture.wav"
            record_audio(
                path,
                self.samplerate,
                self.audio_channels,
                self.device_name,
                duration,
            )
            n_frames = round(duration * self.samplerate)
            return _read_clip(path, self.samplerate, n_frames, created_on)

    def _scratch(self) -> Path:
        self.audio_dir.mkdir(parents=True, exist_ok=True)
        return self.audio_dir

    def check(self) -> None:
        """Record a short clip to prove the device and format work.

        Raises
        ------
        HealthCheckError
            When ``pw-record`` is missing or the recording fails.
        """
        try:
            self.capture(0.2)
        except (DeviceUnavailableError, RecordingError) as error:
            raise HealthCheckError(error.message, help=error.help) from error


class PWRecorderConfig(BaseModel):
    """Which PipeWire source to record from, and how."""

    device_name: str = "default"
    samplerate: int = 48_000
    audio_channels: int = 1
    time_expansion: float = Field(default=1, gt=0)
