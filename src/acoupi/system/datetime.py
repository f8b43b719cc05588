"""The system timezone: read it, and set it (acoupi 0.8's helpers).

Recording schedules are written in local time, so a device whose clock
zone is wrong records at the wrong hours. These helpers let a program or a
setup step check and fix it.
"""

import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["get_system_timezone", "set_system_timezone"]

_ZONEINFO_MARKER = "zoneinfo/"
_COMMAND_TIMEOUT = 10.0


def _zone(name: str) -> Optional[ZoneInfo]:
    name = name.strip()
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _from_timedatectl() -> Optional[ZoneInfo]:
    if shutil.which("timedatectl") is None:
        return None
    try:
        result = subprocess.run(
            ["timedatectl", "show", "--property=Timezone", "--value"],
            capture_output=True,
            text=True,
            check=True,
            timeout=_COMMAND_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError):
        # No systemd (containers): fall back to the files below.
        return None
    return _zone(result.stdout)


def _from_files(etc: Path) -> Optional[ZoneInfo]:
    try:
        target = os.readlink(etc / "localtime")
    except OSError:
        target = ""
    if _ZONEINFO_MARKER in target:
        zone = _zone(target.split(_ZONEINFO_MARKER, 1)[1])
        if zone is not None:
            return zone
    try:
        return _zone((etc / "timezone").read_text(encoding="utf-8"))
    except OSError:
        return None


def get_system_timezone(etc: Path = Path("/etc")) -> Optional[ZoneInfo]:
    """Return the system's timezone, or None if it cannot be found.

    Asks ``timedatectl`` first, then reads the ``/etc/localtime`` link and
    ``/etc/timezone`` (so it also works without systemd).

    Parameters
    ----------
    etc
        Folder holding ``localtime`` and ``timezone`` (for tests).
    """
    return _from_timedatectl() or _from_files(etc)


def set_system_timezone(timezone_str: str) -> bool:
    """Set the system timezone with ``sudo timedatectl set-timezone``.

    Parameters
    ----------
    timezone_str
        An IANA name such as ``"Europe/London"``.

    Returns
    -------
    bool
        True if the timezone was set. False if the name is not a known
        timezone (nothing is run), if ``timedatectl`` is missing, or if the
        command failed (for example because sudo needs a password: it is run
        with ``-n`` so it never waits for one).
    """
    if _zone(timezone_str) is None:
        return False
    if shutil.which("timedatectl") is None:
        return False
    command = ["timedatectl", "set-timezone", timezone_str.strip()]
    if os.geteuid() != 0:
        command = ["sudo", "-n", *command]
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return True
