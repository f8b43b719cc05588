"""Raspberry Pi identification."""

import socket
from pathlib import Path

__all__ = ["get_rpi_host_name", "get_rpi_serial_number", "is_rpi"]

CPUINFO = Path("/proc/cpuinfo")


def get_rpi_serial_number() -> str:
    """Return the 16-character serial number of a Raspberry Pi.

    Raises
    ------
    RuntimeError
        If ``/proc/cpuinfo`` has no ``Serial`` line (not a Raspberry Pi).
    """
    for line in CPUINFO.read_text().splitlines():
        if line.startswith("Serial"):
            return line.split(":", 1)[1].strip()[-16:]
    raise RuntimeError("No Raspberry Pi serial number in /proc/cpuinfo.")


def get_rpi_host_name() -> str:
    """Return the host name."""
    return socket.gethostname()


def is_rpi() -> bool:
    """Return True on a Raspberry Pi (a serial number is readable)."""
    try:
        get_rpi_serial_number()
    except (OSError, RuntimeError):
        return False
    return True
