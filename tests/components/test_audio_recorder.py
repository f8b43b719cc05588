"""Audio devices and the recorder, with and without an audio library.

No audio library is installed in CI: a fake PyAudio-like host stands in for
one, and the missing-library paths are tested for real.
"""

import datetime
import subprocess
import sys
import time
import types
import wave

import pytest

from acoupi.components.audio_recorder import (
    MicrophoneConfig,
    PyAudioRecorder,
    parse_microphone_config,
)
from acoupi.components.audio_recorder import pyaudio_recorder as audio_recorder
from acoupi.components.recording_files import recording_id_from_path
from acoupi.devices import audio
from acoupi.system.exceptions import HealthCheckError, ParameterError
from audio_support import make_deployment

UTC = datetime.timezone.utc


class FakeStream:
    def __init__(self, channels, overflow_error=None):
        self.channels = channels
        self.overflow_error = overflow_error
        self.closed = False

    def read(self, num_frames, exception_on_overflow=True):
        if self.overflow_error:
            raise OSError(self.overflow_error)
        return b"\x01\x00" * num_frames * self.channels

    def stop_stream(self):
        pass

    def close(self):
        self.closed = True


class FakeHost:
    """Behaves like pyaudio.PyAudio for the calls acoupi makes."""

    def __init__(self, devices, default=0, error=None):
        self.devices = devices
        self.default = default
        self.error = error
        self.opened = []
        self.terminated = False

    def get_device_count(self):
        return len(self.devices)

    def get_device_info_by_index(self, index):
        name, channels, rate = self.devices[index]
        return {
            "index": index,
            "name": name,
            "maxInputChannels": channels,
            "defaultSampleRate": rate,
        }

    def get_default_input_device_info(self):
        if self.default is None:
            raise OSError("No Default Input Device Available")
        return self.get_device_info_by_index(self.default)

    def is_format_supported(
        self, rate, input_device=None, input_channels=None, input_format=None
    ):
        if rate != 48000:
            raise ValueError("Invalid sample rate")
        return True

    def open(self, **kwargs):
        self.opened.append(kwargs)
        return FakeStream(kwargs["channels"], self.error)

    def terminate(self):
        self.terminated = True


DEVICES = [
    ("HDA Intel PCH: ALC3246 Analog (hw:0,0)", 0, 44100.0),  # output only
    ("UltraMic 250K 16 bit r4: USB Audio (hw:3,0)", 1, 250000.0),
    ("default", 2, 48000.0),
]


@pytest.fixture
def no_audio_library(monkeypatch):
    # None in sys.modules makes ``import`` raise ImportError.
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    monkeypatch.setitem(sys.modules, "pyaudio", None)


@pytest.fixture
def host(monkeypatch):
    fake = FakeHost(DEVICES, default=1)
    # The package re-exports it; the listing functions use the module's.
    monkeypatch.setattr(audio, "open_audio_host", lambda: fake)
    monkeypatch.setattr(audio.pyaudio, "open_audio_host", lambda: fake)
    return fake


def test_importing_loads_no_audio_library():
    code = (
        "import sys\n"
        "sys.modules['sounddevice'] = sys.modules['pyaudio'] = None\n"
        "import acoupi.components.audio_recorder, acoupi.devices.audio\n"
        "import acoupi.tasks.recording, acoupi.tasks.management\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_library_error(no_audio_library):
    with pytest.raises(audio.AudioLibraryNotFoundError) as caught:
        audio.open_audio_host()
    assert "sounddevice" in caught.value.message and "pyaudio" in caught.value.message
    assert "pip install 'acoupi[audio]'" in caught.value.help
    assert "portaudio" in caught.value.help.lower()
    assert audio.has_input_audio_device() is False


def test_parse_device_name():
    assert (
        audio.parse_device_name("UltraMic 250K 16 bit r4: USB Audio (hw:3,0)")
        == "UltraMic 250K 16 bit r4"
    )
    assert audio.parse_device_name(" default ") == "default"


def test_device_listing_with_a_host(host):
    devices = audio.get_input_devices(host)
    assert [d.name for d in devices] == ["UltraMic 250K 16 bit r4", "default"]
    assert devices[0] == audio.DeviceInfo(
        index=1,
        name="UltraMic 250K 16 bit r4",
        max_input_channels=1,
        default_samplerate=250000.0,
    )
    assert audio.get_input_device_by_name(host, "default").index == 2
    # The full raw name works too.
    assert audio.get_input_device_by_name(host, DEVICES[1][0]).index == 1
    with pytest.raises(OSError, match="UltraMic"):
        audio.get_input_device_by_name(host, "missing")
    assert audio.get_input_devices() == devices  # opens (and closes) a host
    assert host.terminated
    assert audio.has_input_audio_device()
    assert audio.get_default_microphone() == (1, 250000, DEVICES[1][0])
    host.default = None
    assert not audio.has_input_audio_device()
    with pytest.raises(OSError, match="No compatible audio device"):
        audio.get_default_microphone()


def test_sounddevice_adapter(monkeypatch):
    class RawInputStream:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

        def start(self):
            pass

        def read(self, frames):
            return b"\x00\x00" * frames * self.kwargs["channels"], False

        def stop(self):
            pass

        def close(self):
            pass

    fake = types.SimpleNamespace(
        query_devices=lambda index=None: (
            [
                {
                    "name": "Mic: USB",
                    "max_input_channels": 1,
                    "default_samplerate": 48000.0,
                }
            ]
            if index is None
            else {
                "name": "Mic: USB",
                "max_input_channels": 1,
                "default_samplerate": 48000.0,
            }
        ),
        default=types.SimpleNamespace(device=[0, 1]),
        check_input_settings=lambda **kw: None,
        RawInputStream=RawInputStream,
    )
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    host = audio.open_audio_host()
    assert [d.name for d in audio.get_input_devices(host)] == ["Mic"]
    assert host.get_default_input_device_info()["name"] == "Mic: USB"
    stream = host.open(
        rate=48000, channels=1, frames_per_buffer=4, input_device_index=0
    )
    assert stream.read(4) == b"\x00" * 8


# Recorder ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_captures():
    # Each test gets its own input streams; none outlive it.
    from acoupi.audio.registry import close_shared_captures

    close_shared_captures()
    yield
    close_shared_captures()


def make_recorder(tmp_path, **kwargs):
    kwargs.setdefault("device_name", "simulated")
    return PyAudioRecorder(
        duration=0.5,
        samplerate=8000,
        audio_channels=1,
        chunksize=1024,
        audio_dir=tmp_path / "tmp",
        **kwargs,
    )


def test_record_writes_a_wav_named_with_the_recording_id(tmp_path):
    from acoupi.audio.wav import read_guano

    recorder = make_recorder(tmp_path, continuous=True)
    deployment = make_deployment()
    before = datetime.datetime.now(UTC)
    recording = recorder.record(deployment)
    assert recording.path.parent == tmp_path / "tmp"
    assert recording.path.name.startswith(f"{recording.created_on:%Y%m%d_%H%M%S}_")
    assert recording_id_from_path(recording.path) == recording.id
    # The time comes from the sample clock: the clip started when the stream
    # opened, just after ``before``.
    assert (
        before - datetime.timedelta(seconds=1)
        <= recording.created_on
        <= before + (datetime.timedelta(seconds=1))
    )
    assert recording.deployment == deployment and recording.chunksize == 1024
    with wave.open(str(recording.path)) as handle:
        assert handle.getframerate() == 8000
        assert handle.getnframes() == 4000  # exactly duration * samplerate
    assert read_guano(recording.path)["Samplerate"] == 8000
    assert not list((tmp_path / "tmp").glob(".*"))  # no partial file left


def test_continuous_recordings_tile_time(tmp_path):
    recorder = make_recorder(tmp_path, continuous=True)
    deployment = make_deployment()
    first, second, third = (recorder.record(deployment) for _ in range(3))
    step = datetime.timedelta(seconds=0.5)
    assert second.created_on - first.created_on == step
    assert third.created_on - second.created_on == step


def test_duty_cycled_recordings_start_now(tmp_path):
    recorder = make_recorder(tmp_path, continuous=False)
    deployment = make_deployment()
    first = recorder.record(deployment)
    time.sleep(0.3)
    second = recorder.record(deployment)
    assert second.created_on - first.created_on >= datetime.timedelta(seconds=0.75)


def test_get_recording_data_needs_an_amount(tmp_path):
    with pytest.raises(ValueError):
        make_recorder(tmp_path).get_recording_data()
    assert len(make_recorder(tmp_path).get_recording_data(num_chunks=2)) == 2 * 1024 * 2


def test_record_and_check_without_audio_library(tmp_path, no_audio_library):
    recorder = make_recorder(tmp_path, device_name="UltraMic 250K", device_wait=1)
    for action in (lambda: recorder.record(make_deployment()), recorder.check):
        with pytest.raises(HealthCheckError) as caught:
            action()
        assert "sounddevice" in caught.value.message + (caught.value.help or "")
        assert "pip install 'acoupi[audio]'" in (caught.value.help or "")


def test_check(tmp_path):
    make_recorder(tmp_path).check()  # the simulated microphone is always there
    with pytest.raises(HealthCheckError, match="device"):
        make_recorder(tmp_path, device_name="no such microphone").check()


def test_missing_device_fails_after_a_bounded_wait(tmp_path):
    recorder = make_recorder(tmp_path, device_name="no such microphone", device_wait=1)
    started = time.monotonic()
    with pytest.raises(HealthCheckError, match="no such microphone"):
        recorder.record(make_deployment())
    assert time.monotonic() - started < 10


# Microphone configuration ---------------------------------------------------------


def test_setup_non_interactive_from_args(host):
    args = [
        "--microphone.device_name",
        "default",
        "--microphone.samplerate",
        "16000",
        "--other",
        "x",
    ]
    config = MicrophoneConfig.setup(args, prompt=False, prefix="microphone")
    assert config == MicrophoneConfig(
        device_name="default", samplerate=16000, audio_channels=1
    )
    first = parse_microphone_config([], prompt=False, prefix="microphone")
    assert first == MicrophoneConfig(device_name="UltraMic 250K 16 bit r4")
    with pytest.raises(ParameterError, match="No audio device with the name nope"):
        parse_microphone_config(["--device_name", "nope"], prompt=False)


def test_setup_without_audio_library(no_audio_library):
    config = parse_microphone_config(
        ["--microphone.device_name", "USB Mic", "--microphone.audio_channels", "2"],
        prompt=False,
        prefix="microphone",
    )
    assert config == MicrophoneConfig(device_name="USB Mic", audio_channels=2)
    with pytest.raises(ParameterError) as caught:
        parse_microphone_config([], prompt=False, prefix="microphone")
    assert "--microphone.device_name" in caught.value.help
    assert "acoupi[audio]" in caught.value.help


def test_setup_without_devices(monkeypatch):
    monkeypatch.setattr(audio, "open_audio_host", lambda: FakeHost(DEVICES[:1]))
    with pytest.raises(ParameterError, match="No compatible audio device"):
        parse_microphone_config([], prompt=False)
    # Interactively, declining the simulated microphone is an error too...
    monkeypatch.setattr(audio_recorder.click, "confirm", lambda *a, **k: False)
    with pytest.raises(ParameterError, match="No compatible audio device"):
        parse_microphone_config(["--device_name", "Mic"], prompt=True)
    # ...and accepting it sets it up.
    monkeypatch.setattr(audio_recorder.click, "confirm", lambda *a, **k: True)
    assert parse_microphone_config([], prompt=True).device_name == "simulated"
    # An explicit name is trusted when nothing is plugged in yet.
    config = parse_microphone_config(["--device_name", "Mic"], prompt=False)
    assert config == MicrophoneConfig(device_name="Mic")


def test_setup_interactive(host, monkeypatch):
    answers = iter(["2", 2, 44100, 48000])
    monkeypatch.setattr(audio_recorder.click, "prompt", lambda *a, **k: next(answers))
    config = parse_microphone_config([], prompt=True)
    assert config == MicrophoneConfig(
        device_name="default", samplerate=48000, audio_channels=2
    )


def test_bad_argument_value_is_a_parameter_error(host):
    with pytest.raises(ParameterError):
        parse_microphone_config(["--samplerate", "fast"], prompt=False)


def test_setup_simulated_needs_no_device(no_audio_library, capsys):
    config = parse_microphone_config(
        ["--microphone.device_name", "simulated", "--microphone.samplerate", "192000"],
        prompt=False,
        prefix="microphone",
    )
    assert config == MicrophoneConfig(device_name="simulated", samplerate=192000)
    assert "Warning" not in capsys.readouterr().out


def test_setup_matches_names_ignoring_sample_rate_words(host):
    # An AudioMoth's name changes with its rate: the stable spec is kept.
    config = parse_microphone_config(
        ["--device_name", "UltraMic 16 bit r4"], prompt=False
    )
    assert config.device_name == "UltraMic 16 bit r4"
    with pytest.raises(ParameterError):
        parse_microphone_config(["--device_name", "AudioMoth"], prompt=False)


def test_setup_interactive_offers_the_simulated_microphone(host, monkeypatch):
    answers = iter(["sim", 96000])
    monkeypatch.setattr(audio_recorder.click, "prompt", lambda *a, **k: next(answers))
    config = parse_microphone_config([], prompt=True)
    assert config == MicrophoneConfig(device_name="simulated", samplerate=96000)


def test_file_names_are_configurable(tmp_path):
    import pydantic

    from acoupi.programs.templates import AudioConfiguration

    template = "site-A_{time:%Y%m%d_%H%M%S}_{id}"
    recorder = make_recorder(tmp_path, filename_template=template)
    recording = recorder.record(make_deployment())
    assert recording.path.name.startswith(
        f"site-A_{recording.created_on:%Y%m%d_%H%M%S}_"
    )
    assert recording_id_from_path(recording.path) == recording.id
    assert AudioConfiguration(filename_template=template).filename_template == template
    with pytest.raises(pydantic.ValidationError, match="must contain"):
        AudioConfiguration(filename_template="{time:%Y%m%d_%H%M%S}")
