"""Real WAV files and recordings for component and task tests."""

import datetime
import wave
from pathlib import Path
from typing import Optional
from uuid import UUID, uuid4

import numpy as np

from acoupi import data
from acoupi.components.recording_files import recording_filename

UTC = datetime.timezone.utc


def write_wav(
    path: Path,
    seconds: float = 0.1,
    samplerate: int = 8000,
    frequency: float = 1000.0,
    channels: int = 1,
) -> Path:
    """Write a sine tone as a 16-bit PCM WAV file; return its path."""
    t = np.arange(int(seconds * samplerate)) / samplerate
    tone = (0.3 * 32767 * np.sin(2 * np.pi * frequency * t)).astype("<i2")
    frames = np.repeat(tone[:, None], channels, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(samplerate)
        handle.writeframes(frames.tobytes())
    return path


def make_deployment(**kwargs) -> data.Deployment:
    kwargs.setdefault("name", "test deployment")
    kwargs.setdefault("started_on", datetime.datetime(2024, 1, 1, tzinfo=UTC))
    return data.Deployment(**kwargs)


def make_recording(
    created_on: datetime.datetime,
    deployment: Optional[data.Deployment] = None,
    path: Optional[Path] = None,
    id: Optional[UUID] = None,
) -> data.Recording:
    """A recording at ``created_on`` (no file unless ``path`` is given)."""
    return data.Recording(
        id=id or uuid4(),
        created_on=created_on,
        duration=0.1,
        samplerate=8000,
        deployment=deployment or make_deployment(),
        path=path,
    )


def record_wav(
    directory: Path,
    created_on: datetime.datetime,
    deployment: Optional[data.Deployment] = None,
    frequency: float = 1000.0,
) -> data.Recording:
    """A recording with a real WAV file named as the recorder names them."""
    recording = make_recording(created_on, deployment)
    path = directory / recording_filename(created_on, recording.id)
    write_wav(path, frequency=frequency)
    recording.path = path
    return recording
