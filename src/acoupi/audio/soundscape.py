"""A deterministic synthetic soundscape: noise plus bat- and bird-like calls.

Used to simulate a microphone and to measure detectors against known event
times. Everything is a pure function of the absolute frame index and the
constructor arguments, so any chunking of :meth:`Soundscape.render` yields
bit-identical audio, and :meth:`Soundscape.events` tells exactly what was
rendered where.

Schedule
--------
Time is cut into slots of ``bat_interval`` (resp. ``bird_interval``) seconds.
Slot ``k`` holds exactly one event, starting at
``k * interval + interval * (0.25 + 0.5 * u)`` with ``u`` uniform in [0, 1),
drawn from a generator seeded with ``(seed, kind, k)``. The event duration
is at most half the interval (enforced), so events of one kind never
overlap and every slot's event lies within ``[0.25, 1.25) * interval`` of
the slot start. The first event of each kind therefore starts no earlier
than ``0.25 * interval``.

Calls
-----
* **Bat**: a linear downward FM sweep from ``high_freq`` (65-85 kHz) to
  ``low_freq`` (35-45 kHz), 2-10 ms long, under a Hann envelope (peak
  amplitude ``bat_level``). Bats are rendered only when the sample rate is
  at least :data:`BAT_MIN_SAMPLERATE` (176.4 kHz, so that the highest sweep
  start is below Nyquist); at 48 or 96 kHz there are **no** bat events and
  :meth:`Soundscape.events` lists none.
* **Bird**: a 0.1-0.5 s whistle gliding linearly from one fundamental to
  another (both drawn independently from 2-4 kHz) with a second harmonic at
  40 % amplitude, so the energy lies within 2-8 kHz; 5 ms raised-cosine ramps avoid
  broadband clicks (peak amplitude ``bird_level``). Birds are rendered only
  when the sample rate is at least :data:`BIRD_MIN_SAMPLERATE` (20 kHz).

Every channel carries the same calls plus its own independent white
Gaussian noise of RMS ``noise_level`` (fraction of full scale). The sum is
clipped to full scale and quantised to int16; with the default levels and
``noise_level <= 0.1`` clipping is practically never reached.
"""

from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "BAT_MIN_SAMPLERATE",
    "BIRD_MIN_SAMPLERATE",
    "BLOCK_FRAMES",
    "SoundEvent",
    "Soundscape",
]

BLOCK_FRAMES = 16384
"""Frames per rendering block: the unit of the counter-based noise RNG."""

BAT_MIN_SAMPLERATE = 176_400
"""Lowest sample rate at which bat sweeps (up to 85 kHz) are rendered."""

BIRD_MIN_SAMPLERATE = 20_000
"""Lowest sample rate at which bird calls (up to 8 kHz) are rendered."""

EventKind = Literal["bat", "bird"]

# Stream identifiers mixed into the RNG seeds, so that noise, bat and bird
# draws never share a random stream.
_NOISE_STREAM = 0
_BAT_STREAM = 1
_BIRD_STREAM = 2

_BAT_DURATION = (0.002, 0.010)
_BAT_HIGH = (65_000.0, 85_000.0)
_BAT_LOW = (35_000.0, 45_000.0)
_BIRD_DURATION = (0.1, 0.5)
_BIRD_F0 = (2_000.0, 4_000.0)
_BIRD_HARMONIC_GAIN = 0.4
_BIRD_RAMP = 0.005
_CACHE_BLOCKS = 8


@dataclass(frozen=True)
class SoundEvent:
    """One synthetic call: what it is, when and in which frequency band.

    Attributes
    ----------
    kind
        ``"bat"`` or ``"bird"``.
    start, end
        Seconds from the start of the stream (frame 0).
    low_freq, high_freq
        Frequency extent of the call's energy, in Hz.
    """

    kind: str
    start: float
    end: float
    low_freq: float
    high_freq: float


@dataclass(frozen=True)
class _Call:
    """A scheduled call with the parameters needed to synthesise it."""

    event: SoundEvent
    f_begin: float
    f_end: float
    harmonics: tuple[float, ...]


class Soundscape:
    """Endless, reproducible audio of noise with bat and bird calls.

    Parameters
    ----------
    samplerate
        Frames per second.
    channels
        Number of channels (same calls, independent noise).
    seed
        Seed of every random draw (noise and event schedule).
    bat_interval, bird_interval
        Slot length in seconds; one call per slot (see the module docs).
    noise_level
        RMS of the white noise as a fraction of full scale (0 = silence
        between calls).
    bat_level, bird_level
        Peak amplitude of the calls as a fraction of full scale.
    """

    def __init__(
        self,
        samplerate: int,
        channels: int = 1,
        seed: int = 0,
        bat_interval: float = 2.0,
        bird_interval: float = 5.0,
        noise_level: float = 0.01,
        bat_level: float = 0.5,
        bird_level: float = 0.3,
    ):
        if samplerate <= 0:
            raise ValueError(f"samplerate must be positive, got {samplerate}")
        if channels < 1:
            raise ValueError(f"channels must be 1 or more, got {channels}")
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        # An event may last up to half its slot; longer ones could overlap
        # the next slot's call and break the "one event per slot" schedule.
        if bat_interval < 2 * _BAT_DURATION[1]:
            raise ValueError(f"bat_interval must be >= 0.02 s, got {bat_interval}")
        if bird_interval < 2 * _BIRD_DURATION[1]:
            raise ValueError(f"bird_interval must be >= 1.0 s, got {bird_interval}")
        for name, level in (
            ("noise_level", noise_level),
            ("bat_level", bat_level),
            ("bird_level", bird_level),
        ):
            if not 0 <= level <= 1:
                raise ValueError(f"{name} must be within [0, 1], got {level}")
        self.samplerate = int(samplerate)
        self.channels = int(channels)
        self.seed = int(seed)
        self.bat_interval = float(bat_interval)
        self.bird_interval = float(bird_interval)
        self.noise_level = float(noise_level)
        self.bat_level = float(bat_level)
        self.bird_level = float(bird_level)
        self.has_bats = self.samplerate >= BAT_MIN_SAMPLERATE
        self.has_birds = self.samplerate >= BIRD_MIN_SAMPLERATE
        # Rendered blocks are cached: a real-time reader asks for small
        # chunks, and regenerating a whole block for each would waste CPU.
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def __repr__(self) -> str:
        return (
            f"Soundscape(samplerate={self.samplerate}, channels={self.channels}, "
            f"seed={self.seed}, noise_level={self.noise_level})"
        )

    # ------------------------------------------------------------------
    # Event schedule

    def events(self, start: float, end: float) -> list[SoundEvent]:
        """Return the events overlapping ``[start, end)`` (seconds), by start.

        Only events that are actually rendered at this sample rate are
        listed.
        """
        return [call.event for call in self._calls(start, end)]

    def _calls(self, start: float, end: float) -> list[_Call]:
        calls: list[_Call] = []
        if end <= start:
            return calls
        kinds: list[tuple[EventKind, float]] = []
        if self.has_bats:
            kinds.append(("bat", self.bat_interval))
        if self.has_birds:
            kinds.append(("bird", self.bird_interval))
        for kind, interval in kinds:
            # A slot's event lies within [0.25, 1.25) slot lengths of its
            # start, so one extra slot before `start` is enough.
            first = max(0, int(np.floor(start / interval)) - 1)
            last = int(np.floor(end / interval))
            for slot in range(first, last + 1):
                call = self._make_call(kind, slot)
                if call.event.start < end and call.event.end > start:
                    calls.append(call)
        calls.sort(key=lambda call: (call.event.start, call.event.kind))
        return calls

    def _make_call(self, kind: EventKind, slot: int) -> _Call:
        stream = _BAT_STREAM if kind == "bat" else _BIRD_STREAM
        rng = np.random.default_rng([self.seed, stream, slot])
        interval = self.bat_interval if kind == "bat" else self.bird_interval
        start = slot * interval + interval * (0.25 + 0.5 * rng.random())
        if kind == "bat":
            duration = rng.uniform(*_BAT_DURATION)
            f_begin = rng.uniform(*_BAT_HIGH)
            f_end = rng.uniform(*_BAT_LOW)
            event = SoundEvent("bat", start, start + duration, f_end, f_begin)
            return _Call(event, f_begin, f_end, (1.0,))
        duration = rng.uniform(*_BIRD_DURATION)
        f_begin = rng.uniform(*_BIRD_F0)
        f_end = rng.uniform(*_BIRD_F0)
        low, high = min(f_begin, f_end), max(f_begin, f_end)
        event = SoundEvent("bird", start, start + duration, low, 2 * high)
        return _Call(event, f_begin, f_end, (1.0, _BIRD_HARMONIC_GAIN))

    # ------------------------------------------------------------------
    # Rendering

    def render(self, start_frame: int, n_frames: int) -> np.ndarray:
        """Return frames ``[start_frame, start_frame + n_frames)`` as int16.

        The result has shape ``(n_frames, channels)`` and depends only on the
        absolute frame indices: rendering in any chunks gives the same bytes.
        """
        if start_frame < 0 or n_frames < 0:
            raise ValueError(
                f"start_frame and n_frames must be >= 0, got {start_frame}, {n_frames}"
            )
        out = np.empty((n_frames, self.channels), dtype=np.int16)
        position = start_frame
        stop = start_frame + n_frames
        while position < stop:
            index, offset = divmod(position, BLOCK_FRAMES)
            take = min(BLOCK_FRAMES - offset, stop - position)
            block = self._block(index)
            out[position - start_frame : position - start_frame + take] = block[
                offset : offset + take
            ]
            position += take
        return out

    def _block(self, index: int) -> np.ndarray:
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        block = self._render_block(index)
        self._cache[index] = block
        if len(self._cache) > _CACHE_BLOCKS:
            self._cache.popitem(last=False)
        return block

    def _render_block(self, index: int) -> np.ndarray:
        # Whole fixed blocks are the unit of computation: identical inputs
        # give identical floating-point results however the caller chunks,
        # which per-sample formulas over arbitrary slices cannot promise
        # (SIMD kernels may round the tail of an array differently).
        first = index * BLOCK_FRAMES
        rng = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence([self.seed, _NOISE_STREAM, index]))
        )
        noise = rng.standard_normal((BLOCK_FRAMES, self.channels))
        signal = noise * self.noise_level
        calls = self._calls(
            first / self.samplerate, (first + BLOCK_FRAMES) / self.samplerate
        )
        if calls:
            frames = np.arange(first, first + BLOCK_FRAMES, dtype=np.int64)
            times = frames / self.samplerate
            mono = np.zeros(BLOCK_FRAMES)
            for call in calls:
                self._add_call(mono, times, call)
            signal += mono[:, None]
        np.clip(signal, -1.0, 1.0, out=signal)
        return np.round(signal * 32767.0).astype(np.int16)

    def _add_call(self, out: np.ndarray, times: np.ndarray, call: _Call) -> None:
        event = call.event
        inside = (times >= event.start) & (times < event.end)
        if not inside.any():
            return
        tau = times[inside] - event.start
        duration = event.end - event.start
        # Linear FM: instantaneous frequency glides f_begin -> f_end, so the
        # phase is the integral f_begin*t + (f_end - f_begin)*t^2 / (2 d).
        phase = (
            2
            * np.pi
            * (
                call.f_begin * tau
                + (call.f_end - call.f_begin) * tau**2 / (2 * duration)
            )
        )
        if event.kind == "bat":
            envelope = 0.5 - 0.5 * np.cos(2 * np.pi * tau / duration)
            level = self.bat_level
        else:
            ramp = np.clip(np.minimum(tau, duration - tau) / _BIRD_RAMP, 0.0, 1.0)
            envelope = 0.5 - 0.5 * np.cos(np.pi * ramp)
            level = self.bird_level
        total = sum(call.harmonics)
        wave = np.zeros_like(tau)
        for number, gain in enumerate(call.harmonics, start=1):
            wave += gain * np.sin(number * phase)
        # Normalised by the harmonic gains so the peak never exceeds `level`.
        out[inside] += level * envelope * wave / total
