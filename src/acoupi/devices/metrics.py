"""Measurements of the device for heartbeats (acoupi 0.8's metric helpers).

Each function returns one :class:`acoupi.data.Metric`, measured when it is
called; pass them (or ``functools.partial`` of them) to
``generate_heartbeat_task(metrics=[...])``. Memory and CPU are read from
``/proc`` (Linux), so no extra package is needed on the device.
"""

import os
import shutil
import threading
import time
from pathlib import Path
from typing import Dict, Optional, Tuple

from acoupi import data

__all__ = [
    "consumed_memory",
    "get_cpu_usage",
    "get_free_memory",
    "get_remaining_storage",
    "get_used_storage",
]

BYTES = "bytes"
PERCENT = "percent"


def get_remaining_storage(path: Path, name: str = "remaining_storage") -> data.Metric:
    """Return the free space of the filesystem holding ``path``, in bytes.

    Space reserved for root is not counted: it is what acoupi can use.
    """
    return data.Metric(name=name, value=shutil.disk_usage(path).free, unit=BYTES)


def get_used_storage(path: Path, name: str = "used_storage") -> data.Metric:
    """Return the used space of the filesystem holding ``path``, in bytes."""
    return data.Metric(name=name, value=shutil.disk_usage(path).used, unit=BYTES)


def _meminfo(meminfo: Path) -> Dict[str, int]:
    values: Dict[str, int] = {}
    for line in meminfo.read_text(encoding="ascii").splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            scale = 1024 if fields[1:2] == ["kB"] else 1
            values[key.strip()] = int(fields[0]) * scale
    return values


def get_free_memory(
    name: str = "free_memory", meminfo: Path = Path("/proc/meminfo")
) -> data.Metric:
    """Return the memory available to new processes, in bytes.

    ``MemAvailable`` of ``/proc/meminfo`` (free memory plus caches the
    kernel can drop), like ``psutil.virtual_memory().available``.
    """
    values = _meminfo(meminfo)
    available = values.get("MemAvailable")
    if available is None:  # kernels before 3.14
        available = sum(values.get(key, 0) for key in ("MemFree", "Buffers", "Cached"))
    return data.Metric(name=name, value=available, unit=BYTES)


def consumed_memory(name: str = "consumed_memory") -> data.Metric:
    """Return the resident memory (RSS) of this process, in bytes."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        resident_pages = int(statm.read().split()[1])
    return data.Metric(
        name=name, value=resident_pages * os.sysconf("SC_PAGE_SIZE"), unit=BYTES
    )


_cpu_lock = threading.Lock()
_last_cpu: Dict[int, Tuple[float, float]] = {}


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def get_cpu_usage(name: str = "cpu_usage") -> data.Metric:
    """Return this process's CPU use since the previous call, in percent.

    100 means one core fully busy. The first call in a process measures
    from the process start instead. Calls are per process (a forked worker
    starts its own count).
    """
    now = time.monotonic()
    cpu = _cpu_seconds()
    pid = os.getpid()
    with _cpu_lock:
        previous: Optional[Tuple[float, float]] = _last_cpu.get(pid)
        _last_cpu[pid] = (now, cpu)
    if previous is None:
        elapsed = time.monotonic() - _process_start_monotonic()
        used = cpu
    else:
        elapsed = now - previous[0]
        used = cpu - previous[1]
    percent = 100.0 * used / elapsed if elapsed > 0 else 0.0
    return data.Metric(name=name, value=max(0.0, percent), unit=PERCENT)


def _process_start_monotonic() -> float:
    """Return when this process started, on the monotonic clock."""
    with open("/proc/self/stat", encoding="ascii") as stat:
        # Field 22 (starttime, clock ticks after boot); the command name in
        # field 2 may contain spaces, so count from the closing parenthesis.
        fields = stat.read().rsplit(")", 1)[1].split()
    start_ticks = int(fields[19])
    boot_relative = start_ticks / os.sysconf("SC_CLK_TCK")
    # CLOCK_BOOTTIME counts from boot like starttime does.
    return time.monotonic() - (time.clock_gettime(time.CLOCK_BOOTTIME) - boot_relative)
