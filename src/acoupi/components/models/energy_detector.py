"""Band-limited energy event detector: AudioMoth-style triggering on the device.

The detector splits the spectrum into named frequency bands (by default a
``"bat"`` band, 20-120 kHz, and a ``"bird"`` band, 1.5-10 kHz), tracks the
energy of each band frame by frame with a short-time Fourier transform, and
reports every stretch of time where a band's energy rises ``threshold_db``
above that band's *adaptive* noise floor. It needs nothing but numpy, is
cheap (``bench/detector_speed.py``: about 120 s of 384 kHz audio per
CPU-second on one x86 core) and gives a first answer to "was anything
there?" before (or instead of) a heavier model.

Processing
----------
1. The WAV file is read in blocks with the standard :mod:`wave` module
   (8/16/24/32-bit integer PCM, any channel count; channels are averaged
   into one). Memory use is bounded by the block size, not the file length:
   only one number per frame and band is kept for the whole file.
2. Frames of about ``frame_duration`` seconds (rounded to a power of two
   samples, at least 64) with 50 % overlap get a Hann window and a real
   FFT. The energy of each band is the sum of its bins' power, scaled so that it is the
   mean square of the band-passed signal (a full-scale sine reads -3 dB).
3. The noise floor of each band is the ``floor_percentile`` percentile of
   its frame energies over consecutive windows of ``floor_window`` seconds,
   interpolated (in dB) between window centres. A low percentile stays on
   the noise even when calls fill a good part of a window.
4. A band *triggers* on frames whose energy exceeds both the floor by
   ``threshold_db`` and the absolute level ``min_level_db`` (dB re full
   scale; keeps digital silence and dither from triggering). Like a Schmitt
   trigger, an event then extends over the neighbouring frames still above
   half the threshold (in dB): without this hysteresis a 2 ms call, whose
   energy is smeared over three overlapping frames, would often light up a
   single frame and be cut to one hop. Events closer than ``merge_gap``
   merge; events shorter than ``min_duration`` are dropped.

Each event becomes a :class:`~acoupi.data.Detection` whose bounding box spans
the event's time and the frequency extent of its loud core (bins within
12 dB of each frame's peak, over frames within 15 dB of the event's peak),
tagged ``Tag(key=tag_key, value=<band label>)``. Its score, used both as
``detection_score`` and tag confidence, is the event's peak signal-to-noise
ratio divided by ``snr_saturation_db``, capped at 1.

Bands are clipped to the Nyquist frequency of each file; a band left with
fewer than two FFT bins is skipped. With the defaults, the bat band is
analysed as 20-24 kHz at 48 kHz (low-frequency bats such as noctules call
there) and skipped entirely below 40 kHz.

Limitations
-----------
The floor adapts per window, so a sound lasting most of a ``floor_window``
(a continuous chorus, or a short file filled by one call) becomes the floor
and is not reported, and a sudden rise of the background (rain starting) can
trigger until the next window. The detector says *when and in which band*
energy appeared, not *what* made it.

numpy is imported when audio is analysed (:meth:`BandEnergyDetector.run`,
:meth:`BandEnergyDetector.check`): building the detector, as every command
that loads the triggered program does, needs only the standard library.
"""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, List, Optional, Sequence, Tuple

from pydantic import BaseModel, Field, model_validator

from acoupi import data
from acoupi.components.types import Model
from acoupi.system.exceptions import HealthCheckError
from acoupi.system.health import self_tests_wanted

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "DEFAULT_BANDS",
    "AudioFileError",
    "Band",
    "BandConfig",
    "BandEnergyDetector",
    "BandEnergyDetectorConfig",
]

DEFAULT_BANDS: Tuple[Tuple[str, float, float], ...] = (
    ("bat", 20_000.0, 120_000.0),
    ("bird", 1_500.0, 10_000.0),
)
"""Default bands: (label, low_freq, high_freq) in Hz."""

_BLOCK_SAMPLES = 1 << 17
"""Samples read per block: bounds memory to a few MB whatever the file."""

_MIN_FRAME = 64
"""Shortest STFT frame in samples (8 ms at 8 kHz)."""

_EXTENT_DB = 12.0
"""Bins within this many dB of a frame's peak count in the frequency box."""

_CORE_DB = 15.0
"""Frames within this many dB of an event's peak SNR define its box."""

_TINY = 1e-20
"""Added before taking logs so that digital silence gives a finite dB."""


class AudioFileError(ValueError):
    """An audio file cannot be analysed; the message names the file."""


@dataclass(frozen=True)
class Band:
    """A frequency band to watch, in Hz; ``label`` becomes the tag value."""

    label: str
    low_freq: float
    high_freq: float


class BandConfig(BaseModel):
    """Configuration of one :class:`Band`."""

    label: str = Field(min_length=1)
    low_freq: float = Field(ge=0)
    high_freq: float = Field(gt=0)

    @model_validator(mode="after")
    def _check_order(self) -> BandConfig:
        if self.low_freq >= self.high_freq:
            raise ValueError(f"band {self.label!r}: low_freq must be below high_freq")
        return self


def _default_band_configs() -> List[BandConfig]:
    return [
        BandConfig(label=b[0], low_freq=b[1], high_freq=b[2]) for b in DEFAULT_BANDS
    ]


class BandEnergyDetectorConfig(BaseModel):
    """Configuration of a :class:`BandEnergyDetector`, for program schemas.

    See :class:`BandEnergyDetector` for the meaning of each field.
    """

    bands: List[BandConfig] = Field(default_factory=_default_band_configs, min_length=1)
    threshold_db: float = Field(default=10.0, gt=0)
    min_duration: float = Field(default=0.002, ge=0)
    merge_gap: float = Field(default=0.01, ge=0)
    frame_duration: float = Field(default=0.002, gt=0, le=0.1)
    floor_window: float = Field(default=2.0, gt=0)
    floor_percentile: float = Field(default=20.0, gt=0, lt=100)
    min_level_db: float = Field(default=-80.0, le=0)
    snr_saturation_db: float = Field(default=30.0, gt=0)
    tag_key: str = Field(default="event", min_length=1)

    @model_validator(mode="after")
    def _check_labels(self) -> BandEnergyDetectorConfig:
        labels = [band.label for band in self.bands]
        if len(set(labels)) != len(labels):
            raise ValueError(f"band labels must be unique, got {labels}")
        return self

    def build(self) -> BandEnergyDetector:
        """Return the detector this configuration describes."""
        return BandEnergyDetector(
            bands=[(b.label, b.low_freq, b.high_freq) for b in self.bands],
            **self.model_dump(exclude={"bands"}),
        )


@dataclass(frozen=True)
class _BandBins:
    """A band resolved to FFT bins ``[lo, hi]`` (inclusive) of one file."""

    band: Band
    lo: int
    hi: int
    low_freq: float
    high_freq: float


@dataclass
class _FrameFeatures:
    """Per-frame, per-band results of the STFT pass (small: no spectra)."""

    energy: np.ndarray  # (frames, bands) mean-square power
    low_bin: np.ndarray  # (frames, bands) lowest bin within _EXTENT_DB of peak
    high_bin: np.ndarray  # (frames, bands) highest such bin


class BandEnergyDetector(Model):
    """Detect sound events as band-energy rises above an adaptive floor.

    Parameters
    ----------
    bands
        ``(label, low_freq, high_freq)`` triples in Hz; defaults to
        :data:`DEFAULT_BANDS`. Labels must be unique.
    threshold_db
        How far above the band's noise floor a frame must be to count.
    min_duration
        Shortest event reported, in seconds.
    merge_gap
        Events of one band separated by at most this many seconds merge.
    frame_duration
        Target STFT frame length in seconds (rounded to a power of two
        samples; the hop is half a frame).
    floor_window
        Length in seconds of the windows the noise floor is estimated on.
    floor_percentile
        Percentile of frame energies taken as the noise floor.
    min_level_db
        Absolute level (dB re full scale) a frame must exceed to count.
    snr_saturation_db
        SNR at which the score reaches 1.
    tag_key
        Key of the tag carrying the band label.
    """

    name = "BandEnergyDetector"

    def __init__(
        self,
        bands: Optional[Sequence[Tuple[str, float, float]]] = None,
        threshold_db: float = 10.0,
        min_duration: float = 0.002,
        merge_gap: float = 0.01,
        frame_duration: float = 0.002,
        floor_window: float = 2.0,
        floor_percentile: float = 20.0,
        min_level_db: float = -80.0,
        snr_saturation_db: float = 30.0,
        tag_key: str = "event",
    ):
        self.bands = [
            Band(str(label), float(low), float(high))
            for label, low, high in (DEFAULT_BANDS if bands is None else bands)
        ]
        self.threshold_db = float(threshold_db)
        self.min_duration = float(min_duration)
        self.merge_gap = float(merge_gap)
        self.frame_duration = float(frame_duration)
        self.floor_window = float(floor_window)
        self.floor_percentile = float(floor_percentile)
        self.min_level_db = float(min_level_db)
        self.snr_saturation_db = float(snr_saturation_db)
        self.tag_key = tag_key
        problems = self._problems()
        if problems:
            raise ValueError("invalid BandEnergyDetector: " + "; ".join(problems))

    def __repr__(self) -> str:
        bands = ", ".join(
            f"{b.label}:{b.low_freq:g}-{b.high_freq:g}" for b in self.bands
        )
        return f"BandEnergyDetector(bands=[{bands}], threshold_db={self.threshold_db})"

    # ------------------------------------------------------------------
    # Configuration

    def _problems(self) -> List[str]:
        problems: List[str] = []
        if not self.bands:
            problems.append("no bands given")
        labels = [band.label for band in self.bands]
        if len(set(labels)) != len(labels):
            problems.append(f"band labels must be unique, got {labels}")
        for band in self.bands:
            if not band.label:
                problems.append("a band has an empty label")
            if not 0 <= band.low_freq < band.high_freq:
                problems.append(
                    f"band {band.label!r} needs 0 <= low_freq < high_freq, got "
                    f"{band.low_freq:g}-{band.high_freq:g} Hz"
                )
        checks = [
            ("threshold_db", self.threshold_db > 0, "> 0"),
            ("min_duration", self.min_duration >= 0, ">= 0"),
            ("merge_gap", self.merge_gap >= 0, ">= 0"),
            ("frame_duration", 0 < self.frame_duration <= 0.1, "in (0, 0.1]"),
            ("floor_window", self.floor_window > 0, "> 0"),
            ("floor_percentile", 0 < self.floor_percentile < 100, "in (0, 100)"),
            ("min_level_db", self.min_level_db <= 0, "<= 0"),
            ("snr_saturation_db", self.snr_saturation_db > 0, "> 0"),
            ("tag_key", bool(self.tag_key), "non-empty"),
        ]
        for field, ok, rule in checks:
            if not ok:
                problems.append(f"{field} must be {rule}, got {getattr(self, field)!r}")
        return problems

    def check(self) -> None:
        """Raise :class:`HealthCheckError` if the configuration is unusable.

        Also runs the analysis on a synthetic tone in memory, so a broken
        numpy installation shows up at deployment start, not at 3 am; not
        when the check asks for no self-tests (``acoupi deployment status``,
        see :mod:`acoupi.system.health`).
        """
        problems = self._problems()
        if problems:
            raise HealthCheckError(
                "BandEnergyDetector configuration is invalid: " + "; ".join(problems)
            )
        if not self_tests_wanted():
            return
        try:
            self._self_test()
        except Exception as error:  # any failure means the device cannot run it
            raise HealthCheckError(
                f"BandEnergyDetector self-test failed: {error}"
            ) from error

    def _self_test(self) -> None:
        """Analyse a synthetic tone (importing numpy, which may be broken)."""
        import numpy as np

        samplerate = 48_000
        t = np.arange(samplerate // 10, dtype=np.float32) / samplerate
        tone = (0.1 * np.sin(2 * np.pi * 1_000 * t)).astype(np.float32)
        self._analyse(iter([tone]), samplerate, "<self-test>")

    def frame_length(self, samplerate: int) -> int:
        """Return the STFT frame length in samples used at ``samplerate``.

        ``frame_duration`` rounded to a power of two, but at least
        :data:`_MIN_FRAME` samples: shorter frames leave so few bins in a
        band that its energy fluctuates enough to trigger on noise.
        """
        target = max(samplerate * self.frame_duration, 1.0)
        return max(_MIN_FRAME, 1 << round(math.log2(target)))

    def usable_bands(self, samplerate: int) -> List[Band]:
        """Return the bands analysed at ``samplerate`` (clipped to Nyquist)."""
        return [b.band for b in self._resolve_bands(samplerate)]

    def _resolve_bands(self, samplerate: int) -> List[_BandBins]:
        length = self.frame_length(samplerate)
        spacing = samplerate / length
        nyquist = samplerate / 2
        resolved = []
        for band in self.bands:
            high = min(band.high_freq, nyquist)
            lo = math.ceil(band.low_freq / spacing)
            hi = math.floor(high / spacing)
            # Fewer than two bins: the band lies (almost) above Nyquist or is
            # narrower than the frequency resolution; it cannot be measured.
            if hi - lo + 1 < 2:
                continue
            resolved.append(_BandBins(band, lo, hi, band.low_freq, high))
        return resolved

    # ------------------------------------------------------------------
    # Model interface

    def run(self, recording: data.Recording) -> data.ModelOutput:
        """Detect events in the recording's WAV file.

        Raises
        ------
        AudioFileError
            When the recording has no file, or the file is missing, not a
            PCM WAV file, empty, truncated or shorter than one frame.
        """
        if recording.path is None:
            raise AudioFileError(f"recording {recording.id} has no audio file")
        path = Path(recording.path)
        with _WavBlocks(path) as (samplerate, blocks):
            detections = self._analyse(blocks, samplerate, str(path))
        return data.ModelOutput(
            name_model=self.name, recording=recording, detections=detections
        )

    # ------------------------------------------------------------------
    # Analysis

    def _analyse(
        self, blocks: Iterator[np.ndarray], samplerate: int, source: str
    ) -> List[data.Detection]:
        import numpy as np

        bands = self._resolve_bands(samplerate)
        length = self.frame_length(samplerate)
        hop = length // 2
        features, n_samples = _stft_features(blocks, length, hop, bands)
        if n_samples < length:
            raise AudioFileError(
                f"{source}: too short to analyse ({n_samples} samples, "
                f"need at least {length})"
            )
        if not bands:
            return []
        energy_db = 10 * np.log10(features.energy + _TINY)
        floor_db = self._noise_floor(energy_db, samplerate / hop)
        snr_db = energy_db - floor_db
        loud = energy_db > self.min_level_db
        trigger = (snr_db > self.threshold_db) & loud
        active = (snr_db > self.threshold_db / 2) & loud
        duration = n_samples / samplerate
        detections = []
        for index, bins in enumerate(bands):
            runs = self._runs(active[:, index], trigger[:, index], samplerate, hop)
            for first, last in runs:
                detections.append(
                    self._detection(
                        bins,
                        index,
                        first,
                        last,
                        snr_db,
                        active,
                        features,
                        samplerate,
                        hop,
                        length,
                        duration,
                    )
                )
        return detections

    def _noise_floor(self, energy_db: np.ndarray, frame_rate: float) -> np.ndarray:
        """Per-frame floor in dB: windowed percentiles, interpolated."""
        import numpy as np

        n_frames = energy_db.shape[0]
        window = max(1, round(self.floor_window * frame_rate))
        # The last window absorbs a short remainder, so no floor is ever
        # estimated from a handful of frames.
        n_windows = max(1, n_frames // window)
        edges = [i * window for i in range(n_windows)] + [n_frames]
        centres = []
        floors = []
        for begin, end in zip(edges[:-1], edges[1:], strict=True):
            centres.append((begin + end - 1) / 2)
            floors.append(
                np.percentile(energy_db[begin:end], self.floor_percentile, axis=0)
            )
        frames = np.arange(n_frames)
        table = np.asarray(floors)
        return np.stack(
            [np.interp(frames, centres, table[:, b]) for b in range(table.shape[1])],
            axis=1,
        )

    def _runs(
        self, active: np.ndarray, trigger: np.ndarray, samplerate: int, hop: int
    ) -> List[Tuple[int, int]]:
        """Return merged ``(first, last)`` frame runs long enough to report.

        A run is a stretch of ``active`` frames holding at least one
        ``trigger`` frame.
        """
        import numpy as np

        padded = np.concatenate([[False], active, [False]])
        changes = np.flatnonzero(np.diff(padded.astype(np.int8)))
        starts, ends = changes[0::2], changes[1::2] - 1
        triggered = np.concatenate([[0], np.cumsum(trigger)])
        keep = triggered[ends + 1] > triggered[starts]
        runs: List[Tuple[int, int]] = []
        for first, last in zip(starts[keep].tolist(), ends[keep].tolist(), strict=True):
            # Frames first..last span (last - first + 1) hops of time; the gap
            # to the previous run is the silent hops in between.
            if runs and (first - runs[-1][1] - 1) * hop / samplerate <= self.merge_gap:
                runs[-1] = (runs[-1][0], last)
            else:
                runs.append((first, last))
        return [
            run
            for run in runs
            if (run[1] - run[0] + 1) * hop / samplerate >= self.min_duration
        ]

    def _detection(
        self,
        bins: _BandBins,
        index: int,
        first: int,
        last: int,
        snr_db: np.ndarray,
        active: np.ndarray,
        features: _FrameFeatures,
        samplerate: int,
        hop: int,
        length: int,
        duration: float,
    ) -> data.Detection:
        # Frame i covers samples [i*hop, i*hop + length); each active frame
        # stands for the hop of time around its centre.
        centre = length / 2
        start = max(0.0, (first * hop + centre - hop / 2) / samplerate)
        end = min(duration, (last * hop + centre + hop / 2) / samplerate)
        snr = snr_db[first : last + 1, index]
        peak_snr = float(snr.max())
        core = active[first : last + 1, index] & (snr >= peak_snr - _CORE_DB)
        spacing = samplerate / length
        low_bin = int(features.low_bin[first : last + 1, index][core].min())
        high_bin = int(features.high_bin[first : last + 1, index][core].max())
        low = max(bins.low_freq, (low_bin - 0.5) * spacing)
        high = min(bins.high_freq, (high_bin + 0.5) * spacing)
        score = float(min(1.0, max(0.0, peak_snr / self.snr_saturation_db)))
        return data.Detection(
            location=data.BoundingBox.from_coordinates(start, low, end, high),
            detection_score=score,
            tags=[
                data.PredictedTag(
                    tag=data.Tag(key=self.tag_key, value=bins.band.label),
                    confidence_score=score,
                )
            ],
        )


def _stft_features(
    blocks: Iterator[np.ndarray], length: int, hop: int, bands: List[_BandBins]
) -> Tuple[_FrameFeatures, int]:
    """Run the STFT over mono float32 blocks; return per-frame band features.

    The end of the signal is zero-padded to a whole frame, so its last
    samples are analysed too. Returns the features and the sample count.
    """
    import numpy as np

    window = np.hanning(length).astype(np.float32)
    # Scale so that summed one-sided bin power equals the mean square of the
    # (band-limited) signal: Parseval with the window's energy removed.
    scale = 2.0 / (length * float(np.sum(window.astype(np.float64) ** 2)))
    extent = 10 ** (-_EXTENT_DB / 10)
    energies: List[np.ndarray] = []
    lows: List[np.ndarray] = []
    highs: List[np.ndarray] = []
    carry = np.zeros(0, dtype=np.float32)
    n_samples = 0

    def analyse(buffer: np.ndarray, n_frames: int) -> None:
        frames = np.lib.stride_tricks.sliding_window_view(buffer, length)[::hop]
        spectra = np.fft.rfft(frames[:n_frames] * window, axis=1)
        power = spectra.real**2 + spectra.imag**2
        energy = np.empty((n_frames, len(bands)))
        low = np.empty((n_frames, len(bands)), dtype=np.int32)
        high = np.empty((n_frames, len(bands)), dtype=np.int32)
        for b, bins in enumerate(bands):
            part = power[:, bins.lo : bins.hi + 1]
            energy[:, b] = part.sum(axis=1, dtype=np.float64) * scale
            loud = part >= part.max(axis=1, keepdims=True) * extent
            low[:, b] = bins.lo + loud.argmax(axis=1)
            high[:, b] = bins.hi - loud[:, ::-1].argmax(axis=1)
        energies.append(energy)
        lows.append(low)
        highs.append(high)

    for block in blocks:
        n_samples += len(block)
        buffer = np.concatenate([carry, block]) if len(carry) else block
        if len(buffer) < length:
            carry = buffer
            continue
        n_frames = 1 + (len(buffer) - length) // hop
        analyse(buffer, n_frames)
        carry = buffer[n_frames * hop :]
    analysed = sum(len(e) for e in energies)
    # Samples past the last frame (carry beyond length - hop) are analysed in
    # a zero-padded final frame. Signals shorter than a frame are left alone
    # (the caller rejects them).
    if analysed and len(carry) > length - hop:
        tail = np.zeros(length, dtype=np.float32)
        tail[: len(carry)] = carry
        analyse(tail, 1)
    if not energies:
        empty = np.zeros((0, len(bands)))
        return _FrameFeatures(
            empty, empty.astype(np.int32), empty.astype(np.int32)
        ), n_samples
    return (
        _FrameFeatures(
            np.concatenate(energies), np.concatenate(lows), np.concatenate(highs)
        ),
        n_samples,
    )


class _WavBlocks:
    """Context manager yielding ``(samplerate, mono float32 block iterator)``.

    Errors are raised as :class:`AudioFileError` naming the file.
    """

    def __init__(self, path: Path):
        self.path = path
        self._handle: Optional[wave.Wave_read] = None

    def __enter__(self) -> Tuple[int, Iterator[np.ndarray]]:
        try:
            self._handle = wave.open(str(self.path), "rb")
        except FileNotFoundError as error:
            raise AudioFileError(f"{self.path}: file not found") from error
        except (wave.Error, EOFError, OSError, ValueError) as error:
            reason = str(error) or "truncated header"
            raise AudioFileError(
                f"{self.path}: not a readable PCM WAV file ({reason})"
            ) from error
        handle = self._handle
        if handle.getsampwidth() not in (1, 2, 3, 4):
            raise AudioFileError(
                f"{self.path}: unsupported sample width {handle.getsampwidth()} bytes"
            )
        if handle.getnframes() == 0:
            raise AudioFileError(f"{self.path}: contains no audio")
        return handle.getframerate(), self._blocks(handle)

    def __exit__(self, *exc_info: object) -> None:
        if self._handle is not None:
            self._handle.close()

    def _blocks(self, handle: wave.Wave_read) -> Iterator[np.ndarray]:
        import numpy as np

        channels = handle.getnchannels()
        width = handle.getsampwidth()
        expected = handle.getnframes()
        per_block = max(1, _BLOCK_SAMPLES // channels)
        read = 0
        while read < expected:
            raw = handle.readframes(min(per_block, expected - read))
            frames = len(raw) // (width * channels)
            if frames == 0:
                raise AudioFileError(
                    f"{self.path}: truncated (header announces {expected} "
                    f"frames, only {read} present)"
                )
            read += frames
            samples = _decode(raw[: frames * width * channels], width)
            if channels > 1:
                # Averaging keeps a call heard on any channel and lowers
                # uncorrelated noise; it is the usual "mix to mono".
                samples = samples.reshape(frames, channels).mean(
                    axis=1, dtype=np.float32
                )
            yield samples


def _decode(raw: bytes, width: int) -> np.ndarray:
    """Decode little-endian integer PCM bytes to float32 in [-1, 1)."""
    import numpy as np

    if width == 1:
        return (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128
    if width == 2:
        return np.frombuffer(raw, "<i2").astype(np.float32) / 32768
    if width == 3:
        triples = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        # Sign comes from the top byte; assemble as int32 then sign-extend.
        value = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return value.astype(np.float32) / (1 << 23)
    return np.frombuffer(raw, "<i4").astype(np.float32) / (1 << 31)
