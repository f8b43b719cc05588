"""One open capture per device and format, shared within a process.

Every ``PyAudioRecorder.record()`` call in a Celery worker process gets the
same running :class:`~acoupi.audio.capture.ContinuousCapture`, so the
stream stays open between recordings (no gaps, no re-open per file).

A capture that failed or stalled (device unplugged) is replaced on the
next call, which waits for the device to come back. After ``fork`` the
child forgets the parent's captures: PortAudio streams and their threads
do not survive a fork, and Celery's prefork pool forks workers.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Callable, Dict, Optional, Tuple

from acoupi.audio.capture import ContinuousCapture
from acoupi.audio.sources import AudioSource
from acoupi.devices.audio.selection import DeviceSpec, normalise_name

__all__ = ["close_shared_captures", "shared_capture"]

Key = Tuple[str, int, int]

_lock = threading.Lock()
_captures: Dict[Key, ContinuousCapture] = {}


def _key(device: DeviceSpec, samplerate: int, channels: int) -> Key:
    spec = "default" if device is None else str(device).strip()
    if not spec.isdigit() and ":" not in spec:
        spec = normalise_name(spec)
    return (spec.lower(), samplerate, channels)


def shared_capture(
    device: DeviceSpec,
    samplerate: int,
    channels: int = 1,
    *,
    blocksize: int = 2048,
    buffer_seconds: float = 60.0,
    wait_timeout: float = 60.0,
    stall_seconds: float = 5.0,
    source_factory: Optional[Callable[[], AudioSource]] = None,
) -> ContinuousCapture:
    """Return this process's running capture for a device and format.

    Starts one (waiting up to ``wait_timeout`` s for the device) unless a
    healthy one exists; grows its buffer to ``buffer_seconds`` if needed.

    Parameters
    ----------
    device
        Device spec (see :mod:`acoupi.devices.audio.selection`). Specs are compared
        after normalisation ("AudioMoth 48kHz" and "audiomoth" share one).
    samplerate, channels
        Stream format.
    blocksize
        Frames per PortAudio callback.
    buffer_seconds
        Minimum audio held; use at least twice the clip length plus the
        worst task delay expected.
    wait_timeout
        Seconds to wait for the device to appear (boot, re-plug).
    stall_seconds
        A capture silent for this long is replaced.
    source_factory
        Builds the source (default: a :class:`PortAudioSource`); tests pass
        a :class:`SimulatedSource`.

    Raises
    ------
    HealthCheckError
        When no audio library is installed, the device does not appear, or
        the stream cannot be opened.
    ParameterError
        When the device spec is ambiguous or the format is invalid.
    """
    key = _key(device, samplerate, channels)
    with _lock:
        capture = _captures.get(key)
        if capture is not None and capture.is_healthy(stall_seconds):
            capture.ensure_buffer(buffer_seconds)
            return capture
        if capture is not None:
            _captures.pop(key)
            capture.stop()
        if source_factory is None:
            from acoupi.audio.portaudio import PortAudioSource

            source: AudioSource = PortAudioSource(
                device,
                samplerate,
                channels,
                blocksize=blocksize,
                wait_timeout=wait_timeout,
            )
        else:
            source = source_factory()
        capture = ContinuousCapture(source, buffer_seconds=buffer_seconds)
        capture.start()
        _captures[key] = capture
        return capture


def close_shared_captures() -> None:
    """Stop every shared capture of this process."""
    with _lock:
        captures = list(_captures.values())
        _captures.clear()
    for capture in captures:
        capture.stop()


def _forget_after_fork() -> None:
    global _lock
    # The parent's streams and locks are not ours: drop them unclosed.
    _lock = threading.Lock()
    _captures.clear()


atexit.register(close_shared_captures)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
