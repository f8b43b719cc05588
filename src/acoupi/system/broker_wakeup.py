"""What an idle consumer of the embedded broker waits on.

A consumer of the embedded broker finds its messages by listing the queue
folder. Rather than listing it every ``polling_interval`` seconds (which
both delays a new task by up to that interval and wakes idle workers for
nothing), an idle consumer blocks on a :class:`Wakeup` until either

* a message file lands in the queue folder: on Linux an inotify watch
  reports ``IN_MOVED_TO`` (messages are written under a hidden name and
  renamed into place; a message put back from a claim folder is renamed
  too) and ``IN_CLOSE_WRITE`` (a plain kombu writer creates the file
  under its final name); or
* something in the consumer's own process may let it take a message it
  could not take before (a task acknowledged, so the prefetch limit has
  room again; a queue consumed): :meth:`Wakeup.notify`, safe from any
  thread, writes to a pipe the wait also watches.

Inotify cannot be relied on alone: its event queue may overflow, the
folder may be deleted and created again, and a network file system does
not report other machines' writes. The consumer therefore still lists the
folder every few seconds (the transport's safety poll), and the watch is
set up again whenever it was lost. Where inotify is unavailable (not
Linux, too many watches or instances) only the pipe is watched and the
consumer polls as before.
"""

import errno
import logging
import math
import os
import select
import threading
import time
from typing import Callable, List, Optional, Tuple

from acoupi.system.inotify import (
    IN_CLOSE_WRITE,
    IN_DELETE_SELF,
    IN_IGNORED,
    IN_MOVE_SELF,
    IN_MOVED_TO,
    IN_ONLYDIR,
    IN_Q_OVERFLOW,
    Event,
    Inotify,
)

__all__ = ["WATCH_MASK", "Wakeup"]

logger = logging.getLogger(__name__)

WATCH_MASK = IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR
"""Events watched on the queue folder."""

_WATCH_LOST = IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF


class Wakeup:
    """Wait for a message in a queue folder, or a nudge from this process.

    Parameters
    ----------
    folder
        The queue folder consumed from.
    use_inotify
        Watch ``folder`` with inotify (where available). Without, only
        :meth:`notify` ends a :meth:`wait` early.

    Raises
    ------
    OSError
        If not even the pipe can be made (no file descriptors left).
    """

    def __init__(self, folder: str, use_inotify: bool = True) -> None:
        self.folder = folder
        self._read_end, self._write_end = os.pipe()
        os.set_blocking(self._read_end, False)
        os.set_blocking(self._write_end, False)
        self._lock = threading.Lock()
        self._closed = False
        self._inotify: Optional[Inotify] = None
        self._wd: Optional[int] = None
        self._watched: Optional[Tuple[int, int]] = None
        self._last_problem: Optional[int] = None
        self._poller = select.poll()
        self._poller.register(self._read_end, select.POLLIN)
        if use_inotify:
            try:
                self._inotify = Inotify()
            except OSError as error:
                self._report(error)
            else:
                self._poller.register(self._inotify.fileno(), select.POLLIN)
                self._watch()

    @property
    def watching(self) -> bool:
        """Whether new message files in the folder are reported right now."""
        return self._wd is not None

    def notify(self) -> None:
        """End the current (or next) :meth:`wait` early; safe from any thread."""
        with self._lock:
            if self._closed:
                return
            try:
                os.write(self._write_end, b"!")
            except OSError:
                pass  # the pipe is full: a wake-up is pending anyway

    def clear(self) -> None:
        """Forget what was seen so far, and watch the folder again if needed.

        Call it just before listing the queue folder: whatever happens after
        it makes the next :meth:`wait` return at once, so nothing that
        arrives while the folder is being listed is missed.
        """
        self._drain_pipe()
        if self._inotify is None:
            return
        self._handle(self._inotify.read(), None)
        if self._wd is not None and self._watched != self._identity():
            # Replaced by another folder without any event reaching us
            # (events lost in an overflow): the watch follows the old one.
            self._unwatch()
        if self._wd is None:
            self._watch()

    def wait(self, timeout: float, wanted: Callable[[str], bool]) -> bool:
        """Block until something may have arrived, at most ``timeout`` seconds.

        Parameters
        ----------
        timeout
            Longest wait in seconds (0: only look).
        wanted
            Whether a message file of this name (``<id>.<queue>.msg``) is
            one the caller consumes; others do not end the wait.

        Returns
        -------
        bool
            True if a wanted message arrived, :meth:`notify` was called,
            events were lost, or the watch was lost: the caller should look
            at the queues again. False once ``timeout`` passed.
        """
        deadline = time.monotonic() + timeout
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            if not self._poller.poll(math.ceil(remaining * 1000)):
                return False
            if self._drain_pipe():
                return True
            if self._inotify is not None and self._handle(self._inotify.read(), wanted):
                return True
            if remaining <= 0:
                return False

    def close(self) -> None:
        """Release the pipe and the inotify descriptor."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            os.close(self._read_end)
            os.close(self._write_end)
        if self._inotify is not None:
            self._inotify.close()

    def _drain_pipe(self) -> bool:
        nudged = False
        while True:
            try:
                data = os.read(self._read_end, 4096)
            except BlockingIOError:
                return nudged
            if not data:
                return nudged
            nudged = True

    def _handle(
        self, events: List[Event], wanted: Optional[Callable[[str], bool]]
    ) -> bool:
        woken = False
        for event in events:
            if event.mask & IN_Q_OVERFLOW:
                woken = True  # events were lost: look at the folder
                continue
            if self._wd is None or event.wd != self._wd:
                continue  # left over from a watch given up before
            if event.mask & _WATCH_LOST:
                self._unwatch()
                woken = True
                continue
            name = event.name
            if name and not name.startswith(".") and (wanted is None or wanted(name)):
                woken = True
        return woken

    def _identity(self) -> Optional[Tuple[int, int]]:
        try:
            info = os.stat(self.folder)
        except OSError:
            return None
        return (info.st_dev, info.st_ino)

    def _watch(self) -> None:
        assert self._inotify is not None
        try:
            wd = self._inotify.add_watch(self.folder, WATCH_MASK)
        except OSError as error:
            self._report(error)
            return
        # After the watch: a folder replaced in between shows as a mismatch
        # at the next clear() and is watched again.
        self._wd = wd
        self._watched = self._identity()
        if self._last_problem is not None:
            logger.info("Watching the broker queue folder %s again", self.folder)
            self._last_problem = None

    def _unwatch(self) -> None:
        if self._wd is None or self._inotify is None:
            return
        wd, self._wd = self._wd, None
        self._inotify.rm_watch(wd)

    def _report(self, error: OSError) -> None:
        if error.errno == self._last_problem:
            return  # said already; retried at every poll
        self._last_problem = error.errno
        # Expected off Linux; elsewhere worth a line: polling costs latency.
        level = logging.DEBUG if error.errno == errno.ENOSYS else logging.WARNING
        logger.log(
            level,
            "Cannot watch the broker queue folder %s (%s); looking at it "
            "at intervals instead",
            self.folder,
            error,
        )
