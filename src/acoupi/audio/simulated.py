"""A real-time paced source rendering a soundscape (tests, demos, no mic).

Frames come from ``soundscape.render(start_frame, n_frames)``, a pure
function of the frame index, so the audio does not depend on how it is
chunked. Pacing uses the monotonic clock; ``speed > 1`` runs faster than
real time (tests). Timestamps are *virtual*: frame ``i`` was "captured" at
``start_time + i / samplerate``, so the capture's sample clock is exact.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional, Protocol

import numpy as np
import numpy.typing as npt

from acoupi.audio.sources import BlockTiming, FrameSink, Gap
from acoupi.system.exceptions import ParameterError

__all__ = ["CounterSoundscape", "SimulatedSource", "SoundscapeLike"]


class SoundscapeLike(Protocol):
    """What :class:`SimulatedSource` needs (``acoupi.audio.soundscape.Soundscape``)."""

    samplerate: int
    channels: int

    def render(self, start_frame: int, n_frames: int) -> npt.NDArray[np.int16]:
        """Return int16 frames of shape ``(n_frames, channels)``."""
        ...


class CounterSoundscape:
    """Each sample is its frame index (wrapping at 16 bits), plus the channel.

    Continuity is checkable sample by sample: consecutive frames differ by
    exactly 1 (mod 65536), so any dropped or repeated frame shows.

    Parameters
    ----------
    samplerate
        Frames per second.
    channels
        Samples per frame.
    """

    def __init__(self, samplerate: int, channels: int = 1):
        self.samplerate = samplerate
        self.channels = channels

    def render(self, start_frame: int, n_frames: int) -> npt.NDArray[np.int16]:
        """Return frames ``start_frame`` .. ``start_frame + n_frames``."""
        index = np.arange(start_frame, start_frame + n_frames, dtype=np.int64)
        values = index[:, None] + np.arange(self.channels, dtype=np.int64)[None, :]
        return ((values % 65536) - 32768).astype(np.int16)


class SimulatedSource:
    """Deliver a soundscape in real time (or ``speed`` times faster).

    Parameters
    ----------
    samplerate
        Frames per second.
    channels
        Samples per frame.
    soundscape
        Object with ``render(start_frame, n_frames)``; must have the same
        samplerate and channels. Default: :class:`CounterSoundscape`.
    speed
        Pacing factor (``> 0``): 10 delivers 10 s of audio per second.
    blocksize
        Frames per delivered block.
    name
        Device name reported in clip metadata.
    wall_clock
        Returns epoch seconds; the virtual time of frame 0 is its value at
        :meth:`start`.
    """

    def __init__(
        self,
        samplerate: int,
        channels: int = 1,
        soundscape: Optional[SoundscapeLike] = None,
        speed: float = 1.0,
        blocksize: int = 1024,
        name: str = "Simulated microphone",
        wall_clock: Callable[[], float] = time.time,
    ):
        if speed <= 0:
            raise ParameterError("speed", "The simulation speed must be positive.")
        if soundscape is not None and (
            soundscape.samplerate != samplerate or soundscape.channels != channels
        ):
            raise ParameterError(
                "soundscape",
                f"The soundscape renders {soundscape.channels} channel(s) at "
                f"{soundscape.samplerate} Hz, not {channels} at {samplerate} Hz.",
            )
        self._samplerate = samplerate
        self._channels = channels
        self.soundscape = soundscape or CounterSoundscape(samplerate, channels)
        self.speed = speed
        self.blocksize = blocksize
        self._name = name
        self._wall_clock = wall_clock
        self._thread: Optional[threading.Thread] = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._pending_loss = 0
        self._pending_error: Optional[BaseException] = None
        self._stalled = False
        self._overflows = 0
        self.start_time = 0.0

    @property
    def samplerate(self) -> int:
        """Frames per second."""
        return self._samplerate

    @property
    def channels(self) -> int:
        """Samples per frame."""
        return self._channels

    @property
    def name(self) -> str:
        """Device name."""
        return self._name

    @property
    def device_id(self) -> Optional[str]:
        """Stable identifier: ``sim:<name>``."""
        return f"sim:{self._name}"

    @property
    def overflow_count(self) -> int:
        """Overflows injected so far."""
        return self._overflows

    @property
    def active(self) -> bool:
        """Whether the pacing thread runs."""
        return self._thread is not None and self._thread.is_alive()

    # -- fault injection (tests) ------------------------------------------

    def inject_overflow(self, n_frames: int) -> None:
        """Drop the next ``n_frames`` frames and report them as an overflow."""
        with self._lock:
            self._pending_loss += n_frames

    def inject_error(self, error: BaseException) -> None:
        """Make the stream fail with ``error`` (like an unplugged device)."""
        with self._lock:
            self._pending_error = error

    def stall(self, stalled: bool = True) -> None:
        """Stop (or resume) delivering without ending the stream."""
        self._stalled = stalled

    # -- lifecycle ---------------------------------------------------------

    def start(self, sink: FrameSink) -> None:
        """Start delivering from frame 0 in a background thread."""
        self.stop()
        self._stopping.clear()
        self.start_time = self._wall_clock()
        self._thread = threading.Thread(
            target=self._run,
            args=(sink, time.monotonic()),
            name=f"acoupi-sim-{self._name}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the pacing thread."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        if thread is not threading.current_thread():
            thread.join()
        self._thread = None

    def _run(self, sink: FrameSink, started: float) -> None:
        rate = self._samplerate
        next_frame = 0
        delivered_clock = 0  # frames of virtual time elapsed (incl. losses)
        period = self.blocksize / rate / self.speed
        while not self._stopping.is_set():
            with self._lock:
                error, self._pending_error = self._pending_error, None
                loss, self._pending_loss = self._pending_loss, 0
            if error is not None:
                sink.end(error)
                return
            due = int((time.monotonic() - started) * self.speed * rate)
            if self._stalled or due - delivered_clock < self.blocksize:
                self._stopping.wait(min(period, 0.05))
                continue
            if loss:
                self._overflows += 1
                sink.gap(Gap(next_frame, loss, "overflow", estimated=False))
                next_frame += loss
                delivered_clock += loss
            n = self.blocksize
            frames = self.soundscape.render(next_frame, n)
            end_time = self.start_time + (next_frame + n) / rate
            sink.push(frames, next_frame, BlockTiming(end_time, latency=n / rate))
            next_frame += n
            delivered_clock += n
        sink.end(None)
