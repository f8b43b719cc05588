"""Audio capture: sources, gap-free continuous capture, WAV + GUANO files.

Layers, bottom up:

- :mod:`~acoupi.audio.sources`: what a source delivers (frames with their
  absolute index, gaps); :class:`PortAudioSource` (a microphone) and
  :class:`SimulatedSource` (a rendered soundscape, paced in real time);
- :mod:`acoupi.devices.audio.selection`: find input devices by a stable
  rule, wait for them at boot (re-exported here);
- :class:`ContinuousCapture`: keeps the stream open, cuts clips at exact
  sample boundaries, timestamps them from the sample clock, reports gaps;
  :func:`shared_capture` shares one per device in a process;
- :func:`save_clip`: AudioMoth-style name + GUANO + atomic WAV write.

Nothing here imports sounddevice until a real device is used, and names
are loaded lazily so ``import acoupi.audio`` is cheap.
"""

from typing import TYPE_CHECKING

from acoupi._lazy import lazy_exports

if TYPE_CHECKING:
    from acoupi.audio.capture import (
        CaptureError,
        CaptureTimeoutError,
        ContinuousCapture,
    )
    from acoupi.audio.clip import Clip
    from acoupi.audio.files import save_clip
    from acoupi.audio.guano import clip_guano
    from acoupi.audio.naming import recording_filename
    from acoupi.audio.portaudio import PortAudioSource
    from acoupi.audio.registry import close_shared_captures, shared_capture
    from acoupi.audio.simulated import CounterSoundscape, SimulatedSource
    from acoupi.audio.sources import AudioSource, Gap
    from acoupi.audio.wav import is_complete_wav, read_guano, read_wav, write_wav
    from acoupi.devices.audio.selection import (
        DeviceSpec,
        InputDevice,
        check_input_settings,
        list_input_devices,
        resolve_device,
        wait_for_device,
    )

__all__ = [
    "AudioSource",
    "CaptureError",
    "CaptureTimeoutError",
    "Clip",
    "ContinuousCapture",
    "CounterSoundscape",
    "DeviceSpec",
    "Gap",
    "InputDevice",
    "PortAudioSource",
    "SimulatedSource",
    "check_input_settings",
    "clip_guano",
    "close_shared_captures",
    "is_complete_wav",
    "list_input_devices",
    "read_guano",
    "read_wav",
    "recording_filename",
    "resolve_device",
    "save_clip",
    "shared_capture",
    "wait_for_device",
    "write_wav",
]

_SUBMODULE_OF = {
    "CaptureError": "capture",
    "CaptureTimeoutError": "capture",
    "ContinuousCapture": "capture",
    "Clip": "clip",
    "save_clip": "files",
    "clip_guano": "guano",
    "recording_filename": "naming",
    "PortAudioSource": "portaudio",
    "close_shared_captures": "registry",
    "shared_capture": "registry",
    "CounterSoundscape": "simulated",
    "SimulatedSource": "simulated",
    "AudioSource": "sources",
    "Gap": "sources",
    "is_complete_wav": "wav",
    "read_guano": "wav",
    "read_wav": "wav",
    "write_wav": "wav",
}


_DEVICE_NAMES = (
    "DeviceSpec",
    "InputDevice",
    "check_input_settings",
    "list_input_devices",
    "resolve_device",
    "wait_for_device",
)
_lazy_getattr, __dir__ = lazy_exports(__name__, _SUBMODULE_OF)


def __getattr__(name: str) -> object:
    # Device selection lives in acoupi.devices.audio (one device package).
    if name in _DEVICE_NAMES:
        from acoupi.devices.audio import selection

        return getattr(selection, name)
    return _lazy_getattr(name)
