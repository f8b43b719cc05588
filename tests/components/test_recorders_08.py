"""acoupi 0.8's recorders: package layout, time expansion, PipeWire."""

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

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


def _require(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not installed: run `.ci/services` "
            "(packages pipewire, pipewire-bin, wireplumber, dbus-daemon)."
        )


@pytest.fixture
def pipewire_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private PipeWire (with WirePlumber) and a virtual source in it."""
    _require("pipewire", "wireplumber", "dbus-run-session", "pw-cli", "pw-record")
    runtime = tmp_path / "xdg-runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("PIPEWIRE_REMOTE", "acoupi-test-pw")
    env = dict(os.environ)
    logs = tmp_path / "pipewire.log"
    started = []
    with open(logs, "w") as log:
        started.append(
            subprocess.Popen(
                ["pipewire"],
                env={**env, "PIPEWIRE_CORE": "acoupi-test-pw"},
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        )
        try:
            deadline = time.monotonic() + 10
            while not (runtime / "acoupi-test-pw").exists():
                assert time.monotonic() < deadline, logs.read_text()
                time.sleep(0.05)
            started.append(
                subprocess.Popen(
                    ["dbus-run-session", "--", "wireplumber"],
                    env=env,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )
            name = f"acoupi-test-{uuid.uuid4().hex[:6]}"
            subprocess.run(
                [
                    "pw-cli",
                    "create-node",
                    "adapter",
                    "{ factory.name=support.null-audio-sink node.name="
                    + name
                    + " media.class=Audio/Source/Virtual object.linger=true"
                    " audio.position=[MONO] }",
                ],
                env=env,
                check=True,
                capture_output=True,
                timeout=10,
            )
            yield name
        finally:
            for process in reversed(started):
                os.killpg(process.pid, 15)
                process.wait(timeout=10)


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
