"""Recordings as browsers can play them: ultrasonic ones slowed down.

Bat calls (20-120 kHz) are inaudible at their own speed. Time expansion
plays the same samples at a lower sample rate: slowed ``factor`` times,
every frequency is divided by ``factor`` (a 50 kHz call sounds at 5 kHz).
Only the header's rates change, so the file stays exact.
"""

import io
import wave
from pathlib import Path

__all__ = ["time_expanded_wav"]


def time_expanded_wav(path: Path, factor: float) -> bytes:
    """Return the WAV at ``path`` with its sample rate divided by ``factor``.

    Raises
    ------
    wave.Error
        If the file is not a readable PCM WAV.
    """
    with wave.open(str(path), "rb") as source:
        params = source.getparams()
        frames = source.readframes(params.nframes)
    out = io.BytesIO()
    with wave.open(out, "wb") as target:
        target.setnchannels(params.nchannels)
        target.setsampwidth(params.sampwidth)
        target.setframerate(max(1, round(params.framerate / factor)))
        target.writeframes(frames)
    return out.getvalue()
