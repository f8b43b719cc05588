"""Gap-free continuous capture: one open stream, clips cut at exact frames.

The input stream stays open across recordings and fills a ring buffer
indexed by absolute frame number. Recordings are *cut* from it:

- :meth:`ContinuousCapture.next_clip` returns the frames right after the
  previous clip, so consecutive clips tile time with no missing and no
  duplicated sample (continuous recording);
- :meth:`ContinuousCapture.clip_from_now` starts at the newest frame
  (duty-cycled schedules).

Every clip's ``created_on`` comes from the sample clock
(:class:`~acoupi.audio.clock.SampleClock`), and frames that were lost — by
the source (overflow) or because the consumer was too slow (ring overrun)
— are reported as gaps, never replaced by other audio.

Threading: the source pushes from its own thread (PortAudio's callback);
clips are cut from any other thread (a Celery worker). A lock guards the
ring's bookkeeping; clip data is copied outside it, then checked.
"""

from __future__ import annotations

import math
import threading
import time
from typing import List, Optional

import numpy as np
import numpy.typing as npt

from acoupi.audio.clip import Clip
from acoupi.audio.clock import SampleClock
from acoupi.audio.ringbuffer import FrameRing
from acoupi.audio.sources import AudioSource, BlockTiming, Gap
from acoupi.system.exceptions import HealthCheckError

__all__ = ["CaptureError", "CaptureTimeoutError", "ContinuousCapture"]

DEFAULT_SETTLE_SECONDS = 0.5
"""Audio used to estimate the sample clock's anchor before it is frozen."""

TIMEOUT_SLACK = 10.0
"""Seconds allowed on top of the audio still to come (stream start-up)."""

MAX_GAP_HISTORY = 10_000
"""Gaps remembered (older ones are dropped with the audio they concern)."""


class CaptureError(HealthCheckError):
    """The audio stream stopped or failed; clips can no longer be cut."""


class CaptureTimeoutError(CaptureError):
    """The frames of a clip did not arrive in time (stalled stream)."""


class _Sink:
    """The capture's face towards its source (keeps these methods private)."""

    def __init__(self, capture: ContinuousCapture):
        self._capture = capture

    def push(
        self, frames: npt.NDArray[np.int16], start_frame: int, timing: BlockTiming
    ) -> None:
        self._capture._push(frames, start_frame, timing)

    def gap(self, gap: Gap) -> None:
        self._capture._gap(gap)

    def end(self, error: Optional[BaseException]) -> None:
        self._capture._end(error)


class ContinuousCapture:
    """Keep a source running and cut clips from it at exact frame boundaries.

    Parameters
    ----------
    source
        Where the frames come from (:class:`~acoupi.audio.portaudio.PortAudioSource`
        or :class:`~acoupi.audio.simulated.SimulatedSource`).
    buffer_seconds
        Audio held in memory. A consumer may fall this far behind before
        frames are lost (reported as ``overrun`` gaps). Costs
        ``2 * channels * samplerate`` bytes per second (768 kB/s at 384 kHz).
    settle_seconds
        Audio observed before the sample clock's anchor is frozen.

    Examples
    --------
    >>> with ContinuousCapture(SimulatedSource(8000, 1, speed=10)) as capture:
    ...     first = capture.next_clip(800)
    ...     second = capture.next_clip(800)
    >>> second.start_frame == first.end_frame
    True
    """

    def __init__(
        self,
        source: AudioSource,
        buffer_seconds: float = 60.0,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    ):
        self.source = source
        self.samplerate = source.samplerate
        self.channels = source.channels
        self.settle_seconds = settle_seconds
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._ring = FrameRing(self._frames(buffer_seconds), self.channels)
        self.clock = SampleClock(self.samplerate, self._frames(settle_seconds))
        self._gaps: List[Gap] = []
        self._cursor: Optional[int] = None
        self._running = False
        self._error: Optional[BaseException] = None
        self._last_push = 0.0
        self.lost_frames_total = 0

    def _frames(self, seconds: float) -> int:
        return max(1, math.ceil(seconds * self.samplerate))

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> ContinuousCapture:
        """Start the source (frame 0 is its first frame); return ``self``."""
        with self._lock:
            if self._running:
                return self
            self._ring.reset(0)
            self._gaps.clear()
            self._cursor = None
            self._error = None
            self.clock = SampleClock(self.samplerate, self._frames(self.settle_seconds))
            self._running = True
            self._last_push = time.monotonic()
        try:
            self.source.start(_Sink(self))
        except BaseException:
            with self._lock:
                self._running = False
            raise
        return self

    def stop(self) -> None:
        """Stop the source; clips already buffered can no longer be cut."""
        with self._changed:
            was_running = self._running
            self._running = False
            self._changed.notify_all()
        if was_running:
            self.source.stop()

    def __enter__(self) -> ContinuousCapture:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the source is running and has not failed."""
        return self._running and self._error is None

    @property
    def error(self) -> Optional[BaseException]:
        """Why the source stopped by itself, if it did."""
        return self._error

    def seconds_since_last_block(self) -> float:
        """Monotonic seconds since the source last delivered frames."""
        return time.monotonic() - self._last_push

    def is_healthy(self, stall_seconds: float = 5.0) -> bool:
        """Running, and delivered frames within ``stall_seconds``."""
        return self.running and self.seconds_since_last_block() < stall_seconds

    @property
    def buffer_seconds(self) -> float:
        """Audio held in memory."""
        return self._ring.capacity / self.samplerate

    def ensure_buffer(self, seconds: float) -> None:
        """Grow the ring buffer to hold at least ``seconds`` of audio."""
        with self._lock:
            self._ring.grow(self._frames(seconds))

    @property
    def end_frame(self) -> int:
        """Index just after the newest frame received."""
        return self._ring.end

    @property
    def overflow_count(self) -> int:
        """Blocks the source flagged as preceded by lost frames."""
        return self.source.overflow_count

    # -- source side (called from the source's thread) --------------------

    def _push(
        self, frames: npt.NDArray[np.int16], start_frame: int, timing: BlockTiming
    ) -> None:
        with self._changed:
            if not self._running:
                return
            self._ring.write(frames, start_frame)
            self.clock.observe(
                start_frame, len(frames), timing.callback_time, timing.latency
            )
            self._last_push = time.monotonic()
            self._changed.notify_all()

    def _gap(self, gap: Gap) -> None:
        with self._lock:
            self._gaps.append(gap)
            self.lost_frames_total += gap.n_frames
            if len(self._gaps) > MAX_GAP_HISTORY:
                del self._gaps[: len(self._gaps) - MAX_GAP_HISTORY]

    def _end(self, error: Optional[BaseException]) -> None:
        with self._changed:
            if error is not None:
                self._error = error
            self._running = False
            self._changed.notify_all()

    # -- consumer side -----------------------------------------------------

    def next_clip(self, n_frames: int, timeout: Optional[float] = None) -> Clip:
        """Return the ``n_frames`` frames right after the previous clip.

        The first clip starts at the newest frame (as :meth:`clip_from_now`).
        Consecutive clips tile time exactly; if the consumer fell more than
        ``buffer_seconds`` behind, the lost frames are an ``overrun`` gap.

        Raises
        ------
        CaptureTimeoutError
            When the frames do not arrive within ``timeout`` seconds
            (default: the audio still to come plus 10 s).
        CaptureError
            When the source stopped or failed.
        """
        with self._lock:
            start = self._cursor if self._cursor is not None else self._ring.end
        return self.clip_at(start, n_frames, timeout)

    def clip_from_now(self, n_frames: int, timeout: Optional[float] = None) -> Clip:
        """Return ``n_frames`` frames starting at the newest frame.

        For duty-cycled schedules: audio since the previous clip is skipped
        (see :attr:`Clip.skipped_frames`). Later :meth:`next_clip` calls
        continue from this clip's end.

        Raises
        ------
        CaptureTimeoutError, CaptureError
            As :meth:`next_clip`.
        """
        with self._lock:
            start = self._ring.end
        return self.clip_at(start, n_frames, timeout)

    def clip_at(
        self, start_frame: int, n_frames: int, timeout: Optional[float] = None
    ) -> Clip:
        """Return frames ``start_frame`` .. ``start_frame + n_frames``.

        Waits for frames still to come; frames no longer held are reported
        as an ``overrun`` gap.

        Raises
        ------
        ValueError
            When ``n_frames`` is not positive or ``start_frame`` is negative.
        CaptureTimeoutError, CaptureError
            As :meth:`next_clip`.
        """
        if n_frames <= 0 or start_frame < 0:
            raise ValueError("A clip needs a non-negative start and positive length.")
        end = start_frame + n_frames
        self._wait_for(end, timeout)
        out = np.zeros((n_frames, self.channels), np.int16)
        with self._lock:
            held_from = self._ring.start
            readable_from = min(max(start_frame, held_from), end)
            gaps = [g for g in self._gaps if _overlaps(g, start_frame, end)]
            created_on = self.clock.time_of(start_frame)
            skipped = None if self._cursor is None else start_frame - self._cursor
        if readable_from < end:
            # Copy outside the lock: a long clip at 384 kHz must not hold up
            # the audio callback. Overwrites are detected just below.
            self._ring.read(out[readable_from - start_frame :], readable_from)
        with self._lock:
            lost_to = min(max(start_frame, self._ring.start), end)
            if self._cursor is None or end > self._cursor:
                self._cursor = end
        if lost_to > start_frame:
            out[: lost_to - start_frame] = 0
            gaps.append(Gap(start_frame, lost_to - start_frame, "overrun"))
        return Clip(
            frames=out,
            start_frame=start_frame,
            samplerate=self.samplerate,
            created_on=created_on,
            gaps=tuple(_clip_gap(g, start_frame, end) for g in sorted(gaps, key=_key)),
            skipped_frames=skipped,
            device_name=self.source.name,
            device_id=self.source.device_id,
        )

    def _wait_for(self, end: int, timeout: Optional[float]) -> None:
        with self._changed:
            if timeout is None:
                missing = max(0, end - self._ring.end)
                timeout = missing / self.samplerate + TIMEOUT_SLACK
            deadline = time.monotonic() + timeout
            while self._ring.end < end or not self.clock.ready:
                if self._error is not None:
                    raise CaptureError(
                        f"The audio stream from {self.source.name!r} failed: "
                        f"{self._error}",
                        help="Check the microphone is connected.",
                    ) from self._error
                if not self._running:
                    raise CaptureError(
                        f"The audio stream from {self.source.name!r} is not running."
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CaptureTimeoutError(
                        f"No audio from {self.source.name!r} for {timeout:.1f} s: "
                        f"waited for frame {end}, got up to {self._ring.end}.",
                        help="Check the microphone is connected and not in use.",
                    )
                self._changed.wait(remaining)


def _overlaps(gap: Gap, start: int, end: int) -> bool:
    if gap.n_frames == 0:
        # A discontinuity of unknown length sits just before its frame; the
        # clip starting at that frame reports it.
        return start <= gap.start_frame < end
    return gap.start_frame < end and gap.end_frame > start


def _clip_gap(gap: Gap, start: int, end: int) -> Gap:
    first = max(gap.start_frame, start)
    last = min(gap.end_frame, end) if gap.n_frames else first
    return Gap(first, last - first, gap.reason, gap.estimated)


def _key(gap: Gap) -> int:
    return gap.start_frame
