"""Spectrogram images of recordings, with detections boxed.

A short-time Fourier transform in numpy (Hann window, magnitudes in dB
relative to the loudest bin, clipped to :data:`DYNAMIC_RANGE_DB`), coloured
with a viridis-like map and drawn with Pillow. The number of FFT frames is
fixed by the image width, not the recording length, so a 10 s clip at
192 kHz costs about as much as a 1 s one.
"""

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Tuple

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from PIL.ImageDraw import ImageDraw

__all__ = ["Box", "SpectrogramRequest", "render_spectrogram", "thumbnail_window"]

DYNAMIC_RANGE_DB = 80.0

Box = Tuple[float, float, float, float]
"""(start s, low Hz, end s, high Hz)."""

# Anchors of a viridis-like perceptual colour map (dark blue to yellow).
_ANCHORS = np.array(
    [
        (68, 1, 84),
        (59, 82, 139),
        (33, 145, 140),
        (94, 201, 98),
        (253, 231, 37),
    ],
    dtype=np.float64,
)
_LUT = np.stack(
    [
        np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(_ANCHORS)), channel)
        for channel in _ANCHORS.T
    ],
    axis=1,
).astype(np.uint8)


@dataclass(frozen=True)
class SpectrogramRequest:
    """What to draw: a time window of a recording, its size and boxes."""

    width: int = 1000
    height: int = 300
    start: float = 0.0
    """Seconds from the recording's start."""
    end: Optional[float] = None
    """Seconds from the start; None for the end of the recording."""
    boxes: Tuple[Box, ...] = ()
    highlight: Optional[Box] = None
    """One box drawn brighter (the detection a thumbnail is about)."""

    def cache_key(self) -> str:
        """Return a text that differs whenever the image would."""
        return repr(self)


def _read_window(
    path: Path, start: float, end: Optional[float]
) -> Tuple[npt.NDArray[np.float32], int, float]:
    """Return the first channel between ``start`` and ``end``, its rate, start."""
    import wave

    with wave.open(str(path), "rb") as handle:
        if handle.getsampwidth() != 2:
            raise wave.Error(f"{path} is not 16-bit PCM.")
        rate = handle.getframerate()
        channels = handle.getnchannels()
        total = handle.getnframes()
        first = max(0, min(total, int(start * rate)))
        last = total if end is None else max(first, min(total, int(end * rate)))
        handle.setpos(first)
        raw = handle.readframes(last - first)
    samples = np.frombuffer(raw, dtype="<i2").reshape(-1, channels)[:, 0]
    return samples.astype(np.float32) / 32768.0, rate, first / rate


def _spectrogram(
    samples: npt.NDArray[np.float32], columns: int, nfft: int
) -> npt.NDArray[np.float64]:
    """Return dB magnitudes, shape (nfft // 2 + 1, columns)."""
    if len(samples) < nfft:
        samples = np.pad(samples, (0, nfft - len(samples)))
    positions = np.linspace(0, len(samples) - nfft, columns).astype(np.int64)
    frames = samples[positions[:, None] + np.arange(nfft)[None, :]]
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(nfft).astype(np.float32)))
    decibels = 20 * np.log10(spectrum.T + 1e-9)
    return np.asarray(decibels, dtype=np.float64)


def _to_pixels(decibels: npt.NDArray[np.float64], height: int) -> npt.NDArray[np.uint8]:
    top = float(decibels.max())
    # The background noise (median level) maps to dark blue, so calls stand
    # out; the range never exceeds DYNAMIC_RANGE_DB.
    floor = max(float(np.median(decibels)) + 3.0, top - DYNAMIC_RANGE_DB)
    scaled = np.clip((decibels - floor) / max(top - floor, 1e-6), 0, 1)
    # Low frequencies at the bottom; rows resampled to the image height.
    rows = np.linspace(scaled.shape[0] - 1, 0, height).round().astype(np.int64)
    levels = (scaled[rows] * 255).astype(np.uint8)
    return _LUT[levels]


def render_spectrogram(path: Path, request: SpectrogramRequest) -> bytes:
    """Return a PNG spectrogram of the recording at ``path``.

    Boxes are drawn in recording time and Hz; the highlighted box in
    white, the others in red. Boxes outside the window are skipped.
    """
    from PIL import Image, ImageDraw

    samples, rate, start = _read_window(path, request.start, request.end)
    duration = max(len(samples) / rate, 1e-6)
    nfft = 512 if rate > 48000 else 256
    decibels = _spectrogram(samples, request.width, nfft)
    image = Image.fromarray(_to_pixels(decibels, request.height), "RGB")
    draw = ImageDraw.Draw(image)
    nyquist = rate / 2

    def corners(box: Box) -> Optional[Tuple[float, float, float, float]]:
        box_start, low, box_end, high = box
        x0 = (box_start - start) / duration * request.width
        x1 = (box_end - start) / duration * request.width
        if x1 < 0 or x0 > request.width:
            return None
        y0 = (1 - min(high, nyquist) / nyquist) * request.height
        y1 = (1 - max(low, 0) / nyquist) * request.height
        # Bat calls last milliseconds: keep every box visible.
        if x1 - x0 < 4:
            middle = (x0 + x1) / 2
            x0, x1 = middle - 2, middle + 2
        return x0, y0, x1, y1

    for box in request.boxes:
        drawn = corners(box)
        if drawn is not None:
            draw.rectangle(drawn, outline=(255, 60, 60), width=2)
    if request.highlight is not None:
        drawn = corners(request.highlight)
        if drawn is not None:
            draw.rectangle(drawn, outline=(255, 255, 255), width=2)
    _draw_axis(draw, request.height, nyquist)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=3)
    return out.getvalue()


def _draw_axis(draw: "ImageDraw", height: int, nyquist: float) -> None:
    """Label a few frequencies (kHz) on the left edge."""
    step = _tick_step(nyquist / 1000)
    khz = step
    while khz < nyquist / 1000:
        y = (1 - khz * 1000 / nyquist) * height
        draw.line((0, y, 6, y), fill=(255, 255, 255))
        draw.text((8, y - 6), f"{khz:g} kHz", fill=(255, 255, 255))
        khz += step


def _tick_step(top_khz: float) -> float:
    for step in (1, 2, 5, 10, 20, 25, 50):
        if top_khz / step <= 5:
            return float(step)
    return 100.0


def thumbnail_window(box: Optional[Box], duration: float) -> Tuple[float, float]:
    """Return the time window a detection's thumbnail shows.

    At least 0.3 s, or three times the box's length, centred on the box.
    """
    if box is None:
        return 0.0, duration
    length = max(0.3, 3 * (box[2] - box[0]))
    middle = (box[0] + box[2]) / 2
    start = max(0.0, min(middle - length / 2, duration - length))
    return start, min(duration, start + length)
