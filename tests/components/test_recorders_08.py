"""acoupi 0.8's recorders: package layout, time expansion, PipeWire."""

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from acoupi.audio.wav import read_guano, read_wav
from acoupi.components import audio_recorder
from acoupi.components.audio_recorder import (
    MicrophoneConfig,
    PARecorder,
    PARecorderConfig,
    PWRecorder,
    PWRecorderConfig,
    PyAudioRecorder,
    parse_microphone_config,
)
from acoupi.system.exceptions import (
    DeviceUnavailableError,
    HealthCheckError,
    ParameterError,
)
from audio_support import make_deployment


def test_package_layout_of_0_8() -> None:
    from acoupi.components.audio_recorder import (
        base,
        pipewire_recorder,
        pyaudio_recorder,
    )

    assert issubclass(PARecorder, base.BaseAudioRecorder)
    assert issubclass(PWRecorder, base.BaseAudioRecorder)
    assert pyaudio_recorder.PARecorder is PARecorder
    assert pipewire_recorder.PWRecorderConfig is PWRecorderConfig
    # acoupi 0.3's names are the same classes.
    assert PyAudioRecorder is PARecorder
    assert MicrophoneConfig is PARecorderConfig
    assert audio_recorder.TMP_PATH == Path("/run/shm/")
    for config in (PARecorderConfig, PWRecorderConfig):
        assert config.model_fields["time_expansion"].default == 1


def test_importing_the_package_loads_no_audio_library() -> None:
    code = (
        "import sys, acoupi.components.audio_recorder\n"
        "print([m for m in ('sounddevice', 'pyaudio') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_time_expansion_sets_the_wav_rate_and_guano_te(tmp_path: Path) -> None:
    recorder = PARecorder(
        duration=0.2,
        samplerate=192_000,
        audio_channels=1,
        device_name="simulated",
        audio_dir=tmp_path,
        time_expansion=10,
    )
    recording = recorder.record(make_deployment())
    assert recording.path is not None
    frames, header_rate = read_wav(recording.path)
    assert header_rate == 19_200, "the file plays 10x slowed"
    assert len(frames) == round(0.2 * 192_000), "samples are not changed"
    guano = read_guano(recording.path)
    assert guano["TE"] == 10
    assert guano["Samplerate"] == 192_000
    assert recording.samplerate == 192_000
    assert recording.time_expansion == 10


def test_real_time_recordings_keep_te_1(tmp_path: Path) -> None:
    recorder = PARecorder(0.1, 48_000, 1, "simulated", audio_dir=tmp_path)
    recording = recorder.record(make_deployment())
    assert recording.path is not None
    assert read_wav(recording.path)[1] == 48_000
    assert read_guano(recording.path)["TE"] == 1
    assert recording.time_expansion == 1


@pytest.mark.parametrize("value", [0, -2])
def test_time_expansion_must_be_positive(value: float, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="time_expansion"):
        PARecorder(1, 48_000, 1, "simulated", audio_dir=tmp_path, time_expansion=value)
    with pytest.raises(ValidationError):
        PARecorderConfig(device_name="x", time_expansion=value)


def test_setup_reads_time_expansion() -> None:
    args = [
        "--microphone.device_name",
        "simulated",
        "--microphone.samplerate",
        "384000",
        "--microphone.time_expansion",
        "10",
    ]
    config = parse_microphone_config(args, prompt=False, prefix="microphone")
    assert (config.device_name, config.samplerate, config.time_expansion) == (
        "simulated",
        384_000,
        10.0,
    )
    with pytest.raises(ParameterError, match="greater than 0"):
        parse_microphone_config(
            ["--time_expansion", "zero", "--device_name", "simulated"], prompt=False
        )


def test_program_records_with_time_expansion(tmp_path: Path) -> None:
    from acoupi.programs.templates import BasicProgram, BasicProgramConfiguration

    config = BasicProgramConfiguration.model_validate(
        {
            "microphone": {
                "device_name": "simulated",
                "samplerate": 192_000,
                "time_expansion": 10,
            },
            "paths": {
                "tmp_audio": tmp_path / "tmp",
                "recordings": tmp_path / "rec",
                "db_metadata": tmp_path / "m.db",
            },
        }
    )
    recorder = BasicProgram.configure_recorder(
        BasicProgram.__new__(BasicProgram), config
    )
    assert isinstance(recorder, PARecorder)
    assert recorder.time_expansion == 10


# --- PipeWire -----------------------------------------------------------------


def test_pw_recorder_without_pw_record_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    recorder = PWRecorder(0.1, 48_000, 1, "default", audio_dir=tmp_path)
    with pytest.raises(DeviceUnavailableError, match="pw-record") as caught:
        recorder.record(make_deployment())
    assert "pipewire-bin" in (caught.value.help or "")
    with pytest.raises(HealthCheckError, match="pw-record"):
        recorder.check()


def test_pw_recorder_records_through_pipewire(
    pipewire_source: str, tmp_path: Path
) -> None:
    recorder = PWRecorder(
        duration=0.5,
        samplerate=48_000,
        audio_channels=1,
        device_name=pipewire_source,
        audio_dir=tmp_path / "tmp",
        time_expansion=2,
    )
    recorder.check()
    recording = recorder.record(make_deployment())
    assert recording.path is not None and recording.path.parent == tmp_path / "tmp"
    frames, header_rate = read_wav(recording.path)
    assert frames.shape == (24_000, 1)
    assert header_rate == 24_000
    assert read_guano(recording.path)["TE"] == 2
    assert not [p for p in (tmp_path / "tmp").iterdir() if p != recording.path]


# --- devices.audio -----------------------------------------------------------


def test_one_devices_audio_package() -> None:
    import importlib

    import acoupi.audio
    from acoupi.devices import audio
    from acoupi.devices.audio import pipewire, pyaudio, selection

    # acoupi 0.3's names at the package, 0.8's submodules below it.
    for name in (
        "DeviceInfo",
        "get_input_devices",
        "get_input_device_by_name",
        "has_input_audio_device",
        "get_default_microphone",
        "parse_device_name",
    ):
        assert getattr(audio, name) is getattr(pyaudio, name)
    assert pipewire.DeviceInfo.model_fields.keys() >= {"name", "samplerates"}
    assert acoupi.audio.resolve_device is selection.resolve_device
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("acoupi.audio.devices")


def test_pipewire_lists_its_sources(pipewire_source: str) -> None:
    from acoupi.devices.audio import pipewire

    names = [device.name for device in pipewire.get_input_devices()]
    assert pipewire_source in names
    device = pipewire.get_input_device_by_name(pipewire_source)
    assert device.max_input_channels == 1
    assert pipewire.has_input_audio_device()
    with pytest.raises(DeviceUnavailableError, match=pipewire_source):
        pipewire.get_input_device_by_name("no-such-source")


def test_pipewire_listing_without_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from acoupi.devices.audio import pipewire

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DeviceUnavailableError, match="pw-dump") as caught:
        pipewire.get_input_devices()
    assert "pipewire-bin" in (caught.value.help or "")
    assert pipewire.has_input_audio_device() is False


def test_wav_header_helpers_of_0_8(tmp_path: Path) -> None:
    from acoupi.components.audio_recorder.base import (
        get_media_info,
        iter_riff_chunks,
        patch_samplerate,
    )

    recorder = PARecorder(0.1, 48_000, 2, "simulated", audio_dir=tmp_path)
    recording = recorder.record(make_deployment())
    assert recording.path is not None
    info = get_media_info(recording.path)
    assert (info.samplerate, info.audio_channels, info.frames) == (48_000, 2, 4_800)
    with open(recording.path, "rb") as handle:
        chunks = list(iter_riff_chunks(handle))
    assert chunks[0] == b"fmt " and b"data" in chunks and b"guan" in chunks
    # A file from another tool, slowed 10x afterwards: header only.
    patch_samplerate(recording.path, 4_800)
    frames, rate = read_wav(recording.path)
    assert rate == 4_800 and frames.shape == (4_800, 2)
    assert get_media_info(recording.path).duration == pytest.approx(1.0)
    not_wav = tmp_path / "x.wav"
    not_wav.write_bytes(b"nope")
    with pytest.raises(ValueError, match="not a WAV"):
        patch_samplerate(not_wav, 1)


def test_record_audio_of_0_8_returns_frames() -> None:
    from acoupi.components.audio_recorder.pyaudio_recorder import record_audio

    raw = record_audio(16_000, 1, "simulated", duration=0.1)
    assert len(raw) == 2 * 1_600
    raw = record_audio(16_000, 1, "simulated", num_chunks=2, chunksize=512)
    assert len(raw) == 2 * 1_024
    with pytest.raises(ValueError):
        record_audio(16_000, 1, "simulated")
