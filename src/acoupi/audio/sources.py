"""What every audio source delivers, and to whom.

A source *pushes* blocks of int16 frames, each tagged with its absolute
frame index on the source's sample clock, to a :class:`FrameSink` (the
capture's ring buffer). Pushing, rather than a blocking ``read``, is what
lets the stream stay open and drained between recordings: PortAudio calls
us from its own thread however late a Celery task runs.

Lost frames are never hidden: a source that knows (or estimates) it dropped
frames advances its frame counter by that many and reports a :class:`Gap`,
so later frames keep their true position on the sample clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Optional, Protocol

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["AudioSource", "BlockTiming", "FrameSink", "Gap", "GapReason"]

GapReason = Literal["overflow", "overrun"]
"""``overflow``: the source dropped frames (its input buffer overflowed).
``overrun``: the ring buffer overwrote frames before a clip was cut."""


@dataclass(frozen=True)
class Gap:
    """Frames missing from the audio (delivered as zeros, never as wrong audio).

    Attributes
    ----------
    start_frame
        Absolute index of the first missing frame.
    n_frames
        Number of missing frames. ``0`` with ``estimated=True`` means "a
        discontinuity of unknown length": frames were lost but the source
        could not tell how many.
    reason
        Why they are missing.
    estimated
        Whether ``n_frames`` is an estimate (overflows usually are).
    """

    start_frame: int
    n_frames: int
    reason: GapReason
    estimated: bool = False

    @property
    def end_frame(self) -> int:
        """Index just after the last missing frame."""
        return self.start_frame + self.n_frames


@dataclass(frozen=True)
class BlockTiming:
    """When a block was captured, as well as the source can tell.

    Attributes
    ----------
    callback_time
        Wall-clock time (UTC seconds since the epoch) when the block was
        handed over. Every frame of the block was captured before this.
    latency
        Seconds from the capture of the block's *first* frame to
        ``callback_time``, when the source knows it (PortAudio's ADC
        timestamp); ``None`` otherwise.
    """

    callback_time: float
    latency: Optional[float] = None


class FrameSink(Protocol):
    """Receives blocks from a source (implemented by the capture)."""

    def push(
        self, frames: npt.NDArray[np.int16], start_frame: int, timing: BlockTiming
    ) -> None:
        """Take a block of shape ``(n, channels)`` starting at ``start_frame``.

        Called from the source's thread; must return quickly.
        """
        ...

    def gap(self, gap: Gap) -> None:
        """Record that frames were lost before the next pushed block."""
        ...

    def end(self, error: Optional[BaseException]) -> None:
        """The source stopped: on request (``None``) or because of ``error``."""
        ...


class AudioSource(Protocol):
    """A stream of int16 frames on a sample clock.

    Frame indices start at 0 when the source starts and increase by one
    per frame, including frames reported lost through :meth:`FrameSink.gap`.
    """

    @property
    def samplerate(self) -> int:
        """Frames per second."""
        ...

    @property
    def channels(self) -> int:
        """Samples per frame."""
        ...

    @property
    def name(self) -> str:
        """Human-readable device name (for metadata and messages)."""
        ...

    @property
    def device_id(self) -> Optional[str]:
        """Stable identifier of the device (for example ``usb:16d0:06f3:…``)."""
        ...

    @property
    def overflow_count(self) -> int:
        """Number of blocks flagged as preceded by lost frames."""
        ...

    @property
    def active(self) -> bool:
        """Whether the source is delivering frames."""
        ...

    def start(self, sink: FrameSink) -> None:
        """Start delivering frames to ``sink`` from frame 0."""
        ...

    def stop(self) -> None:
        """Stop delivering frames and release the device."""
        ...
