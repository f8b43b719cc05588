"""Audio input devices through PortAudio (sounddevice or PyAudio).

acoupi 0.3's ``acoupi.devices.audio`` API, at acoupi 0.8's module path.

No audio library is imported when this module is: acoupi must install, set
up programs and run its tests on machines without audio support. The
library is loaded on first use by :func:`open_audio_host`, which prefers
``sounddevice`` (the ``acoupi[audio]`` extra) and falls back to
``pyaudio``. Both need the PortAudio system library.

Functions taking ``p`` accept an *audio host*: a ``pyaudio.PyAudio``
instance or anything with the same device-listing methods (see
:class:`AudioHost`). ``p=None`` opens one.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Dict, List, Mapping, Optional, Protocol, Tuple

from pydantic import BaseModel

from acoupi.system.exceptions import AcoupiError

__all__ = [
    "AUDIO_LIBRARY_HELP",
    "AudioHost",
    "AudioLibraryNotFoundError",
    "DeviceInfo",
    "get_default_microphone",
    "get_input_device_by_name",
    "get_input_devices",
    "has_input_audio_device",
    "open_audio_host",
    "parse_device_name",
]

AUDIO_LIBRARY_HELP = (
    "Install audio support with `pip install 'acoupi[audio]'` and the "
    "PortAudio system library (on Raspberry Pi OS / Debian: "
    "`sudo apt install libportaudio2`)."
)


class AudioLibraryNotFoundError(AcoupiError):
    """No usable audio library (sounddevice or pyaudio) is installed."""

    def __init__(self, message: str, help: Optional[str] = AUDIO_LIBRARY_HELP):
        super().__init__(message, help)


class DeviceInfo(BaseModel):
    """An audio input device."""

    index: int
    name: str
    max_input_channels: int
    default_samplerate: float


class AudioStream(Protocol):
    """An open input stream (PyAudio's interface)."""

    def read(self, num_frames: int, exception_on_overflow: bool = True) -> bytes:
        """Read ``num_frames`` frames of 16-bit samples."""
        ...

    def stop_stream(self) -> None:
        """Stop capturing."""
        ...

    def close(self) -> None:
        """Release the stream."""
        ...


class AudioHost(Protocol):
    """The subset of ``pyaudio.PyAudio`` acoupi uses."""

    def get_device_count(self) -> int:
        """Return the number of devices."""
        ...

    def get_device_info_by_index(self, device_index: int) -> Mapping[str, Any]:
        """Return ``index``, ``name``, ``maxInputChannels``, ``defaultSampleRate``."""
        ...

    def get_default_input_device_info(self) -> Mapping[str, Any]:
        """Return the default input device; raise IOError when there is none."""
        ...

    def open(self, **kwargs: Any) -> AudioStream:
        """Open a stream (PyAudio keyword arguments)."""
        ...

    def terminate(self) -> None:
        """Release the library."""
        ...


def parse_device_name(name: str) -> str:
    """Return the readable part of a device name (text before the first ``:``).

    ``"UltraMic 250K 16 bit r4: USB Audio (hw:3,0)"`` → ``"UltraMic 250K 16
    bit r4"``.
    """
    return name.split(":", 1)[0].strip()


def import_sounddevice() -> Tuple[Optional[ModuleType], str, Optional[BaseException]]:
    """Import sounddevice; return ``(module, "", None)`` or ``(None, why, error)``."""
    try:
        return importlib.import_module("sounddevice"), "", None
    except ImportError as error:
        return None, "the Python package sounddevice is not installed", error
    except OSError as error:
        # sounddevice raises OSError when the PortAudio library is missing.
        return None, f"sounddevice cannot load PortAudio ({error})", error


def open_audio_host() -> AudioHost:
    """Load an audio library and return a host to list and open devices.

    Raises
    ------
    AudioLibraryNotFoundError
        When neither sounddevice nor pyaudio can be loaded; the message says
        why and ``help`` says how to install them.
    """
    problems: List[str] = []
    sounddevice, problem, _ = import_sounddevice()
    if sounddevice is not None:
        return _SoundDeviceHost(sounddevice)
    problems.append(problem)
    try:
        pyaudio = importlib.import_module("pyaudio")
    except ImportError:
        problems.append("the Python package pyaudio is not installed")
    else:
        host: AudioHost = pyaudio.PyAudio()
        return host
    raise AudioLibraryNotFoundError(
        "No audio library is available: " + "; ".join(problems) + "."
    )


def _device_info(info: Mapping[str, Any]) -> DeviceInfo:
    return DeviceInfo(
        index=int(info["index"]),
        name=parse_device_name(str(info["name"])),
        max_input_channels=int(info["maxInputChannels"]),
        default_samplerate=float(info["defaultSampleRate"]),
    )


def get_input_devices(p: Optional[AudioHost] = None) -> List[DeviceInfo]:
    """Return the devices that can record (at least one input channel).

    Raises
    ------
    AudioLibraryNotFoundError
        When ``p`` is None and no audio library is installed.
    """
    host = p if p is not None else open_audio_host()
    try:
        devices = []
        for index in range(host.get_device_count()):
            info = host.get_device_info_by_index(index)
            if int(info["maxInputChannels"]) > 0:
                devices.append(_device_info(info))
        return devices
    finally:
        if p is None:
            host.terminate()


def get_input_device_by_name(p: Optional[AudioHost], name: str) -> DeviceInfo:
    """Return the input device called ``name`` (readable or full name).

    Raises
    ------
    IOError
        When no input device has that name; the message lists those found.
    """
    devices = get_input_devices(p)
    wanted = parse_device_name(name)
    for device in devices:
        if device.name == wanted:
            return device
    available = ", ".join(repr(device.name) for device in devices) or "none"
    raise OSError(
        f"No input device named {name!r}. Available input devices: {available}."
    )


def has_input_audio_device() -> bool:
    """Return whether a default input device exists.

    False also when no audio library is installed (nothing can record).
    """
    try:
        host = open_audio_host()
    except AudioLibraryNotFoundError:
        return False
    try:
        host.get_default_input_device_info()
        return True
    except OSError:
        return False
    finally:
        host.terminate()


def get_default_microphone() -> Tuple[int, int, str]:
    """Return ``(channels, samplerate, raw name)`` of the default input device.

    Raises
    ------
    IOError
        When there is no default input device.
    AudioLibraryNotFoundError
        When no audio library is installed.
    """
    host = open_audio_host()
    try:
        info = host.get_default_input_device_info()
    except OSError as error:
        raise OSError("No compatible audio device found.") from error
    finally:
        host.terminate()
    return (
        int(info["maxInputChannels"]),
        int(info["defaultSampleRate"]),
        str(info["name"]),
    )


class _SoundDeviceStream:
    """A sounddevice raw input stream with PyAudio's reading interface."""

    def __init__(self, stream: Any):
        self._stream = stream
        self._stream.start()

    def read(self, num_frames: int, exception_on_overflow: bool = True) -> bytes:
        buffer, overflowed = self._stream.read(num_frames)
        if overflowed and exception_on_overflow:
            # Same meaning as PyAudio's overflow error: samples were lost.
            raise OSError("Input overflowed")
        return bytes(buffer)

    def stop_stream(self) -> None:
        self._stream.stop()

    def close(self) -> None:
        self._stream.close()


class _SoundDeviceHost:
    """Adapts the sounddevice module to the :class:`AudioHost` interface."""

    def __init__(self, sounddevice: Any):
        self._sd = sounddevice

    def get_device_count(self) -> int:
        return len(self._sd.query_devices())

    def get_device_info_by_index(self, device_index: int) -> Dict[str, Any]:
        info = self._sd.query_devices(device_index)
        return {
            "index": device_index,
            "name": info["name"],
            "maxInputChannels": info["max_input_channels"],
            "defaultSampleRate": info["default_samplerate"],
        }

    def get_default_input_device_info(self) -> Dict[str, Any]:
        # ``default.device`` is an (input, output) pair; -1 means none.
        device = self._sd.default.device
        try:
            index = device[0]
        except TypeError:
            index = device
        if index is None or int(index) < 0:
            raise OSError("No default input device available")
        return self.get_device_info_by_index(int(index))

    def is_format_supported(
        self,
        rate: float,
        input_device: Optional[int] = None,
        input_channels: Optional[int] = None,
        input_format: Any = None,
        **_: Any,
    ) -> bool:
        try:
            self._sd.check_input_settings(
                device=input_device,
                channels=input_channels,
                dtype="int16",
                samplerate=rate,
            )
        except Exception as error:  # PortAudioError is not importable here
            raise ValueError(str(error)) from error
        return True

    def open(self, **kwargs: Any) -> _SoundDeviceStream:
        stream = self._sd.RawInputStream(
            samplerate=kwargs["rate"],
            blocksize=kwargs.get("frames_per_buffer", 0),
            device=kwargs.get("input_device_index"),
            channels=kwargs["channels"],
            dtype="int16",
        )
        return _SoundDeviceStream(stream)

    def terminate(self) -> None:
        """Nothing to release: sounddevice manages PortAudio itself."""
