"""The band energy detector on real WAV files of the synthetic soundscape."""

import datetime
import tracemalloc
import wave
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
import pydantic
import pytest

from acoupi import data
from acoupi.audio.soundscape import SoundEvent, Soundscape
from acoupi.components.models.energy_detector import (
    AudioFileError,
    BandEnergyDetector,
    BandEnergyDetectorConfig,
)
from acoupi.system.exceptions import HealthCheckError

TIMING_TOLERANCE = 0.010


def write_wav(
    path: Path,
    frames: np.ndarray,
    samplerate: int,
    sampwidth: int = 2,
) -> Path:
    """Write int16 ``frames`` (n, channels) as PCM of ``sampwidth`` bytes."""
    channels = frames.shape[1]
    if sampwidth == 2:
        raw = frames.astype("<i2").tobytes()
    elif sampwidth == 1:
        raw = ((frames.astype(np.int32) >> 8) + 128).astype(np.uint8).tobytes()
    elif sampwidth == 3:
        wide = frames.astype("<i4") << 8  # 24-bit: the 16-bit value, shifted
        raw = wide.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    else:
        raise ValueError(sampwidth)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(sampwidth)
        handle.setframerate(samplerate)
        handle.writeframes(raw)
    return path


def soundscape_wav(
    tmp_path: Path, scape: Soundscape, seconds: float, name: str = "scape.wav"
) -> Path:
    frames = scape.render(0, int(seconds * scape.samplerate))
    return write_wav(tmp_path / name, frames, scape.samplerate)


def recording(path: Path, samplerate: int, seconds: float) -> data.Recording:
    return data.Recording(
        created_on=datetime.datetime(2024, 5, 1, 22, 0),
        duration=seconds,
        samplerate=samplerate,
        deployment=data.Deployment(name="test"),
        path=path,
    )


def spans(output: data.ModelOutput, label: str) -> List[Tuple[float, float]]:
    result = []
    for detection in output.detections:
        assert detection.location is not None
        if detection.tags[0].tag.value == label:
            start, _, end, _ = detection.location.coordinates
            result.append((start, end))
    return sorted(result)


def assert_matches(
    found: List[Tuple[float, float]], events: List[SoundEvent], margin: float = 0
) -> None:
    """One detection per event, within the timing tolerance; nothing else.

    Events within ``margin`` of the clip's end may be cut; they are skipped.
    """
    assert len(found) == len(events), (found, events)
    for (start, end), event in zip(found, events, strict=True):
        assert abs(start - event.start) < TIMING_TOLERANCE, (start, event)
        assert abs(end - event.end) < TIMING_TOLERANCE, (end, event)


def run(path: Path, samplerate: int, seconds: float, **kwargs) -> data.ModelOutput:
    return BandEnergyDetector(**kwargs).run(recording(path, samplerate, seconds))


@pytest.mark.parametrize("samplerate", [192_000, 256_000, 384_000])
@pytest.mark.parametrize("noise_level", [0.003, 0.03])
def test_finds_bat_and_bird_events_at_ultrasonic_rates(
    tmp_path: Path, samplerate: int, noise_level: float
) -> None:
    seconds = 8.0
    scape = Soundscape(samplerate, seed=21, noise_level=noise_level, bird_interval=2.0)
    path = soundscape_wav(tmp_path, scape, seconds)
    output = run(path, samplerate, seconds)
    events = scape.events(0, seconds)
    bats = [e for e in events if e.kind == "bat"]
    birds = [e for e in events if e.kind == "bird"]
    assert len(bats) == 4 and len(birds) == 4
    assert_matches(spans(output, "bat"), bats)
    assert_matches(spans(output, "bird"), birds)


@pytest.mark.parametrize("noise_level", [0.001, 0.01, 0.05])
def test_finds_bird_events_at_48k_and_no_bats(
    tmp_path: Path, noise_level: float
) -> None:
    seconds = 12.0
    scape = Soundscape(48_000, seed=8, noise_level=noise_level, bird_interval=1.5)
    path = soundscape_wav(tmp_path, scape, seconds)
    output = run(path, 48_000, seconds)
    assert_matches(spans(output, "bird"), scape.events(0, seconds))
    assert spans(output, "bat") == []


@pytest.mark.parametrize("samplerate", [8_000, 16_000, 48_000, 192_000, 384_000])
@pytest.mark.parametrize("noise_level", [0.0003, 0.01, 0.1])
def test_no_false_positives_on_noise(
    tmp_path: Path, samplerate: int, noise_level: float
) -> None:
    scape = Soundscape(
        samplerate, seed=3, noise_level=noise_level, bat_level=0, bird_level=0
    )
    path = soundscape_wav(tmp_path, scape, 5.0)
    assert run(path, samplerate, 5.0).detections == []


def test_silent_file_has_no_detections(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "silent.wav", np.zeros((96_000, 1), np.int16), 96_000)
    assert run(path, 96_000, 1.0).detections == []


def test_output_shape_scores_and_frequency_boxes(tmp_path: Path) -> None:
    scape = Soundscape(256_000, seed=4, noise_level=0.01)
    path = soundscape_wav(tmp_path, scape, 6.0)
    rec = recording(path, 256_000, 6.0)
    detector = BandEnergyDetector()
    output = detector.run(rec)
    assert BandEnergyDetector.name == "BandEnergyDetector"
    assert output.name_model == detector.name
    assert output.recording == rec
    assert output.detections
    events = scape.events(0, 6.0)
    for detection in output.detections:
        assert 0 <= detection.detection_score <= 1
        [tag] = detection.tags
        assert tag.tag.key == "event"
        assert tag.confidence_score == detection.detection_score
        assert detection.location is not None
        start, low, end, high = detection.location.coordinates
        [event] = [
            e
            for e in events
            if e.start < end and e.end > start and e.kind == tag.tag.value
        ]
        # The box lies within the band and overlaps the call's own range.
        assert low < event.high_freq and high > event.low_freq
        if event.kind == "bat":
            assert 20_000 <= low and high <= 120_000
        else:
            assert 1_500 <= low and high <= 10_000
    # Louder calls score higher: a quieter rendering gives lower scores.
    quiet = Soundscape(256_000, seed=4, noise_level=0.01, bat_level=0.05)
    quiet_path = soundscape_wav(tmp_path, quiet, 6.0, "quiet.wav")
    loud_scores = [d.detection_score for d in output.detections if is_bat(d)]
    quiet_scores = [
        d.detection_score
        for d in detector.run(recording(quiet_path, 256_000, 6)).detections
        if is_bat(d)
    ]
    assert quiet_scores and max(quiet_scores) < min(loud_scores)


def is_bat(detection: data.Detection) -> bool:
    return detection.tags[0].tag.value == "bat"


def test_bands_above_nyquist_are_skipped(tmp_path: Path) -> None:
    detector = BandEnergyDetector(
        bands=[("high", 90_000, 120_000), ("bird", 1_500, 10_000)]
    )
    assert [b.label for b in detector.usable_bands(48_000)] == ["bird"]
    assert [b.label for b in detector.usable_bands(384_000)] == ["high", "bird"]
    # The default bat band is clipped, not skipped, at 48 kHz (20-24 kHz),
    # and skipped where it lies wholly above Nyquist.
    assert [b.label for b in BandEnergyDetector().usable_bands(48_000)] == [
        "bat",
        "bird",
    ]
    assert [b.label for b in BandEnergyDetector().usable_bands(32_000)] == ["bird"]
    scape = Soundscape(48_000, seed=1, bird_interval=1.0)
    path = soundscape_wav(tmp_path, scape, 3.0)
    only_high = BandEnergyDetector(bands=[("high", 90_000, 120_000)])
    assert only_high.run(recording(path, 48_000, 3.0)).detections == []


def test_multichannel_and_other_sample_widths(tmp_path: Path) -> None:
    seconds = 4.0
    scape = Soundscape(192_000, channels=2, seed=6, noise_level=0.01)
    frames = scape.render(0, int(seconds * 192_000))
    events = scape.events(0, seconds)
    bats = [e for e in events if e.kind == "bat"]
    for width in (1, 2, 3):
        path = write_wav(tmp_path / f"w{width}.wav", frames, 192_000, width)
        output = run(path, 192_000, seconds)
        assert_matches(spans(output, "bat"), bats)


def test_long_files_are_processed_in_bounded_memory(tmp_path: Path) -> None:
    seconds = 10.0
    scape = Soundscape(384_000, seed=2, noise_level=0.01)
    path = tmp_path / "long.wav"
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(384_000)
        for second in range(int(seconds)):
            handle.writeframes(scape.render(second * 384_000, 384_000).tobytes())
    tracemalloc.start()
    try:
        output = run(path, 384_000, seconds)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Loading the file whole would need ~15 MB as float32 alone, plus the
    # spectra; the block-wise pass stays far below.
    assert peak < 12 * 2**20, peak
    assert len(output.detections) == len(scape.events(0, seconds))


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not a readable PCM WAV file"),
        (b"this is not audio at all" * 10, "not a readable PCM WAV file"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "not a readable PCM WAV file"),
    ],
)
def test_corrupt_files_raise_naming_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    with pytest.raises(AudioFileError, match=message) as caught:
        run(path, 48_000, 1.0)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_truncated_empty_short_and_missing_files(tmp_path: Path) -> None:
    good = write_wav(tmp_path / "good.wav", np.ones((48_000, 1), np.int16), 48_000)
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[:30_000])
    empty = write_wav(tmp_path / "empty.wav", np.zeros((0, 1), np.int16), 48_000)
    short = write_wav(tmp_path / "short.wav", np.zeros((20, 1), np.int16), 48_000)
    cases: List[Tuple[Optional[Path], str]] = [
        (truncated, "truncated"),
        (empty, "contains no audio"),
        (short, "too short"),
        (tmp_path / "missing.wav", "file not found"),
    ]
    for path, message in cases:
        with pytest.raises(AudioFileError, match=message) as caught:
            run(path, 48_000, 1.0)  # type: ignore[arg-type]
        assert str(path) in str(caught.value)
    no_file = recording(good, 48_000, 1.0).model_copy(update={"path": None})
    with pytest.raises(AudioFileError, match="has no audio file"):
        BandEnergyDetector().run(no_file)


def test_config_builds_the_detector() -> None:
    config = BandEnergyDetectorConfig()
    assert [b.label for b in config.bands] == ["bat", "bird"]
    detector = config.build()
    assert isinstance(detector, BandEnergyDetector)
    assert detector.threshold_db == config.threshold_db
    custom = BandEnergyDetectorConfig.model_validate_json(
        '{"bands": [{"label": "cricket", "low_freq": 4000, "high_freq": 6000}],'
        ' "threshold_db": 6, "min_duration": 0.05, "tag_key": "sound"}'
    ).build()
    assert [(b.label, b.low_freq, b.high_freq) for b in custom.bands] == [
        ("cricket", 4000.0, 6000.0)
    ]
    assert (custom.threshold_db, custom.min_duration, custom.tag_key) == (
        6.0,
        0.05,
        "sound",
    )
    schema = BandEnergyDetectorConfig.model_json_schema()
    assert "threshold_db" in schema["properties"]


@pytest.mark.parametrize(
    "payload",
    [
        {"bands": [{"label": "x", "low_freq": 5000, "high_freq": 4000}]},
        {"bands": []},
        {
            "bands": [
                {"label": "x", "low_freq": 1, "high_freq": 2},
                {"label": "x", "low_freq": 3, "high_freq": 4},
            ]
        },
        {"threshold_db": 0},
        {"floor_percentile": 100},
    ],
)
def test_config_rejects_nonsense(payload: dict) -> None:
    with pytest.raises(pydantic.ValidationError):
        BandEnergyDetectorConfig.model_validate(payload)


def test_constructor_and_check_validate_the_configuration() -> None:
    BandEnergyDetector().check()
    with pytest.raises(ValueError, match="threshold_db"):
        BandEnergyDetector(threshold_db=-3)
    with pytest.raises(ValueError, match="low_freq < high_freq"):
        BandEnergyDetector(bands=[("bad", 8000, 2000)])
    with pytest.raises(ValueError, match="unique"):
        BandEnergyDetector(bands=[("a", 1, 2000), ("a", 3000, 4000)])
    detector = BandEnergyDetector()
    detector.min_duration = -1.0
    with pytest.raises(HealthCheckError, match="min_duration"):
        detector.check()


def test_frame_length_follows_the_samplerate() -> None:
    detector = BandEnergyDetector()
    lengths = {rate: detector.frame_length(rate) for rate in (8_000, 48_000, 384_000)}
    assert lengths == {8_000: 64, 48_000: 128, 384_000: 1024}
