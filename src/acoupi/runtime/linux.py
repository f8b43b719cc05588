"""Linux process controls of the children of ``acoupi run`` (no-ops elsewhere)."""

import ctypes
import ctypes.util
import signal
import sys
from typing import Any, Optional

__all__ = ["NAME_PREFIX", "die_with_parent", "set_process_name"]

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
_NAME_MAX = 15
"""The kernel keeps 15 bytes of a process name (``/proc/<pid>/comm``)."""

NAME_PREFIX = "acoupi-"
"""Start of the name of every process ``acoupi run`` forks."""

_libc: Optional[Any] = None


def _prctl(option: int, value: Any) -> bool:
    global _libc
    if not sys.platform.startswith("linux"):
        return False
    try:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return _libc.prctl(option, value, 0, 0, 0) == 0
    except Exception:  # best effort: callers have other ways to cope
        return False


def die_with_parent(signum: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send ``signum`` to this process when its parent dies.

    Returns
    -------
    bool
        Whether the kernel accepted (False off Linux).
    """
    return _prctl(_PR_SET_PDEATHSIG, signum)


def set_process_name(name: str) -> bool:
    """Name this process ``acoupi-<name>`` as ``ps``, ``top`` and ``pgrep`` show it.

    A forked process keeps its parent's command line; the name (cut to
    the kernel's 15 bytes) tells the workers apart.

    Returns
    -------
    bool
        Whether the kernel accepted (False off Linux).
    """
    title = (NAME_PREFIX + name).encode("utf-8", "replace")[:_NAME_MAX]
    return _prctl(_PR_SET_NAME, ctypes.c_char_p(title))
