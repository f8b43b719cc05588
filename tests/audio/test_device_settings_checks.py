"""Setup and config checks against a real capture device (PulseAudio).

The private PulseAudio server of ``conftest.py`` is reached through
PortAudio's ALSA ``pulse`` device, which lists many input channels: the
microphone prompt must still default to one, and settings the device
refuses must be reported by the same probe ``acoupi check`` uses.
"""

import click
from click.testing import CliRunner
from pydantic import BaseModel

from acoupi.components.audio_recorder import MicrophoneConfig, parse_microphone_config
from acoupi.devices.audio.selection import list_input_devices
from acoupi.system.config.checks import probe_microphone


class _Config(BaseModel):
    microphone: MicrophoneConfig


def _pulse() -> object:
    devices = [d for d in list_input_devices() if d.name.startswith("pulse")]
    assert devices, [d.name for d in list_input_devices()]
    return devices[0]


def test_microphone_prompt_defaults_to_one_channel(pulse_server) -> None:
    device = _pulse()
    assert device.channels > 1  # the trap: Enter used to take them all
    chosen = {}

    @click.command()
    def pick() -> None:
        chosen["config"] = parse_microphone_config([], prompt=True)

    # Pick the pulse device, then press Enter for channels and sample rate.
    result = CliRunner().invoke(pick, input=f"{device.index}\n\n48000\n")

    assert result.exit_code == 0, result.output
    assert "Number of audio channels [1]" in result.output
    assert chosen["config"].audio_channels == 1
    assert chosen["config"].device_name == device.name


def test_probe_accepts_what_the_device_records(pulse_server) -> None:
    config = _Config(
        microphone=MicrophoneConfig(device_name="pulse", samplerate=48_000)
    )
    assert probe_microphone(config) == []


def test_probe_reports_settings_the_device_refuses(pulse_server) -> None:
    device = _pulse()
    config = _Config(
        microphone=MicrophoneConfig(
            device_name="pulse", samplerate=48_000, audio_channels=device.channels + 1
        )
    )

    problems = probe_microphone(config)

    assert len(problems) == 1 and problems[0].error
    assert f"has {device.channels} input channel(s)" in problems[0].message


def test_probe_warns_when_the_microphone_is_missing(pulse_server) -> None:
    config = _Config(microphone=MicrophoneConfig(device_name="AudioMoth 9000"))

    problems = probe_microphone(config)

    assert len(problems) == 1 and not problems[0].error
    assert "could not be checked" in problems[0].message
