"""A fixed-size ring of int16 frames addressed by absolute frame index.

Not thread-safe by itself: :class:`~acoupi.audio.capture.ContinuousCapture`
serialises writes and bookkeeping with its lock, and copies clips out
without holding it (then checks nothing was overwritten meanwhile).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["FrameRing"]


class FrameRing:
    """The most recent ``capacity`` frames of a stream.

    Frame ``i`` lives in slot ``i % capacity``. Frames from :attr:`start`
    (inclusive) to :attr:`end` (exclusive) are held.

    Parameters
    ----------
    capacity
        Frames held.
    channels
        Samples per frame.
    """

    def __init__(self, capacity: int, channels: int):
        if capacity < 1:
            raise ValueError("The ring buffer needs room for at least one frame.")
        self.channels = channels
        self._data: npt.NDArray[np.int16] = np.zeros((capacity, channels), np.int16)
        self._origin = 0
        self.end = 0

    @property
    def capacity(self) -> int:
        """Frames held."""
        return int(self._data.shape[0])

    @property
    def start(self) -> int:
        """Index of the oldest frame still held."""
        return max(self._origin, self.end - self.capacity)

    def reset(self, origin: int) -> None:
        """Forget everything; the next frame written is ``origin``."""
        self._origin = origin
        self.end = origin

    def write(self, frames: npt.NDArray[np.int16], start_frame: int) -> None:
        """Store ``frames`` starting at ``start_frame``.

        Frames skipped between :attr:`end` and ``start_frame`` are zeroed
        (the caller reports them as a gap).

        Raises
        ------
        ValueError
            When ``start_frame`` is before :attr:`end` (would duplicate audio).
        """
        if start_frame < self.end:
            raise ValueError(
                f"Frame {start_frame} was already written (ring ends at {self.end})."
            )
        if start_frame > self.end:
            skipped = min(start_frame - self.end, self.capacity)
            self._put(
                np.zeros((skipped, self.channels), np.int16), start_frame - skipped
            )
        self._put(frames, start_frame)
        self.end = start_frame + len(frames)

    def _put(self, frames: npt.NDArray[np.int16], start_frame: int) -> None:
        capacity = self.capacity
        if len(frames) > capacity:
            start_frame += len(frames) - capacity
            frames = frames[-capacity:]
        first = start_frame % capacity
        split = min(len(frames), capacity - first)
        self._data[first : first + split] = frames[:split]
        self._data[: len(frames) - split] = frames[split:]

    def read(self, out: npt.NDArray[np.int16], start_frame: int) -> None:
        """Copy frames ``start_frame`` .. ``start_frame + len(out)`` into ``out``.

        The caller checks they are held (``start <= start_frame`` and
        ``start_frame + len(out) <= end``).
        """
        capacity = self.capacity
        first = start_frame % capacity
        split = min(len(out), capacity - first)
        out[:split] = self._data[first : first + split]
        out[split:] = self._data[: len(out) - split]

    def grow(self, capacity: int) -> None:
        """Enlarge the ring to ``capacity`` frames, keeping what it holds."""
        if capacity <= self.capacity:
            return
        held = np.empty((self.end - self.start, self.channels), np.int16)
        self.read(held, self.start)
        start = self.start
        self._data = np.zeros((capacity, self.channels), np.int16)
        self._origin = start
        self._put(held, start)
