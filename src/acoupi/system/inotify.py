"""Linux inotify through libc: learn at once that a folder's contents changed.

Python has no inotify of its own and acoupi adds no dependency for it, so
:class:`Inotify` calls libc's ``inotify_init1``/``inotify_add_watch``/
``inotify_rm_watch`` with ctypes and reads the events from the descriptor.
Only what the embedded broker needs: watch folders, read the events
without blocking; the caller waits on :meth:`Inotify.fileno` itself.
"""

import ctypes
import errno
import os
import struct
import sys
from dataclasses import dataclass
from typing import Any, List, Optional

__all__ = [
    "IN_CLOSE_WRITE",
    "IN_DELETE_SELF",
    "IN_IGNORED",
    "IN_MOVED_TO",
    "IN_MOVE_SELF",
    "IN_ONLYDIR",
    "IN_Q_OVERFLOW",
    "Event",
    "Inotify",
]

IN_CLOSE_WRITE = 0x00000008
"""A file opened for writing was closed."""

IN_MOVED_TO = 0x00000080
"""A file was renamed into the watched folder."""

IN_DELETE_SELF = 0x00000400
"""The watched folder itself was deleted."""

IN_MOVE_SELF = 0x00000800
"""The watched folder itself was renamed."""

IN_Q_OVERFLOW = 0x00004000
"""Events were lost: the kernel's queue of this descriptor was full."""

IN_IGNORED = 0x00008000
"""The watch was removed (folder deleted, unmounted, or asked to)."""

IN_ONLYDIR = 0x01000000
"""Only watch the path if it is a folder."""

# inotify_init1 flags; the kernel defines them as O_NONBLOCK and O_CLOEXEC.
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000

_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (struct inotify_event)
_READ_SIZE = 64 * 1024

_libc: Optional[Any] = None


@dataclass(frozen=True)
class Event:
    """One inotify event."""

    wd: int
    """Watch descriptor the event belongs to (-1 for a queue overflow)."""

    mask: int
    """What happened (``IN_*`` bits)."""

    name: str
    """Name of the file in the watched folder ("" for the folder itself)."""


def _load_libc() -> Any:
    global _libc
    if _libc is not None:
        return _libc
    if not sys.platform.startswith("linux"):
        raise OSError(errno.ENOSYS, "inotify exists only on Linux")
    # The interpreter is linked against libc: its symbols are already loaded
    # (find_library would run ldconfig, tens of milliseconds per process).
    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "inotify_init1"):
        raise OSError(errno.ENOSYS, "this libc has no inotify")
    libc.inotify_init1.argtypes = [ctypes.c_int]
    libc.inotify_init1.restype = ctypes.c_int
    libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    libc.inotify_add_watch.restype = ctypes.c_int
    libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.inotify_rm_watch.restype = ctypes.c_int
    _libc = libc
    return libc


def _error(what: str) -> OSError:
    code = ctypes.get_errno()
    return OSError(code, f"{what}: {os.strerror(code)}")


class Inotify:
    """An inotify descriptor (non-blocking, closed on exec).

    Raises
    ------
    OSError
        If inotify is unavailable: not Linux (``ENOSYS``), or the user's
        limit of inotify instances is reached (``EMFILE``).
    """

    def __init__(self) -> None:
        libc = _load_libc()
        fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            raise _error("inotify_init1")
        self._libc = libc
        self._fd: Optional[int] = fd

    def fileno(self) -> int:
        """Return the descriptor, readable when events wait."""
        if self._fd is None:
            raise ValueError("inotify descriptor is closed")
        return self._fd

    def add_watch(self, path: str, mask: int) -> int:
        """Watch ``path`` for the events in ``mask``; return the watch id.

        Raises
        ------
        OSError
            ``ENOENT``/``ENOTDIR`` for a missing folder, ``ENOSPC`` when the
            user's limit of watches is reached, and so on.
        """
        wd = self._libc.inotify_add_watch(self.fileno(), os.fsencode(path), mask)
        if wd < 0:
            raise _error(f"inotify_add_watch {path}")
        return int(wd)

    def rm_watch(self, wd: int) -> None:
        """Stop watch ``wd``; one that is already gone is no error."""
        self._libc.inotify_rm_watch(self.fileno(), wd)

    def read(self) -> List[Event]:
        """Return the events waiting now (an empty list if there are none)."""
        events: List[Event] = []
        while True:
            try:
                data = os.read(self.fileno(), _READ_SIZE)
            except BlockingIOError:
                return events
            if not data:
                return events
            offset = 0
            while offset + _HEADER.size <= len(data):
                wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
                offset += _HEADER.size
                raw = data[offset : offset + length].split(b"\0", 1)[0]
                offset += length
                events.append(Event(wd, mask, os.fsdecode(raw)))

    def close(self) -> None:
        """Close the descriptor (and with it every watch)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
