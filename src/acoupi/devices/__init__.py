"""Information about the device acoupi runs on."""

from acoupi.devices.identity import get_device_id
from acoupi.devices.rpi import get_rpi_host_name, get_rpi_serial_number, is_rpi

__all__ = [
    "get_device_id",
    "get_rpi_host_name",
    "get_rpi_serial_number",
    "is_rpi",
]
