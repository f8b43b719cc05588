"""Wall-clock time of every frame, from the sample clock.

A clip's start time is ``anchor + start_frame / samplerate``: when its first
sample was digitised, not when a task happened to run. The anchor (wall
time of frame 0) is estimated once, from the first ``settle_frames``, then
frozen so consecutive clips are exactly ``n_frames / samplerate`` apart.

Estimating the anchor
---------------------
A block's callback can only happen after its last frame was captured, so
``callback_time - (start_frame + n_frames) / samplerate`` is an *upper
bound* on the anchor; the smallest over the settling window is the
tightest. PortAudio's ADC timestamp gives a direct estimate, used only when
it is consistent with that bound and with itself: on ALSA's ``pulse``
plugin it was measured ~0.2 s off and drifting, on ``hw`` devices it is
good.
"""

from __future__ import annotations

import datetime
import statistics
from typing import List, Optional, Union

__all__ = ["SampleClock"]

UTC = datetime.timezone.utc

ADC_SPREAD_TOLERANCE = 0.002
"""Seconds: ADC-based anchor estimates must agree within this to be used."""

BOUND_TOLERANCE = 0.001
"""Seconds: ADC-based estimates may exceed the hard upper bound by this."""


class SampleClock:
    """Map absolute frame indices to UTC times and back.

    Parameters
    ----------
    samplerate
        Frames per second.
    settle_frames
        Frames observed before the anchor is frozen.
    drift_window_frames
        Frames per window when tracking the offset between the sample clock
        and the system clock after settling.
    """

    def __init__(
        self,
        samplerate: int,
        settle_frames: int,
        drift_window_frames: Optional[int] = None,
    ):
        self.samplerate = samplerate
        self.settle_frames = max(1, settle_frames)
        self.drift_window_frames = drift_window_frames or 10 * samplerate
        self._bound: Optional[float] = None
        self._adc: List[float] = []
        self._anchor: Optional[float] = None
        self.used_adc_timestamps = False
        self._window_end = 0
        self._window_min: Optional[float] = None
        self._offset: Optional[float] = None

    @property
    def ready(self) -> bool:
        """Whether the anchor is frozen."""
        return self._anchor is not None

    @property
    def anchor(self) -> float:
        """Wall time (epoch seconds) of frame 0.

        Raises
        ------
        RuntimeError
            Before the clock is ready.
        """
        if self._anchor is None:
            raise RuntimeError("The sample clock has not settled yet.")
        return self._anchor

    @property
    def offset_seconds(self) -> Optional[float]:
        """System clock minus sample clock, from the last full drift window.

        An upper-bound estimate (callback delays only make it larger):
        near 0 while the clocks agree; growing negative when the sample clock
        runs slow or frames went missing unreported. ``None`` until one
        window after settling.
        """
        return self._offset

    def observe(
        self,
        start_frame: int,
        n_frames: int,
        callback_time: float,
        latency: Optional[float] = None,
    ) -> None:
        """Take the timing of a delivered block into account."""
        rate = self.samplerate
        bound = callback_time - (start_frame + n_frames) / rate
        if self._anchor is None:
            self._bound = bound if self._bound is None else min(self._bound, bound)
            if latency is not None and 0.0 <= latency < 2.0:
                self._adc.append(callback_time - latency - start_frame / rate)
            if start_frame + n_frames >= self.settle_frames:
                self._freeze()
            return
        error = bound - self._anchor
        self._window_min = (
            error if self._window_min is None else min(self._window_min, error)
        )
        if start_frame + n_frames >= self._window_end:
            self._offset = self._window_min
            self._window_min = None
            self._window_end = start_frame + n_frames + self.drift_window_frames

    def _freeze(self) -> None:
        assert self._bound is not None
        anchor = self._bound
        adc = self._adc
        if (
            adc
            and max(adc) - min(adc) <= ADC_SPREAD_TOLERANCE
            and max(adc) <= self._bound + BOUND_TOLERANCE
        ):
            anchor = statistics.median(adc)
            self.used_adc_timestamps = True
        self._anchor = anchor
        self._window_end = self.settle_frames + self.drift_window_frames

    def time_of(self, frame: int) -> datetime.datetime:
        """Return the UTC time when ``frame`` was captured.

        Computed in integer microseconds from the frozen anchor, so times of
        frames ``n`` apart differ by ``n / samplerate`` (to within 1 µs).
        """
        anchor_us = round(self.anchor * 1_000_000)
        micros = anchor_us + (frame * 1_000_000) // self.samplerate
        return datetime.datetime(1970, 1, 1, tzinfo=UTC) + datetime.timedelta(
            microseconds=micros
        )

    def frame_at(self, when: Union[datetime.datetime, float]) -> int:
        """Return the frame captured at ``when`` (aware datetime or epoch s)."""
        seconds = when.timestamp() if isinstance(when, datetime.datetime) else when
        return round((seconds - self.anchor) * self.samplerate)
