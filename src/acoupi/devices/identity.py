"""A stable identifier for this device."""

import functools
import hashlib
import uuid
from pathlib import Path

import acoupi.devices as devices
from acoupi import data

__all__ = ["get_device_id", "get_device_info"]

MACHINE_ID_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))


def get_device_id() -> str:
    """Return an identifier that survives reboots.

    The Raspberry Pi serial number when there is one; otherwise a digest of
    the systemd machine id (stable, unlike a MAC address that changes with
    the network adapter); otherwise the MAC address as an integer string.
    """
    if devices.is_rpi():
        return devices.get_rpi_serial_number()
    for path in MACHINE_ID_FILES:
        try:
            machine_id = path.read_text().strip()
        except OSError:
            continue
        if machine_id:
            return hashlib.sha256(machine_id.encode()).hexdigest()[:16]
    return str(uuid.getnode())


@functools.cache
def get_device_info() -> data.DeviceInfo:
    """Return this device's information, computed once per process.

    The id is :func:`get_device_id`, or ``""`` if it cannot be found (a file
    name template using ``{device.id}`` then still renders).
    """
    try:
        return data.DeviceInfo(id=get_device_id())
    except Exception:  # an unreadable id must not stop recordings being filed
        return data.DeviceInfo(id="")
