"""Names and contents of recording files.

Temporary recordings are named ``<YYYYmmdd_HHMMSS>_<recording id>.wav``: the
time for people, the id so that the file management task can always match
a stray file back to its stored recording (crash recovery), even when the
stored path has already been changed.
"""

import datetime
import os
import wave
from pathlib import Path
from typing import Optional, Union
from uuid import UUID

__all__ = [
    "recording_filename",
    "recording_id_from_path",
    "write_wav",
]


def recording_filename(created_on: datetime.datetime, recording_id: UUID) -> str:
    """Return the temporary file name of a recording."""
    return f"{created_on.strftime('%Y%m%d_%H%M%S')}_{recording_id}.wav"


def recording_id_from_path(path: Union[str, Path]) -> Optional[UUID]:
    """Return the recording id in a file name, or None if it has none.

    Accepts ``<id>.wav`` and ``<anything>_<id>.wav``.
    """
    candidate = Path(path).stem.rsplit("_", 1)[-1]
    try:
        return UUID(candidate)
    except ValueError:
        return None


def write_wav(
    path: Path,
    frames: bytes,
    samplerate: int,
    audio_channels: int,
    sample_width: int = 2,
) -> None:
    """Write raw PCM ``frames`` to a WAV file, appearing complete or not at all.

    The file is written under a hidden name and renamed into place, so a
    reader globbing ``*.wav`` never sees a half-written recording.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with wave.open(str(partial), "wb") as handle:
            handle.setnchannels(audio_channels)
            handle.setsampwidth(sample_width)
            handle.setframerate(samplerate)
            handle.writeframes(frames)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
