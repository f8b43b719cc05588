"""Find audio input devices, by a rule that survives reboots and re-plugs.

Imports no audio library: sounddevice is loaded on first use, so acoupi
installs, configures and tests on machines without audio support.

Device specs
------------
A *device spec* says which input to record from:

``None`` or ``"default"``
    PortAudio's default input device.
``int`` or a string of digits
    PortAudio device index (changes when devices come and go: avoid).
``"usb:VID:PID[:SERIAL]"``, ``"alsa:CARD_ID"``, ``"name:…"``
    A :attr:`InputDevice.stable_id`, or a prefix of one ending at a ``:``.
    ``"usb:16d0:06f3"`` is any AudioMoth; with its serial, one AudioMoth.
any other string
    Case-insensitive substring of the device name *after normalisation*,
    which drops ALSA's ``": USB Audio (hw:2,0)"`` suffix and sample-rate
    words such as ``48kHz``/``384kHz``/``250K``. An AudioMoth renames
    itself with its sample rate ("AudioMoth 48kHz", "384kHz AudioMoth USB
    Microphone"); both normalise to contain ``"audiomoth"``, so the spec
    ``"AudioMoth 48kHz"`` still finds it after a firmware change.

An exact normalised match wins over substring matches. Several matches
that are different hardware (different stable ids) are an error: picking
one would risk recording the wrong microphone for months.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, List, Mapping, Optional, Sequence, Union

from acoupi.devices.audio.pyaudio import AUDIO_LIBRARY_HELP, import_sounddevice
from acoupi.system.exceptions import HealthCheckError, ParameterError

__all__ = [
    "AUDIO_INSTALL_HELP",
    "DeviceSpec",
    "InputDevice",
    "check_input_settings",
    "list_input_devices",
    "load_sounddevice",
    "normalise_name",
    "refresh_devices",
    "resolve_device",
    "stable_device_id",
    "wait_for_device",
]

DeviceSpec = Union[int, str, None]
"""Which input device to use (see the module documentation)."""

AUDIO_INSTALL_HELP = AUDIO_LIBRARY_HELP
"""How to install audio support (same text as the device listing's)."""

_RATE_WORD = re.compile(r"\b\d+(?:\.\d+)?\s*k(?:hz)?\b", re.IGNORECASE)
_ALSA_HW = re.compile(r"\(hw:(\d+),(\d+)\)")
_STABLE_PREFIXES = ("usb:", "alsa:", "name:")

_active_streams = 0
"""Open PortAudio streams in this process (device refresh must wait)."""


@dataclass(frozen=True)
class InputDevice:
    """An audio input device as PortAudio lists it.

    Attributes
    ----------
    index
        PortAudio device index (valid until devices are re-listed).
    name
        Full PortAudio name, e.g. ``"AudioMoth 48kHz: USB Audio (hw:2,0)"``.
    channels
        Maximum input channels.
    default_samplerate
        Default sample rate in Hz.
    hostapi
        PortAudio host API name (``"ALSA"`` on Linux).
    stable_id
        Identifier that survives re-plugging and sample-rate changes:
        ``usb:VID:PID[:SERIAL]`` for USB sound cards, ``alsa:CARD_ID`` for
        other ALSA cards, else ``name:<normalised name>``.
    is_default
        Whether this is the default input device.
    """

    index: int
    name: str
    channels: int
    default_samplerate: float
    hostapi: str = ""
    stable_id: str = ""
    is_default: bool = False

    @property
    def short_name(self) -> str:
        """The name before ALSA's ``": USB Audio (hw:…)"`` suffix."""
        return self.name.split(":", 1)[0].strip()


def load_sounddevice() -> ModuleType:
    """Import sounddevice (which loads PortAudio).

    Raises
    ------
    HealthCheckError
        When sounddevice is not installed or PortAudio cannot be loaded;
        the help names both install commands.
    """
    module, problem, cause = import_sounddevice()
    if module is not None:
        return module
    raise HealthCheckError(
        f"Cannot record audio: {problem}.", help=AUDIO_INSTALL_HELP
    ) from cause


def normalise_name(name: str) -> str:
    """Return the comparable part of a device name.

    Drops the ALSA suffix and sample-rate words, lower-cases and collapses
    spaces: ``"384kHz AudioMoth USB Microphone: USB Audio (hw:2,0)"`` →
    ``"audiomoth usb microphone"``.
    """
    short = name.split(":", 1)[0]
    return " ".join(_RATE_WORD.sub(" ", short).lower().split())


def stable_device_id(name: str, sys_root: Path = Path("/")) -> str:
    """Return a stable identifier for a PortAudio device name.

    For ALSA ``hw:N,M`` devices the USB vendor, product and serial come
    from sysfs (``/sys/class/sound/cardN/device/..``) or, without a serial,
    ``/proc/asound/cardN/usbid``; non-USB cards use their ALSA card id.

    Parameters
    ----------
    name
        PortAudio device name.
    sys_root
        Filesystem root holding ``sys`` and ``proc`` (tests use a fake).
    """
    match = _ALSA_HW.search(name)
    if match is not None:
        card = match.group(1)
        usb = sys_root / "sys/class/sound" / f"card{card}" / "device" / ".."
        vendor = _read(usb / "idVendor")
        product = _read(usb / "idProduct")
        if vendor and product:
            serial = _read(usb / "serial")
            return ":".join(["usb", vendor, product] + ([serial] if serial else []))
        usbid = _read(sys_root / "proc/asound" / f"card{card}" / "usbid")
        if usbid:
            return f"usb:{usbid.lower()}"
        card_id = _read(sys_root / "proc/asound" / f"card{card}" / "id")
        if card_id:
            return f"alsa:{card_id}"
    return "name:" + normalise_name(name).replace(" ", "-")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _from_portaudio(
    info: Mapping[str, Any], hostapis: Sequence[Mapping[str, Any]], default: int
) -> InputDevice:
    index = int(info["index"])
    hostapi = int(info.get("hostapi", -1))
    return InputDevice(
        index=index,
        name=str(info["name"]),
        channels=int(info["max_input_channels"]),
        default_samplerate=float(info["default_samplerate"]),
        hostapi=str(hostapis[hostapi]["name"]) if 0 <= hostapi < len(hostapis) else "",
        stable_id=stable_device_id(str(info["name"])),
        is_default=index == default,
    )


def list_input_devices() -> List[InputDevice]:
    """Return every device with at least one input channel.

    Raises
    ------
    HealthCheckError
        When sounddevice or PortAudio is missing.
    """
    sd = load_sounddevice()
    hostapis = list(sd.query_hostapis())
    try:
        default = int(sd.default.device[0])
    except (TypeError, ValueError, IndexError):
        default = -1
    return [
        _from_portaudio(info, hostapis, default)
        for info in sd.query_devices()
        if int(info["max_input_channels"]) > 0
    ]


def refresh_devices() -> bool:
    """Make PortAudio list devices plugged in since it started.

    PortAudio enumerates devices once, when initialised. Re-initialising
    would break open streams, so this does nothing (returns False) while
    this process has a stream open.
    """
    sd = load_sounddevice()
    if _active_streams > 0:
        return False
    sd._terminate()
    sd._initialize()
    return True


def _matches(spec: str, devices: Sequence[InputDevice]) -> List[InputDevice]:
    lowered = spec.strip().lower()
    if lowered.startswith(_STABLE_PREFIXES):
        return [
            d
            for d in devices
            if d.stable_id.lower() == lowered
            or d.stable_id.lower().startswith(lowered.rstrip(":") + ":")
        ]
    wanted = normalise_name(spec)
    exact = [d for d in devices if normalise_name(d.name) == wanted]
    if exact:
        return exact
    return [
        d
        for d in devices
        if (wanted and wanted in normalise_name(d.name)) or lowered in d.name.lower()
    ]


def find_device(
    spec: DeviceSpec, devices: Sequence[InputDevice]
) -> Optional[InputDevice]:
    """Return the device ``spec`` names among ``devices``, or None.

    Raises
    ------
    ParameterError
        When ``spec`` matches several different devices.
    """
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "default"):
        defaults = [d for d in devices if d.is_default]
        return defaults[0] if defaults else None
    if isinstance(spec, int) or spec.strip().isdigit():
        index = int(spec)
        return next((d for d in devices if d.index == index), None)
    matches = _matches(spec, devices)
    if not matches:
        return None
    if len({d.stable_id for d in matches}) > 1:
        listed = "; ".join(f"{d.name!r} ({d.stable_id})" for d in matches)
        raise ParameterError(
            "device_name",
            f"The device name {spec!r} matches several microphones: {listed}.",
            help="Give a longer name or the stable id (usb:VID:PID:SERIAL).",
        )
    # The same hardware listed several times: take the lowest index (the
    # direct ``hw`` device comes before ALSA's plugin devices).
    return min(matches, key=lambda d: d.index)


def _not_found(spec: DeviceSpec, devices: Sequence[InputDevice]) -> str:
    available = ", ".join(f"{d.name!r} ({d.stable_id})" for d in devices) or "none"
    return f"No audio input device matches {spec!r}. Input devices: {available}."


def resolve_device(
    spec: DeviceSpec, devices: Optional[Sequence[InputDevice]] = None
) -> InputDevice:
    """Return the input device ``spec`` names (see the module docs).

    Parameters
    ----------
    spec
        Device spec.
    devices
        Devices to choose from (default: :func:`list_input_devices`).

    Raises
    ------
    ParameterError
        When no device, or several different devices, match.
    HealthCheckError
        When sounddevice or PortAudio is missing.
    """
    if devices is None:
        devices = list_input_devices()
    device = find_device(spec, devices)
    if device is None:
        raise ParameterError(
            "device_name",
            _not_found(spec, devices),
            help="Check the microphone is connected (`arecord -l` lists it).",
        )
    return device


def wait_for_device(
    spec: DeviceSpec,
    timeout: float = 60.0,
    poll: float = 2.0,
    *,
    lister: Optional[Callable[[], List[InputDevice]]] = None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> InputDevice:
    """Return the device ``spec`` names, waiting for it to appear.

    At boot a USB microphone can enumerate after acoupi starts; this polls
    every ``poll`` seconds (re-listing devices each time) up to ``timeout``.

    Parameters
    ----------
    spec
        Device spec.
    timeout
        Seconds to wait in total.
    poll
        Seconds between attempts.
    lister
        Lists devices (default: refresh PortAudio, then list its devices).
    sleep, monotonic
        Injectable for tests.

    Raises
    ------
    HealthCheckError
        When the device did not appear in time (the message lists what was
        found), or sounddevice/PortAudio is missing.
    ParameterError
        When ``spec`` matches several different devices.
    """
    if lister is None:
        lister = _fresh_listing
    deadline = monotonic() + timeout
    first = True
    while True:
        devices = (
            list_input_devices() if first and lister is _fresh_listing else lister()
        )
        first = False
        device = find_device(spec, devices)
        if device is not None:
            return device
        if monotonic() + poll > deadline:
            raise HealthCheckError(
                f"{_not_found(spec, devices)} Waited {timeout:.0f} s for it.",
                help="Check the microphone is plugged in and listed by `arecord -l`.",
            )
        sleep(poll)


def _fresh_listing() -> List[InputDevice]:
    refresh_devices()
    return list_input_devices()


def check_input_settings(device: InputDevice, samplerate: int, channels: int) -> None:
    """Check the device can record int16 at ``samplerate`` with ``channels``.

    Raises
    ------
    HealthCheckError
        With the reason (unsupported rate or channel count) and a fix.
    """
    sd = load_sounddevice()
    if channels > device.channels:
        raise HealthCheckError(
            f"{device.name!r} has {device.channels} input channel(s), not {channels}.",
            help="Choose a number of channels the microphone supports.",
        )
    try:
        sd.check_input_settings(
            device=device.index,
            samplerate=samplerate,
            channels=channels,
            dtype="int16",
        )
    except Exception as error:  # sounddevice raises PortAudioError/ValueError
        raise HealthCheckError(
            f"{device.name!r} cannot record {channels} channel(s) at "
            f"{samplerate} Hz: {error}",
            help=(
                f"Choose a sample rate the microphone supports (default "
                f"{device.default_samplerate:.0f} Hz). An AudioMoth records at "
                "the rate its USB firmware was configured with."
            ),
        ) from error
