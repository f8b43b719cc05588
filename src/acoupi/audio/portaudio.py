"""Capture from a real microphone through PortAudio (via sounddevice).

Why sounddevice rather than PyAudio: its callback API hands us numpy
blocks together with PortAudio's overflow flag and ADC timestamps, which
are what gap detection and sample-clock timestamps need; PyAudio's blocking
``read`` either raises on overflow (losing the block) or hides it. It is
pure Python over CFFI (no compiler on the Pi), and its wheels ship
PortAudio on macOS and Windows.

Why a callback rather than blocking reads: the stream must be drained
continuously, between recordings too, however late a Celery task runs.
PortAudio's thread calls us on time; the capture buffers what it gets.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional

import numpy as np
import numpy.typing as npt

from acoupi.audio.sources import BlockTiming, FrameSink, Gap
from acoupi.devices.audio import selection as devices
from acoupi.system.exceptions import HealthCheckError, ParameterError

__all__ = ["MAX_SAMPLERATE", "MIN_SAMPLERATE", "PortAudioSource"]

MIN_SAMPLERATE = 8_000
MAX_SAMPLERATE = 384_000

MAX_PLAUSIBLE_LATENCY = 2.0
"""Seconds: ADC latencies outside ``[0, this)`` are ignored as bogus."""


class PortAudioSource:
    """A PortAudio input stream of int16 frames.

    Parameters
    ----------
    device
        Device spec (see :mod:`acoupi.devices.audio.selection`): name substring,
        index, stable id, or None for the default input.
    samplerate
        Frames per second, 8 kHz to 384 kHz.
    channels
        Input channels.
    blocksize
        Frames per callback (0 lets PortAudio choose). Larger blocks mean
        fewer wake-ups on a Pi Zero; latency does not matter here.
    latency
        PortAudio's suggested latency; ``"high"`` gives the largest buffer,
        which is what prevents overflows on a busy Pi.
    wait_timeout
        Seconds to wait for the device to appear when started (boot).
    wall_clock
        Returns epoch seconds (injectable for tests).
    """

    def __init__(
        self,
        device: devices.DeviceSpec = None,
        samplerate: int = 48_000,
        channels: int = 1,
        blocksize: int = 2048,
        latency: Any = "high",
        wait_timeout: float = 0.0,
        wall_clock: Callable[[], float] = time.time,
    ):
        if not MIN_SAMPLERATE <= samplerate <= MAX_SAMPLERATE:
            raise ParameterError(
                "samplerate",
                f"Sample rate {samplerate} Hz is outside "
                f"{MIN_SAMPLERATE}–{MAX_SAMPLERATE} Hz.",
            )
        if channels < 1:
            raise ParameterError("audio_channels", "Need at least 1 channel.")
        self.spec = device
        self._samplerate = samplerate
        self._channels = channels
        self.blocksize = blocksize
        self.latency = latency
        self.wait_timeout = wait_timeout
        self._wall_clock = wall_clock
        self.device: Optional[devices.InputDevice] = None
        self._stream: Any = None
        self._sink: Optional[FrameSink] = None
        self._stopping = False
        self._lock = threading.Lock()
        self._overflows = 0
        self._reset_counters()

    def _reset_counters(self) -> None:
        self._next_frame = 0
        self._previous: Optional[tuple[float, Optional[float], int]] = None
        self.lost_frames_estimate = 0

    @property
    def samplerate(self) -> int:
        """Frames per second."""
        return self._samplerate

    @property
    def channels(self) -> int:
        """Input channels."""
        return self._channels

    @property
    def name(self) -> str:
        """Device name (the spec until the device is resolved)."""
        return self.device.name if self.device else str(self.spec)

    @property
    def device_id(self) -> Optional[str]:
        """The device's stable id, once resolved."""
        return self.device.stable_id if self.device else None

    @property
    def overflow_count(self) -> int:
        """Blocks PortAudio flagged with ``input_overflow``."""
        return self._overflows

    @property
    def active(self) -> bool:
        """Whether the stream is running."""
        stream = self._stream
        return bool(stream is not None and stream.active)

    def start(self, sink: FrameSink) -> None:
        """Find the device, open the stream and start delivering to ``sink``.

        Raises
        ------
        HealthCheckError
            When sounddevice/PortAudio is missing, the device does not
            appear within ``wait_timeout``, or it rejects the settings.
        ParameterError
            When the spec matches several devices.
        """
        sd = devices.load_sounddevice()
        self.stop()
        if self.wait_timeout > 0:
            self.device = devices.wait_for_device(self.spec, self.wait_timeout)
        else:
            self.device = devices.resolve_device(self.spec)
        devices.check_input_settings(self.device, self._samplerate, self._channels)
        self._reset_counters()
        self._sink = sink
        self._stopping = False
        try:
            stream = sd.InputStream(
                device=self.device.index,
                samplerate=self._samplerate,
                channels=self._channels,
                dtype="int16",
                blocksize=self.blocksize,
                latency=self.latency,
                callback=self._callback,
                finished_callback=self._finished,
            )
            stream.start()
        except Exception as error:  # PortAudioError and friends
            raise HealthCheckError(
                f"Cannot open the audio stream of {self.device.name!r} "
                f"({self._channels} ch at {self._samplerate} Hz): {error}",
                help="Check the microphone is connected and not used by "
                "another program.",
            ) from error
        self._stream = stream
        devices._active_streams += 1

    def stop(self) -> None:
        """Stop and close the stream (idempotent)."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        self._stopping = True
        devices._active_streams -= 1
        try:
            stream.stop()
        finally:
            stream.close()

    # -- PortAudio's thread -------------------------------------------------

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        sink = self._sink
        if sink is None:
            return
        now = self._wall_clock()
        adc = float(getattr(time_info, "inputBufferAdcTime", 0.0) or 0.0)
        current = float(getattr(time_info, "currentTime", 0.0) or 0.0)
        latency: Optional[float] = None
        if adc > 0 and current > 0 and 0 <= current - adc < MAX_PLAUSIBLE_LATENCY:
            latency = current - adc
        if status and getattr(status, "input_overflow", False):
            self._overflows += 1
            lost = self._estimate_lost(now, adc if latency is not None else None)
            sink.gap(Gap(self._next_frame, lost, "overflow", estimated=True))
            self._next_frame += lost
            self.lost_frames_estimate += lost
        block: npt.NDArray[np.int16] = np.array(indata, dtype=np.int16, copy=True)
        sink.push(block, self._next_frame, BlockTiming(now, latency))
        self._previous = (now, adc if latency is not None else None, frames)
        self._next_frame += frames

    def _estimate_lost(self, now: float, adc: Optional[float]) -> int:
        """Frames missing before this block, from the time since the last one.

        Prefers ADC timestamps (capture times); falls back on callback
        times, which jitter by a block or so. Never negative; 0 means "lost
        an unknown number" (still reported as a gap).
        """
        if self._previous is None:
            return 0
        previous_now, previous_adc, previous_frames = self._previous
        if adc is not None and previous_adc is not None:
            elapsed = adc - previous_adc
        else:
            elapsed = now - previous_now
        return max(0, round(elapsed * self._samplerate) - previous_frames)

    def _finished(self) -> None:
        sink = self._sink
        if sink is None:
            return
        if self._stopping:
            sink.end(None)
        else:
            sink.end(
                HealthCheckError(
                    f"The audio stream of {self.name!r} stopped unexpectedly "
                    "(device unplugged?).",
                    help="Check the microphone is connected.",
                )
            )
