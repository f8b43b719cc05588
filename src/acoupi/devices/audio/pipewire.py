"""PipeWire audio sources, as ``pw-dump`` lists them (acoupi 0.8).

Used to choose the ``device_name`` of a :class:`~acoupi.components.
audio_recorder.PWRecorder`: a source's ``node.name``.
"""

import json
import shutil
import subprocess
from typing import Any, Dict, Iterable, List

from pydantic import BaseModel

from acoupi.system.exceptions import DeviceUnavailableError

__all__ = [
    "DeviceInfo",
    "get_default_microphone",
    "get_input_device_by_name",
    "get_input_devices",
    "has_input_audio_device",
]

SOURCE_CLASSES = ("Audio/Source", "Audio/Source/Virtual")
"""``media.class`` of the nodes that can be recorded from."""

_TIMEOUT = 10.0


class DeviceInfo(BaseModel):
    """A PipeWire audio source."""

    name: str
    """``node.name``: what ``pw-record --target`` takes."""

    description: str
    """Readable name (``node.description``)."""

    max_input_channels: int
    """Most channels the source offers (its current channel count if unknown)."""

    samplerates: List[int]
    """Sample rates it advertises (may be empty: PipeWire resamples)."""


def _dump() -> List[Dict[str, Any]]:
    executable = shutil.which("pw-dump")
    if executable is None:
        raise DeviceUnavailableError(
            "The pw-dump command was not found.",
            help="Install PipeWire's tools (`sudo apt install pipewire-bin`).",
        )
    try:
        result = subprocess.run(
            [executable],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=_TIMEOUT,
        )
    except subprocess.TimeoutExpired as error:
        raise DeviceUnavailableError(
            f"pw-dump did not answer within {_TIMEOUT:.0f} s.",
            help="Check that PipeWire is running (`pw-cli info 0`).",
        ) from error
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()
        raise DeviceUnavailableError(
            "Cannot list PipeWire devices" + (f": {detail[-1]}" if detail else "."),
            help="Check that PipeWire is running for this user (`pw-cli info 0`).",
        )
    objects = json.loads(result.stdout or "[]")
    return [item for item in objects if isinstance(item, dict)]


def _numbers(value: Any) -> Iterable[int]:
    # SPA choices: a number, or {"default": n, "min": a, "max": b} /
    # {"default": n, "alt1": ...}; ranges give their bounds.
    if isinstance(value, (int, float)):
        yield int(value)
    elif isinstance(value, dict):
        for item in value.values():
            if isinstance(item, (int, float)):
                yield int(item)
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)


def _device(info: Dict[str, Any]) -> DeviceInfo:
    props = info.get("props", {})
    formats = info.get("params", {}).get("EnumFormat") or []
    rates = sorted({r for f in formats for r in _numbers(f.get("rate"))})
    channels = [c for f in formats for c in _numbers(f.get("channels"))]
    current = props.get("audio.channels")
    if not channels and isinstance(current, int):
        channels = [current]
    name = str(props.get("node.name", ""))
    return DeviceInfo(
        name=name,
        description=str(props.get("node.description", name)),
        max_input_channels=max(channels, default=1),
        samplerates=rates,
    )


def get_input_devices() -> List[DeviceInfo]:
    """Return every PipeWire source of the current user's session.

    Raises
    ------
    DeviceUnavailableError
        When PipeWire's tools are missing or PipeWire does not answer.
    """
    return [
        _device(item["info"])
        for item in _dump()
        if item.get("type") == "PipeWire:Interface:Node"
        and isinstance(item.get("info"), dict)
        and item["info"].get("props", {}).get("media.class") in SOURCE_CLASSES
    ]


def get_input_device_by_name(name: str) -> DeviceInfo:
    """Return the source whose ``node.name`` (or description) is ``name``.

    Raises
    ------
    DeviceUnavailableError
        When no source has that name; the message lists those found.
    """
    devices = get_input_devices()
    for device in devices:
        if name in (device.name, device.description):
            return device
    available = ", ".join(repr(d.name) for d in devices) or "none"
    raise DeviceUnavailableError(
        f"No PipeWire source named {name!r}. Available sources: {available}.",
        help="Connect the microphone, or pick a name from `pw-cli ls Node`.",
    )


def has_input_audio_device() -> bool:
    """Return whether PipeWire has at least one source."""
    try:
        return bool(get_input_devices())
    except DeviceUnavailableError:
        return False


def get_default_microphone() -> DeviceInfo:
    """Return the first PipeWire source.

    Raises
    ------
    DeviceUnavailableError
        When there is none.
    """
    devices = get_input_devices()
    if not devices:
        raise DeviceUnavailableError(
            "No PipeWire audio source found.",
            help="Connect a microphone and check `pw-cli ls Node`.",
        )
    return devices[0]
