"""A cut of the stream: frames, their place on the sample clock, and gaps."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Optional, Tuple

import numpy as np
import numpy.typing as npt

from acoupi.audio.sources import Gap

__all__ = ["Clip"]


@dataclass(frozen=True)
class Clip:
    """``n_frames`` consecutive frames of the sample clock.

    A clip always spans exactly the frames asked for. Frames that could not
    be delivered are zeros and listed in :attr:`gaps`, so a clip never passes
    wrong audio off as real: check :attr:`is_complete`.

    Attributes
    ----------
    frames
        int16 samples, shape ``(n_frames, channels)``.
    start_frame
        Absolute index of the first frame.
    samplerate
        Frames per second.
    created_on
        UTC time the first frame was captured (from the sample clock).
    gaps
        Missing frames within the clip, clipped to its range.
    skipped_frames
        Frames between the end of the previous clip cut from the same
        capture and this one: ``0`` means the clips tile time exactly,
        ``None`` means this is the first clip.
    device_name
        Name of the source device.
    device_id
        Stable identifier of the source device, when known.
    """

    frames: npt.NDArray[np.int16]
    start_frame: int
    samplerate: int
    created_on: datetime.datetime
    gaps: Tuple[Gap, ...] = ()
    skipped_frames: Optional[int] = None
    device_name: str = ""
    device_id: Optional[str] = field(default=None)

    @property
    def n_frames(self) -> int:
        """Frames in the clip."""
        return int(self.frames.shape[0])

    @property
    def channels(self) -> int:
        """Samples per frame."""
        return int(self.frames.shape[1])

    @property
    def end_frame(self) -> int:
        """Index just after the last frame."""
        return self.start_frame + self.n_frames

    @property
    def duration(self) -> float:
        """Seconds of audio."""
        return self.n_frames / self.samplerate

    @property
    def lost_frames(self) -> int:
        """Frames reported missing (estimates included)."""
        return sum(gap.n_frames for gap in self.gaps)

    @property
    def is_complete(self) -> bool:
        """Whether every frame is real audio (no gap, not even unknown-length)."""
        return not self.gaps
