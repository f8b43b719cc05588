"""Record through PortAudio (``PARecorder``, acoupi 0.3's ``PyAudioRecorder``).

No audio library is imported here: ``acoupi.devices.audio`` loads one on
first use. Without one, setting up a program still works when the device
name is given explicitly, while recording or checking raises an error that
names the missing library and how to install it.
"""

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Tuple

import click
from pydantic import BaseModel, Field

from acoupi.components.audio_recorder.base import (
    SIMULATED_DEVICE,
    TMP_PATH,
    BaseAudioRecorder,
    is_simulated,
)
from acoupi.components.recording_files import FILENAME_TEMPLATE
from acoupi.components.timewindows import Clock
from acoupi.devices import audio
from acoupi.system.exceptions import HealthCheckError, ParameterError
from acoupi.timeutil import now_utc

if TYPE_CHECKING:
    from acoupi.audio.capture import ContinuousCapture
    from acoupi.audio.clip import Clip
    from acoupi.audio.sources import AudioSource

__all__ = [
    "SIMULATED_DEVICE",
    "TMP_PATH",
    "MicrophoneConfig",
    "PARecorder",
    "PARecorderConfig",
    "PyAudioRecorder",
    "parse_microphone_config",
    "record_audio",
]

PA_INT16 = 8
"""PortAudio's 16-bit integer sample format (``pyaudio.paInt16``)."""


class PARecorder(BaseAudioRecorder):
    """Record 16-bit WAV files from an input device through PortAudio.

    The input stream stays open between recordings (one per device and
    format in a worker process). In continuous mode each recording starts at
    the exact sample where the previous one ended, so files tile time with no
    gap and no overlap; otherwise each recording starts now. Timestamps come
    from the sample clock, not from when the task ran. Device name
    ``"simulated"`` records a synthetic soundscape in real time instead.

    Parameters
    ----------
    duration
        Seconds per recording.
    samplerate
        Samples per second (8 kHz to 384 kHz).
    audio_channels
        Number of channels.
    device_name
        Input device: a name (sample-rate words ignored, so "AudioMoth"
        matches "384kHz AudioMoth USB Microphone"), an index, a
        ``usb:VID:PID`` id, or ``"simulated"``.
    chunksize
        Frames per PortAudio block.
    audio_dir
        Folder of the temporary recordings.
    logger
        Optional logger.
    clock
        Unused by capture (times come from the sample clock); kept so callers
        that inject a clock keep working.
    continuous
        Tile recordings back to back (set when the recording interval equals
        the duration).
    device_wait
        Seconds to wait for a missing device (at boot, after a re-plug)
        before failing with a health-check error; kept well below Celery's
        task time limit.
    filename_template
        Name of the files: ``str.format`` with ``{time:<strftime>}`` (UTC)
        and ``{id}`` (the recording id, which crash recovery matches on).
    time_expansion
        Factor the files are slowed by (see :class:`BaseAudioRecorder`).
    """

    def __init__(
        self,
        duration: float,
        samplerate: int,
        audio_channels: int,
        device_name: str,
        chunksize: int = 2048,
        audio_dir: Path = TMP_PATH,
        logger: Optional[logging.Logger] = None,
        clock: Optional[Clock] = None,
        continuous: bool = False,
        device_wait: float = 10.0,
        filename_template: str = FILENAME_TEMPLATE,
        time_expansion: float = 1,
    ):
        super().__init__(
            duration=duration,
            samplerate=samplerate,
            audio_channels=audio_channels,
            device_name=device_name,
            audio_dir=audio_dir,
            time_expansion=time_expansion,
            logger=logger or logging.getLogger(__name__),
            filename_template=filename_template,
        )
        self.chunksize = chunksize
        self.sample_width = 2
        self.clock = clock or now_utc
        self.continuous = continuous
        self.device_wait = device_wait
        self.filename_template = filename_template

    def capture(self, duration: float) -> "Clip":
        """Capture ``duration`` seconds from the shared input stream.

        Raises
        ------
        HealthCheckError
            When no audio library is installed or the device never appears.
        ParameterError
            When the device name is ambiguous or the format is invalid.
        """
        capture = self._capture()
        n_frames = round(duration * self.samplerate)
        if self.continuous:
            clip = capture.next_clip(n_frames, timeout=duration + 30)
        else:
            clip = capture.clip_from_now(n_frames, timeout=duration + 30)
        self._report_gaps(clip)
        return clip

    def _capture(self) -> "ContinuousCapture":
        from acoupi.audio.registry import shared_capture

        # Hold a few recordings' worth so a late task never loses audio.
        buffer_seconds = max(60.0, 3 * self.duration)
        if is_simulated(self.device_name):
            return shared_capture(
                SIMULATED_DEVICE,
                self.samplerate,
                self.audio_channels,
                buffer_seconds=buffer_seconds,
                source_factory=self._simulated_source,
            )
        return shared_capture(
            self.device_name,
            self.samplerate,
            self.audio_channels,
            blocksize=self.chunksize,
            buffer_seconds=buffer_seconds,
            wait_timeout=self.device_wait,
        )

    def _simulated_source(self) -> "AudioSource":
        from acoupi.audio.simulated import SimulatedSource
        from acoupi.audio.soundscape import Soundscape

        return SimulatedSource(
            self.samplerate,
            self.audio_channels,
            soundscape=Soundscape(self.samplerate, self.audio_channels),
            name="Simulated microphone",
        )

    def _report_gaps(self, clip: "Clip") -> None:
        if clip.lost_frames:
            self.logger.warning(
                "Recording at %s is missing %d of %d frames (input overflow "
                "or a slow consumer); the missing audio is silence.",
                clip.created_on.isoformat(),
                clip.lost_frames,
                clip.n_frames,
            )
        if self.continuous and clip.skipped_frames:
            self.logger.warning(
                "%.3f s of audio were not recorded before %s (the recording "
                "task fell behind the input buffer).",
                clip.skipped_frames / clip.samplerate,
                clip.created_on.isoformat(),
            )

    def get_recording_data(
        self,
        duration: Optional[float] = None,
        num_chunks: Optional[int] = None,
    ) -> bytes:
        """Capture raw 16-bit frames for ``duration`` s or ``num_chunks`` chunks.

        Raises
        ------
        ValueError
            When neither duration nor num_chunks is given.
        HealthCheckError
            When no audio library is installed or the device never appears.
        """
        if duration is None and num_chunks is None:
            raise ValueError("Give either duration or num_chunks.")
        if duration is not None:
            n_frames = round(duration * self.samplerate)
        else:
            assert num_chunks is not None
            n_frames = max(1, num_chunks) * self.chunksize
        clip = self._capture().clip_from_now(n_frames)
        return clip.frames.tobytes()

    def save_recording(self, data: bytes, path: Path) -> None:
        """Write raw 16-bit frames to a WAV file at ``path`` (atomically)."""
        import numpy as np

        from acoupi.audio.wav import write_wav

        frames = np.frombuffer(data, dtype="<i2").reshape(-1, self.audio_channels)
        write_wav(path, frames, self.samplerate, overwrite=True)

    def get_input_device(self, p: audio.AudioHost) -> audio.DeviceInfo:
        """Return the configured input device.

        Raises
        ------
        ParameterError
            When no input device has the configured name.
        """
        try:
            return audio.get_input_device_by_name(p, self.device_name)
        except OSError as error:
            raise ParameterError(
                value="device_name",
                message=(
                    "The selected input device was not found. "
                    f"Device name: {self.device_name}. {error}"
                ),
                help="Check if the microphone is connected.",
            ) from error

    def check(self) -> None:
        """Check the device exists and accepts the sample rate and channels.

        Raises
        ------
        HealthCheckError
            When no audio library is installed, the device is missing, or it
            does not support the configured sample rate or channel count.
        """
        if is_simulated(self.device_name):
            return
        from acoupi.devices.audio.selection import check_input_settings, resolve_device

        try:
            device = resolve_device(self.device_name)
            check_input_settings(device, self.samplerate, self.audio_channels)
        except ParameterError as error:
            raise HealthCheckError(
                "The audio recorder is not compatible with the selected "
                f"microphone (device {self.device_name!r}): {error.message}",
                help=error.help or "Check the microphone settings with `acoupi setup`.",
            ) from error


class PARecorderConfig(BaseModel):
    """Which microphone to record from, and how (acoupi 0.8's name)."""

    device_name: str
    samplerate: int = 48_000
    audio_channels: int = 1
    time_expansion: float = Field(default=1, gt=0)
    """How many times slower the files play than the sound happened (1: real
    time; 10 for a bat detector's 10x time expansion)."""

    @classmethod
    def setup(
        cls, args: List[str], prompt: bool = True, prefix: str = ""
    ) -> "PARecorderConfig":
        """Build the configuration from arguments or prompts (config parser hook)."""
        return parse_microphone_config(args, prompt=prompt, prefix=prefix)


def _or_default(value: Optional[int], default: int) -> int:
    # Not ``value or default``: a given 0 must reach validation, not vanish.
    return default if value is None else value


MicrophoneConfig = PARecorderConfig
"""acoupi 0.3's name of :class:`PARecorderConfig`."""


def record_audio(
    samplerate: int,
    audio_channels: int,
    device_name: str,
    duration: Optional[float] = None,
    num_chunks: Optional[int] = None,
    chunksize: int = 2048,
) -> bytes:
    """Return raw 16-bit frames recorded from ``device_name`` (acoupi 0.8).

    Records ``duration`` seconds, or ``num_chunks`` blocks of ``chunksize``
    frames, through the device's shared input stream.

    Raises
    ------
    ValueError
        When neither ``duration`` nor ``num_chunks`` is given.
    HealthCheckError
        When no audio library is installed or the device never appears.
    """
    recorder = PARecorder(
        duration=duration or 1.0,
        samplerate=samplerate,
        audio_channels=audio_channels,
        device_name=device_name,
        chunksize=chunksize,
    )
    return recorder.get_recording_data(duration=duration, num_chunks=num_chunks)


PyAudioRecorder = PARecorder
"""acoupi 0.3's name of :class:`PARecorder`."""


def _field_name(prefix: str, field: str) -> str:
    return f"{prefix}.{field}" if prefix else field


def _parse_args(
    args: List[str], prefix: str
) -> Tuple[Optional[str], Optional[int], Optional[int]]:
    # A throw-away parser: only our three options, everything else ignored.
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    options = {"device_name": str, "samplerate": int, "audio_channels": int}
    for name, dtype in options.items():
        parser.add_argument(f"--{_field_name(prefix, name)}", dest=name, type=dtype)
    try:
        parsed, _ = parser.parse_known_args(args)
    except (argparse.ArgumentError, SystemExit) as error:
        # SystemExit: some argparse versions still exit on bad values.
        raise ParameterError(
            value=prefix or "microphone",
            message=f"Invalid microphone argument: {error}",
        ) from error
    return parsed.device_name, parsed.samplerate, parsed.audio_channels


def parse_time_expansion(args: List[str], prefix: str) -> float:
    """Return ``--<prefix>.time_expansion`` from ``args`` (1 when absent).

    Raises
    ------
    ParameterError
        When the value is not a number greater than 0.
    """
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    option = f"--{_field_name(prefix, 'time_expansion')}"
    parser.add_argument(option, dest="value", default="1")
    try:
        raw = parser.parse_known_args(args)[0].value
    except (argparse.ArgumentError, SystemExit) as error:
        raise ParameterError(value=option[2:], message=str(error)) from error
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ParameterError(
            value=option[2:],
            message=f"time_expansion must be a number greater than 0, not {raw!r}.",
            help="Use 1 for real-time recordings, 10 for 10x time expansion.",
        )
    return value


def parse_microphone_config(
    args: List[str], prompt: bool = True, prefix: str = ""
) -> MicrophoneConfig:
    """Build a :class:`MicrophoneConfig` from ``--<prefix>.*`` args or prompts.

    ``--<prefix>.time_expansion`` (default 1) is read from ``args`` too.
    """
    time_expansion = parse_time_expansion(args, prefix)
    config = _parse_device_config(args, prompt, prefix)
    return config.model_copy(update={"time_expansion": time_expansion})


def _parse_device_config(
    args: List[str], prompt: bool, prefix: str
) -> MicrophoneConfig:
    """Pick the device, sample rate and channels from ``args`` or prompts.

    Non-interactively, ``--<prefix>.device_name`` (default: the first input
    device), ``--<prefix>.samplerate`` (default 48000) and
    ``--<prefix>.audio_channels`` (default 1) are read from ``args``.
    Interactively, the user picks a device from a table and a supported
    channel count and sample rate.

    When the devices cannot be listed (no audio library) or none is
    connected, a device name given in ``args`` is accepted as is, with a
    warning, so programs can be set up on machines without audio support
    or before the microphone is plugged in. A name that matches none of the
    connected devices is still an error.

    Raises
    ------
    ParameterError
        When no input device is found, the named one does not exist, or no
        audio library is installed and no device name was given.
    """
    click.secho("* Setting up microphone configuration.", fg="green")
    device_name, samplerate, audio_channels = _parse_args(args, prefix)
    if device_name is not None and is_simulated(device_name):
        click.echo("Using the simulated microphone (a synthetic soundscape).")
        return MicrophoneConfig(
            device_name=SIMULATED_DEVICE,
            samplerate=_or_default(samplerate, 48_000),
            audio_channels=_or_default(audio_channels, 1),
        )
    name_option = f"--{_field_name(prefix, 'device_name')}"
    unchecked = MicrophoneConfig(
        device_name=device_name or "unknown",
        samplerate=_or_default(samplerate, 48_000),
        audio_channels=_or_default(audio_channels, 1),
    )
    try:
        host = audio.open_audio_host()
    except audio.AudioLibraryNotFoundError as error:
        if device_name:
            click.secho(
                f"Warning: {error.message} The microphone {device_name!r} "
                "could not be checked.",
                fg="yellow",
            )
            return unchecked
        raise ParameterError(
            value="device_name",
            message=f"Cannot list microphones: {error.message}",
            help=f"{error.help} Or give the device name with {name_option}.",
        ) from error
    try:
        devices = audio.get_input_devices(host)
        if not devices and device_name and not prompt:
            # Set up before the microphone is plugged in (or in CI): trust
            # the explicit name; `acoupi check` tests it later.
            click.secho(
                f"Warning: no input device is connected; the microphone "
                f"{device_name!r} could not be checked.",
                fg="yellow",
            )
            return unchecked
        if not devices and prompt:
            if click.confirm(
                "No microphone is connected. Use the simulated microphone "
                "(synthetic bat and bird calls) instead?",
                default=False,
            ):
                return MicrophoneConfig(
                    device_name=SIMULATED_DEVICE, samplerate=192_000
                )
        if not devices:
            click.secho("No compatible audio device found.", fg="red")
            raise ParameterError(
                value="device_index",
                message="No compatible audio device found.",
                help="Connect a microphone and check it is listed by `arecord -l`.",
            )
        if not prompt:
            return _config_from_args(devices, device_name, samplerate, audio_channels)
        return _config_from_prompts(host, devices)
    finally:
        host.terminate()


def _config_from_args(
    devices: List[audio.DeviceInfo],
    device_name: Optional[str],
    samplerate: Optional[int],
    audio_channels: Optional[int],
) -> MicrophoneConfig:
    if device_name is None:
        name = devices[0].name
    else:
        # Matched as capture matches it (sample-rate words ignored), and the
        # given name is kept: an AudioMoth's full name changes with its rate.
        from acoupi.devices.audio.selection import normalise_name

        wanted = normalise_name(device_name)
        if not any(wanted in normalise_name(d.name) for d in devices):
            available = ", ".join(repr(d.name) for d in devices)
            raise ParameterError(
                value="device_name",
                message=f"No audio device with the name {device_name} found.",
                help=f"Available input devices: {available}.",
            )
        name = device_name
    return MicrophoneConfig(
        device_name=name,
        samplerate=_or_default(samplerate, 48_000),
        audio_channels=_or_default(audio_channels, 1),
    )


def _config_from_prompts(
    host: audio.AudioHost, devices: List[audio.DeviceInfo]
) -> MicrophoneConfig:
    click.echo(f"{'Index':>5}  {'Name':<40} {'Channels':>8}  {'Sample Rate':>11}")
    for device in devices:
        click.echo(
            f"{device.index:>5}  {device.name:<40} "
            f"{device.max_input_channels:>8}  {device.default_samplerate:>11.0f}"
        )
    click.echo(f"{'sim':>5}  {'simulated (synthetic bats and birds)':<40}")
    by_index = {device.index: device for device in devices}
    index = click.prompt(
        "Select the microphone (index)",
        type=click.Choice([str(i) for i in by_index] + ["sim"]),
        default=str(devices[0].index),
    )
    if index == "sim":
        rate = click.prompt(
            "Sample rate (Hz)", type=click.IntRange(8_000, 384_000), default=192_000
        )
        return MicrophoneConfig(device_name=SIMULATED_DEVICE, samplerate=rate)
    device = by_index[int(index)]
    # One channel by default: most microphones have one, and a sound card
    # listing 32 inputs would otherwise record 32 channels on Enter.
    channels = click.prompt(
        "Number of audio channels",
        type=click.IntRange(1, device.max_input_channels),
        default=1,
    )
    samplerate = int(device.default_samplerate)
    while True:
        samplerate = click.prompt("Sample rate (Hz)", type=int, default=samplerate)
        problem = _format_problem(host, device, samplerate, channels)
        if problem is None:
            break
        click.secho(f"Unsupported settings: {problem}", fg="red")
        if "Invalid sample rate" in problem:
            click.echo(f"Try the device default, {device.default_samplerate:.0f} Hz.")
    return MicrophoneConfig(
        device_name=device.name, samplerate=samplerate, audio_channels=channels
    )


def _format_problem(
    host: audio.AudioHost, device: audio.DeviceInfo, samplerate: int, channels: int
) -> Optional[str]:
    """Return why the device cannot record with these settings, or None."""
    is_supported = getattr(host, "is_format_supported", None)
    if is_supported is None:
        return None
    try:
        is_supported(
            samplerate,
            input_device=device.index,
            input_channels=channels,
            input_format=PA_INT16,
        )
    except ValueError as error:
        return str(error)
    return None
