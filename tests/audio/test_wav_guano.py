"""WAV + GUANO files, atomic writes, names."""

import datetime
import os
import wave
from pathlib import Path
from uuid import UUID

import numpy as np
import pytest

from acoupi import data
from acoupi.audio.clip import Clip
from acoupi.audio.files import save_clip
from acoupi.audio.guano import format_guano, parse_guano
from acoupi.audio.naming import recording_filename
from acoupi.audio.simulated import CounterSoundscape
from acoupi.audio.sources import Gap
from acoupi.audio.wav import is_complete_wav, read_guano, read_wav, write_wav

UTC = datetime.timezone.utc
START = datetime.datetime(2024, 5, 1, 12, 30, 0, 250000, tzinfo=UTC)


def make_clip(n=4800, rate=48000, channels=1, gaps=(), start=START) -> Clip:
    return Clip(
        frames=CounterSoundscape(rate, channels).render(0, n),
        start_frame=96000,
        samplerate=rate,
        created_on=start,
        gaps=tuple(gaps),
        skipped_frames=0,
        device_name="384kHz AudioMoth USB Microphone: USB Audio (hw:2,0)",
        device_id="usb:16d0:06f3:24F3190",
    )


def test_wav_round_trip_with_guano_readable_by_wave(tmp_path: Path):
    frames = CounterSoundscape(384000, 2).render(0, 3001)
    path = write_wav(tmp_path / "a.wav", frames, 384000, {"Samplerate": 384000})
    read, rate = read_wav(path)
    np.testing.assert_array_equal(read, frames)
    assert rate == 384000
    with wave.open(str(path)) as handle:  # stdlib reader skips guan
        assert handle.getnframes() == 3001 and handle.getnchannels() == 2
    assert path.read_bytes()[36:40] == b"data"  # audio at byte 44
    assert read_guano(path)["Samplerate"] == 384000
    assert is_complete_wav(path)


def test_save_clip_writes_guano_metadata(tmp_path: Path):
    deployment = data.Deployment(name="Wood", latitude=51.5, longitude=-0.125)
    detections = [
        data.Detection(
            detection_score=0.9,
            tags=[data.PredictedTag(tag=data.Tag(key="species", value="Pipistrellus"))],
        )
    ]
    path = save_clip(
        make_clip(), tmp_path, deployment=deployment, detections=detections
    )
    assert path.name == "20240501_123000.wav"
    guano = read_guano(path)
    assert guano["GUANO|Version"] == "1.0"
    assert path.read_bytes().count(b"GUANO|Version: 1.0\n") == 1
    assert guano["Timestamp"] == START
    assert guano["Timestamp"].utcoffset() == datetime.timedelta(0)
    assert guano["Samplerate"] == 48000 and guano["Length"] == 0.1
    assert guano["TE"] == 1
    assert guano["Loc Position"] == (51.5, -0.125)
    assert guano["Make"] == "Open Acoustic Devices" and guano["Model"] == "AudioMoth"
    assert guano["Serial"] == "usb:16d0:06f3:24F3190"
    assert guano["Original Filename"] == path.name
    assert UUID(guano["acoupi|Deployment ID"]) == deployment.id
    assert guano["acoupi|Deployment Name"] == "Wood"
    (detection,) = guano["acoupi|Detections"]
    assert detection["tags"][0]["tag"]["value"] == "Pipistrellus"
    assert "acoupi|Gaps" not in guano


def test_gaps_are_recorded_in_guano(tmp_path: Path):
    clip = make_clip(gaps=[Gap(96100, 250, "overflow", estimated=True)])
    guano = read_guano(save_clip(clip, tmp_path))
    assert guano["acoupi|Lost Frames"] == "250"
    assert guano["acoupi|Gaps"] == [
        {"offset": 100, "frames": 250, "reason": "overflow", "estimated": True}
    ]


def test_guano_text_escapes_newlines_and_skips_none():
    text = format_guano({"Note": "line 1\nline 2 \\ end", "Make": None})
    assert text.count("\n") == 2 and "Make" not in text
    assert parse_guano(text)["Note"] == "line 1\nline 2 \\ end"


def test_same_second_names_get_suffixes(tmp_path: Path):
    paths = [save_clip(make_clip(), tmp_path) for _ in range(3)]
    assert [p.name for p in paths] == [
        "20240501_123000.wav",
        "20240501_123000_1.wav",
        "20240501_123000_2.wav",
    ]
    assert all(is_complete_wav(p) for p in paths)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_names_follow_template_and_timezone():
    assert recording_filename(START) == "20240501_123000.wav"
    assert recording_filename(START, tz="Europe/London") == "20240501_133000.wav"
    naive = START.replace(tzinfo=None)
    assert recording_filename(naive, "%Y-%m-%dT%H%M%SZ") == "2024-05-01T123000Z.wav"
    name = recording_filename(START, "{time:%Y%m%d_%H%M%S}_{id}", id="abc")
    assert name == "20240501_123000_abc.wav"


def test_write_refuses_to_overwrite_unless_asked(tmp_path: Path):
    frames = np.zeros((10, 1), np.int16)
    path = write_wav(tmp_path / "x.wav", frames, 8000)
    with pytest.raises(FileExistsError):
        write_wav(path, frames, 8000)
    write_wav(path, np.ones((20, 1), np.int16), 8000, overwrite=True)
    assert read_wav(path)[0].shape == (20, 1)


def test_failed_write_leaves_nothing_behind(tmp_path: Path, monkeypatch):
    folder = tmp_path / "recordings"

    def power_cut(fd):
        raise OSError("I/O error")

    monkeypatch.setattr(os, "fsync", power_cut)
    with pytest.raises(OSError, match="I/O error"):
        write_wav(folder / "x.wav", np.zeros((10, 1), np.int16), 8000)
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("cut", [10, 43, 44, 1000, -1, -20])
def test_truncated_wavs_are_detected(tmp_path: Path, cut: int):
    path = save_clip(make_clip(), tmp_path)
    content = path.read_bytes()
    broken = tmp_path / "broken.wav"
    broken.write_bytes(content[:cut])
    assert not is_complete_wav(broken)
    if 0 <= cut < 44:
        with pytest.raises((wave.Error, EOFError)):
            read_wav(broken)


def test_garbage_and_missing_files_are_not_complete(tmp_path: Path):
    garbage = tmp_path / "g.wav"
    garbage.write_bytes(os.urandom(200))
    assert not is_complete_wav(garbage)
    assert not is_complete_wav(tmp_path / "missing.wav")


def test_update_guano_keeps_the_audio_and_is_idempotent(tmp_path):
    import numpy as np

    from acoupi.audio.wav import read_guano, read_wav, update_guano, write_wav

    frames = (np.arange(4000, dtype=np.int16) % 300).reshape(-1, 1)
    folder = tmp_path / "wavs"
    path = write_wav(folder / "a.wav", frames, 8000, {"Samplerate": 8000})
    update_guano(path, {"Species Auto ID": "bat, bird"})
    once = path.read_bytes()
    update_guano(path, {"Species Auto ID": "bat, bird"})
    assert path.read_bytes() == once
    again, rate = read_wav(path)
    assert rate == 8000 and np.array_equal(again, frames)
    guano = read_guano(path)
    assert guano["Samplerate"] == 8000
    assert guano["Species Auto ID"] == "bat, bird"
    assert [p.name for p in folder.iterdir()] == ["a.wav"]  # no temp file left
