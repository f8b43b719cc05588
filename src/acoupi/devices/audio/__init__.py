"""Audio input devices (acoupi 0.8's package layout, acoupi 0.3's names).

- :mod:`.pyaudio`: list devices through PortAudio (sounddevice or PyAudio);
  its functions are acoupi 0.3's ``acoupi.devices.audio`` API, re-exported
  here.
- :mod:`.selection`: find the device to record from by a rule that survives
  reboots and re-plugs, wait for it, check its format.
- :mod:`.pipewire`: list PipeWire sources (``pw-dump``).

No audio library is imported with this package.
"""

from acoupi.devices.audio.pyaudio import (
    AUDIO_LIBRARY_HELP,
    AudioHost,
    AudioLibraryNotFoundError,
    DeviceInfo,
    get_default_microphone,
    get_input_device_by_name,
    get_input_devices,
    has_input_audio_device,
    open_audio_host,
    parse_device_name,
)

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
