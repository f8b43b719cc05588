"""The synthetic soundscape: purity, schedule and agreement with the audio."""

import numpy as np
import pytest

from acoupi.audio.soundscape import (
    BLOCK_FRAMES,
    SoundEvent,
    Soundscape,
)


def chunked(scape: Soundscape, start: int, total: int, seed: int) -> np.ndarray:
    """Render ``total`` frames from ``start`` in random-sized chunks."""
    rng = np.random.default_rng(seed)
    parts, position = [], start
    while position < start + total:
        size = min(int(rng.integers(1, 3 * BLOCK_FRAMES)), start + total - position)
        parts.append(scape.render(position, size))
        position += size
    return np.concatenate(parts)


@pytest.mark.parametrize("samplerate, channels", [(48_000, 1), (384_000, 2)])
def test_any_chunking_gives_identical_audio(samplerate: int, channels: int) -> None:
    total = 3 * samplerate
    whole = Soundscape(samplerate, channels=channels, seed=5).render(0, total)
    for seed in range(3):
        # A fresh instance: no cache shared with the reference render.
        scape = Soundscape(samplerate, channels=channels, seed=5)
        assert np.array_equal(chunked(scape, 0, total, seed), whole)


def test_render_depends_only_on_absolute_frames() -> None:
    reference = Soundscape(192_000, seed=2).render(0, 600_000)
    late = Soundscape(192_000, seed=2).render(123_457, 200_000)
    assert np.array_equal(late, reference[123_457:323_457])
    assert Soundscape(192_000, seed=2).render(10, 0).shape == (0, 1)


def test_shape_dtype_and_channels() -> None:
    audio = Soundscape(48_000, channels=3, noise_level=0.01).render(0, 1000)
    assert audio.shape == (1000, 3)
    assert audio.dtype == np.int16
    # Independent noise per channel.
    assert not np.array_equal(audio[:, 0], audio[:, 1])


def test_seed_changes_audio_and_schedule() -> None:
    first, second = Soundscape(192_000, seed=1), Soundscape(192_000, seed=2)
    assert not np.array_equal(first.render(0, 5000), second.render(0, 5000))
    assert first.events(0, 20) != second.events(0, 20)
    assert first.events(0, 20) == Soundscape(192_000, seed=1).events(0, 20)


def test_schedule_one_event_per_slot_within_documented_ranges() -> None:
    scape = Soundscape(384_000, seed=7, bat_interval=1.5, bird_interval=4.0)
    events = scape.events(0, 60)
    bats = [e for e in events if e.kind == "bat"]
    birds = [e for e in events if e.kind == "bird"]
    assert len(bats) == 40 and len(birds) == 15
    for kind, interval, items in (("bat", 1.5, bats), ("bird", 4.0, birds)):
        for slot, event in enumerate(items):
            offset = event.start - slot * interval
            assert 0.25 * interval <= offset < 0.75 * interval, (kind, slot)
    for bat in bats:
        assert 0.002 <= bat.end - bat.start <= 0.010
        assert 35_000 <= bat.low_freq <= 45_000
        assert 65_000 <= bat.high_freq <= 85_000
    for bird in birds:
        assert 0.1 <= bird.end - bird.start <= 0.5
        assert 2_000 <= bird.low_freq and bird.high_freq <= 8_000
    assert events == sorted(events, key=lambda e: e.start)


def test_events_are_those_overlapping_the_window() -> None:
    scape = Soundscape(192_000, seed=3)
    everything = scape.events(0, 40)
    for start, end in [(0.0, 1.0), (3.3, 7.9), (10.0, 10.001), (12.5, 31.0)]:
        expected = [e for e in everything if e.start < end and e.end > start]
        assert scape.events(start, end) == expected
    assert scape.events(5, 5) == []
    assert isinstance(everything[0], SoundEvent)


def test_bats_only_when_the_samplerate_allows_them() -> None:
    kinds_48k = {e.kind for e in Soundscape(48_000).events(0, 30)}
    kinds_96k = {e.kind for e in Soundscape(96_000).events(0, 30)}
    kinds_192k = {e.kind for e in Soundscape(192_000).events(0, 30)}
    assert kinds_48k == kinds_96k == {"bird"}
    assert kinds_192k == {"bat", "bird"}
    assert Soundscape(16_000).events(0, 30) == []


@pytest.mark.parametrize("samplerate", [48_000, 256_000])
def test_rendered_energy_matches_the_events(samplerate: int) -> None:
    seconds = 12
    scape = Soundscape(samplerate, seed=11, noise_level=0.0)
    audio = scape.render(0, seconds * samplerate)[:, 0].astype(np.float64) / 32767
    events = scape.events(0, seconds)
    inside = np.zeros(len(audio), dtype=bool)
    for event in events:
        first = int(np.ceil(event.start * samplerate))
        last = int(np.ceil(event.end * samplerate))
        inside[first:last] = True
        part = audio[first:last]
        level = scape.bat_level if event.kind == "bat" else scape.bird_level
        # Peak within a rounding step of the level, never above it.
        assert 0.6 * level < np.abs(part).max() <= level + 1 / 32767
        # The dominant frequency lies within the event's band.
        spectrum = np.abs(np.fft.rfft(part * np.hanning(len(part))))
        peak = np.argmax(spectrum) * samplerate / len(part)
        assert event.low_freq * 0.95 <= peak <= event.high_freq * 1.05
    # Without noise, everything outside the events is exact silence.
    assert not np.any(audio[~inside])


def test_levels_do_not_clip() -> None:
    audio = Soundscape(384_000, seed=4, noise_level=0.05).render(0, 384_000 * 10)
    assert np.abs(audio.astype(np.int32)).max() < 32767


@pytest.mark.parametrize(
    "kwargs",
    [
        {"samplerate": 0},
        {"samplerate": 48_000, "channels": 0},
        {"samplerate": 48_000, "seed": -1},
        {"samplerate": 48_000, "bat_interval": 0.01},
        {"samplerate": 48_000, "bird_interval": 0.5},
        {"samplerate": 48_000, "noise_level": 2.0},
    ],
)
def test_invalid_arguments_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Soundscape(**kwargs)


def test_negative_frames_are_refused() -> None:
    with pytest.raises(ValueError):
        Soundscape(48_000).render(-1, 10)
