"""Information about the device acoupi runs on."""

from acoupi.devices.identity import get_device_id, get_device_info
from acoupi.devices.rpi import get_rpi_host_name, get_rpi_serial_number, is_rpi

__all__ = [
    "get_device_id",
    "get_device_info",
    "get_rpi_host_name",
    "get_rpi_serial_number",
    "is_rpi",
]
